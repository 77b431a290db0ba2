/* precheck.c — the checks of a running process that decide, before it is
 * frozen, whether ferry can dump it (see precheck.h). The fd and mapping
 * checks are capture's own (files.c, vmas.c, capture.c), run on a
 * scratch image; what is added here is what only a look at the other
 * processes shows: children, group and session members, a shared mm. */
#include "precheck.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/util.h"
#include "proc.h"

#define DESCRIBE_MAX 96 /* "PID (command line)" of one process */
#define NOT_YET_TREES "ferry cannot dump process trees yet"

/* "4250 (sleep 300), 4251 (sleep 300) and 3 more" */
static void describe_list(const struct proc_kin_list *l, char *out, size_t len)
{
	size_t used = 0;
	out[0] = '\0';
	size_t named = MIN(l->n, (size_t)PROC_KIN_NAMED);
	for (size_t i = 0; i < named && used < len; i++) {
		char one[DESCRIBE_MAX];
		proc_describe(l->pid[i], one, sizeof(one));
		used += (size_t)snprintf(out + used, len - used, "%s%s", i ? ", " : "", one);
	}
	if (l->n > named && used < len)
		snprintf(out + used, len - used, " and %zu more", l->n - named);
}

/* "pid P <relation> N <kind> process(es): names: why" */
static int refuse_kin(char *err, size_t errlen, pid_t pid, const char *relation, const char *kind,
		      const struct proc_kin_list *l, const char *why)
{
	char names[2 * DESCRIBE_MAX + 32];
	describe_list(l, names, sizeof(names));
	snprintf(err, errlen, "pid %d %s %zu %s process%s: %s: %s", pid, relation, l->n, kind, l->n == 1 ? "" : "es",
		 names, why);
	return -EOPNOTSUPP;
}

/* fds, mappings: capture's checks on the running process; the fds
 * and mappings read go to *live if the caller wants them. */
static int check_resources(pid_t pid, const struct capture_opts *opts, struct fr_image *live, char *err,
			   size_t errlen)
{
	struct fr_image scratch = {0};
	struct capture_opts checks = *opts;
	checks.checks_only = true; /* sizes, not contents: the frozen capture reads them */
	int r = capture_files(pid, &checks, &scratch, err, errlen);
	if (r == 0)
		r = capture_vmas(pid, true, &scratch, err, errlen);
	if (r == 0)
		r = capture_vma_objects(pid, &checks, &scratch, err, errlen);
	if (r == 0)
		r = capture_sysv_shm(pid, &scratch, err, errlen);
	if (r == 0 && live)
		*live = scratch;
	else
		fr_image_free(&scratch);
	return r;
}

int precheck_process(pid_t pid, const struct capture_opts *opts, struct fr_image *live, char *err, size_t errlen)
{
	if (live)
		*live = (struct fr_image){0};
	struct proc_stat st;
	if (pid == getpid()) {
		snprintf(err, errlen, "pid %d is ferry itself", pid);
		return -EINVAL;
	}
	if (proc_read_stat(pid, 0, &st) < 0) {
		snprintf(err, errlen, "no process with pid %d", pid);
		return -ESRCH;
	}
	if (st.state == 'Z' || st.state == 'X') {
		snprintf(err, errlen, "pid %d is a zombie", pid);
		return -ESRCH;
	}
	struct proc_kin kin;
	int r = proc_find_kin(pid, true, &kin);
	if (r < 0) {
		snprintf(err, errlen, "cannot list the processes in /proc: %s", strerror(-r));
		return r;
	}
	/* First: freezing a vfork parent would wait for its child to let go. */
	if (kin.shares_mm.n)
		return refuse_kin(err, errlen, pid, "shares its address space (vfork or CLONE_VM) with", "other",
				  &kin.shares_mm, "ferry cannot restore a shared address space yet");
	if ((r = check_resources(pid, opts, live, err, errlen)) < 0)
		return r;
	if (kin.children.n)
		r = refuse_kin(err, errlen, pid, "has", "child", &kin.children, NOT_YET_TREES);
	else if (kin.group.n)
		r = refuse_kin(err, errlen, pid, "is the process group id of", "other", &kin.group, NOT_YET_TREES);
	else if (kin.session.n)
		r = refuse_kin(err, errlen, pid, "is the session id of", "other", &kin.session, NOT_YET_TREES);
	if (r < 0 && live)
		fr_image_free(live);
	return r;
}

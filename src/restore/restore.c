/* restore.c — the restore sequence (see restore.h): read the metadata
 * records (image.c), build the stub, stream the pages in, finish mm and threads. */
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../inspect/freeze.h"
#include "../state/codec.h"

static int seize_stub(struct stub *stub)
{
	if (ptrace(PTRACE_SEIZE, stub->pid, 0, (void *)(long)(PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE | PTRACE_O_TRACESYSGOOD)) < 0 ||
	    ptrace(PTRACE_INTERRUPT, stub->pid, 0, 0) < 0)
		return neg_errno();
	int st = wait_ptrace_stop(stub->pid);
	return st < 0 ? st : 0;
}

struct restore_prepared {
	struct stub stub;
	struct fr_image img;
};

int restore_prepare(struct fr_stream *s, const struct restore_opts *opts, struct restore_prepared **out,
		    struct restore_stats *st, char *err, size_t errlen)
{
	struct restore_prepared *rp = calloc(1, sizeof(*rp));
	*out = NULL;
	*st = (struct restore_stats){0};
	if (!rp) {
		snprintf(err, errlen, "out of memory while starting a restore");
		return -ENOMEM;
	}
	rp->stub.pid = -1;
	struct fr_image *img = &rp->img;
	uint16_t type;
	const uint8_t *p;
	uint32_t len;
	double t0 = now_ms(), t = t0;
	struct image_limits lim;
	image_limits_of_host(&lim);
	int r = opts->header_read ? image_read_state(s, &lim, img, &type, &p, &len, err, errlen)
				  : image_read_metadata(s, &lim, img, &type, &p, &len, err, errlen);
	st->t_read_meta_ms = now_ms() - t;
	if (r < 0)
		goto out;
	pr_info("image: pid %d, %u thread(s), %u mapping(s), %u fd(s)", img->proc.pid, img->nthreads, img->nvmas,
		img->nfiles);
	t = now_ms();
	if ((r = stub_create(img, opts, &rp->stub, err, errlen)) < 0)
		goto out;
	if ((r = seize_stub(&rp->stub)) < 0) {
		snprintf(err, errlen, "cannot attach to the restore stub: %s", strerror(-r));
		goto out;
	}
	st->t_stub_ms = now_ms() - t;
	t = now_ms();
	if ((r = mm_rebuild(&rp->stub, img, err, errlen)) < 0)
		goto out;
	st->t_mm_ms = now_ms() - t;
	t = now_ms();
	int uffd = -1;
	if (opts->no_uffd) {
		snprintf(st->pages_path_why, sizeof(st->pages_path_why), "userfaultfd not used on request");
		pr_info("%s: writing pages with process_vm_writev", st->pages_path_why);
	} else {
		int ue = mm_open_uffd(&rp->stub, &uffd);
		if (ue < 0) {
			snprintf(st->pages_path_why, sizeof(st->pages_path_why), "no userfaultfd in the new process: %s",
				 strerror(-ue));
			pr_info("%s: writing pages with process_vm_writev", st->pages_path_why);
		}
	}
	if ((r = restore_pages(s, &rp->stub, uffd, img, type, p, len, st, err, errlen)) < 0)
		goto out;
	st->t_pages_ms = now_ms() - t;
	t = now_ms();
	if ((r = mm_set_map(&rp->stub, img, err, errlen)) < 0)
		goto out;
	if ((r = threads_restore(&rp->stub, img, err, errlen)) < 0)
		goto out;
	st->t_threads_ms = now_ms() - t;
out:
	st->t_total_ms = now_ms() - t0;
	if (r < 0) {
		restore_abort(rp);
		return r;
	}
	*out = rp;
	return 0;
}

int restore_commit(struct restore_prepared *rp, pid_t *pid, char *err, size_t errlen)
{
	int r = threads_release(&rp->img, err, errlen);
	if (r < 0) {
		restore_abort(rp);
		return r;
	}
	*pid = rp->stub.pid;
	rp->stub.pid = -1; /* it is the restored process now */
	fr_image_free(&rp->img);
	free(rp);
	return 0;
}

void restore_abort(struct restore_prepared *rp)
{
	if (!rp)
		return;
	stub_kill(&rp->stub);
	fr_image_free(&rp->img);
	free(rp);
}

int restore_from_stream(struct fr_stream *s, const struct restore_opts *opts, pid_t *pid, struct restore_stats *st,
			char *err, size_t errlen)
{
	struct restore_prepared *rp;
	int r = restore_prepare(s, opts, &rp, st, err, errlen);
	if (r == 0) {
		double t = now_ms();
		r = restore_commit(rp, pid, err, errlen);
		st->t_total_ms += now_ms() - t;
	}
	return r;
}

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

int restore_from_stream(struct fr_stream *s, const struct restore_opts *opts, pid_t *pid, struct restore_stats *st,
			char *err, size_t errlen)
{
	struct fr_image img = {0};
	struct stub stub = {.pid = -1};
	uint16_t type;
	const uint8_t *p;
	uint32_t len;
	double t0 = now_ms(), t = t0;
	*st = (struct restore_stats){0};
	struct image_limits lim;
	image_limits_of_host(&lim);
	int r = image_read_metadata(s, &lim, &img, &type, &p, &len, err, errlen);
	st->t_read_meta_ms = now_ms() - t;
	if (r < 0)
		goto out;
	pr_info("image: pid %d, %u thread(s), %u mapping(s), %u fd(s)", img.proc.pid, img.nthreads, img.nvmas,
		img.nfiles);
	t = now_ms();
	if ((r = stub_create(&img, opts, &stub, err, errlen)) < 0)
		goto out;
	if ((r = seize_stub(&stub)) < 0) {
		snprintf(err, errlen, "cannot attach to the restore stub: %s", strerror(-r));
		goto out;
	}
	st->t_stub_ms = now_ms() - t;
	t = now_ms();
	if ((r = mm_rebuild(&stub, &img, err, errlen)) < 0)
		goto out;
	st->t_mm_ms = now_ms() - t;
	t = now_ms();
	int uffd = -1;
	if (opts->no_uffd) {
		snprintf(st->pages_path_why, sizeof(st->pages_path_why), "userfaultfd not used on request");
		pr_info("%s: writing pages with process_vm_writev", st->pages_path_why);
	} else {
		int ue = mm_open_uffd(&stub, &uffd);
		if (ue < 0) {
			snprintf(st->pages_path_why, sizeof(st->pages_path_why), "no userfaultfd in the new process: %s",
				 strerror(-ue));
			pr_info("%s: writing pages with process_vm_writev", st->pages_path_why);
		}
	}
	if ((r = restore_pages(s, stub.pid, uffd, &img, type, p, len, st, err, errlen)) < 0)
		goto out;
	st->t_pages_ms = now_ms() - t;
	t = now_ms();
	if ((r = mm_set_map(&stub, &img, err, errlen)) < 0)
		goto out;
	if ((r = threads_restore(&stub, &img, err, errlen)) < 0)
		goto out;
	st->t_threads_ms = now_ms() - t;
	*pid = stub.pid;
	stub.pid = -1; /* it is the restored process now */
out:
	if (r < 0)
		stub_kill(&stub);
	st->t_total_ms = now_ms() - t0;
	fr_image_free(&img);
	return r;
}

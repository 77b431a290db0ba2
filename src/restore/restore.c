/* restore.c — the restore sequence (see restore.h): read the metadata
 * records, build the stub, stream the pages in, finish mm and threads. */
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../inspect/freeze.h"
#include "../state/codec.h"

static int bad_record(char *err, size_t errlen, struct fr_stream *s, const char *what)
{
	snprintf(err, errlen, "stream is corrupted: invalid %s record (record %llu)", what,
		 (unsigned long long)s->records);
	return -EBADMSG;
}

int restore_read_record(struct fr_stream *s, uint16_t *type, const uint8_t **p, uint32_t *len, char *err,
			size_t errlen)
{
	int r = stream_read_record(s, type, p, len);
	if (r == -ENODATA && !s->err[0])
		snprintf(err, errlen, "stream is truncated: it ends after %llu records without an end record",
			 (unsigned long long)s->records);
	else if (r < 0)
		snprintf(err, errlen, "%s", s->err);
	return r;
}

static int grow(void **arr, uint32_t n, size_t elem)
{
	if (n & (n - 1)) /* capacity doubles at powers of two */
		return 0;
	void *na = realloc(*arr, (n ? 2 * n : 1) * elem);
	if (!na)
		return -ENOMEM;
	*arr = na;
	return 0;
}

/* Reads HELLO to VMA records; stops at the first PAGES or DONE record,
 * which is left in type, p and len for the caller. */
static int read_metadata(struct fr_stream *s, struct fr_image *img, uint16_t *type, const uint8_t **p, uint32_t *len,
			 char *err, size_t errlen)
{
	int r = stream_read_preamble(s);
	if (r < 0) {
		snprintf(err, errlen, "%s", s->err);
		return r;
	}
	if ((r = restore_read_record(s, type, p, len, err, errlen)) < 0)
		return r;
	struct fr_hello hello = {0};
	if (*type != REC_HELLO || decode_hello(*p, *len, &hello) < 0)
		return bad_record(err, errlen, s, "hello");
	struct utsname u;
	uname(&u);
	long page = sysconf(_SC_PAGESIZE);
	if (hello.page_size != page || strcmp(hello.arch, u.machine) != 0) {
		snprintf(err, errlen, "stream is from a %s machine with %u-byte pages; this is %s with %ld-byte pages",
			 hello.arch, hello.page_size, u.machine, page);
		fr_hello_free(&hello);
		return -EPROTO;
	}
	if (strcmp(hello.kernel ? hello.kernel : "", u.release) != 0)
		pr_info("stream comes from kernel %s, this is %s", hello.kernel, u.release);
	fr_hello_free(&hello);

	bool have_proc = false;
	for (;;) {
		if ((r = restore_read_record(s, type, p, len, err, errlen)) < 0)
			return r;
		if (*type == REC_PROCESS && !have_proc) {
			if (decode_process(*p, *len, &img->proc) < 0)
				return bad_record(err, errlen, s, "process");
			have_proc = true;
		} else if (*type == REC_THREAD && have_proc) {
			if (img->nthreads >= img->proc.nthreads || grow((void **)&img->threads, img->nthreads,
									 sizeof(*img->threads)) < 0)
				return bad_record(err, errlen, s, "thread");
			if (decode_thread(*p, *len, &img->threads[img->nthreads]) < 0)
				return bad_record(err, errlen, s, "thread");
			img->nthreads++;
		} else if (*type == REC_FILE && have_proc) {
			if (grow((void **)&img->files, img->nfiles, sizeof(*img->files)) < 0 ||
			    decode_file(*p, *len, &img->files[img->nfiles]) < 0)
				return bad_record(err, errlen, s, "file");
			const struct fr_file *f = &img->files[img->nfiles++];
			if (img->nfiles > 1 && f->fd <= img->files[img->nfiles - 2].fd)
				return bad_record(err, errlen, s, "file");
		} else if (*type == REC_VMA && have_proc) {
			if (grow((void **)&img->vmas, img->nvmas, sizeof(*img->vmas)) < 0 ||
			    decode_vma(*p, *len, &img->vmas[img->nvmas]) < 0)
				return bad_record(err, errlen, s, "vma");
			img->nvmas++;
			if (img->nvmas > 1 && img->vmas[img->nvmas - 1].start < img->vmas[img->nvmas - 2].end)
				return bad_record(err, errlen, s, "vma (overlapping)");
		} else if ((*type == REC_PAGES || *type == REC_DONE) && have_proc) {
			break;
		} else {
			snprintf(err, errlen, "stream is corrupted: unexpected %s record (record %llu)",
				 fr_record_name(*type), (unsigned long long)s->records);
			return -EBADMSG;
		}
	}
	if (img->nthreads != img->proc.nthreads || img->threads[0].tid != img->proc.pid) {
		snprintf(err, errlen, "stream is corrupted: %u of %u thread records, leader %d", img->nthreads,
			 img->proc.nthreads, img->nthreads ? img->threads[0].tid : 0);
		return -EBADMSG;
	}
	if (!img->proc.mm.exe)
		return bad_record(err, errlen, s, "process (no executable)");
	for (uint32_t i = 0; i < img->nfiles; i++) {
		int32_t sh = img->files[i].share_of;
		bool found = sh < 0;
		for (uint32_t k = 0; k < i && !found; k++)
			found = img->files[k].fd == sh;
		if (!found)
			return bad_record(err, errlen, s, "file (shares an unknown fd)");
	}
	return 0;
}

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
	int r = read_metadata(s, &img, &type, &p, &len, err, errlen);
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

/* restore.c — the restore sequence (see restore.h): read the metadata
 * records (image.c), open the files, spawn and seize the stub, build its
 * memory, stream the pages in, then give it its identity, mm fields and
 * threads. */
#include "fdobj.h"
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/wait.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../inspect/freeze.h"
#include "../inspect/proc.h"
#include "../inspect/rsys.h"
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
	/* pre-copy */
	struct restore_opts opts;
	struct fr_image layout; /* what the stub's address space holds now (vmas only) */
	struct image_limits lim;
	struct restore_lazy lazy; /* post-copy */
	struct sysv_made shm;     /* System V segments made for the process */
};

/* The pid was waited for by stub_spawn; the other threads' ids must be free
 * too before they are cloned. */
static int wait_tids_free(const struct fr_image *img, char *err, size_t errlen)
{
	for (uint32_t i = 1; i < img->nthreads; i++) {
		int r = stub_wait_pid_free(img->threads[i].tid, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The stub, seized, with its address space replaced by the saved one;
 * fds: ferry's of the image's files, for the mappings of memfds and
 * deleted files. */
static int build_stub(struct restore_prepared *rp, const struct restore_opts *opts, const int *fds,
		      struct restore_stats *st, char *err, size_t errlen)
{
	double t = now_ms();
	int r = stub_spawn(rp->img.proc.pid, opts, &rp->stub, err, errlen);
	if (r < 0)
		return r;
	rp->stub.files_img = &rp->img, rp->stub.files = fds;
	if ((r = seize_stub(&rp->stub)) < 0) {
		snprintf(err, errlen, "cannot attach to the restore stub: %s", strerror(-r));
		return r;
	}
	st->t_stub_ms = now_ms() - t;
	t = now_ms();
	r = mm_rebuild(&rp->stub, &rp->img, err, errlen);
	st->t_mm_ms = now_ms() - t;
	return r;
}

static int fill_pages(struct restore_prepared *rp, struct fr_stream *s, const struct restore_opts *opts, uint16_t type,
		      const uint8_t *p, uint32_t len, struct restore_stats *st, char *err, size_t errlen)
{
	double t = now_ms();
	int uffd = -1;
	if (opts->lazy) {
		/* post-copy: the pages left at the source are named first; each
		 * lazy mapping gets its anon_vma (mm_prime_lazy), and where
		 * pre-copy rounds left an older copy here, it goes: both before the
		 * memory is registered (MADV_DONTNEED would be an event then) */
		struct range_list primed = {0};
		int r = restore_read_lazy(s, &rp->img, &type, &p, &len, &rp->lazy.pages, err, errlen);
		if (r == 0 && rp->lazy.pages.n)
			r = mm_prime_lazy(&rp->stub, &rp->img, &rp->lazy.pages, &primed, err, errlen);
		/* after rounds, every lazy page may hold an older copy; else only the primed ones hold data */
		const struct range_list *drop = rp->layout.nvmas ? &rp->lazy.pages : &primed;
		if (r == 0 && drop->n)
			r = mm_drop(&rp->stub, drop, err, errlen);
		range_list_free(&primed);
		if (r < 0)
			return r;
	}
	if (opts->no_uffd) {
		snprintf(st->pages_path_why, sizeof(st->pages_path_why), "userfaultfd not used on request");
		pr_info("%s: writing pages with process_vm_writev", st->pages_path_why);
	} else {
		/* post-copy: the process keeps a copy, above its own fds */
		int keep_from = opts->lazy ? (rp->img.nfiles ? rp->img.files[rp->img.nfiles - 1].fd + 2 : 3) : -1;
		int ue = mm_open_uffd(&rp->stub, keep_from, &uffd);
		if (ue < 0) {
			snprintf(st->pages_path_why, sizeof(st->pages_path_why), "no userfaultfd in the new process: %s",
				 strerror(-ue));
			pr_info("%s: writing pages with process_vm_writev", st->pages_path_why);
		}
	}
	int r = restore_pages(s, &rp->stub, uffd, &rp->img, type, p, len, opts->lazy ? &rp->lazy : NULL, st, err,
			      errlen);
	st->t_pages_ms += now_ms() - t; /* pre-copy rounds added theirs */
	if (r == 0 && opts->lazy && rp->lazy.uffd < 0) {
		snprintf(err, errlen, "post-copy needs a userfaultfd in the new process: %s",
			 st->pages_path_why[0] ? st->pages_path_why : "none");
		r = -EOPNOTSUPP;
	}
	rp->lazy.proc_fd = rp->stub.keep_fd;
	return r;
}

/* After the pages: identity, mm fields, threads; all of it is threads_ms,
 * identity_ms is its first part. */
static int finish_stub(struct restore_prepared *rp, const struct restore_opts *opts, int *fds,
		       struct restore_stats *st, char *err, size_t errlen)
{
	double t = now_ms();
	/* post-copy: a run it rebuilds holds lazy memory only if one of its
	 * mappings is in pieces (pre-copy rounds of hybrid built it so): that
	 * memory is unregistered while the run is rebuilt */
	int r = mm_join(&rp->stub, &rp->img, true, rp->lazy.uffd, &st->mappings_rebuilt, err, errlen);
	if (r == 0)
		r = mm_protect(&rp->stub, &rp->img, err, errlen);
	if (r == 0)
		r = sysv_shm_attached(&rp->img, err, errlen);
	st->t_mm_ms += now_ms() - t;
	if (r < 0)
		return r;
	t = now_ms();
	r = identity_apply(&rp->stub, &rp->img, opts, fds, err, errlen);
	st->t_identity_ms = now_ms() - t;
	if (r == 0)
		r = mm_set_map(&rp->stub, &rp->img, err, errlen);
	if (r == 0)
		r = wait_tids_free(&rp->img, err, errlen);
	if (r == 0)
		r = threads_restore(&rp->stub, &rp->img, err, errlen);
	st->t_threads_ms = now_ms() - t;
	return r;
}

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
	rp->stub = (struct stub){.pid = -1, .chan_fd = -1, .stub_chan_fd = -1, .keep_fd = -1};
	rp->lazy = (struct restore_lazy){.uffd = -1, .proc_fd = -1};
	struct fr_image *img = &rp->img;
	uint16_t type;
	const uint8_t *p;
	uint32_t len;
	int *fds = NULL;
	double t0 = now_ms();
	struct image_limits lim;
	image_limits_of_host(&lim);
	int r = opts->header_read ? image_read_state(s, &lim, img, &type, &p, &len, err, errlen)
				  : image_read_metadata(s, &lim, img, &type, &p, &len, err, errlen);
	st->t_read_meta_ms = now_ms() - t0;
	if (r < 0)
		goto out;
	pr_info("image: pid %d, %u thread(s), %u mapping(s), %u fd(s)", img->proc.pid, img->nthreads, img->nvmas,
		img->nfiles);
	if ((r = identity_open_files(img, opts, &fds, err, errlen)) == 0 &&
	    (r = sysv_shm_make(img, &rp->shm, err, errlen)) == 0 &&
	    (r = build_stub(rp, opts, fds, st, err, errlen)) == 0 &&
	    (r = fill_pages(rp, s, opts, type, p, len, st, err, errlen)) == 0)
		r = finish_stub(rp, opts, fds, st, err, errlen);
out:
	rp->stub.files = NULL;
	identity_close_files(fds, img->nfiles);
	st->t_total_ms = now_ms() - t0;
	if (r < 0) {
		restore_abort(rp);
		return r;
	}
	*out = rp;
	return 0;
}

void restore_stats_json(FILE *f, const struct restore_stats *st)
{
	double secs = st->t_pages_ms / 1e3;
	fprintf(f,
		"\"total_ms\":%.3f,\"read_meta_ms\":%.3f,\"stub_ms\":%.3f,\"mm_ms\":%.3f,\"pages_ms\":%.3f,"
		"\"identity_ms\":%.3f,\"threads_ms\":%.3f,\"pages\":%llu,\"page_bytes\":%llu,\"page_records\":%llu,"
		"\"page_gbps\":%.3f,\"pages_path\":\"%s\",\"pages_by_path\":{\"uffdio_copy\":%llu,"
		"\"process_vm_writev\":%llu,\"proc_mem\":%llu},\"mappings_rebuilt\":%u,\"pages_path_why\":\"",
		st->t_total_ms, st->t_read_meta_ms, st->t_stub_ms, st->t_mm_ms, st->t_pages_ms, st->t_identity_ms,
		st->t_threads_ms, (unsigned long long)st->pages, (unsigned long long)st->page_bytes,
		(unsigned long long)st->records, secs > 0 ? (double)st->page_bytes / secs / 1e9 : 0.0,
		pages_path_name(st->pages_path), (unsigned long long)st->pages_uffdio_copy,
		(unsigned long long)st->pages_process_vm_writev, (unsigned long long)st->pages_proc_mem,
		st->mappings_rebuilt);
	for (const char *c = st->pages_path_why; *c; c++) /* a JSON string: no quotes, backslashes or controls */
		if (*c != '"' && *c != '\\' && (unsigned char)*c >= ' ')
			fputc(*c, f);
	fputc('"', f);
}

int restore_commit(struct restore_prepared *rp, pid_t *pid, char *err, size_t errlen)
{
	fd_unix_commit_names();
	int r = threads_release(&rp->img, err, errlen);
	if (r < 0) {
		restore_abort(rp);
		return r;
	}
	*pid = rp->stub.pid;
	rp->stub.pid = -1; /* it is the restored process now */
	sysv_shm_forget(&rp->shm);
	fr_image_free(&rp->img);
	free(rp);
	return 0;
}

void restore_lazy_free(struct restore_lazy *l)
{
	if (l->uffd >= 0)
		close(l->uffd);
	range_list_free(&l->pages);
	*l = (struct restore_lazy){.uffd = -1, .proc_fd = -1};
}

void restore_take_lazy(struct restore_prepared *rp, struct restore_lazy *out)
{
	*out = rp->lazy;
	rp->lazy = (struct restore_lazy){.uffd = -1, .proc_fd = -1};
}

/* Every mapping of the frozen pid off uffd. A child forked during
 * post-copy holds a copy of the process's userfaultfd, which outlives
 * ferry's and the process's own: mappings left registered to it would make
 * the process's later faults and layout changes wait for a reader that is
 * gone. Mappings never registered, or that cannot be (EINVAL), are left. */
static void unregister_all(pid_t pid, int uffd)
{
	struct proc_map *maps;
	size_t n;
	if (proc_read_maps(pid, &maps, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct uffdio_range r = {.start = maps[i].start, .len = maps[i].end - maps[i].start};
		ioctl(uffd, UFFDIO_UNREGISTER, &r);
	}
	free(maps);
}

int restore_lazy_release(pid_t pid, struct restore_lazy *l, char *err, size_t errlen)
{
	int r = 0;
	if (l->proc_fd >= 0) { /* the process's copy: closed from inside, briefly frozen */
		struct frozen_proc fp;
		if ((r = freeze_process(pid, &fp, err, errlen)) == 0) {
			uint64_t ip;
			struct rsys rs;
			unregister_all(pid, l->uffd);
			if ((r = rsys_find_syscall(pid, &ip)) == 0 && (r = rsys_begin_exact(&rs, pid, ip)) == 0) {
				long e = rsys(&rs, SYS_close, (uint64_t)l->proc_fd, 0, 0, 0, 0, 0);
				rsys_end(&rs);
				r = e < 0 ? (int)e : 0;
			}
			if (r < 0)
				snprintf(err, errlen, "cannot close the userfaultfd of pid %d (fd %d): %s", pid, l->proc_fd,
					 strerror(-r));
			thaw_process(&fp);
			frozen_free(&fp);
		}
	}
	l->proc_fd = -1;
	return r;
}

void restore_abort(struct restore_prepared *rp)
{
	if (!rp)
		return;
	restore_lazy_free(&rp->lazy);
	stub_kill(&rp->stub);
	sysv_shm_unmake(&rp->shm);
	fd_unix_abort_names();
	fr_image_free(&rp->img);
	fr_image_free(&rp->layout);
	free(rp);
}

int restore_live_begin(pid_t pid, const struct restore_opts *opts, struct restore_prepared **out,
		       struct restore_stats *st, char *err, size_t errlen)
{
	*st = (struct restore_stats){0};
	struct restore_prepared *rp = *out = calloc(1, sizeof(*rp));
	if (!rp) {
		snprintf(err, errlen, "out of memory while starting a restore");
		return -ENOMEM;
	}
	rp->stub = (struct stub){.pid = -1, .chan_fd = -1, .stub_chan_fd = -1, .keep_fd = -1};
	rp->lazy = (struct restore_lazy){.uffd = -1, .proc_fd = -1};
	rp->opts = *opts;
	image_limits_of_host(&rp->lim);
	double t = now_ms();
	int r = stub_spawn(pid, opts, &rp->stub, err, errlen);
	if (r == 0 && (r = seize_stub(&rp->stub)) < 0)
		snprintf(err, errlen, "cannot attach to the restore stub: %s", strerror(-r));
	st->t_stub_ms = now_ms() - t;
	return r;
}

int restore_live_round(struct restore_prepared *rp, struct fr_stream *s, struct restore_stats *st, char *err,
		       size_t errlen)
{
	uint16_t type;
	const uint8_t *p;
	uint32_t len;
	int r = restore_read_record(s, &type, &p, &len, err, errlen);
	if (r < 0)
		return r;
	if (type == REC_SWITCHOVER)
		return 1;
	struct fr_image now = {0};
	double t = now_ms();
	if ((r = image_read_layout(s, &rp->lim, &now, &type, &p, &len, err, errlen)) == 0)
		r = rp->layout.nvmas ? mm_update(&rp->stub, &rp->layout, &now, err, errlen)
				     : mm_rebuild(&rp->stub, &now, err, errlen);
	st->t_mm_ms += now_ms() - t;
	if (r < 0) {
		fr_image_free(&now);
		return r;
	}
	fr_image_free(&rp->layout);
	rp->layout = now;
	t = now_ms();
	r = restore_round_pages(s, &rp->stub, &rp->layout, type, p, len, st, err, errlen);
	st->t_pages_ms += now_ms() - t;
	return r;
}

int restore_live_finish(struct restore_prepared *rp, struct fr_stream *s, struct restore_stats *st, char *err,
			size_t errlen)
{
	uint16_t type;
	const uint8_t *p;
	uint32_t len;
	int *fds = NULL;
	double t0 = now_ms();
	int r = image_read_state(s, &rp->lim, &rp->img, &type, &p, &len, err, errlen);
	st->t_read_meta_ms = now_ms() - t0;
	if (r == 0 && (rp->img.proc.pid != rp->stub.pid || !rp->layout.nvmas)) {
		snprintf(err, errlen, "stream is corrupted: the state of pid %d follows pre-copy rounds for pid %d",
			 rp->img.proc.pid, rp->stub.pid);
		r = -EBADMSG;
	}
	if (r == 0 && (r = identity_open_files(&rp->img, &rp->opts, &fds, err, errlen)) == 0 &&
	    (r = sysv_shm_make(&rp->img, &rp->shm, err, errlen)) == 0) {
		double t = now_ms();
		rp->stub.files_img = &rp->img, rp->stub.files = fds;
		r = mm_update(&rp->stub, &rp->layout, &rp->img, err, errlen);
		st->t_mm_ms += now_ms() - t;
	}
	if (r == 0)
		r = fill_pages(rp, s, &rp->opts, type, p, len, st, err, errlen);
	if (r == 0)
		r = finish_stub(rp, &rp->opts, fds, st, err, errlen);
	rp->stub.files = NULL;
	identity_close_files(fds, rp->img.nfiles);
	st->t_total_ms = now_ms() - t0;
	return r;
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

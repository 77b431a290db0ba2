/* send.c — see send.h. The conversation (control.h), step by step:
 * connect and handshake; OFFER (pid, mode, the files the destination must
 * already have) while the process still runs; on ACCEPT, freeze and stream
 * the state and pages (dump.c); on READY, hold the process with a pending
 * SIGSTOP (so that even a ferry killed from here on leaves it stopped, never
 * running twice), send GO, and on RUNNING kill the source copy. */
#include "send.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/interrupt.h"
#include "../common/log.h"
#include "../common/stall.h"
#include "../common/util.h"
#include "../inspect/capture.h"
#include "../inspect/precheck.h"
#include "../inspect/proc.h"
#include "../net/tcp.h"
#include "../state/codec.h"
#include "link.h"

/* The files the destination must hold: mapped files (the executable and its
 * libraries among them) and open regular files, with size and mtime, which
 * must match unless the process writes to the file (exact = false). */
static int add_file(struct fr_offer *o, const char *path, bool exact, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < o->nfiles; i++)
		if (strcmp(o->files[i].path, path) == 0) {
			if (!exact)
				o->files[i].flags &= ~FR_OFFER_FILE_EXACT;
			return 0;
		}
	struct stat st;
	if (stat(path, &st) < 0) {
		int e = neg_errno();
		snprintf(err, errlen, "cannot stat %s: %s", path, strerror(-e));
		return e;
	}
	if (!S_ISREG(st.st_mode))
		return 0; /* devices and directories are checked when they are opened */
	struct fr_offer_file *nf = realloc(o->files, (o->nfiles + 1) * sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	o->files = nf;
	nf[o->nfiles] = (struct fr_offer_file){.path = strdup(path), .flags = exact ? FR_OFFER_FILE_EXACT : 0,
					       .size = (uint64_t)st.st_size,
					       .mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec};
	if (!nf[o->nfiles].path)
		return -ENOMEM;
	o->nfiles++;
	return 0;
}

/* The offer, from the fds and mappings the precheck read (live). */
static int build_offer(const struct send_opts *so, const struct fr_image *live, struct fr_offer *o, char *err,
		       size_t errlen)
{
	*o = (struct fr_offer){.pid = so->pid, .mode = so->mode, .compress = so->compress,
			       .postcopy_flags = so->postcopy_flags, .retry_for_s = so->retry_for_s};
	int r = 0;
	for (uint32_t i = 0; r == 0 && i < live->nvmas; i++) {
		const struct fr_vma *v = &live->vmas[i];
		if (v->kind == VMA_ANON || fr_vma_is_shmem(v) || v->kind == VMA_FILE_PRIVATE)
			o->memory += v->end - v->start;
		if ((v->kind == VMA_FILE_PRIVATE || v->kind == VMA_FILE_SHARED) && v->path && !v->object)
			r = add_file(o, v->path, !(v->kind == VMA_FILE_SHARED && (v->prot & PROT_WRITE)), err, errlen);
	}
	for (uint32_t i = 0; r == 0 && i < live->nfiles; i++) {
		const struct fr_file *f = &live->files[i];
		if (f->kind == FILE_REG && f->path)
			r = add_file(o, f->path, (f->flags & O_ACCMODE) == O_RDONLY, err, errlen);
	}
	if (r == -ENOMEM)
		snprintf(err, errlen, "out of memory while listing the files of pid %d", so->pid);
	return r;
}

/* The receiver acknowledges each pre-copy round once it is placed. */
static int await_round(void *ctx, uint32_t round, char *err, size_t errlen)
{
	struct link *l = ctx;
	uint64_t got = 0;
	int r = link_expect(l, REC_ROUND_END, &got, "a pre-copy round", err, errlen);
	if (r == 0 && got != round) {
		snprintf(err, errlen, "%s acknowledged pre-copy round %llu, not %u", l->peer, (unsigned long long)got, round);
		r = -EPROTO;
	}
	return r;
}

/* Does post-copy follow the switch? Always in post-copy; in hybrid unless
 * the rounds ended with a pause that fits (then the frozen round sends the
 * rest as pre-copy does, and the post-copy phase is empty). */
static bool lazy_after(const struct send_opts *o, const struct precopy_stats *p)
{
	return o->mode == FR_MODE_POSTCOPY || (o->mode == FR_MODE_HYBRID && p->rule != PRECOPY_RULE_DOWNTIME);
}

#define SWITCHOVER_BUILD_MS 5.0 /* the destination's last steps (fds, threads) before READY */

/* The stream failed while sending: the receiver may have said why it
 * stopped reading; else the link's own error. */
static void stream_failure(struct link *l, int r, char *err, size_t errlen)
{
	if (r == -ECONNABORTED || r == -EPIPE || r == -ECONNRESET) {
		char why[512];
		if (link_expect(l, REC_READY, NULL, "the process state", why, sizeof(why)) == -ECONNREFUSED)
			snprintf(err, errlen, "%s", why);
		else
			link_io_error(l, r, "the connection failed while sending the state", err, errlen);
	} else if (r == -ETIMEDOUT) {
		link_io_error(l, r, "the connection failed while sending the state", err, errlen);
	}
}

int send_process(const struct send_opts *o, struct send_stats *st, const char **where, char *err, size_t errlen)
{
	*st = (struct send_stats){0};
	*where = "untouched";
	double t0 = now_ms();
	struct capture_opts co = {.shell_job = o->shell_job, .ghost_limit = o->ghost_limit, .external = o->external,
				  .nexternal = o->nexternal};
	struct fr_image live;
	int r = precheck_process(o->pid, &co, &live, err, errlen);
	double precheck_ms = now_ms() - t0;
	if (r == -ESRCH)
		*where = "absent";
	if (r < 0)
		return r;

	struct link l;
	if ((r = link_connect(&l, o->to, o->key, o->timeout_ms, err, errlen)) < 0) {
		fr_image_free(&live);
		return r;
	}
	snprintf(st->peer, sizeof(st->peer), "%s", l.peer);
	l.max_bps = o->max_bps;
	st->channel = channel_kind(&l.ch);

	struct fr_offer offer;
	struct buf b = {0};
	struct range_list lazy = {0}; /* post-copy: the pages left here */
	r = build_offer(o, &live, &offer, err, errlen);
	fr_image_free(&live);
	if (r == 0 && (r = dump_write_header(&l.out)) < 0)
		link_io_error(&l, r, "cannot send the offer", err, errlen);
	if (r == 0) {
		encode_offer(&b, &offer);
		if ((r = link_put(&l, REC_OFFER, &b)) < 0)
			link_io_error(&l, r, "cannot send the offer", err, errlen);
	}
	fr_offer_free(&offer);
	double t_offer = now_ms();
	if (r == 0) {
		r = link_expect(&l, REC_ACCEPT, NULL, "the offer", err, errlen);
		if ((r == -ENODATA || r == -ECONNRESET) && !o->key) {
			size_t n = strlen(err);
			snprintf(err + n, errlen - n, " (it may expect TLS: give both sides the same --key-file)");
		}
	}
	st->t_setup_ms = now_ms() - t0;
	if (r < 0)
		goto out;
	pr_info("%s accepted pid %d over %s", l.peer, o->pid, st->channel);
	l.out.compress = (uint8_t)o->compress;

	struct precopy_session *ps = NULL;
	if (o->mode == FR_MODE_PRECOPY || o->mode == FR_MODE_HYBRID) {
		struct precopy_opts po = o->precopy;
		/* the switch costs about a precheck, a capture like it, and a round trip */
		po.switchover_ms = 2 * precheck_ms + (now_ms() - t_offer) + SWITCHOVER_BUILD_MS;
		po.await_round = await_round, po.await_ctx = &l;
		r = precopy_run(o->pid, &po, &l.out, &ps, &st->precopy, err, errlen);
		if (r == 0 && (r = link_put(&l, REC_SWITCHOVER, &b)) < 0)
			link_io_error(&l, r, "cannot send the switchover", err, errlen);
		if (r < 0) {
			precopy_close(ps);
			stream_failure(&l, r, err, errlen);
			if (!proc_exists(o->pid) || proc_is_zombie_or_gone(o->pid)) {
				snprintf(err, errlen, "pid %d exited during pre-copy; the migration was abandoned", o->pid);
				*where = "absent";
			}
			goto out;
		}
	}

	struct dump_opts dopts = {.pid = o->pid, .shell_job = o->shell_job, .ghost_limit = o->ghost_limit,
				  .external = o->external, .nexternal = o->nexternal, .header_written = true,
				  .attrs_before_freeze = true, .precopy = ps,
				  .lazy = lazy_after(o, &st->precopy) ? &lazy : NULL,
				  .progress = o->progress, .progress_arg = o->progress_arg};
	struct dump_session *ds;
	double t_freeze = now_ms();
	r = dump_to_stream(&dopts, &l.out, &st->dump, &ds, err, errlen);
	st->wire_bytes = l.out.offset;
	st->compress_saved = l.out.compress_saved;
	if (r < 0) {
		precopy_close(ps); /* thawed: the tracking goes */
		*where = st->dump.t_freeze_ms > 0 ? "resumed" : "untouched"; /* dump_to_stream has thawed it */
		stream_failure(&l, r, err, errlen);
		goto out;
	}
	*where = "resumed"; /* from here on, a failure thaws the frozen process */
	double t_sent = now_ms();
	uint64_t build_us = 0;
	r = link_expect(&l, REC_READY, &build_us, "the process state", err, errlen);
	double t_ready = now_ms();
	if (r == 0)
		r = dump_confirm(ds, err, errlen);
	/* frozen: the tracking goes only now, as closing its uffd merges
	 * mappings back, which that check would take for a change */
	precopy_close(ps);
	if (r == 0 && interrupted()) {
		snprintf(err, errlen, "interrupted by a signal before the switchover");
		r = -EINTR;
	}
	if (r < 0) {
		dump_finish(ds, false);
		goto out;
	}
	st->t_build_ms = (double)build_us / 1e3;
	pr_info("%s is ready (built in %.1f ms after the last record, %.1f ms here); attributes proved %.1f ms later",
		l.peer, st->t_build_ms, t_ready - t_sent, now_ms() - t_ready);

	/* The commit point. A pending SIGSTOP keeps the process stopped even if
	 * ferry dies now: it must never run in two places. */
	dump_hold(ds);
	stall_point("go");
	r = link_put(&l, REC_GO, &b);
	uint64_t dest_pid = 0;
	if (r == 0)
		r = link_expect(&l, REC_RUNNING, &dest_pid, "GO", err, errlen);
	else
		link_io_error(&l, r, "cannot send GO", err, errlen);
	if (r < 0) {
		*where = "held";
		size_t n = strlen(err);
		snprintf(err + n, errlen - n,
			 "; pid %d is stopped here and may be running on %s: if it runs there, `kill -KILL %d` here, "
			 "else `kill -CONT %d`", o->pid, l.peer, o->pid, o->pid);
		dump_detach_held(ds);
		goto out;
	}
	st->t_downtime_ms = now_ms() - t_freeze - st->dump.t_precheck_ms; /* the precheck runs unfrozen */
	st->dest_pid = (pid_t)dest_pid;
	st->postcopy.series.on_sample = o->postcopy_progress;
	st->postcopy.series.on_sample_arg = o->postcopy_progress_arg;
	if ((o->mode == FR_MODE_POSTCOPY || o->mode == FR_MODE_HYBRID) && (r = postcopy_serve(&l, o->pid, &lazy, &(struct postcopy_serve_opts){.flags = o->postcopy_flags, .retry_for_ms = o->retry_for_s * 1000}, &st->postcopy, err, errlen)) < 0) {
		/* B runs it, waiting for pages only this copy has: keep it */
		*where = "held";
		size_t n = strlen(err);
		snprintf(err + n, errlen - n,
			 "; pid %d runs on %s without all of its memory: its faults wait there, and this stopped copy "
			 "holds the rest (kill it there and `kill -CONT %d` here to run it here again)",
			 o->pid, l.peer, o->pid);
		dump_detach_held(ds);
		goto out;
	}
	dump_finish(ds, true);
	*where = "moved";
out:
	range_list_free(&lazy);
	buf_free(&b);
	link_close(&l, r == 0);
	st->t_total_ms = now_ms() - t0;
	return r;
}

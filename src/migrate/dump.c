/* dump.c — see dump.h. */
#include "dump.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "../common/interrupt.h"
#include "../common/log.h"
#include "../common/stall.h"
#include "../common/util.h"
#include "../inspect/capture.h"
#include "../inspect/freeze.h"
#include "../inspect/precheck.h"
#include "../state/codec.h"

struct dump_session {
	struct frozen_proc fp;
	bool leave_running;
	struct sysv_moved shm; /* System V segments that go with the process (sysv_shm.c) */
	struct vma_attrs_check *attrs_check; /* attributes read before the freeze, being proved (dump_confirm) */
};

/* Ends a check nobody waits for any more (the dump failed or is over). */
static void attrs_check_drop(struct dump_session *ds)
{
	if (ds->attrs_check)
		vma_attrs_check_end(ds->attrs_check, NULL, 0);
	ds->attrs_check = NULL;
}

static int put(struct fr_stream *s, uint16_t type, struct buf *b)
{
	int r = b->oom ? -ENOMEM : stream_write_record(s, type, b->data, b->len);
	b->len = 0;
	return r;
}

int dump_write_header(struct fr_stream *s)
{
	struct buf b = {0};
	struct utsname u;
	uname(&u);
	struct fr_hello hello = {.page_size = (uint32_t)sysconf(_SC_PAGESIZE), .arch = u.machine,
				 .kernel = u.release, .host = u.nodename};
	int r = stream_write_preamble(s);
	encode_hello(&b, &hello);
	if (r == 0)
		r = put(s, REC_HELLO, &b);
	buf_free(&b);
	return r;
}

static int write_metadata(struct fr_stream *s, const struct fr_image *img, bool header_written)
{
	struct buf b = {0};
	int r = header_written ? 0 : dump_write_header(s);
	encode_process(&b, &img->proc);
	if (r == 0)
		r = put(s, REC_PROCESS, &b);
	for (uint32_t i = 0; r == 0 && i < img->nthreads; i++) {
		encode_thread(&b, &img->threads[i]);
		r = put(s, REC_THREAD, &b);
	}
	for (uint32_t i = 0; r == 0 && i < img->nfiles; i++) {
		encode_file(&b, &img->files[i]);
		r = put(s, REC_FILE, &b);
	}
	for (uint32_t i = 0; r == 0 && i < img->ntimers; i++) {
		encode_posix_timer(&b, &img->timers[i]);
		r = put(s, REC_POSIX_TIMER, &b);
	}
	for (uint32_t i = 0; r == 0 && i < img->nlocks; i++) {
		encode_file_lock(&b, &img->locks[i]);
		r = put(s, REC_FILE_LOCK, &b);
	}
	for (uint32_t i = 0; r == 0 && i < img->nshms; i++) {
		encode_shm(&b, &img->shms[i]);
		r = put(s, REC_SHM, &b);
	}
	buf_free(&b);
	return r == 0 ? dump_write_layout(s, img) : r;
}

int dump_write_layout(struct fr_stream *s, const struct fr_image *img)
{
	struct buf b = {0};
	int r = 0;
	for (uint32_t i = 0; r == 0 && i < img->nvmas; i++) {
		encode_vma(&b, &img->vmas[i]);
		r = put(s, REC_VMA, &b);
	}
	buf_free(&b);
	return r;
}

int dump_write_counts(struct fr_stream *s, uint16_t type, const struct page_stats *p)
{
	struct buf b = {0};
	encode_done(&b, &(struct fr_done){.page_records = p->records, .pages = p->pages_sent});
	int r = put(s, type, &b);
	buf_free(&b);
	return r;
}

int dump_to_stream(const struct dump_opts *o, struct fr_stream *s, struct dump_stats *st,
		   struct dump_session **session, char *err, size_t errlen)
{
	*st = (struct dump_stats){0};
	*session = NULL;
	struct dump_session *ds = calloc(1, sizeof(*ds));
	if (!ds)
		return -ENOMEM;
	ds->leave_running = o->leave_running;
	/* Refuse what cannot be restored while the process still runs. */
	double t = now_ms();
	struct capture_opts co = {.shell_job = o->shell_job, .ghost_limit = o->ghost_limit, .external = o->external,
				  .nexternal = o->nexternal};
	int r = precheck_process(o->pid, &co, NULL, err, errlen);
	/* smaps walks every page table: read it while the process still runs,
	 * checked once frozen (vma_attrs.c); if it cannot be read now, capture
	 * reads it frozen */
	struct vma_attr_list early = {0};
	if (r == 0 && o->attrs_before_freeze && vma_attrs_read(o->pid, &early) == 0) {
		co.attrs_early = &early, co.attrs_check = &ds->attrs_check;
		stall_point("attrs-read");
	}
	st->t_precheck_ms = now_ms() - t;
	pr_info("precheck of pid %d: %.2f ms", o->pid, st->t_precheck_ms);
	if (r < 0) {
		free(ds);
		return r;
	}
	double t0 = now_ms();
	t = t0;
	r = freeze_process(o->pid, &ds->fp, err, errlen);
	if (r < 0) {
		vma_attrs_free(&early);
		free(ds);
		return r;
	}
	st->t_freeze_ms = now_ms() - t;
	stall_point("frozen");

	t = now_ms();
	struct fr_image img = {0};
	r = capture_process(&ds->fp, &co, &img, err, errlen);
	vma_attrs_free(&early); /* if capture did not take it over */
	st->t_capture_ms = now_ms() - t;
	if (r == 0)
		r = sysv_shm_moving(o->pid, &img, &ds->shm);
	if (r == 0) {
		st->threads = img.nthreads, st->vmas = img.nvmas, st->files = img.nfiles;
		r = write_metadata(s, &img, o->header_written);
		if (r < 0)
			snprintf(err, errlen, "cannot write the image: %s", strerror(-r));
	}
	stall_point("captured");
	t = now_ms();
	if (r == 0 && interrupted()) {
		snprintf(err, errlen, "interrupted by a signal");
		r = -EINTR;
	}
	if (r == 0 && o->precopy)
		r = precopy_final_pages(o->precopy, &img, s, &st->pages, o->lazy, o->progress, o->progress_arg, err,
					errlen);
	else if (r == 0 && o->lazy)
		r = dump_pages_lazy(o->pid, &img, NULL, NULL, s, &st->pages, o->lazy, o->progress, o->progress_arg, err,
				    errlen);
	else if (r == 0)
		r = dump_pages(o->pid, &img, s, &st->pages, o->progress, o->progress_arg, err, errlen);
	st->t_pages_ms = now_ms() - t;
	if (r == 0 && (r = dump_write_counts(s, REC_DONE, &st->pages)) < 0)
		snprintf(err, errlen, "cannot write the image: %s", strerror(-r));
	fr_image_free(&img);
	st->stream_bytes = s->offset;
	st->t_total_ms = now_ms() - t0;
	*session = ds;
	if (r < 0) {
		dump_finish(ds, false);
		*session = NULL;
	}
	return r;
}

int dump_confirm(struct dump_session *ds, char *err, size_t errlen)
{
	struct vma_attrs_check *c = ds->attrs_check;
	ds->attrs_check = NULL;
	return c ? vma_attrs_check_end(c, err, errlen) : 0;
}

void dump_hold(struct dump_session *ds) { kill(ds->fp.pid, SIGSTOP); }

void dump_detach_held(struct dump_session *ds)
{
	attrs_check_drop(ds);
	thaw_process(&ds->fp); /* the pending SIGSTOP stops it as soon as it runs */
	pr_info("pid %d left stopped", ds->fp.pid);
	frozen_free(&ds->fp);
	free(ds->shm.ids);
	free(ds);
}

void dump_finish(struct dump_session *ds, bool success)
{
	if (!ds)
		return;
	attrs_check_drop(ds); /* it reads the frozen process */
	if (success && !ds->leave_running) {
		kill_frozen(&ds->fp);
		sysv_shm_moved(&ds->shm);
		pr_info("pid %d dumped and killed", ds->fp.pid);
	} else {
		thaw_process(&ds->fp);
		pr_info("pid %d %s", ds->fp.pid, success ? "dumped and left running" : "resumed untouched");
	}
	frozen_free(&ds->fp);
	free(ds->shm.ids);
	free(ds);
}

/* precopy.c — see precopy.h. */
#include "precopy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/interrupt.h"
#include "../common/log.h"
#include "../common/stall.h"
#include "../common/util.h"
#include "../inspect/capture.h"
#include "../inspect/freeze.h"
#include "../inspect/rsys.h"
#include "../state/codec.h"
#include "../state/layout.h"
#include "dump.h"

#define RATE_MIN_BYTES (1u << 20) /* a round this small says little about the link's rate */
#define SCATTERED_TRUST_BYTES (1u << 20) /* written after round 1: below this, its rate will do */

struct precopy_session {
	pid_t pid;
	long page;
	struct dirty_tracker t;
	bool tracking;
	struct fr_image layout;      /* the layout the last round sent (vmas only) */
	struct range_list carry;     /* to send again: collected but not sent yet, or vanished while read */
	struct range_list untracked; /* ranges the tracker refused: sent whole every round */
	struct range_list held;      /* private memory the destination holds data for (sent, not dropped) */
	double collect_ms, absent_ms; /* the last collect and held-page scan: the frozen round does both */
};

static const char *const rule_names[] = {
	[PRECOPY_RULE_NONE] = "none",
	[PRECOPY_RULE_DOWNTIME] = "downtime-limit",
	[PRECOPY_RULE_MAX_ITERATIONS] = "max-iterations",
	[PRECOPY_RULE_GOAL] = "goal",
	[PRECOPY_RULE_NO_PROGRESS] = "no-progress",
	[PRECOPY_RULE_POSTCOPY_AFTER] = "postcopy-after",
};

const char *precopy_rule_name(enum precopy_rule r) { return rule_names[r]; }

/* The tracker: uffd-wp needs a userfaultfd made inside the process, so it
 * is frozen for the few remote syscalls that takes, and thawed as it was. */
static int open_tracker(struct precopy_session *ps, enum dirty_backend b, char *err, size_t errlen)
{
	if (b != DIRTY_UFFD_WP)
		return dirty_open(&ps->t, ps->pid, b, NULL, err, errlen);
	struct frozen_proc fp;
	int r = freeze_process(ps->pid, &fp, err, errlen);
	if (r < 0)
		return r;
	uint64_t ip;
	struct rsys rs;
	if ((r = rsys_find_syscall(ps->pid, &ip)) < 0 || (r = rsys_begin_exact(&rs, ps->pid, ip)) < 0) {
		snprintf(err, errlen, "cannot run remote syscalls in pid %d: %s", ps->pid, strerror(-r));
	} else {
		r = dirty_open(&ps->t, ps->pid, b, &rs, err, errlen);
		rsys_end(&rs);
	}
	thaw_process(&fp);
	frozen_free(&fp);
	return r;
}

/* Does page-carrying VMA v touch a range of l? */
static bool vma_touches(const struct fr_vma *v, const struct range_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].start < v->end && v->start < l->v[i].end)
			return true;
	return false;
}

static bool needs_tracking(const struct fr_image *now, const struct layout_diff *d, const struct range_list *lost)
{
	for (uint32_t k = 0; k < now->nvmas; k++)
		if (fr_vma_has_pages(&now->vmas[k]) && (vma_touches(&now->vmas[k], &d->fresh) || vma_touches(&now->vmas[k], lost)))
			return true;
	return false;
}

/* Applies the layout change to the tracker: removed ranges are forgotten;
 * every page-carrying mapping with a fresh or lost part is tracked whole
 * (a part would split it: dirty.h), adding to `written` what its kept part
 * got since the collect. What cannot be tracked is sent whole each round. */
static int track_layout(struct precopy_session *ps, const struct fr_image *now, const struct layout_diff *d,
			const struct range_list *lost, struct range_list *written)
{
	for (size_t i = 0; i < d->removed.n; i++)
		dirty_untrack(&ps->t, d->removed.v[i].start, d->removed.v[i].end);
	struct range_list still = {0};
	int r = range_list_intersect(&ps->untracked, &d->kept, &still);
	range_list_free(&ps->untracked);
	ps->untracked = still;
	for (uint32_t k = 0; r == 0 && k < now->nvmas; k++) {
		const struct fr_vma *v = &now->vmas[k];
		if (!fr_vma_has_pages(v) || !(vma_touches(v, &d->fresh) || vma_touches(v, lost)))
			continue;
		int e = dirty_track_collect(&ps->t, v->start, v->end, written);
		if (e < 0) {
			pr_debug("pre-copy: %#llx-%#llx (%s) cannot be tracked (%s): sent whole each round",
				 (unsigned long long)v->start, (unsigned long long)v->end, fr_vma_kind_name(v->kind),
				 strerror(-e));
			r = range_list_add(&ps->untracked, v->start, v->end);
		}
	}
	return r;
}

/* A round's layout: the mappings now but those of memfds and deleted
 * files, which wait for the switch (vmas_drop_objects). */
static int round_layout(pid_t pid, bool live, struct fr_image *now, char *err, size_t errlen)
{
	int r = capture_vmas(pid, live, now, err, errlen);
	if (r == 0)
		vmas_drop_objects(now);
	return r;
}

/* The layout now and its change since the last round, with the tracker
 * following it. Registering happens with the process frozen (for the
 * fraction of a millisecond it takes), the layout read again then: the
 * mappings must not change between the read and the registration. A
 * tracked mapping made again since the collect (not registered any more)
 * is tracked anew and sent whole, like a lost one: left unregistered next
 * to registered pieces of the same mapping, it would never merge with them
 * again, and the process's own mremap of the whole would fail. */
static int next_layout(struct precopy_session *ps, const struct range_list *lost, struct range_list *written,
		       struct fr_image *now, struct layout_diff *d, double *frozen_ms, char *err, size_t errlen)
{
	struct range_list gone = {0}; /* lost, or replaced since the collect */
	int r = range_list_union(&gone, lost);
	if (r == 0)
		r = round_layout(ps->pid, true, now, err, errlen);
	if (r == 0)
		r = layout_diff(ps->layout.vmas, ps->layout.nvmas, now->vmas, now->nvmas, d);
	if (r == 0)
		r = dirty_replaced(&ps->t, &gone);
	if (r < 0 || !needs_tracking(now, d, &gone)) {
		if (r == 0)
			r = track_layout(ps, now, d, &gone, written);
		range_list_free(&gone);
		return r;
	}
	fr_image_free(now);
	layout_diff_free(d);
	struct frozen_proc fp;
	double t = now_ms();
	if ((r = freeze_process(ps->pid, &fp, err, errlen)) < 0) {
		range_list_free(&gone);
		return r;
	}
	struct range_list replaced = {0};
	r = round_layout(ps->pid, false, now, err, errlen);
	if (r == 0)
		r = layout_diff(ps->layout.vmas, ps->layout.nvmas, now->vmas, now->nvmas, d);
	if (r == 0 && (r = dirty_replaced(&ps->t, &replaced)) == 0 && (r = range_list_union(&gone, &replaced)) == 0 &&
	    (r = range_list_union(written, &replaced)) == 0)
		r = track_layout(ps, now, d, &gone, written);
	thaw_process(&fp);
	frozen_free(&fp);
	*frozen_ms += now_ms() - t;
	range_list_free(&replaced);
	range_list_free(&gone);
	return r;
}

/* What a round sends again besides fresh ranges: the written pages, what
 * was left over, and what cannot be tracked, where the mapping was kept. */
static int pages_again(struct precopy_session *ps, struct range_list *written, const struct layout_diff *d,
		       struct range_list *again)
{
	range_list_normalize(written); /* track_layout appended to it out of order */
	struct range_list all = {0}, held_kept = {0}, gone = {0};
	/* What the destination holds where the process now has nothing of its
	 * own (a mapping unmapped and made again, grown back, dropped): the
	 * tracker sees no write there, but the old data must go. */
	int r = range_list_intersect(&ps->held, &d->kept, &held_kept);
	double t = now_ms();
	if (r == 0)
		r = dirty_absent(&ps->t, &held_kept, &gone);
	ps->absent_ms = now_ms() - t;
	if (r == 0)
		r = range_list_union(&all, &gone);
	if (r == 0)
		r = range_list_subtract(&ps->held, &gone);
	if (r == 0)
		r = range_list_subtract(&ps->held, &d->removed);
	range_list_free(&held_kept);
	range_list_free(&gone);
	if (r == 0)
		r = range_list_union(&all, written);
	if (r == 0)
		r = range_list_union(&all, &ps->carry);
	if (r == 0)
		r = range_list_union(&all, &ps->untracked);
	if (r == 0)
		r = range_list_intersect(&all, &d->kept, again);
	range_list_free(&all);
	range_list_free(&ps->carry);
	return r;
}

/* The destination holds data for these ranges now. */
static int hold(struct precopy_session *ps, struct range_list *data)
{
	range_list_normalize(data);
	return range_list_union(&ps->held, data);
}

/* One round while the process runs: the layout now, then the pages. */
static int send_round(struct precopy_session *ps, const struct precopy_opts *o, struct range_list *written,
		      const struct range_list *lost, struct fr_stream *s, struct precopy_round *rd, char *err,
		      size_t errlen)
{
	struct fr_image now = {0};
	struct layout_diff d = {0};
	struct range_list again = {0};
	int r = next_layout(ps, lost, written, &now, &d, &rd->frozen_ms, err, errlen);
	if (r == 0)
		r = pages_again(ps, written, &d, &again);
	if (r == -ENOMEM)
		snprintf(err, errlen, "out of memory in pre-copy round %u", rd->round);
	if (r == 0) {
		rd->fresh_bytes = range_list_bytes(&d.fresh);
		struct range_list data = {0};
		struct page_select sel = {.whole = &d.fresh, .dirty = &again, .unread = &ps->carry, .data = &data};
		uint64_t at = s->offset;
		if ((r = dump_write_layout(s, &now)) == 0 &&
		    (r = dump_pages_select(ps->pid, now.vmas, now.nvmas, &sel, s, &rd->pages, o->progress,
					   o->progress_arg, err, errlen)) == 0 &&
		    (r = hold(ps, &data)) == 0)
			r = dump_write_counts(s, REC_ROUND_END, &rd->pages);
		/* unread ranges come in plan order (fresh before written, VMA by
		 * VMA), not address order: later unions need them sorted */
		range_list_normalize(&ps->carry);
		range_list_free(&data);
		rd->wire_bytes = s->offset - at;
		if (r == 0 && o->await_round)
			r = o->await_round(o->await_ctx, rd->round, err, errlen);
		if (r < 0 && !err[0])
			snprintf(err, errlen, "cannot send pre-copy round %u: %s", rd->round, strerror(-r));
	}
	if (r == 0) {
		fr_image_free(&ps->layout);
		ps->layout = now;
	} else {
		fr_image_free(&now);
	}
	layout_diff_free(&d);
	range_list_free(&again);
	return r;
}

/* Has the estimated pause failed to fall by PRECOPY_PROGRESS_MIN in each
 * of the last PRECOPY_STALLED_ROUNDS rounds? rounds[i] holds the estimate
 * that let round i + 1 run (round 1 has none); `expected` is the newest. */
static bool stalled(const struct precopy_stats *st, double expected)
{
	uint32_t n = st->nrounds;
	if (n < PRECOPY_STALLED_ROUNDS + 1)
		return false;
	double later = expected;
	for (uint32_t k = 0; k < PRECOPY_STALLED_ROUNDS; k++) {
		double earlier = st->rounds[n - 1 - k].expected_downtime_ms;
		if (later < earlier * (1 - PRECOPY_PROGRESS_MIN))
			return false;
		later = earlier;
	}
	return true;
}

/* Which rule, if any, ends the rounds now that `written` is what the next
 * one would send. */
static enum precopy_rule decide(const struct precopy_session *ps, const struct precopy_opts *o,
				const struct precopy_stats *st, const struct range_list *written, double *expected)
{
	uint64_t bytes = range_list_bytes(written) + range_list_bytes(&ps->carry) + range_list_bytes(&ps->untracked);
	double fixed = st->switchover_ms + ps->collect_ms + ps->absent_ms;
	*expected = (st->rate_bps > 0 ? (double)bytes / st->rate_bps * 1e3 : 0) + fixed;
	/* Round 1's rate comes from long runs of pages; written pages are
	 * scattered and cost more each. Unless next to nothing was written, a
	 * round of them is measured before the estimate is trusted. */
	bool measured = st->nrounds >= 2 || bytes < SCATTERED_TRUST_BYTES;
	if (st->rate_bps > 0 && measured && *expected <= o->downtime_limit_ms)
		return PRECOPY_RULE_DOWNTIME;
	if (o->postcopy_after && st->nrounds >= o->postcopy_after)
		return PRECOPY_RULE_POSTCOPY_AFTER;
	uint64_t tracked = range_list_bytes(&ps->t.tracked);
	if (o->goal_pct >= 0 && tracked && (double)(tracked - MIN(tracked, bytes)) * 100 >= (double)o->goal_pct * (double)tracked)
		return PRECOPY_RULE_GOAL;
	if (st->nrounds >= o->max_iterations)
		return PRECOPY_RULE_MAX_ITERATIONS;
	return stalled(st, *expected) ? PRECOPY_RULE_NO_PROGRESS : PRECOPY_RULE_NONE;
}

static struct precopy_round *new_round(struct precopy_stats *st)
{
	struct precopy_round *v = realloc(st->rounds, (st->nrounds + 1) * sizeof(*v));
	if (!v)
		return NULL;
	st->rounds = v;
	v[st->nrounds] = (struct precopy_round){.round = st->nrounds + 1};
	return &v[st->nrounds++];
}

static int run_rounds(struct precopy_session *ps, const struct precopy_opts *o, struct fr_stream *s,
		      struct precopy_stats *st, char *err, size_t errlen)
{
	struct range_list written = {0}, lost = {0};
	int r = 0;
	double last_ms = 0;
	for (;;) {
		if (st->nrounds > 0) {
			range_list_free(&written);
			range_list_free(&lost);
			double t = now_ms();
			r = dirty_collect(&ps->t, &written, &lost);
			ps->collect_ms = now_ms() - t;
			if (r < 0) {
				snprintf(err, errlen, "cannot read the written pages of pid %d: %s", ps->pid, strerror(-r));
				break;
			}
			double expected;
			st->rule = decide(ps, o, st, &written, &expected);
			st->expected_downtime_ms = expected;
			if (st->rule != PRECOPY_RULE_NONE) {
				st->downtime_fits = expected <= o->downtime_limit_ms;
				r = range_list_union(&ps->carry, &written); /* the frozen round sends them */
				break;
			}
		}
		if (interrupted()) {
			snprintf(err, errlen, "interrupted by a signal during pre-copy");
			r = -EINTR;
			break;
		}
		struct precopy_round *rd = new_round(st);
		if (!rd) {
			r = -ENOMEM;
			break;
		}
		rd->dirty_pages = range_list_bytes(&written) / (uint64_t)ps->page;
		rd->dirty_rate = last_ms > 0 ? (double)rd->dirty_pages / (last_ms / 1e3) : 0;
		rd->expected_downtime_ms = st->expected_downtime_ms;
		if (o->round_begin)
			o->round_begin(rd, st, o->progress_arg);
		double t = now_ms();
		r = send_round(ps, o, &written, &lost, s, rd, err, errlen);
		rd->ms = last_ms = now_ms() - t;
		if (r < 0)
			break;
		if (rd->wire_bytes >= RATE_MIN_BYTES || st->rate_bps == 0)
			st->rate_bps = (double)rd->wire_bytes / (MAX(rd->ms, 0.001) / 1e3);
		pr_info("pre-copy round %u: %llu pages sent (%llu written before it, %.0f pages/s), %llu discarded, "
			"%.1f MiB in %.1f ms", rd->round, (unsigned long long)rd->pages.pages_sent,
			(unsigned long long)rd->dirty_pages, rd->dirty_rate, (unsigned long long)rd->pages.pages_discarded,
			(double)rd->wire_bytes / (1 << 20), rd->ms);
		if (rd->round == 2)
			stall_point("round2");
	}
	st->final_dirty_pages = range_list_bytes(&ps->carry) / (uint64_t)ps->page;
	range_list_free(&written);
	range_list_free(&lost);
	if (r == 0 && o->round_begin)
		o->round_begin(NULL, st, o->progress_arg);
	return r;
}

int precopy_run(pid_t pid, const struct precopy_opts *o, struct fr_stream *s, struct precopy_session **out,
		struct precopy_stats *st, char *err, size_t errlen)
{
	*out = NULL;
	*st = (struct precopy_stats){.backend = dirty_backend_best()};
	struct precopy_session *ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	ps->pid = pid;
	ps->page = sysconf(_SC_PAGESIZE);
	double t = now_ms();
	int r = open_tracker(ps, st->backend, err, errlen);
	st->t_track_ms = now_ms() - t;
	st->switchover_ms = o->switchover_ms + st->t_track_ms; /* the tracker's freeze is a small switch */
	if (r < 0) {
		free(ps);
		return r;
	}
	ps->tracking = true;
	pr_info("pre-copy of pid %d: dirty tracking with %s (set up in %.2f ms)", pid, dirty_backend_name(st->backend),
		st->t_track_ms);
	r = run_rounds(ps, o, s, st, err, errlen);
	if (r < 0) {
		precopy_close(ps);
		return r;
	}
	*out = ps;
	return 0;
}

int precopy_final_pages(struct precopy_session *ps, const struct fr_image *img, struct fr_stream *s,
			struct page_stats *st, struct range_list *lazy, page_progress_fn progress, void *progress_arg,
			char *err, size_t errlen)
{
	struct range_list written = {0}, again = {0};
	struct layout_diff d = {0};
	int r = dirty_collect(&ps->t, &written, NULL);
	if (r < 0) {
		snprintf(err, errlen, "cannot read the written pages of pid %d: %s", ps->pid, strerror(-r));
		return r;
	}
	if ((r = layout_diff(ps->layout.vmas, ps->layout.nvmas, img->vmas, img->nvmas, &d)) == 0)
		r = pages_again(ps, &written, &d, &again);
	if (r == 0 && lazy) {
		r = dump_pages_lazy(ps->pid, img, &d.fresh, &again, s, st, lazy, progress, progress_arg, err, errlen);
	} else if (r == 0) {
		struct page_select sel = {.whole = &d.fresh, .dirty = &again};
		r = dump_pages_select(ps->pid, img->vmas, img->nvmas, &sel, s, st, progress, progress_arg, err, errlen);
	} else {
		snprintf(err, errlen, "out of memory in the last pre-copy round");
	}
	range_list_free(&written);
	range_list_free(&again);
	layout_diff_free(&d);
	return r;
}

void precopy_close(struct precopy_session *ps)
{
	if (!ps)
		return;
	if (ps->tracking)
		dirty_close(&ps->t);
	fr_image_free(&ps->layout);
	range_list_free(&ps->carry);
	range_list_free(&ps->untracked);
	range_list_free(&ps->held);
	free(ps);
}

void precopy_stats_free(struct precopy_stats *st)
{
	free(st->rounds);
	st->rounds = NULL;
	st->nrounds = 0;
}

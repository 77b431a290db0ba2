/* precopy.h — pre-copy: the rounds a live migration sends while the process
 * runs (DESIGN.md, "Dirty tracking without soft-dirty", "Convergence").
 * Round 1 sends every present page; each later round first collects the
 * pages written since (mem/dirty.c) and reads the layout again: ranges kept
 * send only their written pages, fresh ranges (new mappings, brk growth,
 * mremap targets) are tracked and sent whole, removed ones are untracked
 * (the destination drops them: both ends run layout_diff on the same two
 * layouts). A round is VMA* (the layout now), PAGES* / DISCARD*, ROUND_END.
 * The rounds stop when the estimated pause (written bytes / measured rate
 * + the switchover's own cost) fits the downtime limit, or a cap is hit
 * (--max-iterations, --goal), or the estimate stops falling (a process
 * writing faster than the link carries: further rounds would only resend). The last round belongs to the frozen dump
 * (dump.c), which sends only what changed since (precopy_final_pages).
 * Until the switch the process is never changed: tracking is removed on
 * every path (precopy_close). */
#ifndef FERRY_PRECOPY_H
#define FERRY_PRECOPY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../mem/dirty.h"
#include "../mem/pages.h"
#include "../state/model.h"
#include "../state/stream.h"

#define PRECOPY_DOWNTIME_LIMIT_MS_DEFAULT 50 /* the target; QEMU's downtime-limit default is 300 */
#define PRECOPY_MAX_ITERATIONS_DEFAULT 10    /* LXD migration.incremental.memory.iterations */
#define PRECOPY_MAX_ITERATIONS_MAX 1000

enum precopy_rule {
	PRECOPY_RULE_NONE,           /* rounds still running (or stop-and-copy) */
	PRECOPY_RULE_DOWNTIME,       /* the estimated pause fits --downtime-limit */
	PRECOPY_RULE_MAX_ITERATIONS, /* the cap on rounds */
	PRECOPY_RULE_GOAL,           /* --goal: enough pages unchanged in the last round */
	PRECOPY_RULE_NO_PROGRESS,    /* the estimate stopped falling: more rounds would only resend */
	PRECOPY_RULE_POSTCOPY_AFTER, /* hybrid: --postcopy-after rounds ran */
};

/* Rounds whose estimated pause must each fall by PRECOPY_PROGRESS_MIN
 * (a fraction) before the rounds count as stalled. */
#define PRECOPY_STALLED_ROUNDS 2
#define PRECOPY_PROGRESS_MIN 0.10
const char *precopy_rule_name(enum precopy_rule r);

struct precopy_round {
	uint32_t round;
	uint64_t dirty_pages;  /* written during the previous round (round 1: every tracked page) */
	double dirty_rate;     /* pages written per second during the previous round */
	uint64_t fresh_bytes;  /* new or changed mappings, sent whole */
	struct page_stats pages;
	uint64_t wire_bytes;
	double ms;
	double frozen_ms;      /* the process stopped while new mappings were tracked */
	double expected_downtime_ms; /* the estimate that let it run */
};

struct precopy_stats {
	enum dirty_backend backend;
	uint32_t nrounds;
	struct precopy_round *rounds;
	enum precopy_rule rule;
	bool downtime_fits;          /* false: a cap ended the rounds above the limit */
	double expected_downtime_ms; /* the estimate at the switch */
	double rate_bps;             /* bytes/s measured over the rounds */
	double t_track_ms;           /* freeze to create the tracker */
	double switchover_ms;        /* fixed cost of the switch in the estimate */
	uint64_t final_dirty_pages;  /* written while the rounds ran, for the frozen round */
};

struct precopy_opts {
	double downtime_limit_ms;
	uint32_t max_iterations; /* rounds while the process runs, round 1 included */
	int goal_pct;            /* < 0: off */
	uint32_t postcopy_after; /* hybrid: switch to post-copy after this many rounds (0: off) */
	double switchover_ms;    /* the switch's fixed cost as measured so far (a round trip, the precheck);
				  * the tracker's set-up freeze is added */
	/* a round starts (rd), or the rounds end (rd NULL, st->rule says why):
	 * to label the progress line; pages report as dump_pages does */
	void (*round_begin)(const struct precopy_round *rd, const struct precopy_stats *st, void *arg);
	page_progress_fn progress;
	void *progress_arg;
	/* waits until the destination has placed round `round` (its ROUND_END
	 * comes back): the next round's pause estimate must not count on bytes
	 * still queued in socket buffers, and the measured rate is the link's */
	int (*await_round)(void *ctx, uint32_t round, char *err, size_t errlen);
	void *await_ctx;
};

struct precopy_session;

/* Starts tracking pid (frozen for a moment) and sends rounds on s until a
 * rule says switch. On success *ps holds what the frozen round needs. On
 * failure the tracking is gone and the process runs on untouched. */
int precopy_run(pid_t pid, const struct precopy_opts *o, struct fr_stream *s, struct precopy_session **ps,
		struct precopy_stats *st, char *err, size_t errlen);
/* The frozen round: the pages written since the last round and the fresh
 * ranges of img's layout (captured frozen), as the dump's pages; with lazy
 * (hybrid: post-copy after the rounds), those of lazy memory are left for
 * post-copy and listed in it (pages.h: dump_pages_lazy). */
int precopy_final_pages(struct precopy_session *ps, const struct fr_image *img, struct fr_stream *s,
			struct page_stats *st, struct range_list *lazy, page_progress_fn progress, void *progress_arg,
			char *err, size_t errlen);
/* Removes the tracking from the process and frees ps (NULL is fine). */
void precopy_close(struct precopy_session *ps);
void precopy_stats_free(struct precopy_stats *st);

#endif

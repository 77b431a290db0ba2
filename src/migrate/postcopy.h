/* postcopy.h — the pages a post-copy migration moves after the switch.
 * The process runs on B with its private writable anonymous memory missing
 * (registered MISSING on a userfaultfd, restore.h: restore_lazy); A keeps
 * its stopped copy to read from.
 *   A (postcopy_serve): pages B asks for are answered at once on a second,
 *     urgent connection (made with B's SESSION token, net/join.h), so no
 *     answer waits behind pushed pages; meanwhile the next pages not yet
 *     sent, from where the last request ended, are pushed on the main one;
 *     then DONE, and B's COMPLETE. Without the urgent connection, answers go
 *     between two pushed chunks, the socket's unsent queue kept short.
 *   B (postcopy_fill): a thread reads the faults: a page A has no data for
 *     is placed as zeros at once (UFFDIO_ZEROPAGE), else it is asked for with
 *     an adaptive read-ahead window (doubling on sequential faults, halving
 *     on random ones); the calling thread (main connection) and the urgent
 *     connection's reader place what arrives with
 *     UFFDIO_COPY (which wakes the faulting threads), following the
 *     process's mremaps and skipping what it unmapped or dropped, until
 *     every page is in place; then the userfaultfd is closed (in the process
 *     too) and COMPLETE sent.
 * The conversation is in control.h. */
#ifndef FERRY_POSTCOPY_H
#define FERRY_POSTCOPY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../net/join.h"
#include "../restore/restore.h"
#include "../state/layout.h"
#include "link.h"
#include "postcopy_progress.h"

struct postcopy_stats {
	uint64_t pages_total;     /* pages left at A when the process started on B */
	uint64_t pages_requested; /* A: sent because B asked; B: placed after a request */
	uint64_t pages_urgent;    /* of those, the page a fault asked for (the rest: read-ahead) */
	uint64_t pages_pushed;    /* sent / placed from the background stream */
	uint64_t pages_skipped;   /* B: unmapped or dropped by the process before they came */
	uint64_t faults;          /* B: faults read on lazy memory; A: requests served */
	uint64_t zero_faults;     /* B: of those, placed as zeros without asking */
	uint64_t requests;        /* PAGE_REQ records */
	double lat_p50_ms, lat_p99_ms, lat_max_ms; /* B: fault read → page in place */
	double t_complete_ms;     /* from the start on B (or GO at A) to COMPLETE */
	uint64_t bytes;           /* page bytes sent / received */
	double urgent_ms;         /* time until the urgent connection was up (0: none) */
	uint32_t reconnects;      /* connections made again after one broke (--retry-for) */
	uint32_t forks;           /* B: fork()s of the process (and its children) followed */
	uint64_t pages_forked;    /* B: pages placed into children forked during post-copy */
	struct postcopy_series series; /* the counters over time (postcopy_progress.h) */
};

struct postcopy_serve_opts {
	uint32_t flags;        /* the offer's FR_PC_* */
	uint32_t retry_for_ms; /* --retry-for: how long to connect again after a break (0: not) */
};
/* A, after RUNNING: serves the pages of lazy (sorted) from pid's stopped
 * copy. */
int postcopy_serve(struct link *l, pid_t pid, const struct range_list *lazy, const struct postcopy_serve_opts *o,
		   struct postcopy_stats *st, char *err, size_t errlen);

struct postcopy_fill_opts {
	uint32_t flags;           /* the offer's FR_PC_* */
	uint32_t retry_for_ms;    /* the offer's retry window */
	struct join_point *join;  /* where A's urgent and resumed connections arrive, or NULL */
};
/* B, after RUNNING (and SESSION): fills the running pid's missing pages;
 * lz is freed. */
int postcopy_fill(struct link *l, pid_t pid, struct restore_lazy *lz, const struct postcopy_fill_opts *o,
		  struct postcopy_stats *st, char *err, size_t errlen);
/* The stats as JSON members, without braces (postcopy_progress.c). */
void postcopy_stats_json(FILE *f, const struct postcopy_stats *st);
/* st's counters into st->series: forced at the start and the end (final),
 * else once a step has passed (postcopy_progress.c). */
void postcopy_tick(struct postcopy_stats *st, bool force, bool final);
void postcopy_stats_free(struct postcopy_stats *st);

#endif

/* postcopy_progress.h — what a post-copy migration has done so far, over
 * time: the pages moved by kind (urgent: the page a fault asked for;
 * read-ahead: its neighbours fetched with it; bulk: the background push)
 * and the faults, sampled every POSTCOPY_SAMPLE_MS into a series that
 * --stats-json prints ("postcopy":{"series":...}) and that a hook sees as
 * it grows (ferry send / receive's progress line, ferry ui's events).
 * Both sides keep one: A counts the pages it sent and the page requests it
 * served (each is a fault at B), B the pages it placed and the faults it
 * read. */
#ifndef FERRY_POSTCOPY_PROGRESS_H
#define FERRY_POSTCOPY_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define POSTCOPY_SAMPLE_MS 100.0 /* the series' step: ten points a second */
#define POSTCOPY_SAMPLES_MAX 2048 /* then every other point goes and the step doubles (long runs) */

/* Totals since the start of post-copy at one moment. */
struct postcopy_sample {
	double t_ms;
	uint64_t urgent, readahead, bulk; /* pages moved (A: sent, B: placed) */
	uint64_t faults;                  /* A: requests served, B: faults read */
	uint64_t bytes;                   /* page bytes */
};

struct postcopy_series;
/* Called after each new sample (s->v[s->n - 1]); final: the last one. */
typedef void (*postcopy_sample_fn)(const struct postcopy_series *s, bool final, void *arg);

struct postcopy_series {
	struct postcopy_sample *v; /* oldest first; v[0] is the start (t 0) */
	size_t n, cap;
	double t0_ms;    /* now_ms() at the start */
	double step_ms;  /* the time between two samples */
	uint64_t pages_total; /* the pages post-copy moves (for the hook) */
	postcopy_sample_fn on_sample; /* set by the caller before the start, or NULL */
	void *on_sample_arg;
};

/* A sample at t_ms (ms since the start) if a step has passed since the last
 * one, or always if force (the start, the end); calls the hook then.
 * Returns true if it sampled. Out of memory: the series keeps what it had
 * (its last point is overwritten), never fails the migration. */
bool postcopy_series_tick(struct postcopy_series *s, double t_ms, const struct postcopy_sample *now, bool force,
			  bool final);
/* Pages per second, faults per second and bytes per second between the
 * last two samples (0 with fewer than two). */
void postcopy_series_rates(const struct postcopy_series *s, double *pages_ps, double *faults_ps, double *bytes_ps);
static inline uint64_t postcopy_sample_pages(const struct postcopy_sample *p)
{
	return p->urgent + p->readahead + p->bulk;
}
/* "series":{"step_ms":..,"samples":[{"t_ms","pages" (total so far),
 * "urgent","readahead","bulk","faults","bytes" (in the interval that ends
 * there)},...]} */
void postcopy_series_json(FILE *f, const struct postcopy_series *s);
void postcopy_series_free(struct postcopy_series *s);

#endif

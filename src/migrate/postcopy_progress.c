/* postcopy_progress.c — see postcopy_progress.h; also post-copy's stats
 * (postcopy.h: struct postcopy_stats) as JSON. The series holds totals, so
 * thinning it (every other point) loses no page: the JSON turns them into
 * what happened in each interval. */
#include "postcopy_progress.h"

#include <stdlib.h>

#include "../common/util.h"
#include "postcopy.h"

/* Keeps the first point and every other one after it; the step doubles. */
static void thin(struct postcopy_series *s)
{
	size_t k = 1;
	for (size_t i = 2; i < s->n; i += 2)
		s->v[k++] = s->v[i];
	if (s->n > 1 && (s->n - 1) % 2)
		s->v[k++] = s->v[s->n - 1]; /* the newest stays */
	s->n = k;
	s->step_ms *= 2;
}

bool postcopy_series_tick(struct postcopy_series *s, double t_ms, const struct postcopy_sample *now, bool force,
			  bool final)
{
	if (!s->step_ms)
		s->step_ms = POSTCOPY_SAMPLE_MS;
	if (!force && s->n && t_ms - s->v[s->n - 1].t_ms < s->step_ms)
		return false;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct postcopy_sample *v = cap <= POSTCOPY_SAMPLES_MAX ? realloc(s->v, cap * sizeof(*v)) : NULL;
		if (v)
			s->v = v, s->cap = cap;
		else if (s->n > 2)
			thin(s);
		else if (!s->n)
			return false; /* no memory for the first point */
		else
			s->n--; /* the last point gives way */
	}
	s->v[s->n] = *now;
	s->v[s->n++].t_ms = t_ms;
	if (s->on_sample)
		s->on_sample(s, final, s->on_sample_arg);
	return true;
}

void postcopy_series_rates(const struct postcopy_series *s, double *pages_ps, double *faults_ps, double *bytes_ps)
{
	*pages_ps = *faults_ps = *bytes_ps = 0;
	if (s->n < 2)
		return;
	const struct postcopy_sample *a = &s->v[s->n - 2], *b = &s->v[s->n - 1];
	double dt = (b->t_ms - a->t_ms) / 1e3;
	if (dt <= 0)
		return;
	*pages_ps = (double)(postcopy_sample_pages(b) - postcopy_sample_pages(a)) / dt;
	*faults_ps = (double)(b->faults - a->faults) / dt;
	*bytes_ps = (double)(b->bytes - a->bytes) / dt;
}

void postcopy_series_json(FILE *f, const struct postcopy_series *s)
{
	fprintf(f, "\"series\":{\"step_ms\":%.0f,\"samples\":[", s->step_ms ? s->step_ms : POSTCOPY_SAMPLE_MS);
	struct postcopy_sample prev = {0};
	for (size_t i = 0; i < s->n; i++) {
		const struct postcopy_sample *p = &s->v[i];
		fprintf(f, "%s{\"t_ms\":%.1f,\"pages\":%llu,\"urgent\":%llu,\"readahead\":%llu,\"bulk\":%llu,"
			   "\"faults\":%llu,\"bytes\":%llu}",
			i ? "," : "", p->t_ms, (unsigned long long)postcopy_sample_pages(p),
			(unsigned long long)(p->urgent - prev.urgent), (unsigned long long)(p->readahead - prev.readahead),
			(unsigned long long)(p->bulk - prev.bulk), (unsigned long long)(p->faults - prev.faults),
			(unsigned long long)(p->bytes - prev.bytes));
		prev = *p;
	}
	fprintf(f, "]}");
}

void postcopy_series_free(struct postcopy_series *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

void postcopy_tick(struct postcopy_stats *st, bool force, bool final)
{
	struct postcopy_series *s = &st->series;
	double t = now_ms();
	if (!s->n)
		s->t0_ms = t, force = true;
	s->pages_total = st->pages_total;
	struct postcopy_sample now = {.urgent = st->pages_urgent, .readahead = st->pages_requested - st->pages_urgent,
				      .bulk = st->pages_pushed, .faults = st->faults, .bytes = st->bytes};
	postcopy_series_tick(s, t - s->t0_ms, &now, force, final);
}

void postcopy_stats_json(FILE *fp, const struct postcopy_stats *st)
{
	fprintf(fp,
		"\"postcopy\":{\"pages_total\":%llu,\"pages_requested\":%llu,\"pages_pushed\":%llu,\"pages_skipped\":%llu,"
		"\"pages_urgent\":%llu,\"pages_readahead\":%llu,\"pages_bulk\":%llu,"
		"\"faults\":%llu,\"zero_faults\":%llu,\"requests\":%llu,\"fault_latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,"
		"\"max\":%.3f},\"complete_ms\":%.3f,\"bytes\":%llu,\"urgent_ms\":%.3f,\"reconnects\":%u,"
		"\"forks\":%u,\"pages_forked\":%llu,",
		(unsigned long long)st->pages_total, (unsigned long long)st->pages_requested,
		(unsigned long long)st->pages_pushed, (unsigned long long)st->pages_skipped,
		(unsigned long long)st->pages_urgent, (unsigned long long)(st->pages_requested - st->pages_urgent),
		(unsigned long long)st->pages_pushed, (unsigned long long)st->faults, (unsigned long long)st->zero_faults,
		(unsigned long long)st->requests, st->lat_p50_ms, st->lat_p99_ms, st->lat_max_ms, st->t_complete_ms,
		(unsigned long long)st->bytes, st->urgent_ms, st->reconnects, st->forks,
		(unsigned long long)st->pages_forked);
	postcopy_series_json(fp, &st->series);
	fputc('}', fp);
}

void postcopy_stats_free(struct postcopy_stats *st)
{
	postcopy_series_free(&st->series);
}

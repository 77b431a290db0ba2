/* test_postcopy_progress.c — post-copy's series over time: a point at the
 * start, then one per step (never more often), forced at the end; the hook
 * sees each point and is told which is the last; a long run is thinned to
 * at most POSTCOPY_SAMPLES_MAX points without losing a page (the JSON's
 * intervals add up to the totals); the rates are those of the last
 * interval; postcopy_tick reads the kinds off struct postcopy_stats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>
#include <jansson.h>

#include "migrate/postcopy.h"
#include "migrate/postcopy_progress.h"

struct seen {
	size_t calls, finals;
	uint64_t last_pages;
};

static void count_samples(const struct postcopy_series *s, bool final, void *arg)
{
	struct seen *w = arg;
	w->calls++;
	w->finals += final;
	w->last_pages = postcopy_sample_pages(&s->v[s->n - 1]);
}

static struct postcopy_sample at(uint64_t urgent, uint64_t readahead, uint64_t bulk, uint64_t faults)
{
	return (struct postcopy_sample){.urgent = urgent, .readahead = readahead, .bulk = bulk, .faults = faults,
					.bytes = (urgent + readahead + bulk) * 4096};
}

/* The series' JSON, parsed. */
static json_t *as_json(const struct postcopy_series *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	fputc('{', f);
	postcopy_series_json(f, s);
	fputc('}', f);
	fclose(f);
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (!j)
		fail_msg("not JSON (%s): %s", e.text, text);
	free(text);
	return j;
}

static void test_one_point_per_step(void **unused)
{
	struct seen w = {0};
	struct postcopy_series s = {.on_sample = count_samples, .on_sample_arg = &w};
	struct postcopy_sample p = at(0, 0, 0, 0);
	assert_true(postcopy_series_tick(&s, 0, &p, true, false));
	p = at(1, 7, 0, 1);
	assert_false(postcopy_series_tick(&s, POSTCOPY_SAMPLE_MS - 1, &p, false, false));
	assert_true(postcopy_series_tick(&s, POSTCOPY_SAMPLE_MS, &p, false, false));
	p = at(1, 7, 40, 1);
	assert_false(postcopy_series_tick(&s, POSTCOPY_SAMPLE_MS + 10, &p, false, false));
	assert_true(postcopy_series_tick(&s, POSTCOPY_SAMPLE_MS + 20, &p, true, true)); /* the end */
	assert_int_equal(s.n, 3);
	assert_int_equal(w.calls, 3);
	assert_int_equal(w.finals, 1);
	assert_int_equal(w.last_pages, 48);
	assert_true(s.v[2].t_ms == POSTCOPY_SAMPLE_MS + 20);
	postcopy_series_free(&s);
	assert_null(s.v);
}

/* Pages per interval in the JSON add up to the last totals. */
static void assert_intervals_add_up(json_t *j, const struct postcopy_sample *last)
{
	json_t *samples = json_object_get(json_object_get(j, "series"), "samples");
	assert_true(json_is_array(samples));
	uint64_t u = 0, r = 0, b = 0, fl = 0, by = 0;
	double t = -1;
	size_t i;
	json_t *x;
	json_array_foreach(samples, i, x) {
		u += (uint64_t)json_integer_value(json_object_get(x, "urgent"));
		r += (uint64_t)json_integer_value(json_object_get(x, "readahead"));
		b += (uint64_t)json_integer_value(json_object_get(x, "bulk"));
		fl += (uint64_t)json_integer_value(json_object_get(x, "faults"));
		by += (uint64_t)json_integer_value(json_object_get(x, "bytes"));
		assert_int_equal(json_integer_value(json_object_get(x, "pages")), u + r + b);
		double tx = json_number_value(json_object_get(x, "t_ms"));
		assert_true(tx > t);
		t = tx;
	}
	assert_int_equal(u, last->urgent);
	assert_int_equal(r, last->readahead);
	assert_int_equal(b, last->bulk);
	assert_int_equal(fl, last->faults);
	assert_int_equal(by, last->bytes);
}

static void test_json_intervals(void **unused)
{
	struct postcopy_series s = {0};
	struct postcopy_sample p = at(0, 0, 0, 0);
	postcopy_series_tick(&s, 0, &p, true, false);
	p = at(3, 21, 100, 3);
	postcopy_series_tick(&s, 100, &p, false, false);
	p = at(5, 30, 900, 5);
	postcopy_series_tick(&s, 200, &p, false, false);
	json_t *j = as_json(&s);
	json_t *second = json_array_get(json_object_get(json_object_get(j, "series"), "samples"), 2);
	assert_int_equal(json_integer_value(json_object_get(second, "bulk")), 800);
	assert_int_equal(json_integer_value(json_object_get(second, "urgent")), 2);
	assert_int_equal(json_integer_value(json_object_get(second, "pages")), 935);
	assert_true(json_number_value(json_object_get(json_object_get(j, "series"), "step_ms")) == POSTCOPY_SAMPLE_MS);
	assert_intervals_add_up(j, &p);
	json_decref(j);
	postcopy_series_free(&s);
}

static void test_long_run_thinned(void **unused)
{
	struct postcopy_series s = {0};
	struct postcopy_sample p = {0};
	size_t points = 5 * POSTCOPY_SAMPLES_MAX + 3;
	for (size_t i = 0; i < points; i++) {
		p = at(i, 7 * i, 100 * i + (i % 3), i);
		bool last = i + 1 == points;
		double newest = s.n ? s.v[s.n - 1].t_ms : -1e9;
		bool taken = postcopy_series_tick(&s, (double)i * 1000, &p, last, last);
		assert_true(taken || (double)i * 1000 - newest < s.step_ms); /* a point per step at least */
		assert_true(s.n <= POSTCOPY_SAMPLES_MAX);
	}
	assert_true(s.step_ms > POSTCOPY_SAMPLE_MS); /* doubled at each thinning */
	assert_true(s.v[0].t_ms == 0);                /* the start stays */
	assert_true(s.v[s.n - 1].t_ms == (double)(points - 1) * 1000); /* so does the newest */
	json_t *j = as_json(&s);
	assert_intervals_add_up(j, &p);
	json_decref(j);
	postcopy_series_free(&s);
}

static void test_rates_of_last_interval(void **unused)
{
	struct postcopy_series s = {0};
	double pps, fps, bps;
	struct postcopy_sample p = at(0, 0, 0, 0);
	postcopy_series_tick(&s, 0, &p, true, false);
	postcopy_series_rates(&s, &pps, &fps, &bps);
	assert_true(pps == 0 && fps == 0 && bps == 0);
	p = at(10, 0, 0, 10);
	postcopy_series_tick(&s, 1000, &p, false, false);
	p = at(20, 60, 20, 30); /* +90 pages, +20 faults in 0.5 s */
	postcopy_series_tick(&s, 1500, &p, false, false);
	postcopy_series_rates(&s, &pps, &fps, &bps);
	assert_true(pps == 180 && fps == 40 && bps == 180 * 4096);
	postcopy_series_free(&s);
}

static void test_tick_reads_the_stats(void **unused)
{
	struct seen w = {0};
	struct postcopy_stats st = {.pages_total = 1000, .series = {.on_sample = count_samples, .on_sample_arg = &w}};
	postcopy_tick(&st, false, false); /* the first point is always taken */
	assert_int_equal(st.series.n, 1);
	st.pages_requested = 64, st.pages_urgent = 8, st.pages_pushed = 900, st.faults = 8, st.bytes = 964 * 4096;
	postcopy_tick(&st, true, true);
	assert_int_equal(st.series.n, 2);
	const struct postcopy_sample *p = &st.series.v[1];
	assert_int_equal(p->urgent, 8);
	assert_int_equal(p->readahead, 56);
	assert_int_equal(p->bulk, 900);
	assert_int_equal(st.series.pages_total, 1000);
	assert_int_equal(w.finals, 1);
	assert_int_equal(w.last_pages, 964);
	postcopy_stats_free(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_point_per_step),   cmocka_unit_test(test_json_intervals),
		cmocka_unit_test(test_long_run_thinned),     cmocka_unit_test(test_rates_of_last_interval),
		cmocka_unit_test(test_tick_reads_the_stats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

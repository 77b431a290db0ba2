/* dirtier: a process of a chosen size that writes pages at a chosen rate and
 * pattern, measures the longest pause it sees, and verifies its memory: the
 * workload of the pre-copy tests and of the migration benchmark.
 *
 * usage: dirtier CTL [MiB=64] [PAGES_PER_S=2000] [seq|random|hot=random] [READERS=0]
 * Every page holds a pattern of its number and generation (a generation per
 * page, in a separate array). A loop ticks every ~200 us on CLOCK_REALTIME
 * (a migration does not hide time from it), rewrites the pages due by then
 * (whole pages, so each write dirties one page) in the pattern's order:
 * seq (round robin), random (uniform), hot (90% of writes in a hot 10%).
 * After stop: every page is checked, and the line says
 *   OK dirtier max_gap_ms=X writes=N pages=P rate=R/s
 * where X is the longest time without a tick or a write: the pause the
 * program felt (a write waiting for its page in post-copy counts), and R
 * the writes per second it achieved. READERS threads read random words of
 * random pages all along (in post-copy: several threads faulting on the
 * same missing pages as the writer); no word of any page is ever zero, and
 * a reader that sees one fails the run (a zero page where data belongs). */
#include "common.h"
#include "genpages.h"
#include <pthread.h>
#include <stdatomic.h>
#define TICK_US 200

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return rng;
}

static double now_rt_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#define READERS_MAX 16
struct reader {
	pthread_t t;
	const volatile uint64_t *mem;
	size_t npages;
	uint64_t seed, reads;
	long zero_page; /* -1: none seen */
};
static atomic_int readers_stop;

static void *read_pages(void *arg)
{
	struct reader *r = arg;
	while (!atomic_load(&readers_stop) && r->zero_page < 0) {
		r->seed ^= r->seed << 13, r->seed ^= r->seed >> 7, r->seed ^= r->seed << 17;
		size_t p = r->seed % r->npages;
		if (r->mem[p * WORDS + (r->seed >> 40) % WORDS] == 0)
			r->zero_page = (long)p;
		r->reads++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	wl_init("dirtier", argc, argv);
	size_t npages = (size_t)(argc > 2 ? atol(argv[2]) : 64) * 256;
	double rate = argc > 3 ? atof(argv[3]) : 2000;
	const char *pattern = argc > 4 ? argv[4] : "random";
	int nreaders = argc > 5 ? atoi(argv[5]) : 0;
	if (!npages || rate < 0 || (strcmp(pattern, "seq") && strcmp(pattern, "random") && strcmp(pattern, "hot")) ||
	    nreaders < 0 || nreaders > READERS_MAX)
		wl_fail("usage: dirtier CTL [MiB] [PAGES_PER_S] [seq|random|hot] [READERS 0..%d]", READERS_MAX);
	uint64_t *mem;
	uint32_t *gen;
	gen_alloc(npages, &mem, &gen);
	size_t hot = npages / 10 ? npages / 10 : 1, cursor = 0;
	uint64_t writes = 0;
	/* progress: the last tick or write; the longest time without one is the
	 * pause the program felt (a write that faults for long counts, a slow
	 * batch of quick writes does not) */
	double max_gap = 0, start = now_rt_ms(), last = start, progress = start, owed = 0;
	struct reader readers[READERS_MAX];
	for (int i = 0; i < nreaders; i++) {
		readers[i] = (struct reader){.mem = mem, .npages = npages, .seed = 0x2545F4914F6CDD1Dull * (uint64_t)(i + 1),
					     .zero_page = -1};
		if (pthread_create(&readers[i].t, NULL, read_pages, &readers[i]) != 0)
			wl_fail("pthread_create: %s", strerror(errno));
	}
	wl_ready();
	while (!wl_stop_requested()) {
		double t = now_rt_ms();
		if (t - progress > max_gap)
			max_gap = t - progress;
		owed += rate * (t - last) / 1e3;
		last = progress = t;
		for (; owed >= 1; owed--, writes++) {
			size_t p;
			if (pattern[0] == 's')
				p = cursor++ % npages;
			else if (pattern[0] == 'h' && rnd() % 10)
				p = rnd() % hot;
			else
				p = rnd() % npages;
			gen_fill(mem + p * WORDS, p, ++gen[p]);
			double w = now_rt_ms();
			if (w - progress > max_gap)
				max_gap = w - progress;
			progress = w;
		}
		if (owed > rate) /* behind by a second (a pause): do not burst to catch up */
			owed = 0;
		wl_sleep_us(TICK_US);
	}
	atomic_store(&readers_stop, 1);
	uint64_t reads = 0;
	for (int i = 0; i < nreaders; i++) {
		pthread_join(readers[i].t, NULL);
		if (readers[i].zero_page >= 0)
			wl_fail("reader %d read zeros in page %ld", i, readers[i].zero_page);
		reads += readers[i].reads;
	}
	long bad = gen_check(mem, gen, npages, "dirtier");
	if (bad >= 0)
		wl_fail("page %ld holds wrong data (generation %u)", bad, gen[bad]);
	wl_ok("max_gap_ms=%.3f writes=%llu pages=%zu rate=%.0f/s pattern=%s readers=%d reads=%llu", max_gap,
	      (unsigned long long)writes, npages, writes / ((last - start) / 1e3), pattern, nreaders,
	      (unsigned long long)reads);
}

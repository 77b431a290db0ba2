/* layout: a process whose address space keeps changing while it runs, for
 * pre-copy (each round must follow the layout).
 *
 * usage: layout CTL [MiB=32] [STEP_US=500]
 * Until CTL/stop, every STEP_US microseconds one random step on a set of regions, each
 * with a model of what every page holds (a generation per page; 0 = zero):
 * mmap a new private or shared anonymous region, munmap one, mremap one
 * (grown, usually moved), MADV_DONTNEED a few pages, mprotect a stretch read-only
 * and back, rewrite pages, write zeros over a page, and grow the brk heap. A
 * base region of MiB MiB is rewritten all along. After stop: every page of
 * every region must hold what the model says. */
#include "common.h"
#include <stdbool.h>
#include <sys/mman.h>

#define PAGE 4096u
#define WORDS (PAGE / 8u)
#define REGIONS_MAX 64
#define REGION_PAGES_MAX 256
#define BRK_STEPS_MAX 12 /* brk regions stay: leave room for the others */

#define HISTORY 16

struct region {
	char history[HISTORY][80]; /* the last steps on it, printed if it fails */
	unsigned nhist;
	uint8_t *addr;
	size_t npages;
	uint32_t *gen;  /* per page; 0 = all zero */
	uint32_t uid;   /* stays with the region when it moves */
	bool shared;
	bool brk;       /* grown with sbrk: never unmapped or moved */
};

static struct region reg[REGIONS_MAX];
static int nreg;
static uint32_t next_uid = 1;
static uint64_t rng = 0x1234567;
static unsigned long steps[9];

static uint64_t rnd(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return rng;
}

static uint64_t word_of(uint32_t uid, size_t page, uint32_t gen, unsigned i)
{
	return wl_mix(((uint64_t)uid << 40) ^ ((uint64_t)page << 20) ^ gen) + i * 0x9E3779B97F4A7C15ull;
}

__attribute__((format(printf, 2, 3))) static void note(struct region *r, const char *fmt, ...)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char *h = r->history[r->nhist++ % HISTORY];
	int n = snprintf(h, 80, "%ld.%03ld ", (long)ts.tv_sec % 1000, ts.tv_nsec / 1000000);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(h + n, (size_t)(80 - n), fmt, ap);
	va_end(ap);
}

static void write_page(struct region *r, size_t p, uint32_t gen)
{
	uint64_t *w = (uint64_t *)(r->addr + p * PAGE);
	for (unsigned i = 0; i < WORDS; i++)
		w[i] = gen ? word_of(r->uid, p, gen, i) : 0;
	r->gen[p] = gen;
}

/* The mappings of /proc/self/maps that touch [lo, hi), in the log. */
static void log_maps_near(uintptr_t lo, uintptr_t hi)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[256];
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a < hi && lo < b)
			wl_log("maps: %.*s", (int)strcspn(line, "\n"), line);
	}
	if (f)
		fclose(f);
}

static void check_region(const struct region *r)
{
	for (size_t p = 0; p < r->npages; p++) {
		const uint64_t *w = (const uint64_t *)(r->addr + p * PAGE);
		for (unsigned i = 0; i < WORDS; i++) {
			uint64_t want = r->gen[p] ? word_of(r->uid, p, r->gen[p], i) : 0;
			if (w[i] != want) {
				for (unsigned k = r->nhist > HISTORY ? r->nhist - HISTORY : 0; k < r->nhist; k++)
					wl_log("region %u: %s", r->uid, r->history[k % HISTORY]);
				wl_fail("region %u (%s, %zu pages at %p) page %zu word %u: %#llx, want %#llx (gen %u)", r->uid,
					r->brk ? "brk" : r->shared ? "shared" : "private", r->npages, (void *)r->addr, p, i,
					(unsigned long long)w[i], (unsigned long long)want, r->gen[p]);
			}
		}
	}
}

static struct region *add_region(uint8_t *addr, size_t npages, bool shared, bool brk)
{
	struct region *r = &reg[nreg++];
	*r = (struct region){.addr = addr, .npages = npages, .uid = next_uid++, .shared = shared, .brk = brk};
	r->gen = calloc(REGION_PAGES_MAX * 2, sizeof(uint32_t));
	if (!r->gen)
		wl_fail("out of memory");
	for (size_t p = 0; p < npages; p++)
		write_page(r, p, 1 + (uint32_t)(rnd() % 1000));
	note(r, "%s at %p, %zu pages", brk ? "brk" : shared ? "mmap shared" : "mmap", (void *)addr, npages);
	return r;
}

static void step_map(void)
{
	if (nreg >= REGIONS_MAX)
		return;
	size_t n = 1 + rnd() % REGION_PAGES_MAX;
	bool shared = rnd() % 4 == 0;
	void *a = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		wl_fail("mmap: %s", strerror(errno));
	add_region(a, n, shared, false);
	steps[0]++;
}

static struct region *pick(bool movable)
{
	if (nreg <= 1)
		return NULL;
	struct region *r = &reg[1 + rnd() % (uint64_t)(nreg - 1)]; /* reg[0] is the base */
	return movable && r->brk ? NULL : r;
}

static void step_unmap(void)
{
	struct region *r = pick(true);
	if (!r)
		return;
	munmap(r->addr, r->npages * PAGE);
	free(r->gen);
	*r = reg[--nreg];
	steps[1]++;
}

static void step_remap(void)
{
	struct region *r = pick(true);
	if (!r || r->npages * 2 > REGION_PAGES_MAX * 2 || r->shared)
		return;
	size_t n = r->npages + 1 + rnd() % r->npages;
	void *a = mremap(r->addr, r->npages * PAGE, n * PAGE, MREMAP_MAYMOVE);
	if (a == MAP_FAILED) {
		int e = errno;
		for (unsigned k = r->nhist > HISTORY ? r->nhist - HISTORY : 0; k < r->nhist; k++)
			wl_log("region %u: %s", r->uid, r->history[k % HISTORY]);
		log_maps_near((uintptr_t)r->addr, (uintptr_t)r->addr + r->npages * PAGE);
		wl_fail("mremap of region %u (%zu pages at %p): %s", r->uid, r->npages, (void *)r->addr, strerror(e));
	}
	size_t old = r->npages;
	note(r, "mremap %p+%zu -> %p+%zu", (void *)r->addr, old, a, n);
	r->addr = a, r->npages = n;
	for (size_t p = old; p < n; p++)
		r->gen[p] = 0; /* the growth reads as zero */
	for (size_t p = old; p < n; p += 2)
		write_page(r, p, 7);
	steps[2]++;
}

static void step_dontneed(void)
{
	struct region *r = pick(false);
	if (!r || r->shared)
		return;
	size_t p = rnd() % r->npages, k = 1 + rnd() % 8;
	k = k > r->npages - p ? r->npages - p : k;
	if (madvise(r->addr + p * PAGE, k * PAGE, MADV_DONTNEED) < 0)
		wl_fail("madvise: %s", strerror(errno));
	for (size_t i = 0; i < k; i++)
		r->gen[p + i] = 0;
	note(r, "dontneed pages %zu+%zu", p, k);
	steps[3]++;
}

static void step_protect(void)
{
	struct region *r = pick(false);
	if (!r || r->npages < 3)
		return;
	size_t p = 1 + rnd() % (r->npages - 2);
	if (mprotect(r->addr + p * PAGE, PAGE, PROT_READ) < 0)
		wl_fail("mprotect: %s", strerror(errno));
	wl_sleep_us(200); /* a round may see it read-only */
	if (mprotect(r->addr + p * PAGE, PAGE, PROT_READ | PROT_WRITE) < 0)
		wl_fail("mprotect: %s", strerror(errno));
	note(r, "mprotect page %zu ro and back", p);
	steps[4]++;
}

static void step_rewrite(void)
{
	struct region *r = nreg ? &reg[rnd() % (uint64_t)nreg] : NULL;
	if (!r)
		return;
	for (int i = 0; i < 4; i++) {
		size_t p = rnd() % r->npages;
		write_page(r, p, r->gen[p] + 1 + (uint32_t)(rnd() % 3));
		note(r, "rewrite page %zu gen %u", p, r->gen[p]);
	}
	steps[5]++;
}

static void step_zero(void)
{
	struct region *r = nreg ? &reg[rnd() % (uint64_t)nreg] : NULL;
	if (r) {
		size_t p = rnd() % r->npages;
		write_page(r, p, 0); /* written zeros: a DISCARD or a zero page */
		note(r, "zero page %zu", p);
		steps[6]++;
	}
}

static void step_brk(void)
{
	if (nreg >= REGIONS_MAX || steps[7] >= BRK_STEPS_MAX)
		return;
	size_t n = 1 + rnd() % 16;
	void *a = sbrk((intptr_t)(n * PAGE));
	if (a == (void *)-1)
		return;
	add_region(a, n, false, true);
	steps[7]++;
}

int main(int argc, char **argv)
{
	wl_init("layout", argc, argv);
	size_t base_mib = argc > 2 ? (size_t)atoi(argv[2]) : 32;
	long step_us = argc > 3 ? atol(argv[3]) : 500;
	size_t base_pages = base_mib * 256;
	uint8_t *base = mmap(NULL, base_pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		wl_fail("mmap base: %s", strerror(errno));
	struct region *b = &reg[nreg++];
	*b = (struct region){.addr = base, .npages = base_pages, .uid = next_uid++};
	b->gen = calloc(base_pages, sizeof(uint32_t));
	for (size_t p = 0; p < base_pages; p++)
		write_page(b, p, 1);
	sbrk(0);
	for (int i = 0; i < 16; i++)
		step_map();
	wl_ready();
	size_t cursor = 0;
	while (!wl_stop_requested()) {
		switch (rnd() % 8) {
		case 0: step_map(); break;
		case 1: step_unmap(); break;
		case 2: step_remap(); break;
		case 3: step_dontneed(); break;
		case 4: step_protect(); break;
		case 5: step_zero(); break;
		case 6: step_brk(); break;
		default: step_rewrite(); break;
		}
		for (int i = 0; i < 16; i++, cursor = (cursor + 1) % base_pages) /* the base keeps changing */
			write_page(b, cursor, b->gen[cursor] + 1);
		steps[8]++;
		wl_sleep_us(step_us);
	}
	for (int i = 0; i < nreg; i++)
		check_region(&reg[i]);
	wl_ok("%d regions verified after %lu steps: %lu mmap, %lu munmap, %lu mremap, %lu dontneed, %lu mprotect, "
	      "%lu rewrite, %lu zero, %lu brk", nreg, steps[8], steps[0], steps[1], steps[2], steps[3], steps[4], steps[5],
	      steps[6], steps[7]);
}

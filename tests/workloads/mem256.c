/* mem256: big anonymous memory that is rewritten continuously.
 *
 * usage: mem256 CTL [MiB=256]
 * A malloc()ed buffer of MiB MiB; every 8-byte word of page p holds
 * pat(p, gen[p], word); pages are rewritten round robin with a new generation
 * (gen[] lives in a separate small array).  A linked list of small brk-heap
 * nodes is kept from setup to the end.  After stop: verify every word of every
 * page and the list, then grow the heap (many small brk allocations, a few
 * mmap-sized ones), fill + verify them, and check sbrk(0) moved upward.
 */
#include "common.h"
#include <malloc.h>

#define PAGE 4096u
#define WORDS (PAGE / 8u)

static inline uint64_t seed_of(uint64_t p, uint32_t g)
{
	return wl_mix((p << 32) ^ ((uint64_t)g * 0x100000001B3ull) ^ 0xfe44ull);
}

static inline void fill_page(uint64_t *w, uint64_t p, uint32_t g)
{
	uint64_t s = seed_of(p, g);
	for (unsigned i = 0; i < WORDS; i++)
		w[i] = s + (uint64_t)i * 0x9E3779B97F4A7C15ull;
}

/* returns index of first bad word, or -1 */
static inline long check_page(const uint64_t *w, uint64_t p, uint32_t g)
{
	uint64_t s = seed_of(p, g);
	uint64_t bad = 0;
	for (unsigned i = 0; i < WORDS; i++)
		bad |= w[i] ^ (s + (uint64_t)i * 0x9E3779B97F4A7C15ull);
	if (!bad)
		return -1;
	for (unsigned i = 0; i < WORDS; i++)
		if (w[i] != s + (uint64_t)i * 0x9E3779B97F4A7C15ull)
			return i;
	return -1;
}

struct node {
	struct node *next;
	uint32_t idx;
	uint32_t len;
	uint64_t sum;
	unsigned char data[];
};

static uint64_t node_sum(const struct node *n)
{
	uint64_t s = 0xcbf29ce484222325ull ^ n->idx;
	for (uint32_t i = 0; i < n->len; i++)
		s = (s ^ n->data[i]) * 0x100000001B3ull;
	return s;
}

static void fill_bytes(unsigned char *d, size_t len, uint64_t seed)
{
	uint64_t x = wl_mix(seed);
	for (size_t i = 0; i < len; i++) {
		if ((i & 7) == 0)
			x = wl_mix(x + i);
		d[i] = (unsigned char)(x >> ((i & 7) * 8));
	}
}

static int check_bytes(const unsigned char *d, size_t len, uint64_t seed)
{
	uint64_t x = wl_mix(seed);
	for (size_t i = 0; i < len; i++) {
		if ((i & 7) == 0)
			x = wl_mix(x + i);
		if (d[i] != (unsigned char)(x >> ((i & 7) * 8)))
			return 0;
	}
	return 1;
}

int main(int argc, char **argv)
{
	wl_init("mem256", argc, argv);
	long mib = argc > 2 ? atol(argv[2]) : 256;
	if (mib <= 0 || mib > (1l << 20))
		wl_fail("bad size %s", argv[2]);
	size_t bytes = (size_t)mib << 20;
	uint64_t npages = bytes / PAGE;

	/* keep the default mmap threshold behaviour predictable */
	uint64_t *buf = malloc(bytes);
	uint32_t *gens = calloc(npages, sizeof *gens);
	if (!buf || !gens)
		wl_fail("malloc %zu: %s", bytes, strerror(errno));
	if ((uintptr_t)buf % 8)
		wl_fail("unaligned buffer");
	/* the buffer is not page aligned (malloc header): use whole pages inside it */
	uint64_t *base = (uint64_t *)(((uintptr_t)buf + PAGE - 1) & ~(uintptr_t)(PAGE - 1));
	if ((char *)base + npages * PAGE > (char *)buf + bytes)
		npages--;
	for (uint64_t p = 0; p < npages; p++) {
		gens[p] = 1;
		fill_page(base + p * WORDS, p, 1);
	}

	/* a list of small heap nodes (served from brk) kept alive until the end */
	struct node *head = NULL;
	unsigned nnodes = 2000;
	for (unsigned k = 0; k < nnodes; k++) {
		uint32_t len = 8 + (uint32_t)(wl_mix(k) % 900);
		struct node *n = malloc(sizeof *n + len);
		if (!n)
			wl_fail("malloc node");
		n->idx = k;
		n->len = len;
		fill_bytes(n->data, len, 0x5eed0000ull + k);
		n->sum = node_sum(n);
		n->next = head;
		head = n;
	}

	wl_log("buffer %p..%p pages=%llu brk=%p", (void *)base, (void *)(base + npages * WORDS),
	       (unsigned long long)npages, sbrk(0));
	wl_ready();

	uint64_t cur = 0, updates = 0;
	long first_bad_page = -1, first_bad_word = -1;
	uint32_t first_bad_gen = 0;
	const unsigned batch = 64;
	for (;;) {
		if (wl_stop_poll(20))
			break;
		for (unsigned b = 0; b < batch; b++) {
			uint64_t *w = base + cur * WORDS;
			long bw = check_page(w, cur, gens[cur]);
			if (bw >= 0 && first_bad_page < 0) {
				first_bad_page = (long)cur;
				first_bad_word = bw;
				first_bad_gen = gens[cur];
				wl_log("corruption found in loop: page %ld word %ld gen %u", first_bad_page,
				       first_bad_word, first_bad_gen);
			}
			gens[cur]++;
			fill_page(w, cur, gens[cur]);
			updates++;
			if (++cur == npages)
				cur = 0;
		}
	}
	wl_watchdog(120, "final verification");
	if (first_bad_page >= 0)
		wl_fail("page %ld word %ld mismatch (gen %u) seen while running", first_bad_page,
			first_bad_word, first_bad_gen);

	/* full verification */
	uint64_t gsum = 0;
	uint32_t gmin = UINT32_MAX, gmax = 0;
	for (uint64_t p = 0; p < npages; p++) {
		long bw = check_page(base + p * WORDS, p, gens[p]);
		if (bw >= 0) {
			uint64_t got = base[p * WORDS + (uint64_t)bw];
			wl_fail("page %llu word %ld mismatch: gen %u got %016llx expected %016llx",
				(unsigned long long)p, bw, gens[p], (unsigned long long)got,
				(unsigned long long)(seed_of(p, gens[p]) + (uint64_t)bw * 0x9E3779B97F4A7C15ull));
		}
		gsum += gens[p];
		if (gens[p] < gmin)
			gmin = gens[p];
		if (gens[p] > gmax)
			gmax = gens[p];
	}
	if (gsum != npages + updates)
		wl_fail("generation sum %llu != pages+updates %llu", (unsigned long long)gsum,
			(unsigned long long)(npages + updates));
	if (gmax - gmin > 1)
		wl_fail("round robin broken: gen min %u max %u", gmin, gmax);

	unsigned seen = 0;
	for (struct node *n = head; n; n = n->next, seen++) {
		if (n->idx != nnodes - 1 - seen)
			wl_fail("heap list order broken at %u (idx %u)", seen, n->idx);
		if (!check_bytes(n->data, n->len, 0x5eed0000ull + n->idx) || node_sum(n) != n->sum)
			wl_fail("heap node %u corrupted", n->idx);
	}
	if (seen != nnodes)
		wl_fail("heap list has %u nodes, expected %u", seen, nnodes);

	/* grow the heap: many small brk allocations */
	char *brk0 = sbrk(0);
	const unsigned nsmall = 40000;
	unsigned char **small = malloc(nsmall * sizeof *small);
	size_t *slen = malloc(nsmall * sizeof *slen);
	if (!small || !slen)
		wl_fail("malloc small tables");
	size_t small_total = 0;
	for (unsigned k = 0; k < nsmall; k++) {
		slen[k] = 16 + wl_mix(k * 7 + 1) % 2000;
		small[k] = malloc(slen[k]);
		if (!small[k])
			wl_fail("small malloc %u: %s", k, strerror(errno));
		fill_bytes(small[k], slen[k], 0xabc00000ull + k);
		small_total += slen[k];
	}
	char *brk1 = sbrk(0);
	if (brk1 <= brk0)
		wl_fail("sbrk(0) did not grow: %p -> %p after %zu bytes", (void *)brk0, (void *)brk1,
			small_total);
	/* a few large (mmap-served) allocations */
	const unsigned nlarge = 6;
	unsigned char *large[6];
	size_t llen[6];
	for (unsigned k = 0; k < nlarge; k++) {
		llen[k] = ((size_t)1 << 20) * (1 + k) + 123 * k;
		large[k] = malloc(llen[k]);
		if (!large[k])
			wl_fail("large malloc %zu: %s", llen[k], strerror(errno));
		fill_bytes(large[k], llen[k], 0xdef00000ull + k);
	}
	for (unsigned k = 0; k < nsmall; k++)
		if (!check_bytes(small[k], slen[k], 0xabc00000ull + k))
			wl_fail("small allocation %u (%p, %zu bytes) corrupted", k, (void *)small[k], slen[k]);
	for (unsigned k = 0; k < nlarge; k++)
		if (!check_bytes(large[k], llen[k], 0xdef00000ull + k))
			wl_fail("large allocation %u corrupted", k);
	/* churn: free every other small block and reallocate */
	for (unsigned k = 0; k < nsmall; k += 2) {
		free(small[k]);
		slen[k] = 32 + wl_mix(k * 13 + 5) % 3000;
		small[k] = malloc(slen[k]);
		if (!small[k])
			wl_fail("realloc small %u", k);
		fill_bytes(small[k], slen[k], 0x77700000ull + k);
	}
	for (unsigned k = 0; k < nsmall; k++)
		if (!check_bytes(small[k], slen[k], (k % 2 ? 0xabc00000ull : 0x77700000ull) + k))
			wl_fail("small allocation %u corrupted after churn", k);
	for (unsigned k = 0; k < nsmall; k++)
		free(small[k]);
	for (unsigned k = 0; k < nlarge; k++)
		free(large[k]);
	free(small);
	free(slen);

	wl_ok("pages=%llu gens=%llu updates=%llu genrange=%u..%u heapgrow=%ld", (unsigned long long)npages,
	      (unsigned long long)gsum, (unsigned long long)updates, gmin, gmax, (long)(brk1 - brk0));
}

/* genpages.h — memory whose every page holds a pattern of its number and
 * generation (one generation per page, in a separate array): what the
 * dirtier and the forker write, and check word by word after a move.
 * Header-only, after common.h. */
#ifndef FERRY_WORKLOAD_GENPAGES_H
#define FERRY_WORKLOAD_GENPAGES_H

#include <sys/mman.h>

#define PAGE 4096u
#define WORDS (PAGE / 8u)

static inline uint64_t gen_word(size_t p, uint32_t g, unsigned i) { return wl_mix(((uint64_t)p << 24) ^ g) + i; }

static inline void gen_fill(uint64_t *w, size_t p, uint32_t g)
{
	for (unsigned i = 0; i < WORDS; i++)
		w[i] = gen_word(p, g, i);
}

/* npages of private anonymous memory, each filled as generation 0. */
static inline void gen_alloc(size_t npages, uint64_t **mem, uint32_t **gen)
{
	*mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	*gen = calloc(npages, sizeof(**gen));
	if (*mem == MAP_FAILED || !*gen)
		wl_fail("cannot allocate %zu pages", npages);
	for (size_t p = 0; p < npages; p++)
		gen_fill(*mem + p * WORDS, p, 0);
}

/* The first page that does not hold its generation's pattern (said on
 * stderr, prefixed with who), or -1. */
static inline long gen_check(const uint64_t *mem, const uint32_t *gen, size_t npages, const char *who)
{
	for (size_t p = 0; p < npages; p++)
		for (unsigned i = 0; i < WORDS; i++)
			if (mem[p * WORDS + i] != gen_word(p, gen[p], i)) {
				wl_log("%s: page %zu word %u: %#llx, want %#llx (generation %u)", who, p, i,
				       (unsigned long long)mem[p * WORDS + i], (unsigned long long)gen_word(p, gen[p], i),
				       gen[p]);
				return (long)p;
			}
	return -1;
}

#endif

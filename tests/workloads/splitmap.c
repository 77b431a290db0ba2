/* splitmap: mappings split by mprotect must come back able to merge again.
 * A private anonymous region of PRIV_PAGES with pages [3, 5) read-only, and
 * a shared anonymous one of SHM_PAGES with page 6 read-only, every page
 * holding its own pattern (the read-only ones too). Until stop, the
 * writable pages are rewritten. After stop: every page holds its pattern;
 * the read-only stretches are made writable again, after which each region
 * must be one mapping: the private one grows with one mremap (EFAULT if it
 * stayed in pieces) and moves, the shared one is rewritten through its
 * formerly read-only page, and every page is checked again. A third,
 * private region of HOLE_PAGES has page HOLE made read-only with no data
 * (dropped) between pieces with data: after it is made writable again the
 * region must be one mapping too (it grows with mremap), the hole zeros.
 * Output: OK splitmap private=1 shared=1 hole=1 (mappings per region at the end)
 * usage: splitmap CTL */
#include "common.h"
#include <sys/mman.h>

#define PAGE 4096u
#define PRIV_PAGES 16
#define SHM_PAGES 12
#define RO_FIRST 3
#define RO_PAGES 2
#define SHM_RO 6
#define HOLE_PAGES 12
#define HOLE 5

static uint64_t pattern(unsigned region, size_t page, unsigned gen, size_t word)
{
	return wl_mix(((uint64_t)region << 48) ^ ((uint64_t)page << 32) ^ gen) + word;
}

static void fill(uint8_t *base, unsigned region, size_t page, unsigned gen)
{
	uint64_t *w = (uint64_t *)(base + page * PAGE);
	for (size_t i = 0; i < PAGE / 8; i++)
		w[i] = pattern(region, page, gen, i);
}

/* Each page holds its pattern; generation 0: zeros. */
static void check(const uint8_t *base, unsigned region, size_t npages, const unsigned *gen, const char *when)
{
	for (size_t p = 0; p < npages; p++) {
		const uint64_t *w = (const uint64_t *)(base + p * PAGE);
		for (size_t i = 0; i < PAGE / 8; i++)
			if (w[i] != (gen[p] ? pattern(region, p, gen[p], i) : 0))
				wl_fail("%s: region %u page %zu word %zu: %#llx, want %#llx", when, region, p, i,
					(unsigned long long)w[i], (unsigned long long)pattern(region, p, gen[p], i));
	}
}

/* How many lines of /proc/self/maps cover [lo, hi). */
static int mappings_in(const void *lo, size_t len)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[256];
	int n = 0;
	uintptr_t a0 = (uintptr_t)lo, a1 = a0 + len;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a < a1 && a0 < b)
			n++;
	}
	if (f)
		fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	wl_init("splitmap", argc, argv);
	unsigned pgen[PRIV_PAGES * 2] = {0}, sgen[SHM_PAGES] = {0}, hgen[HOLE_PAGES * 2] = {0};
	uint8_t *priv = mmap(NULL, PRIV_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *shm = mmap(NULL, SHM_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	/* with unmapped pages around it: no neighbour lends the restore's pieces its anon_vma */
	uint8_t *hole = mmap(NULL, (HOLE_PAGES + 2) * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (priv == MAP_FAILED || shm == MAP_FAILED || hole == MAP_FAILED)
		wl_fail("mmap: %s", strerror(errno));
	if (munmap(hole, PAGE) < 0 || munmap(hole + (HOLE_PAGES + 1) * PAGE, PAGE) < 0)
		wl_fail("munmap: %s", strerror(errno));
	hole += PAGE;
	for (size_t p = 0; p < HOLE_PAGES; p++)
		fill(hole, 3, p, hgen[p] = 1);
	hgen[HOLE] = 0;
	if (madvise(hole + HOLE * PAGE, PAGE, MADV_DONTNEED) < 0 || mprotect(hole + HOLE * PAGE, PAGE, PROT_READ) < 0)
		wl_fail("the hole: %s", strerror(errno));
	for (size_t p = 0; p < PRIV_PAGES; p++)
		fill(priv, 1, p, pgen[p] = 1);
	for (size_t p = 0; p < SHM_PAGES; p++)
		fill(shm, 2, p, sgen[p] = 1);
	if (mprotect(priv + RO_FIRST * PAGE, RO_PAGES * PAGE, PROT_READ) < 0 ||
	    mprotect(shm + SHM_RO * PAGE, PAGE, PROT_READ) < 0)
		wl_fail("mprotect: %s", strerror(errno));
	wl_ready();
	while (!wl_stop_requested()) {
		for (size_t p = 0; p < PRIV_PAGES; p++)
			if (p < RO_FIRST || p >= RO_FIRST + RO_PAGES)
				fill(priv, 1, p, ++pgen[p]);
		for (size_t p = 0; p < SHM_PAGES; p++)
			if (p != SHM_RO)
				fill(shm, 2, p, ++sgen[p]);
		for (size_t p = 0; p < HOLE_PAGES; p++)
			if (p != HOLE)
				fill(hole, 3, p, ++hgen[p]);
		wl_sleep_us(20000);
	}
	check(priv, 1, PRIV_PAGES, pgen, "after stop");
	check(shm, 2, SHM_PAGES, sgen, "after stop");
	check(hole, 3, HOLE_PAGES, hgen, "after stop");
	if (mprotect(hole + HOLE * PAGE, PAGE, PROT_READ | PROT_WRITE) < 0)
		wl_fail("mprotect the hole back: %s", strerror(errno));
	int nhole = mappings_in(hole, HOLE_PAGES * PAGE);
	uint8_t *hmoved = mremap(hole, HOLE_PAGES * PAGE, 2 * HOLE_PAGES * PAGE, MREMAP_MAYMOVE);
	if (hmoved == MAP_FAILED)
		wl_fail("mremap of the region with a hole (%d mappings): %s", nhole, strerror(errno));
	check(hmoved, 3, HOLE_PAGES * 2, hgen, "after the hole's mremap");
	if (mprotect(priv + RO_FIRST * PAGE, RO_PAGES * PAGE, PROT_READ | PROT_WRITE) < 0 ||
	    mprotect(shm + SHM_RO * PAGE, PAGE, PROT_READ | PROT_WRITE) < 0)
		wl_fail("mprotect back: %s", strerror(errno));
	int npriv = mappings_in(priv, PRIV_PAGES * PAGE), nshm = mappings_in(shm, SHM_PAGES * PAGE);
	uint8_t *moved = mremap(priv, PRIV_PAGES * PAGE, 2 * PRIV_PAGES * PAGE, MREMAP_MAYMOVE);
	if (moved == MAP_FAILED)
		wl_fail("mremap of the private region (%d mappings): %s", npriv, strerror(errno));
	for (size_t p = 0; p < PRIV_PAGES * 2; p++)
		fill(moved, 1, p, ++pgen[p]);
	fill(shm, 2, SHM_RO, ++sgen[SHM_RO]);
	check(moved, 1, PRIV_PAGES * 2, pgen, "after mremap");
	check(shm, 2, SHM_PAGES, sgen, "after rewrite");
	wl_ok("private=%d shared=%d hole=%d", npriv, nshm, nhole);
	return 0;
}

/* pausemeter.c — benchmark workload: maps SIZE MiB, fills it, then keeps
 * writing one word per page round-robin while recording the largest gap
 * between two loop iterations on CLOCK_REALTIME (a restore does not hide
 * time from it). Usage: pausemeter CTL SIZE_MIB. Writes CTL/ready; on
 * CTL/stop it verifies every page and prints
 *   OK pausemeter max_gap_ms=X pages=N
 * (the gap is the pause the program saw). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now_rt_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: pausemeter CTL SIZE_MIB\n");
		return 2;
	}
	char ready[4096], stop[4096];
	snprintf(ready, sizeof(ready), "%s/ready", argv[1]);
	snprintf(stop, sizeof(stop), "%s/stop", argv[1]);
	size_t size = (size_t)atol(argv[2]) << 20, page = (size_t)sysconf(_SC_PAGESIZE), npages = size / page;
	uint64_t *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t *gen = calloc(npages, sizeof(*gen));
	if (mem == MAP_FAILED || !gen)
		return 2;
	size_t words = page / sizeof(uint64_t);
	for (size_t p = 0; p < npages; p++)
		for (size_t w = 0; w < words; w++)
			mem[p * words + w] = p * 0x9E3779B97F4A7C15ull + w;
	FILE *f = fopen(ready, "w");
	if (!f)
		return 2;
	fclose(f);
	double last = now_rt_ms(), max_gap = 0;
	size_t p = 0;
	for (unsigned long iter = 0;; iter++) {
		mem[p * words] = p * 0x9E3779B97F4A7C15ull + ++gen[p];
		p = (p + 1) % npages;
		double t = now_rt_ms();
		if (t - last > max_gap)
			max_gap = t - last;
		last = t;
		if ((iter & 0xfff) == 0 && access(stop, F_OK) == 0)
			break;
	}
	for (size_t q = 0; q < npages; q++)
		for (size_t w = 0; w < words; w++) {
			uint64_t want = q * 0x9E3779B97F4A7C15ull + (w == 0 ? gen[q] : w);
			if (mem[q * words + w] != want) {
				printf("FAIL pausemeter page %zu word %zu\n", q, w);
				return 1;
			}
		}
	printf("OK pausemeter max_gap_ms=%.3f pages=%zu\n", max_gap, npages);
	return 0;
}

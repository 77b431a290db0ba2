/* dirtycost.c — what dirty-page tracking costs the tracked program. A child
 * rewrites random pages of a SIZE MiB buffer as fast as it can and counts its
 * writes in a shared counter; the parent measures its write rate untracked,
 * then tracked with ferry's best backend (mem/dirty.c) while collecting the
 * written pages every ROUND ms as pre-copy rounds do, then untracked again.
 * Prints one line: rates and the slowdown.
 * usage: dirtycost [SIZE_MIB=256] [SECONDS=3] [ROUND_MS=100] */
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "inspect/freeze.h"
#include "inspect/rsys.h"
#include "mem/dirty.h"

static double rate(_Atomic uint64_t *count, double secs)
{
	uint64_t a = atomic_load(count);
	double t0 = now_ms();
	usleep((useconds_t)(secs * 1e6));
	return (double)(atomic_load(count) - a) / ((now_ms() - t0) / 1e3);
}

int main(int argc, char **argv)
{
	size_t size = (size_t)(argc > 1 ? atol(argv[1]) : 256) << 20;
	double secs = argc > 2 ? atof(argv[2]) : 3;
	int round_ms = argc > 3 ? atoi(argv[3]) : 100;
	long page = sysconf(_SC_PAGESIZE);
	size_t npages = size / (size_t)page;
	_Atomic uint64_t *count = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint8_t *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (count == MAP_FAILED || mem == MAP_FAILED)
		return 2;
	for (size_t i = 0; i < size; i += (size_t)page)
		mem[i] = 1;
	pid_t child = fork();
	if (child == 0) {
		uint64_t x = 88172645463325252ull;
		for (;;) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			mem[(x % npages) * (size_t)page + (x >> 40) % (size_t)page]++;
			atomic_fetch_add_explicit(count, 1, memory_order_relaxed);
		}
	}
	usleep(300000);
	double before = rate(count, secs);

	enum dirty_backend b = dirty_backend_best();
	struct frozen_proc fp;
	char err[256];
	uint64_t ip;
	struct rsys rs;
	struct dirty_tracker t;
	if (freeze_process(child, &fp, err, sizeof(err)) < 0 || rsys_find_syscall(child, &ip) < 0 ||
	    rsys_begin_exact(&rs, child, ip) < 0 || dirty_open(&t, child, b, &rs, err, sizeof(err)) < 0) {
		fprintf(stderr, "dirtycost: cannot start tracking: %s\n", err);
		kill(child, SIGKILL);
		return 1;
	}
	thaw_process(&fp);
	frozen_free(&fp);
	double t0 = now_ms();
	if (dirty_track(&t, (uint64_t)(uintptr_t)mem, (uint64_t)(uintptr_t)mem + size) < 0) {
		fprintf(stderr, "dirtycost: cannot track\n");
		kill(child, SIGKILL);
		return 1;
	}
	double arm_ms = now_ms() - t0;
	uint64_t c0 = atomic_load(count), rounds = 0, pages = 0;
	double scan_ms = 0, start = now_ms();
	while (now_ms() - start < secs * 1e3) {
		usleep((useconds_t)round_ms * 1000);
		struct range_list l = {0};
		double s0 = now_ms();
		if (dirty_collect(&t, &l, NULL) < 0)
			break;
		scan_ms += now_ms() - s0;
		pages += range_list_bytes(&l) / 4096;
		rounds++;
		range_list_free(&l);
	}
	double tracked = (double)(atomic_load(count) - c0) / ((now_ms() - start) / 1e3);
	dirty_close(&t);
	double after = rate(count, secs);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	double base = (before + after) / 2;
	printf("dirtycost: %zu MiB, backend %s: %.2f M writes/s untracked (%.2f before, %.2f after), %.2f M/s "
	       "tracked with a collect every %d ms: slowdown %.1f%%; arming %.1f ms, %.2f ms per collect, "
	       "%.0f dirty pages per round\n",
	       size >> 20, dirty_backend_name(b), base / 1e6, before / 1e6, after / 1e6, tracked / 1e6, round_ms,
	       100.0 * (1 - tracked / base), arm_ms, rounds ? scan_ms / (double)rounds : 0,
	       rounds ? (double)pages / (double)rounds : 0);
	return 0;
}

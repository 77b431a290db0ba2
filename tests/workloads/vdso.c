/* vdso: hammers the vDSO time functions (clock_gettime MONOTONIC/REALTIME,
 * gettimeofday, time) and cross-checks them against the real syscalls.
 * Monotonic must never go backwards; vDSO and syscall clocks must agree within
 * 2 s.  At the end, the [vdso] mapping must still be where AT_SYSINFO_EHDR says.
 * usage: vdso CTL
 */
#include "common.h"
#include <sys/auxv.h>
#include <sys/time.h>

static int64_t ts_ns(const struct timespec *t) { return (int64_t)t->tv_sec * 1000000000ll + t->tv_nsec; }

static unsigned long vdso_in_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return 0;
	char line[512];
	unsigned long start = 0;
	while (fgets(line, sizeof line, f))
		if (strstr(line, "[vdso]")) {
			start = strtoul(line, NULL, 16);
			break;
		}
	fclose(f);
	return start;
}

int main(int argc, char **argv)
{
	wl_init("vdso", argc, argv);
	unsigned long ehdr = getauxval(AT_SYSINFO_EHDR);
	unsigned long mapped = vdso_in_maps();
	if (!ehdr || ehdr != mapped)
		wl_fail("vdso at %#lx in maps, AT_SYSINFO_EHDR %#lx", mapped, ehdr);

	struct timespec last_mono = { 0, 0 };
	unsigned long long calls = 0, checks = 0;
	int64_t max_skew = 0;
	wl_ready();
	for (;;) {
		/* spin ~5 ms in the vDSO, then sleep ~2 ms */
		uint64_t t_end = wl_now_ns() + 5000000;
		for (;;) {
			struct timespec m, r;
			struct timeval tv;
			clock_gettime(CLOCK_MONOTONIC, &m);
			clock_gettime(CLOCK_REALTIME, &r);
			gettimeofday(&tv, NULL);
			calls += 3;
			if (ts_ns(&m) < ts_ns(&last_mono))
				wl_fail("CLOCK_MONOTONIC went backwards: %lld.%09ld -> %lld.%09ld",
					(long long)last_mono.tv_sec, last_mono.tv_nsec, (long long)m.tv_sec,
					m.tv_nsec);
			last_mono = m;
			int64_t d = (int64_t)tv.tv_sec * 1000000000ll + tv.tv_usec * 1000ll - ts_ns(&r);
			if (d < -2000000000ll || d > 2000000000ll)
				wl_fail("gettimeofday and CLOCK_REALTIME differ by %lld ns", (long long)d);
			if ((calls & 0xfff) == 0 && (uint64_t)ts_ns(&m) > t_end)
				break;
		}
		/* cross-check with real syscalls */
		struct timespec vm, vr, sm, sr;
		clock_gettime(CLOCK_MONOTONIC, &vm);
		clock_gettime(CLOCK_REALTIME, &vr);
		syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &sm);
		syscall(SYS_clock_gettime, CLOCK_REALTIME, &sr);
		long st = syscall(SYS_time, NULL);
		time_t vt = time(NULL);
		int64_t dm = ts_ns(&sm) - ts_ns(&vm), dr = ts_ns(&sr) - ts_ns(&vr);
		if (dm < 0 || dm > 2000000000ll)
			wl_fail("vDSO monotonic %lld vs syscall %lld", (long long)ts_ns(&vm), (long long)ts_ns(&sm));
		if (dr < -2000000000ll || dr > 2000000000ll)
			wl_fail("vDSO realtime %lld vs syscall %lld", (long long)ts_ns(&vr), (long long)ts_ns(&sr));
		if (vt < st - 2 || vt > st + 2 || vr.tv_sec < st - 2 || vr.tv_sec > st + 2)
			wl_fail("time(): vDSO %lld, realtime %lld, syscall %ld", (long long)vt,
				(long long)vr.tv_sec, st);
		if (dr > max_skew)
			max_skew = dr;
		checks++;
		if (wl_stop_requested())
			break;
		wl_sleep_us(2000);
	}
	unsigned long mapped2 = vdso_in_maps();
	if (mapped2 != ehdr)
		wl_fail("after run: [vdso] at %#lx, AT_SYSINFO_EHDR %#lx", mapped2, ehdr);
	wl_ok("calls=%llu checks=%llu maxskew_ns=%lld", calls, checks, (long long)max_skew);
}

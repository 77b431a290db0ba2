/* avx: register state across checkpoints.  Build with -mavx2.
 *  - ymm1..ymm15 are loaded from a table (new values every call) at the start
 *    of a long-running (~20 ms) inline-asm loop that only compares them with
 *    the table; a checkpoint almost always lands inside that loop.
 *  - the GPRs r12..r15 hold known values through the same loop.
 *  - SSE double and x87 long double iterations, recomputed at the end.
 *  - MXCSR and the x87 control word are set to round-toward-zero at start and
 *    checked every iteration.
 * usage: avx CTL
 */
#include "common.h"
#include <fenv.h>
#include <immintrin.h>

#define NREG 15

static uint64_t tab[NREG * 4] __attribute__((aligned(32)));

/* returns a bitmask of mismatching registers (bit i = ymm(i+1)), bit 15 = gpr */
static unsigned spin(const uint64_t *t, long n)
{
	unsigned bad;
	__asm__ volatile(
		"vmovdqu   0(%[t]), %%ymm1\n\t"
		"vmovdqu  32(%[t]), %%ymm2\n\t"
		"vmovdqu  64(%[t]), %%ymm3\n\t"
		"vmovdqu  96(%[t]), %%ymm4\n\t"
		"vmovdqu 128(%[t]), %%ymm5\n\t"
		"vmovdqu 160(%[t]), %%ymm6\n\t"
		"vmovdqu 192(%[t]), %%ymm7\n\t"
		"vmovdqu 224(%[t]), %%ymm8\n\t"
		"vmovdqu 256(%[t]), %%ymm9\n\t"
		"vmovdqu 288(%[t]), %%ymm10\n\t"
		"vmovdqu 320(%[t]), %%ymm11\n\t"
		"vmovdqu 352(%[t]), %%ymm12\n\t"
		"vmovdqu 384(%[t]), %%ymm13\n\t"
		"vmovdqu 416(%[t]), %%ymm14\n\t"
		"vmovdqu 448(%[t]), %%ymm15\n\t"
		"mov 0(%[t]), %%r12\n\t"
		"mov 8(%[t]), %%r13\n\t"
		"mov 16(%[t]), %%r14\n\t"
		"mov 24(%[t]), %%r15\n\t"
		"xor %[bad], %[bad]\n\t"
		"1:\n\t"
#define CMP(reg, off, bit)                                   \
		"vpcmpeqq " #off "(%[t]), %%" #reg ", %%ymm0\n\t" \
		"vpmovmskb %%ymm0, %%eax\n\t"                        \
		"cmp $-1, %%eax\n\t"                                 \
		"je 2f\n\t"                                          \
		"or $" #bit ", %[bad]\n\t"                           \
		"2:\n\t"
		CMP(ymm1, 0, 0x1)
		CMP(ymm2, 32, 0x2)
		CMP(ymm3, 64, 0x4)
		CMP(ymm4, 96, 0x8)
		CMP(ymm5, 128, 0x10)
		CMP(ymm6, 160, 0x20)
		CMP(ymm7, 192, 0x40)
		CMP(ymm8, 224, 0x80)
		CMP(ymm9, 256, 0x100)
		CMP(ymm10, 288, 0x200)
		CMP(ymm11, 320, 0x400)
		CMP(ymm12, 352, 0x800)
		CMP(ymm13, 384, 0x1000)
		CMP(ymm14, 416, 0x2000)
		CMP(ymm15, 448, 0x4000)
#undef CMP
		"cmp 0(%[t]), %%r12\n\t"
		"jne 3f\n\t"
		"cmp 8(%[t]), %%r13\n\t"
		"jne 3f\n\t"
		"cmp 16(%[t]), %%r14\n\t"
		"jne 3f\n\t"
		"cmp 24(%[t]), %%r15\n\t"
		"je 4f\n\t"
		"3:\n\t"
		"or $0x8000, %[bad]\n\t"
		"4:\n\t"
		"dec %[n]\n\t"
		"jnz 1b\n\t"
		"vzeroupper\n\t"
		: [bad] "=&r"(bad), [n] "+r"(n)
		: [t] "r"(t)
		: "rax", "r12", "r13", "r14", "r15", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
		  "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",
		  "memory", "cc");
	return bad;
}

static void set_tab(uint64_t gen)
{
	for (int i = 0; i < NREG * 4; i++)
		tab[i] = wl_mix(gen * 1000 + (uint64_t)i);
}

/* deterministic FP chains; noinline and volatile so that the recomputation
 * at the end runs the very same instructions under the same rounding mode */
static double __attribute__((noinline)) sse_steps(double x, long n)
{
	volatile double m = 1.0000001, a = 1e-9;
	for (long i = 0; i < n; i++)
		x = x * m + a;
	return x;
}

static long double __attribute__((noinline)) x87_steps(long double x, long n)
{
	volatile long double m = 1.00000007L, a = 3e-10L;
	for (long i = 0; i < n; i++)
		x = x * m + a;
	return x;
}

static unsigned get_fcw(void)
{
	unsigned short cw;
	__asm__ volatile("fnstcw %0" : "=m"(cw));
	return cw;
}

static void check_rounding(const char *when)
{
	if (fegetround() != FE_TOWARDZERO)
		wl_fail("%s: fegetround %d != FE_TOWARDZERO", when, fegetround());
	unsigned csr = _mm_getcsr();
	if ((csr & 0x6000) != 0x6000)
		wl_fail("%s: MXCSR 0x%x lost round-toward-zero", when, csr);
	unsigned cw = get_fcw();
	if ((cw & 0xC00) != 0xC00)
		wl_fail("%s: x87 control word 0x%x lost round-toward-zero", when, cw);
	if ((cw & 0x300) != 0x300)
		wl_fail("%s: x87 precision control changed (cw 0x%x)", when, cw);
}

int main(int argc, char **argv)
{
	wl_init("avx", argc, argv);
	if (!__builtin_cpu_supports("avx2"))
		wl_fail("cpu has no avx2");
	if (fesetround(FE_TOWARDZERO) != 0)
		wl_fail("fesetround failed");
	check_rounding("start");

	/* calibrate so that one spin() takes ~20 ms */
	set_tab(1);
	long n = 100000;
	for (;;) {
		uint64_t t0 = wl_now_ns();
		if (spin(tab, n))
			wl_fail("spin mismatch during calibration");
		uint64_t dt = wl_now_ns() - t0;
		if (dt > 5000000 || n > (1l << 30)) {
			n = (long)((double)n * 20e6 / (double)dt);
			break;
		}
		n *= 4;
	}
	if (n < 1000)
		n = 1000;
	wl_log("spin iterations per call: %ld", n);

	const double x0 = 1.25;
	const long double y0 = 0.75L;
	const long steps = 20000;
	double x = x0;
	long double y = y0;
	long total_steps = 0;
	uint64_t gen = 1, calls = 0;
	wl_ready();
	for (;;) {
		check_rounding("loop");
		set_tab(++gen);
		unsigned bad = spin(tab, n);
		calls++;
		if (bad)
			wl_fail("register mismatch mask 0x%x in call %llu (gen %llu)", bad,
				(unsigned long long)calls, (unsigned long long)gen);
		x = sse_steps(x, steps);
		y = x87_steps(y, steps);
		total_steps += steps;
		if (wl_stop_requested())
			break;
	}
	check_rounding("end");
	double xr = sse_steps(x0, total_steps);
	long double yr = x87_steps(y0, total_steps);
	if (memcmp(&xr, &x, sizeof x) != 0)
		wl_fail("SSE chain %.17g != recomputed %.17g after %ld steps", x, xr, total_steps);
	if (memcmp(&yr, &y, 10) != 0)
		wl_fail("x87 chain %.21Lg != recomputed %.21Lg after %ld steps", y, yr, total_steps);
	/* the result really depends on the rounding mode */
	fesetround(FE_TONEAREST);
	double xn = sse_steps(x0, total_steps);
	fesetround(FE_TOWARDZERO);
	wl_ok("calls=%llu spin=%ld steps=%ld x=%.17g rz_differs=%d", (unsigned long long)calls, n,
	      total_steps, x, xn != x);
}

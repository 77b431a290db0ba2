/* ptimers: POSIX timers keep their ids, clocks, signals, values, intervals
 * and time left across a restore.
 * Kernel ids (raw timer_create): 0 and 2 are made and deleted, so that
 * A = 1: CLOCK_MONOTONIC, SIGRTMIN+1 with value 0xA, every 10 ms;
 * B = 3: CLOCK_MONOTONIC, SIGEV_THREAD_ID to the worker thread, SIGRTMIN+2
 *        with value 0xB, every 25 ms;
 * C = 4: CLOCK_REALTIME, SIGEV_NONE, due in 1000 s.
 * Handlers check si_timerid, si_value and (B) that the worker got it, and
 * time-stamp each expiry. The main loop's longest gap (CLOCK_MONOTONIC) is
 * the pause. After stop (asked for >= 1 s after a restore): the last 40
 * expiries of A took 400 ms +-20% and the last came within 3 intervals, the
 * same for the last 16 of B; C has 1000 s - (run - pause) left +-0.3 s and
 * still reads back with timer_gettime by id 4; ids 0 and 2 are free
 * (timer_delete fails with EINVAL).
 * Output: OK ptimers a=N b=M
 * usage: ptimers CTL */
#include "common.h"
#include <stdbool.h>

#define A_NS 10000000ull
#define B_NS 25000000ull
#define C_SEC 1000
#define RING 64

struct ticks {
	volatile uint64_t n;
	uint64_t t[RING];
	volatile int bad;
};
static struct ticks ta, tb;
static pid_t worker_tid;
static int id_a = -1, id_b = -1, id_c = -1;

static void on_timer(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	bool is_a = sig == SIGRTMIN + 1;
	struct ticks *k = is_a ? &ta : &tb;
	if (si->si_code != SI_TIMER || si->si_timerid != (is_a ? id_a : id_b) ||
	    si->si_value.sival_int != (is_a ? 0xA : 0xB) || (!is_a && wl_gettid() != worker_tid))
		k->bad = 1;
	k->t[k->n % RING] = wl_now_ns();
	k->n++;
}

static void *worker(void *arg)
{
	(void)arg;
	worker_tid = wl_gettid();
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGRTMIN + 2);
	pthread_sigmask(SIG_UNBLOCK, &m, NULL);
	for (;;)
		pause();
	return NULL;
}

static int make_timer(clockid_t clock, int notify, int sig, int value, pid_t tid)
{
	struct sigevent sev;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = notify;
	sev.sigev_signo = sig;
	sev.sigev_value.sival_int = value;
	sev._sigev_un._tid = tid;
	int id = -1;
	if (syscall(SYS_timer_create, clock, &sev, &id) < 0)
		wl_fail("timer_create: %s", strerror(errno));
	return id;
}

static void arm(int id, uint64_t value_ns, uint64_t interval_ns)
{
	struct itimerspec its = {.it_value = {(time_t)(value_ns / 1000000000ull), (long)(value_ns % 1000000000ull)},
				 .it_interval = {(time_t)(interval_ns / 1000000000ull), (long)(interval_ns % 1000000000ull)}};
	if (syscall(SYS_timer_settime, id, 0, &its, NULL) < 0)
		wl_fail("timer_settime %d: %s", id, strerror(errno));
}

/* The last n expiries took n intervals, +-20%, and the timer still runs. */
static void check_rate(const char *name, struct ticks *k, unsigned n, uint64_t interval_ns)
{
	uint64_t c = k->n;
	if (c < n + 1)
		wl_fail("%s expired only %llu times", name, (unsigned long long)c);
	uint64_t since = wl_now_ns() - k->t[(c - 1) % RING];
	if (since > 3 * interval_ns)
		wl_fail("%s last expired %.1f ms ago, its interval is %.0f ms", name, since / 1e6, interval_ns / 1e6);
	double ms = (double)(k->t[(c - 1) % RING] - k->t[(c - 1 - n) % RING]) / 1e6, want = n * interval_ns / 1e6;
	if (ms < 0.8 * want || ms > 1.2 * want)
		wl_fail("the last %u expiries of %s took %.1f ms, expected %.0f", n, name, ms, want);
}

int main(int argc, char **argv)
{
	wl_init("ptimers", argc, argv);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGRTMIN + 2); /* the worker's only */
	pthread_sigmask(SIG_BLOCK, &m, NULL);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_timer;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGRTMIN + 1, &sa, NULL);
	sigaction(SIGRTMIN + 2, &sa, NULL);
	pthread_t th;
	if (pthread_create(&th, NULL, worker, NULL) != 0)
		wl_fail("pthread_create");
	while (!worker_tid)
		wl_sleep_us(1000);
	int d0 = make_timer(CLOCK_MONOTONIC, SIGEV_NONE, 0, 0, 0);
	id_a = make_timer(CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGRTMIN + 1, 0xA, 0);
	int d2 = make_timer(CLOCK_MONOTONIC, SIGEV_NONE, 0, 0, 0);
	id_b = make_timer(CLOCK_MONOTONIC, SIGEV_THREAD_ID, SIGRTMIN + 2, 0xB, worker_tid);
	id_c = make_timer(CLOCK_REALTIME, SIGEV_NONE, 0, 0, 0);
	if (d0 != 0 || id_a != 1 || d2 != 2 || id_b != 3 || id_c != 4)
		wl_fail("timer ids %d %d %d %d %d, expected 0..4", d0, id_a, d2, id_b, id_c);
	syscall(SYS_timer_delete, d0);
	syscall(SYS_timer_delete, d2);
	arm(id_a, A_NS, A_NS);
	arm(id_b, B_NS, B_NS);
	arm(id_c, (uint64_t)C_SEC * 1000000000ull, 0);
	uint64_t start = wl_now_ns(), last = start, gap = 0;
	wl_ready();
	while (!wl_stop_requested()) {
		wl_sleep_us(5000);
		uint64_t now = wl_now_ns();
		if (now - last > gap)
			gap = now - last;
		last = now;
	}
	uint64_t run = wl_now_ns() - start - gap;
	if (ta.bad || tb.bad)
		wl_fail("a timer signal came with the wrong timer id, value or thread (a %d, b %d)", ta.bad, tb.bad);
	check_rate("A", &ta, 40, A_NS);
	check_rate("B", &tb, 16, B_NS);
	struct itimerspec left;
	if (syscall(SYS_timer_gettime, id_c, &left) < 0)
		wl_fail("timer_gettime C: %s", strerror(errno));
	double l = (double)left.it_value.tv_sec + left.it_value.tv_nsec / 1e9, want = C_SEC - run / 1e9;
	if (l < want - 0.3 || l > want + 0.3)
		wl_fail("C has %.3f s left, expected %.3f", l, want);
	if (syscall(SYS_timer_delete, d0) == 0 || errno != EINVAL || syscall(SYS_timer_delete, d2) == 0 || errno != EINVAL)
		wl_fail("the deleted timer ids 0 and 2 exist again");
	wl_log("pause %.1f ms; C %.3f s left", gap / 1e6, l);
	wl_ok("a=%llu b=%llu", (unsigned long long)ta.n, (unsigned long long)tb.n);
}

/* stopcheck.h — lets a workload prove that nobody stopped it (header-only;
 * include after common.h).  wl_stopcheck_start() starts a thread that spends
 * its life in sigtimedwait() on a signal nobody sends.  A ptrace stop (the
 * PTRACE_INTERRUPT of ferry's freeze) or a SIGSTOP wakes that wait, and
 * sigtimedwait is one of the calls that then fail with EINTR instead of
 * restarting (signal(7), "Interruption of system calls ... by stop signals"),
 * even after ferry puts the registers back: each stop is counted, and
 * wl_stops() returns the count.  Used by refusal tests ("refused before
 * anything was frozen": stops=0) and, as the positive control, by a dump
 * that does freeze (stops=1). */
#ifndef FERRY_WORKLOAD_STOPCHECK_H
#define FERRY_WORKLOAD_STOPCHECK_H

#include <pthread.h>
#include <signal.h>

#define WL_STOPCHECK_SIG SIGUSR2 /* blocked and waited for by the detector only */

static volatile long wl_stop_count;

static void *wl_stopcheck_thread(void *arg)
{
	(void)arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, WL_STOPCHECK_SIG);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (;;) {
		struct timespec tmo = {1, 0};
		if (sigtimedwait(&set, NULL, &tmo) < 0 && errno == EINTR)
			__atomic_add_fetch(&wl_stop_count, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

__attribute__((unused)) static void wl_stopcheck_start(void)
{
	pthread_t t;
	int e = pthread_create(&t, NULL, wl_stopcheck_thread, NULL);
	if (e)
		wl_fail("pthread_create: %s", strerror(e));
	pthread_detach(t);
	wl_sleep_us(10000); /* let it reach its wait */
}

static inline long wl_stops(void) { return __atomic_load_n(&wl_stop_count, __ATOMIC_SEQ_CST); }

#endif

/* threads8: 8 workers synchronised with a mutex, a condition variable and a
 * barrier.  Each round: barrier (the serial thread advances the round number
 * and decides whether to stop), barrier again, then lock / count / signal /
 * unlock.  Every thread re-checks its gettid() and pthread_self() each round.
 * After stop: the workers leave at the same round, main pthread_join()s them
 * (with a watchdog: a wrong clear_child_tid makes join hang) and checks the
 * counters.
 * usage: threads8 CTL
 */
#include "common.h"
#include <pthread.h>
#include <stdatomic.h>

#define NT 8

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static pthread_barrier_t bar;

static unsigned long long shared_count; /* under mu */
static unsigned long long per_thread[NT]; /* under mu */
static atomic_int stop_req;
static int round_stop;                  /* written by the serial thread only */
static unsigned long long global_round; /* written by the serial thread only */

struct worker {
	int idx;
	pthread_t self;
	pid_t tid_start;
	pid_t tid_end;
	unsigned long long rounds;
	char err[200];
};
static struct worker W[NT];
static atomic_int started;

static void *worker(void *arg)
{
	struct worker *w = arg;
	w->tid_start = wl_gettid();
	w->self = pthread_self();
	atomic_fetch_add(&started, 1);
	volatile uint64_t spin = 0;
	for (;;) {
		pid_t t = wl_gettid();
		if (t != w->tid_start && !w->err[0])
			snprintf(w->err, sizeof w->err, "thread %d tid changed %d -> %d", w->idx,
				 (int)w->tid_start, (int)t);
		if (!pthread_equal(pthread_self(), w->self) && !w->err[0])
			snprintf(w->err, sizeof w->err, "thread %d pthread_self changed", w->idx);

		int r = pthread_barrier_wait(&bar);
		if (r == PTHREAD_BARRIER_SERIAL_THREAD) {
			global_round++;
			round_stop = atomic_load(&stop_req);
		} else if (r != 0) {
			snprintf(w->err, sizeof w->err, "barrier_wait: %s", strerror(r));
		}
		r = pthread_barrier_wait(&bar);
		if (r != 0 && r != PTHREAD_BARRIER_SERIAL_THREAD)
			snprintf(w->err, sizeof w->err, "barrier_wait2: %s", strerror(r));
		w->rounds++;
		if (global_round != w->rounds && !w->err[0])
			snprintf(w->err, sizeof w->err, "thread %d: round %llu but global round %llu",
				 w->idx, w->rounds, global_round);
		if (round_stop)
			break;

		pthread_mutex_lock(&mu);
		shared_count++;
		per_thread[w->idx]++;
		pthread_cond_signal(&cv);
		pthread_mutex_unlock(&mu);

		/* a little work so threads are also caught outside futex waits */
		for (int i = 0; i < 2000; i++)
			spin += (uint64_t)i * (uint64_t)w->idx;
		if ((w->rounds & 63) == 0)
			wl_sleep_us(200);
	}
	w->tid_end = wl_gettid();
	return w;
}

int main(int argc, char **argv)
{
	wl_init("threads8", argc, argv);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &ca);
	if (pthread_barrier_init(&bar, NULL, NT))
		wl_fail("barrier_init");
	pid_t main_tid = wl_gettid();
	if (main_tid != getpid())
		wl_fail("main tid %d != pid %d", (int)main_tid, (int)getpid());

	for (int i = 0; i < NT; i++) {
		W[i].idx = i;
		pthread_t th;
		int r = pthread_create(&th, NULL, worker, &W[i]);
		if (r)
			wl_fail("pthread_create: %s", strerror(r));
	}
	while (atomic_load(&started) < NT)
		wl_sleep_us(1000);

	/* wait for some progress before declaring readiness */
	unsigned long long last = 0, wakeups = 0;
	char tids[256] = "";
	size_t tl = 0;
	for (int i = 0; i < NT; i++)
		tl += (size_t)snprintf(tids + tl, sizeof tids - tl, " %d", (int)W[i].tid_start);
	wl_log("tids:%s", tids);
	int is_ready = 0;
	uint64_t last_progress = wl_now_ms();
	for (;;) {
		pthread_mutex_lock(&mu);
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 50 * 1000000l;
		if (ts.tv_nsec >= 1000000000l) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000l;
		}
		while (shared_count == last) {
			int r = pthread_cond_timedwait(&cv, &mu, &ts);
			if (r == ETIMEDOUT)
				break;
		}
		unsigned long long now_count = shared_count;
		pthread_mutex_unlock(&mu);
		if (now_count != last) {
			wakeups++;
			last = now_count;
			last_progress = wl_now_ms();
		} else if (wl_now_ms() - last_progress > 30000) {
			/* no progress for a long time while not stopped: report but keep going */
			wl_log("no progress for 30 s (count %llu)", now_count);
			last_progress = wl_now_ms();
		}
		if (!is_ready && now_count > 100) {
			wl_ready();
			is_ready = 1;
		}
		if (is_ready && wl_stop_requested())
			break;
	}

	wl_watchdog(20, "pthread_join hangs (clear_child_tid / tids wrong?)");
	atomic_store(&stop_req, 1);
	for (int i = 0; i < NT; i++) {
		void *ret = NULL;
		int r = pthread_join(W[i].self, &ret);
		if (r)
			wl_fail("pthread_join %d: %s", i, strerror(r));
		if (ret != &W[i])
			wl_fail("thread %d returned %p", i, ret);
	}
	alarm(0);

	unsigned long long sum = 0;
	for (int i = 0; i < NT; i++) {
		if (W[i].err[0])
			wl_fail("%s", W[i].err);
		if (W[i].tid_end != W[i].tid_start)
			wl_fail("thread %d tid %d at start, %d at end", i, (int)W[i].tid_start,
				(int)W[i].tid_end);
		if (W[i].rounds != global_round)
			wl_fail("thread %d did %llu rounds, global %llu", i, W[i].rounds, global_round);
		/* every round but the last one counted once per thread */
		if (per_thread[i] != global_round - 1)
			wl_fail("thread %d counted %llu, expected %llu", i, per_thread[i], global_round - 1);
		sum += per_thread[i];
	}
	if (sum != shared_count)
		wl_fail("shared counter %llu != sum of per-thread %llu", shared_count, sum);
	if (wl_gettid() != main_tid || main_tid != getpid())
		wl_fail("main tid changed");
	/* joined threads are gone from /proc/self/task */
	char p[64];
	snprintf(p, sizeof p, "/proc/self/task/%d", (int)W[0].tid_start);
	for (int k = 0; k < 100 && access(p, F_OK) == 0; k++)
		wl_sleep_us(10000);
	if (access(p, F_OK) == 0)
		wl_fail("joined thread %d still in /proc/self/task", (int)W[0].tid_start);
	wl_ok("total=%llu rounds=%llu wakeups=%llu", shared_count, global_round, wakeups);
}

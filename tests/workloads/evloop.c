/* evloop: an event loop on epoll keeps getting its events after a restore,
 * its timers keep their interval and time left, its signalfd still receives
 * and its inotify watches keep their numbers.
 * - epoll E watches: timerfd T1 (CLOCK_MONOTONIC, every 20 ms, EPOLLET),
 *   eventfd V (EPOLLIN | EPOLLONESHOT, re-armed with EPOLL_CTL_MOD after each
 *   event), signalfd S (SIGUSR1, level-triggered), inotify I (IN_CREATE on
 *   CTL/watched, wd 3: two earlier watches were removed). Each has its own
 *   data tag; an event with another tag fails.
 * - each round: V is written and its event awaited; SIGUSR1 is queued with
 *   the round's number and read back from S (in order, none lost); a file is
 *   made in CTL/watched and its IN_CREATE awaited (an event queued at the
 *   moment of a dump is lost with it: one retry per round is allowed).
 * - T2: CLOCK_REALTIME, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, due in
 *   1000 s; T4: every 10 ms, never read (its ticks pile up).
 * The longest gap between two rounds (CLOCK_MONOTONIC) is the pause.
 * After stop (asked for >= 1 s after a restore): the last 25 T1 ticks took
 * 500 ms +-20% and the last came within 3 intervals; T4 has (run time -
 * pause) / 10 ms ticks +-10%; T2 has 1000 s - (run time - pause) left +-0.3 s
 * and its fdinfo still says clock 0, settime flags 03; a new inotify watch
 * gets wd 4.
 * Output: OK evloop rounds=N ticks=T retries=R
 * usage: evloop CTL */
#include "common.h"
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#define TAG_T1 0x7431000000000001ull
#define TAG_V 0x5600000000000002ull
#define TAG_S 0x5300000000000003ull
#define TAG_I 0x4900000000000004ull
#define T1_NS 20000000ull
#define T4_NS 10000000ull
#define T2_SEC 1000
#define RING 64
#define WAIT_MS 3000

static int ep, t1, t2, t4, v, s, in;
static int wd_watched;
static uint64_t t1_ticks, ring_t[RING], ring_ticks[RING];
static unsigned ring_n;
static char watched[4200];

static void on_t1(void)
{
	uint64_t n;
	ssize_t r = read(t1, &n, sizeof(n));
	if (r < 0 && errno == EAGAIN)
		return;
	if (r != sizeof(n) || n == 0)
		wl_fail("read T1: %zd %s", r, strerror(errno));
	t1_ticks += n;
	ring_t[ring_n % RING] = wl_now_ns();
	ring_ticks[ring_n % RING] = t1_ticks;
	ring_n++;
}

/* Handles events until one with tag `want` came (T1 ticks are counted on
 * the way); 0 if it came, -1 after ms. */
static int wait_ms(uint64_t want, uint64_t ms)
{
	uint64_t t0 = wl_now_ms();
	while (wl_now_ms() - t0 < ms) {
		struct epoll_event ev[8];
		int n = epoll_wait(ep, ev, 8, 100);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			wl_fail("epoll_wait: %s", strerror(errno));
		bool got = false;
		for (int i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64;
			if (tag == TAG_T1)
				on_t1();
			else if (tag == want)
				got = true;
			else if (tag != TAG_V && tag != TAG_S && tag != TAG_I)
				wl_fail("epoll event with unknown data %#llx", (unsigned long long)tag);
		}
		if (got)
			return 0;
	}
	return -1;
}

static int wait_for(uint64_t want) { return wait_ms(want, WAIT_MS); }

static void round_eventfd(void)
{
	uint64_t one = 1, got;
	if (write(v, &one, sizeof(one)) != sizeof(one))
		wl_fail("write V: %s", strerror(errno));
	if (wait_for(TAG_V) < 0)
		wl_fail("no event for the eventfd");
	if (read(v, &got, sizeof(got)) != sizeof(got) || got != 1)
		wl_fail("read V: %llu", (unsigned long long)got);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = TAG_V};
	if (epoll_ctl(ep, EPOLL_CTL_MOD, v, &ev) < 0) /* by the process's own fd number */
		wl_fail("EPOLL_CTL_MOD V: %s", strerror(errno));
}

static void round_signal(int n)
{
	if (sigqueue(getpid(), SIGUSR1, (union sigval){.sival_int = n}) < 0)
		wl_fail("sigqueue: %s", strerror(errno));
	if (wait_for(TAG_S) < 0)
		wl_fail("no event for the signalfd");
	struct signalfd_siginfo si;
	if (read(s, &si, sizeof(si)) != sizeof(si))
		wl_fail("read S: %s", strerror(errno));
	if (si.ssi_signo != SIGUSR1 || si.ssi_int != n)
		wl_fail("signalfd gave signal %u value %d, expected %d value %d", si.ssi_signo, si.ssi_int, SIGUSR1, n);
}

/* 0, or 1 if the event had to be asked for twice */
static int round_inotify(int n)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		char path[4300], name[64];
		snprintf(name, sizeof name, "f%d.%d", n, attempt);
		snprintf(path, sizeof path, "%s/%s", watched, name);
		int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		if (fd < 0)
			wl_fail("create %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		if (wait_for(TAG_I) < 0)
			continue;
		char buf[4096] __attribute__((aligned(8)));
		ssize_t len = read(in, buf, sizeof buf);
		bool seen = false;
		for (ssize_t off = 0; off < len;) {
			struct inotify_event *e = (struct inotify_event *)(buf + off);
			if (e->wd != wd_watched)
				wl_fail("inotify event for wd %d, the watch is wd %d", e->wd, wd_watched);
			if ((e->mask & IN_CREATE) && strcmp(e->name, name) == 0)
				seen = true;
			off += (ssize_t)sizeof(*e) + e->len;
		}
		if (seen)
			return attempt;
	}
	wl_fail("no IN_CREATE for round %d", n);
}

static void add(int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = {.events = events, .data.u64 = tag};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		wl_fail("EPOLL_CTL_ADD: %s", strerror(errno));
}

static void setup(void)
{
	ep = epoll_create1(EPOLL_CLOEXEC);
	t1 = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	t2 = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC);
	t4 = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	v = eventfd(0, EFD_NONBLOCK);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigprocmask(SIG_BLOCK, &m, NULL);
	s = signalfd(-1, &m, SFD_NONBLOCK);
	in = inotify_init1(IN_NONBLOCK);
	if (ep < 0 || t1 < 0 || t2 < 0 || t4 < 0 || v < 0 || s < 0 || in < 0)
		wl_fail("setup: %s", strerror(errno));
	struct itimerspec p1 = {.it_interval = {0, T1_NS}, .it_value = {0, T1_NS}};
	struct itimerspec p4 = {.it_interval = {0, T4_NS}, .it_value = {0, T4_NS}};
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct itimerspec a2 = {.it_value = {now.tv_sec + T2_SEC, now.tv_nsec}};
	if (timerfd_settime(t1, 0, &p1, NULL) < 0 || timerfd_settime(t4, 0, &p4, NULL) < 0 ||
	    timerfd_settime(t2, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &a2, NULL) < 0)
		wl_fail("timerfd_settime: %s", strerror(errno));
	char a[4300], b[4300];
	snprintf(a, sizeof a, "%s/a", wl_ctl);
	snprintf(b, sizeof b, "%s/b", wl_ctl);
	snprintf(watched, sizeof watched, "%s/watched", wl_ctl);
	if (mkdir(a, 0700) < 0 || mkdir(b, 0700) < 0 || mkdir(watched, 0700) < 0)
		wl_fail("mkdir: %s", strerror(errno));
	int w1 = inotify_add_watch(in, a, IN_CREATE), w2 = inotify_add_watch(in, b, IN_DELETE);
	wd_watched = inotify_add_watch(in, watched, IN_CREATE);
	if (w1 != 1 || w2 != 2 || wd_watched != 3 || inotify_rm_watch(in, w1) < 0 || inotify_rm_watch(in, w2) < 0)
		wl_fail("inotify watches %d %d %d: %s", w1, w2, wd_watched, strerror(errno));
	char drain[4096];
	while (read(in, drain, sizeof drain) > 0) /* the IN_IGNORED of w1, w2 */
		;
	add(t1, EPOLLIN | EPOLLET, TAG_T1);
	add(v, EPOLLIN | EPOLLONESHOT, TAG_V);
	add(s, EPOLLIN, TAG_S);
	add(in, EPOLLIN, TAG_I);
}

/* "clockid: 0" and "settime flags: 03" in our own fdinfo of T2 */
static void check_t2_fdinfo(void)
{
	char path[64], text[1024];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", t2);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof text - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		wl_fail("read %s", path);
	text[n] = '\0';
	if (!strstr(text, "clockid: 0\n") || !strstr(text, "settime flags: 03\n"))
		wl_fail("T2's fdinfo: %s", text);
}

int main(int argc, char **argv)
{
	wl_init("evloop", argc, argv);
	setup();
	uint64_t start = wl_now_ns(), last = start, gap = 0;
	int rounds = 0, retries = 0;
	wl_ready();
	while (!wl_stop_requested()) {
		rounds++;
		round_eventfd();
		round_signal(rounds);
		retries += round_inotify(rounds);
		wait_ms(0, 100); /* 100 ms of timer events only */
		uint64_t now = wl_now_ns();
		if (now - last > gap)
			gap = now - last;
		last = now;
	}
	uint64_t run = wl_now_ns() - start - gap;
	if (ring_n < 26)
		wl_fail("only %u reads of T1", ring_n);
	unsigned a = (ring_n - 1) % RING, b = (ring_n - 26) % RING;
	double ms = (double)(ring_t[a] - ring_t[b]) / 1e6;
	uint64_t ticks = ring_ticks[a] - ring_ticks[b], since = wl_now_ns() - ring_t[a];
	if (since > 3 * T1_NS + 100000000ull) /* + the loop's 100 ms without reads */
		wl_fail("T1 was last read %.1f ms ago", since / 1e6);
	if (ms < 0.8 * ticks * (T1_NS / 1e6) || ms > 1.2 * ticks * (T1_NS / 1e6))
		wl_fail("the last %llu ticks of T1 took %.1f ms, expected %.0f", (unsigned long long)ticks, ms,
			(double)ticks * (T1_NS / 1e6));
	uint64_t n4;
	if (read(t4, &n4, sizeof n4) != sizeof n4)
		wl_fail("read T4: %s", strerror(errno));
	double want4 = (double)run / T4_NS;
	if (n4 < 0.9 * want4 - 5 || n4 > 1.1 * want4 + 5)
		wl_fail("T4 had %llu ticks, expected %.0f (run %.3f s without the pause)", (unsigned long long)n4, want4,
			run / 1e9);
	struct itimerspec left;
	if (timerfd_gettime(t2, &left) < 0)
		wl_fail("timerfd_gettime: %s", strerror(errno));
	double l = (double)left.it_value.tv_sec + left.it_value.tv_nsec / 1e9, want2 = T2_SEC - run / 1e9;
	if (l < want2 - 0.3 || l > want2 + 0.3)
		wl_fail("T2 has %.3f s left, expected %.3f", l, want2);
	check_t2_fdinfo();
	char c[4300];
	snprintf(c, sizeof c, "%s/c", wl_ctl);
	int w4 = mkdir(c, 0700) < 0 ? -1 : inotify_add_watch(in, c, IN_CREATE);
	if (w4 != 4)
		wl_fail("a new inotify watch got wd %d, expected 4", w4);
	wl_log("pause %.1f ms; T4 %llu ticks for %.0f; T2 %.3f s left", gap / 1e6, (unsigned long long)n4, want4, l);
	wl_ok("rounds=%d ticks=%llu retries=%d", rounds, (unsigned long long)t1_ticks, retries);
}

/* Shared helpers for ferry test workloads (header-only).
 *
 * Contract (see tests/integration/lib.sh):
 *   argv[1] = control directory CTL (exists).
 *   CTL/ready is created (atomically, containing "PID\n") once the workload is
 *   in its steady state; the workload then works until CTL/stop exists, runs
 *   its verification and prints exactly one line on stdout:
 *     "OK <name> <details>"  (exit 0)   or   "FAIL <name> <reason>" (exit 1).
 *   Diagnostics go to stderr only.  No fds other than regular files,
 *   directories and /dev/null are kept open.
 */
#ifndef FERRY_WORKLOAD_COMMON_H
#define FERRY_WORKLOAD_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char *wl_name = "workload";
static char wl_ctl[4096];
static char wl_stop_path[4200];

static inline void wl_vout(int fd, const char *fmt, va_list ap)
{
	char buf[2048];
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof buf - 1)
		n = (int)sizeof buf - 2;
	buf[n++] = '\n';
	const char *p = buf;
	while (n > 0) {
		ssize_t w = write(fd, p, (size_t)n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (int)w;
	}
}

/* diagnostics to stderr, prefixed with the workload name */
__attribute__((format(printf, 1, 2), unused))
static void wl_log(const char *fmt, ...)
{
	char f2[1024];
	snprintf(f2, sizeof f2, "[%s %d] %s", wl_name, (int)getpid(), fmt);
	va_list ap;
	va_start(ap, fmt);
	wl_vout(2, f2, ap);
	va_end(ap);
}

/* final result line on stdout (one write() so it is atomic in an O_APPEND log) */
__attribute__((format(printf, 1, 2), noreturn, unused))
static void wl_ok(const char *fmt, ...)
{
	char f2[1024];
	snprintf(f2, sizeof f2, "OK %s %s", wl_name, fmt);
	va_list ap;
	va_start(ap, fmt);
	wl_vout(1, f2, ap);
	va_end(ap);
	exit(0);
}

__attribute__((format(printf, 1, 2), noreturn, unused))
static void wl_fail(const char *fmt, ...)
{
	char f2[1024];
	snprintf(f2, sizeof f2, "FAIL %s %s", wl_name, fmt);
	va_list ap;
	va_start(ap, fmt);
	wl_vout(1, f2, ap);
	va_end(ap);
	va_start(ap, fmt);
	snprintf(f2, sizeof f2, "[%s %d] FAIL %s", wl_name, (int)getpid(), fmt);
	wl_vout(2, f2, ap);
	va_end(ap);
	exit(1);
}

static inline uint64_t wl_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t wl_now_ms(void) { return wl_now_ns() / 1000000ull; }

static inline void wl_sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Parse argv[1], set the name.  Exits with FAIL on usage errors. */
__attribute__((unused))
static void wl_init(const char *name, int argc, char **argv)
{
	wl_name = name;
	if (argc < 2)
		wl_fail("usage: %s CTLDIR [args]", argv[0]);
	struct stat st;
	if (stat(argv[1], &st) < 0 || !S_ISDIR(st.st_mode))
		wl_fail("control dir %s: %s", argv[1], strerror(errno ? errno : ENOTDIR));
	snprintf(wl_ctl, sizeof wl_ctl, "%s", argv[1]);
	snprintf(wl_stop_path, sizeof wl_stop_path, "%s/stop", wl_ctl);
	setvbuf(stdout, NULL, _IONBF, 0);
}

/* Create CTL/ready atomically (write ready.tmp, rename) with our pid inside. */
__attribute__((unused))
static void wl_ready(void)
{
	char tmp[4300], fin[4300], buf[64];
	snprintf(tmp, sizeof tmp, "%s/ready.tmp", wl_ctl);
	snprintf(fin, sizeof fin, "%s/ready", wl_ctl);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		wl_fail("create %s: %s", tmp, strerror(errno));
	int n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
	if (write(fd, buf, (size_t)n) != n)
		wl_fail("write %s: %s", tmp, strerror(errno));
	close(fd);
	if (rename(tmp, fin) < 0)
		wl_fail("rename %s: %s", fin, strerror(errno));
	wl_log("ready");
}

/* Writes "V\n" to CTL/NAME atomically (NAME.tmp, rename), keeping no fd
 * open: what a test reads while the workload runs. 0, or -1 (errno set).
 * No stdio: a vfork child may call it. */
__attribute__((unused))
static int wl_write_value(const char *name, long long v)
{
	char tmp[4400], fin[4400], buf[32];
	snprintf(tmp, sizeof tmp, "%s/%s.tmp", wl_ctl, name);
	snprintf(fin, sizeof fin, "%s/%s", wl_ctl, name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int n = snprintf(buf, sizeof buf, "%lld\n", v);
	return fd < 0 || write(fd, buf, (size_t)n) != n || close(fd) < 0 || rename(tmp, fin) < 0 ? -1 : 0;
}

/* Does CTL/stop exist?  (access(), no fd kept open) */
static inline int wl_stop_requested(void)
{
	return access(wl_stop_path, F_OK) == 0;
}

/* Rate-limited variant for tight loops: checks at most every 'ms' ms. */
static inline int wl_stop_poll(unsigned ms)
{
	static uint64_t last;
	uint64_t now = wl_now_ms();
	if (now - last < ms)
		return 0;
	last = now;
	return wl_stop_requested();
}

/* Watchdog: after 'secs' seconds print FAIL (with 'what') and _exit(1). */
static const char *wl_wd_what = "watchdog";
static void wl_wd_handler(int sig)
{
	(void)sig;
	char buf[512];
	int n = snprintf(buf, sizeof buf, "FAIL %s watchdog expired: %s\n", wl_name, wl_wd_what);
	if (n > 0 && write(1, buf, (size_t)n) < 0) {
		/* nothing to do */
	}
	_exit(1);
}

__attribute__((unused))
static void wl_watchdog(unsigned secs, const char *what)
{
	wl_wd_what = what;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = wl_wd_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGALRM);
	pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	alarm(secs);
}

static inline pid_t wl_gettid(void) { return (pid_t)syscall(SYS_gettid); }

/* splitmix64: cheap, good mixing */
static inline uint64_t wl_mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

#endif

/* locks: file locks are held again after a restore.
 * In DIR (argv[2], default CTL) it opens flock, posix and ofd (200 bytes
 * each) and takes: an exclusive flock on flock (and keeps a dup of that
 * fd); POSIX locks on posix: write 10..29, read 100..EOF; an OFD write
 * lock on ofd 0..4. Then it counts until stopped.
 * After stop: its own fdinfo shows exactly these locks again (kind, type,
 * range), on the same fds (a second process from the test checks that they
 * hold: it is refused them).
 * usage: locks CTL [DIR]
 * Output: OK locks held=4 */
#include "common.h"
#include <sys/file.h>

static int open_in(const char *dir, const char *name)
{
	char path[4300];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	if (fd < 0 || ftruncate(fd, 200) < 0)
		wl_fail("open %s: %s", path, strerror(errno));
	return fd;
}

static void lock(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	if (fcntl(fd, cmd, &fl) < 0)
		wl_fail("fcntl lock: %s", strerror(errno));
}

/* The "lock:" lines of our fdinfo of fd, without their ids and pids. */
static void expect_locks(int fd, const char *want)
{
	char path[64], text[4096], got[2048] = "";
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	int f = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = f < 0 ? -1 : read(f, text, sizeof text - 1);
	if (f >= 0)
		close(f);
	if (n < 0)
		wl_fail("read %s", path);
	text[n] = '\0';
	for (char *p = strstr(text, "lock:"); p; p = strstr(p + 1, "lock:")) {
		char kind[16], type[16], end[24];
		long long start;
		if (sscanf(p, "lock: %*d: %15s %*s %15s %*d %*s %lld %23s", kind, type, &start, end) != 4)
			wl_fail("fd %d: unreadable lock line", fd);
		size_t used = strlen(got);
		snprintf(got + used, sizeof got - used, "%s%s %s %lld-%s", used ? ", " : "", kind, type, start, end);
	}
	if (strcmp(got, want) != 0)
		wl_fail("fd %d holds [%s], expected [%s]", fd, got, want);
}

int main(int argc, char **argv)
{
	wl_init("locks", argc, argv);
	const char *dir = argc > 2 ? argv[2] : wl_ctl;
	int fl = open_in(dir, "flock"), px = open_in(dir, "posix"), ofd = open_in(dir, "ofd");
	if (flock(fl, LOCK_EX | LOCK_NB) < 0)
		wl_fail("flock: %s", strerror(errno));
	int fl2 = dup(fl);
	lock(px, F_SETLK, F_WRLCK, 10, 20);
	lock(px, F_SETLK, F_RDLCK, 100, 0);
	lock(ofd, F_OFD_SETLK, F_WRLCK, 0, 5);
	wl_ready();
	uint64_t n = 0;
	while (!wl_stop_requested()) {
		n++;
		wl_sleep_us(5000);
	}
	expect_locks(fl, "FLOCK WRITE 0-EOF");
	expect_locks(fl2, "FLOCK WRITE 0-EOF");
	expect_locks(px, "POSIX WRITE 10-29, POSIX READ 100-EOF");
	expect_locks(ofd, "OFDLCK WRITE 0-4");
	wl_ok("held=4");
}

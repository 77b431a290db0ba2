/* manyfds: a large, sparse fd table. Files are open on fds 3..DENSE_TOP
 * (more than one batch of the restore's fd passing, and around the number
 * the restore stub's socket gets), minus a hole, plus a few high numbers
 * (up to 4001); three dups share a description with an fd far from them
 * (one below its owner, in the hole); access modes, O_APPEND and close-on-exec vary; every
 * file fd sits at its own offset. Once ready it sleeps until CTL/stop, then
 * checks that exactly the same fds are open, each on the same file with the
 * same flags, close-on-exec and offset, and that the dups still share
 * their offset. Raises its RLIMIT_NOFILE soft limit to the hard one.
 * usage: manyfds CTL DIR
 */
#include "common.h"

#include <sys/resource.h>

#define DENSE_TOP 299  /* files on 3..DENSE_TOP */
#define HOLE_LO 20     /* closed again: HOLE_LO..HOLE_HI */
#define HOLE_HI 49
#define MAX_FD 4096    /* fds checked: 0..MAX_FD-1 */
#define FILE_SIZE 4096

/* 4000 is too far above 1500 for the restore to fill the numbers between */
static const int sparse[] = {300, 511, 777, 1500, 4000};
/* copy = dup of owner; 25 is inside the hole and below its owner */
static const struct {
	int owner, copy;
} dups[] = {{5, 1200}, {250, 25}, {7, 4001}};

struct fdstate {
	int open;
	dev_t dev;
	ino_t ino;
	int fl, fdfl;
	off_t pos;
};

static struct fdstate want[MAX_FD];

static void snapshot(struct fdstate *t)
{
	for (int fd = 0; fd < MAX_FD; fd++) {
		struct stat st;
		t[fd] = (struct fdstate){0};
		t[fd].fdfl = fcntl(fd, F_GETFD);
		if (t[fd].fdfl < 0)
			continue;
		if (fstat(fd, &st) < 0)
			wl_fail("fstat fd %d: %s", fd, strerror(errno));
		t[fd].open = 1;
		t[fd].dev = st.st_dev;
		t[fd].ino = st.st_ino;
		t[fd].fl = fcntl(fd, F_GETFL);
		t[fd].pos = fd > 2 ? lseek(fd, 0, SEEK_CUR) : 0; /* 0..2: the log, moving */
	}
}

static int open_file(const char *dir, int i)
{
	static const int modes[] = {O_RDONLY, O_RDWR, O_WRONLY | O_APPEND, O_RDWR | O_APPEND};
	char path[4200], data[FILE_SIZE];
	snprintf(path, sizeof path, "%s/f%d", dir, i);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	memset(data, 'a' + i % 26, sizeof data);
	if (fd < 0 || write(fd, data, sizeof data) != (ssize_t)sizeof data)
		wl_fail("create %s: %s", path, strerror(errno));
	close(fd);
	fd = open(path, modes[i % 4] | (i % 3 == 0 ? O_CLOEXEC : 0));
	if (fd < 0)
		wl_fail("open %s: %s", path, strerror(errno));
	if (!(modes[i % 4] & O_APPEND) && lseek(fd, (i * 7) % FILE_SIZE, SEEK_SET) < 0)
		wl_fail("lseek %s: %s", path, strerror(errno));
	return fd;
}

/* Opens the file for fd number `at` and puts it there. */
static void open_at(const char *dir, int at)
{
	int fd = open_file(dir, at);
	if (fd != at) {
		if (dup3(fd, at, (at % 3 == 0) ? O_CLOEXEC : 0) != at)
			wl_fail("dup3 to %d: %s", at, strerror(errno));
		close(fd);
	}
}

static void setup(const char *dir)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		wl_fail("getrlimit: %s", strerror(errno));
	rl.rlim_cur = rl.rlim_max;
	if (rl.rlim_max < MAX_FD || setrlimit(RLIMIT_NOFILE, &rl) < 0)
		wl_fail("RLIMIT_NOFILE hard limit %llu, need %d", (unsigned long long)rl.rlim_max, MAX_FD);
	for (int i = 3; i <= DENSE_TOP; i++)
		open_at(dir, i);
	for (int i = HOLE_LO; i <= HOLE_HI; i++)
		close(i);
	for (size_t i = 0; i < sizeof sparse / sizeof sparse[0]; i++)
		open_at(dir, sparse[i]);
	for (size_t i = 0; i < sizeof dups / sizeof dups[0]; i++)
		if (dup3(dups[i].owner, dups[i].copy, i % 2 ? 0 : O_CLOEXEC) != dups[i].copy)
			wl_fail("dup3 %d to %d: %s", dups[i].owner, dups[i].copy, strerror(errno));
}

static void check(void)
{
	static struct fdstate got[MAX_FD];
	int n = 0;
	snapshot(got);
	for (int fd = 0; fd < MAX_FD; fd++) {
		const struct fdstate *w = &want[fd], *g = &got[fd];
		if (w->open != g->open)
			wl_fail("fd %d is %s, was %s", fd, g->open ? "open" : "closed", w->open ? "open" : "closed");
		if (!w->open)
			continue;
		n++;
		if (w->dev != g->dev || w->ino != g->ino)
			wl_fail("fd %d is another file (ino %llu, was %llu)", fd, (unsigned long long)g->ino,
				(unsigned long long)w->ino);
		if (w->fl != g->fl || w->fdfl != g->fdfl)
			wl_fail("fd %d: flags 0x%x fd flags 0x%x, were 0x%x 0x%x", fd, g->fl, g->fdfl, w->fl, w->fdfl);
		if (w->pos != g->pos)
			wl_fail("fd %d at offset %lld, was %lld", fd, (long long)g->pos, (long long)w->pos);
	}
	for (size_t i = 0; i < sizeof dups / sizeof dups[0]; i++) {
		off_t to = 1000 + (off_t)i;
		if (lseek(dups[i].owner, to, SEEK_SET) != to || lseek(dups[i].copy, 0, SEEK_CUR) != to)
			wl_fail("fd %d no longer shares its offset with fd %d", dups[i].copy, dups[i].owner);
	}
	wl_ok("fds=%d", n);
}

int main(int argc, char **argv)
{
	wl_init("manyfds", argc, argv);
	if (argc < 3)
		wl_fail("usage: manyfds CTL DIR");
	setup(argv[2]);
	snapshot(want);
	wl_ready();
	while (!wl_stop_requested())
		wl_sleep_us(2000);
	check();
}

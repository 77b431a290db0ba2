/* filewriter: appends numbered lines "line %08d\n" to FILE about every ms,
 * alternately through an O_APPEND fd and a dup() of it (one shared open file
 * description), and reads them back incrementally through a separate O_RDONLY
 * fd, checking the numbering and the fd offsets.
 * usage: filewriter CTL FILE
 */
#include "common.h"

#define LL 14 /* strlen("line 00000001\n") */

int main(int argc, char **argv)
{
	wl_init("filewriter", argc, argv);
	if (argc < 3)
		wl_fail("usage: filewriter CTL FILE");
	const char *path = argv[2];
	int fdw = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fdw < 0)
		wl_fail("open %s: %s", path, strerror(errno));
	if (ftruncate(fdw, 0) < 0)
		wl_fail("ftruncate: %s", strerror(errno));
	int fdr = open(path, O_RDONLY);
	if (fdr < 0)
		wl_fail("open ro %s: %s", path, strerror(errno));
	int fdd = dup(fdw);
	if (fdd < 0)
		wl_fail("dup: %s", strerror(errno));

	long written = 0;      /* lines written */
	long readback = 0;     /* complete lines read back and checked */
	long long rd_bytes = 0; /* bytes consumed through fdr */
	char part[64];         /* partial line carried over */
	size_t partlen = 0;
	int is_ready = 0;
	char rbuf[65536];

	for (;;) {
		int stop = is_ready && wl_stop_requested();

		/* check the descriptors are still what they were */
		int fl = fcntl(fdw, F_GETFL);
		if (fl < 0 || !(fl & O_APPEND) || (fl & O_ACCMODE) != O_WRONLY)
			wl_fail("writer fd flags 0x%x (errno %d)", fl, fl < 0 ? errno : 0);
		fl = fcntl(fdd, F_GETFL);
		if (fl < 0 || !(fl & O_APPEND))
			wl_fail("dup fd flags 0x%x", fl);
		fl = fcntl(fdr, F_GETFL);
		if (fl < 0 || (fl & O_ACCMODE) != O_RDONLY)
			wl_fail("reader fd flags 0x%x", fl);

		if (!stop) {
			char line[32];
			int n = snprintf(line, sizeof line, "line %08ld\n", written + 1);
			if (n != LL)
				wl_fail("line length %d", n);
			int fd = (written & 1) ? fdd : fdw;
			ssize_t w = write(fd, line, LL);
			if (w != LL)
				wl_fail("write line %ld via fd %d: %zd (%s)", written + 1, fd, w,
					w < 0 ? strerror(errno) : "short");
			written++;
			/* both fds share one description: same offset == end of file */
			off_t ow = lseek(fdw, 0, SEEK_CUR), od = lseek(fdd, 0, SEEK_CUR);
			if (ow != (off_t)written * LL || od != ow)
				wl_fail("after line %ld: writer offset %lld, dup offset %lld, expected %lld",
					written, (long long)ow, (long long)od, (long long)written * LL);
		}

		/* read back whatever is new */
		for (;;) {
			ssize_t r = read(fdr, rbuf, sizeof rbuf);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				wl_fail("read: %s", strerror(errno));
			}
			if (r == 0)
				break;
			rd_bytes += r;
			for (ssize_t i = 0; i < r; i++) {
				if (partlen >= sizeof part - 1)
					wl_fail("overlong line after line %ld", readback);
				part[partlen++] = rbuf[i];
				if (rbuf[i] != '\n')
					continue;
				part[partlen] = 0;
				char expect[32];
				snprintf(expect, sizeof expect, "line %08ld\n", readback + 1);
				if (partlen != LL || memcmp(part, expect, LL) != 0) {
					part[partlen - 1] = 0;
					wl_fail("read back '%s', expected line %ld", part, readback + 1);
				}
				readback++;
				partlen = 0;
			}
		}
		off_t orr = lseek(fdr, 0, SEEK_CUR);
		if (orr != rd_bytes)
			wl_fail("reader offset %lld, expected %lld", (long long)orr, rd_bytes);
		if (readback > written)
			wl_fail("read back %ld lines but wrote %ld", readback, written);

		if (stop)
			break;
		if (!is_ready && written >= 20) {
			wl_ready();
			is_ready = 1;
		}
		wl_sleep_us(1000);
	}

	if (readback != written || partlen != 0)
		wl_fail("read back %ld lines (+%zu bytes) but wrote %ld", readback, partlen, written);

	/* reread the whole file through a fresh descriptor */
	struct stat st;
	if (fstat(fdw, &st) < 0)
		wl_fail("fstat: %s", strerror(errno));
	if (st.st_size != (off_t)written * LL)
		wl_fail("file size %lld, expected %lld", (long long)st.st_size, (long long)written * LL);
	int f2 = open(path, O_RDONLY);
	if (f2 < 0)
		wl_fail("reopen: %s", strerror(errno));
	char *all = malloc((size_t)st.st_size + 1);
	if (!all)
		wl_fail("malloc");
	ssize_t got = 0;
	while (got < st.st_size) {
		ssize_t r = pread(f2, all + got, (size_t)(st.st_size - got), got);
		if (r <= 0)
			wl_fail("pread: %s", r < 0 ? strerror(errno) : "eof");
		got += r;
	}
	close(f2);
	for (long i = 0; i < written; i++) {
		char expect[32];
		snprintf(expect, sizeof expect, "line %08ld\n", i + 1);
		if (memcmp(all + i * LL, expect, LL) != 0)
			wl_fail("file line %ld wrong", i + 1);
	}
	/* the same-inode check: our fds still refer to the file at path */
	struct stat s1, s2;
	if (stat(path, &s1) < 0 || fstat(fdr, &s2) < 0 || s1.st_ino != s2.st_ino || s1.st_dev != s2.st_dev)
		wl_fail("reader fd does not refer to %s any more", path);
	wl_ok("lines=%ld", written);
}

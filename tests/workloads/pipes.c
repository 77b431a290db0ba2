/* pipes: a pipe to itself that keeps streaming, a packet-mode pipe and a
 * FIFO keep their buffered data, sizes, flags and sharing.
 * Stream pipe S (O_NONBLOCK, 128 KiB, read end also dup'd): each round
 * writes consecutive 64-bit counters until ~48 KiB are buffered, then
 * reads some back through the end or its dup, checking every value is the
 * next one (nothing lost, nothing twice). CTL/count holds the number of
 * values read so far. Packet pipe P (O_DIRECT, blocking): three writes of
 * 3, 4 and 5 bytes, never read before stop. FIFO CTL/fifo: opened for
 * reading and writing, 9 bytes buffered.
 * After stop: S drained (every value up to the last written, in order),
 * sizes and flags as set, the dup shares the description, P reads back one
 * packet per read, the FIFO its 9 bytes.
 * Output: OK pipes values=N packets=3 fifo=9
 * usage: pipes CTL */
#include "common.h"
#include <sys/ioctl.h>

#define STREAM_SIZE (128 * 1024)
#define BACKLOG (48 * 1024)
#define BATCH 512 /* values per write: 4096 bytes, PIPE_BUF: atomic */


static void write_count(uint64_t n)
{
	if (wl_write_value("count", (long long)n) < 0)
		wl_fail("count file: %s", strerror(errno));
}
static uint64_t next_write, next_read;

static void fill(int w)
{
	int queued = 0;
	while (ioctl(w, FIONREAD, &queued) == 0 && queued < BACKLOG) {
		uint64_t v[BATCH];
		for (int i = 0; i < BATCH; i++)
			v[i] = next_write + (uint64_t)i;
		ssize_t n = write(w, v, sizeof(v));
		if (n < 0 && errno == EAGAIN)
			return;
		if (n != (ssize_t)sizeof(v))
			wl_fail("write: %zd (%s)", n, strerror(errno));
		next_write += BATCH;
	}
}

/* Reads up to max bytes (0: all) and checks the sequence; bytes read. */
static size_t drain(int r, size_t max)
{
	uint64_t v[BATCH];
	size_t got = 0;
	while (!max || got < max) {
		ssize_t n = read(r, v, sizeof(v));
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0 || n % 8)
			wl_fail("read: %zd (%s)", n, strerror(errno));
		for (ssize_t i = 0; i < n / 8; i++)
			if (v[i] != next_read++)
				wl_fail("value %llu where %llu was next", (unsigned long long)v[i],
					(unsigned long long)next_read - 1);
		got += (size_t)n;
	}
	return got;
}

int main(int argc, char **argv)
{
	wl_init("pipes", argc, argv);
	int s[2], p[2];
	if (pipe2(s, O_NONBLOCK) < 0 || fcntl(s[1], F_SETPIPE_SZ, STREAM_SIZE) < 0 || pipe2(p, O_DIRECT) < 0)
		wl_fail("pipes: %s", strerror(errno));
	int sdup = dup(s[0]);
	const char *pk[] = {"one", "four", "fifth"};
	for (int i = 0; i < 3; i++)
		if (write(p[1], pk[i], strlen(pk[i])) != (ssize_t)strlen(pk[i]))
			wl_fail("packet write: %s", strerror(errno));
	char fifo[4300];
	snprintf(fifo, sizeof(fifo), "%s/fifo", wl_ctl);
	unlink(fifo);
	if (mkfifo(fifo, 0600) < 0)
		wl_fail("mkfifo: %s", strerror(errno));
	int fr = open(fifo, O_RDONLY | O_NONBLOCK), fw = open(fifo, O_WRONLY);
	if (fr < 0 || fw < 0 || write(fw, "fifo-data", 9) != 9)
		wl_fail("fifo: %s", strerror(errno));
	fill(s[1]);
	wl_ready();
	for (unsigned round = 0; !wl_stop_poll(20); round++) {
		drain(round % 2 ? sdup : s[0], 8 * BATCH);
		fill(s[1]);
		if (round % 50 == 0)
			write_count(next_read);
		wl_sleep_us(1000);
	}
	if (fcntl(s[0], F_GETPIPE_SZ) != STREAM_SIZE)
		wl_fail("stream pipe size %d, expected %d", fcntl(s[0], F_GETPIPE_SZ), STREAM_SIZE);
	if (!(fcntl(s[0], F_GETFL) & O_NONBLOCK) || !(fcntl(s[1], F_GETFL) & O_NONBLOCK) ||
	    (fcntl(p[0], F_GETFL) & O_NONBLOCK) || (fcntl(fw, F_GETFL) & O_NONBLOCK) || !(fcntl(fr, F_GETFL) & O_NONBLOCK))
		wl_fail("flags changed: s %#x %#x p %#x fifo %#x %#x", fcntl(s[0], F_GETFL), fcntl(s[1], F_GETFL),
			fcntl(p[0], F_GETFL), fcntl(fr, F_GETFL), fcntl(fw, F_GETFL));
	fcntl(sdup, F_SETFL, 0); /* one description: s[0] sees it */
	if (fcntl(s[0], F_GETFL) & O_NONBLOCK)
		wl_fail("the dup of the stream pipe's read end is not the same description");
	fcntl(sdup, F_SETFL, O_NONBLOCK);
	uint64_t last = next_write;
	drain(s[0], 0);
	if (next_read != last)
		wl_fail("stream drained to %llu, %llu were written", (unsigned long long)next_read,
			(unsigned long long)last);
	char buf[64];
	for (int i = 0; i < 3; i++) {
		ssize_t n = read(p[0], buf, sizeof(buf));
		if (n != (ssize_t)strlen(pk[i]) || memcmp(buf, pk[i], (size_t)n))
			wl_fail("packet %d: %zd bytes '%.*s', expected '%s'", i, n, n > 0 ? (int)n : 0, buf, pk[i]);
	}
	ssize_t n = read(fr, buf, sizeof(buf));
	if (n != 9 || memcmp(buf, "fifo-data", 9))
		wl_fail("fifo read %zd '%.*s'", n, n > 0 ? (int)n : 0, buf);
	unlink(fifo);
	wl_ok("values=%llu packets=3 fifo=%zd", (unsigned long long)next_read, n);
}

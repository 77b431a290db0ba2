/* relay: the three stages of a shell pipeline `gen | relay | sink` moving
 * 64-bit counters, for moving the middle one with dump --external and
 * restore --inherit-fd.
 *   gen    writes 0, 1, 2, ... to stdout until CTL/stop, then exits
 *   relay  copies stdin to stdout, checking each value is the next one,
 *          until end of input
 *   sink   reads stdin, checking each value is the next one, until end of
 *          input; CTL/count holds the values read so far
 * Every stage prints its result line on stderr (stdout is the pipe).
 * Output: OK relay gen values=N | OK relay relay values=N | OK relay sink values=N
 * usage: relay CTL gen|relay|sink */
#include "common.h"
#include <poll.h>
#include <stdbool.h>

#define BATCH 512


static void write_count(uint64_t n)
{
	if (wl_write_value("count", (long long)n) < 0)
		wl_fail("count file: %s", strerror(errno));
}
static uint64_t next;

static void write_all(const void *p, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = write(1, (const char *)p + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			wl_fail("write: %s", strerror(errno));
		done += (size_t)n;
	}
}

/* Reads stdin to its end, checking the sequence (values may straddle reads);
 * relays what it read to stdout if asked. */
static void consume(bool relay)
{
	uint8_t buf[BATCH * 8 + 8];
	size_t have = 0; /* bytes of a value cut by the previous read */
	for (unsigned round = 0;; round++) {
		struct pollfd p = {.fd = 0, .events = POLLIN};
		if (!relay && poll(&p, 1, 0) == 0) /* caught up: say so before waiting */
			write_count(next);
		ssize_t n = read(0, buf + have, BATCH * 8);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			wl_fail("read: %s", strerror(errno));
		if (n == 0)
			break;
		size_t total = have + (size_t)n, whole = total / 8 * 8;
		for (size_t i = 0; i < whole; i += 8) {
			uint64_t v;
			memcpy(&v, buf + i, 8);
			if (v != next++)
				wl_fail("value %llu where %llu was next", (unsigned long long)v, (unsigned long long)next - 1);
		}
		if (relay)
			write_all(buf, whole);
		memmove(buf, buf + whole, total - whole);
		have = total - whole;
		if (!relay && round % 64 == 0)
			write_count(next);
	}
	if (have)
		wl_fail("input ended in the middle of a value (%zu bytes)", have);
	if (!relay)
		write_count(next);
}

int main(int argc, char **argv)
{
	wl_init("relay", argc, argv);
	if (argc < 3)
		wl_fail("usage: relay CTL gen|relay|sink");
	const char *stage = argv[2];
	signal(SIGPIPE, SIG_DFL);
	wl_ready();
	if (strcmp(stage, "gen") == 0) {
		while (!wl_stop_poll(10)) {
			uint64_t v[BATCH];
			for (int i = 0; i < BATCH; i++)
				v[i] = next++;
			write_all(v, sizeof(v));
			wl_sleep_us(200);
		}
	} else if (strcmp(stage, "relay") == 0 || strcmp(stage, "sink") == 0) {
		consume(strcmp(stage, "relay") == 0);
	} else {
		wl_fail("unknown stage '%s'", stage);
	}
	close(1);
	dup2(2, 1); /* the result line goes to the log, not down the pipe */
	wl_ok("%s values=%llu", stage, (unsigned long long)next);
}

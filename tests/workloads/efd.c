/* efd: eventfds keep their counters, semaphore mode, flags and sharing.
 * fd A: semaphore mode, non-blocking, counter 5; fd B: plain, counter
 * 0x123456789 (above what eventfd() can start with); fd C: a dup of A (one
 * open file description). While running, each 10 ms round adds 1 to B and
 * takes it back, so the counter is busy but ends where it was. After stop:
 * reading A through C gives 1 five times, then EAGAIN; B gives 0x123456789
 * at once; flags and modes are as set.
 * Output: OK efd a=5 b=0x123456789
 * usage: efd CTL */
#include "common.h"
#include <poll.h>
#include <sys/eventfd.h>

#define A_COUNT 5
#define B_COUNT 0x123456789ull

int main(int argc, char **argv)
{
	wl_init("efd", argc, argv);
	int a = eventfd(A_COUNT, EFD_SEMAPHORE | EFD_NONBLOCK);
	int b = eventfd(0, 0);
	uint64_t v = B_COUNT;
	if (a < 0 || b < 0 || write(b, &v, sizeof(v)) != sizeof(v))
		wl_fail("eventfd setup: %s", strerror(errno));
	int c = dup(a);
	if (c < 0)
		wl_fail("dup: %s", strerror(errno));
	wl_ready();
	while (!wl_stop_requested()) {
		uint64_t one = 1, got;
		if (write(b, &one, sizeof(one)) != sizeof(one))
			wl_fail("write b: %s", strerror(errno));
		struct pollfd p = {.fd = b, .events = POLLIN};
		if (poll(&p, 1, 0) != 1)
			wl_fail("b not readable");
		if (read(b, &got, sizeof(got)) != sizeof(got) || got != B_COUNT + 1)
			wl_fail("b read %llu, expected %llu", (unsigned long long)got, B_COUNT + 1);
		if (write(b, &v, sizeof(v)) != sizeof(v)) /* back to B_COUNT */
			wl_fail("write b: %s", strerror(errno));
		wl_sleep_us(10000);
	}
	if (!(fcntl(a, F_GETFL) & O_NONBLOCK) || (fcntl(b, F_GETFL) & O_NONBLOCK))
		wl_fail("O_NONBLOCK changed: a %#x b %#x", fcntl(a, F_GETFL), fcntl(b, F_GETFL));
	int n = 0;
	uint64_t got;
	while (read(c, &got, sizeof(got)) == sizeof(got)) { /* through the dup: the same counter */
		if (got != 1)
			wl_fail("semaphore read %llu, expected 1", (unsigned long long)got);
		n++;
	}
	if (errno != EAGAIN || n != A_COUNT)
		wl_fail("a gave %d reads (errno %s), expected %d then EAGAIN", n, strerror(errno), A_COUNT);
	if (read(a, &got, sizeof(got)) >= 0 || errno != EAGAIN)
		wl_fail("a is not the same description as its dup");
	struct pollfd p = {.fd = b, .events = POLLIN};
	if (poll(&p, 1, 0) != 1 || read(b, &got, sizeof(got)) != sizeof(got) || got != B_COUNT)
		wl_fail("b read %llu, expected %llu", (unsigned long long)got, B_COUNT);
	wl_ok("a=%d b=%#llx", n, (unsigned long long)got);
}

/* socks: unix socket pairs with data queued both ways, listening unix and
 * TCP sockets, a bound UDP socket, with their options.
 * Stream pair T: 64-bit counters stream from T0 to T1 (~32 KiB kept
 * queued), 1000 bytes queued from T1 to T0 and never read before stop.
 * Datagram pair D: 3 messages queued D0 -> D1, 2 messages D1 -> D0.
 * Seqpacket pair Q: 2 packets Q0 -> Q1, 1 packet Q1 -> Q0.
 * Datagram socket G bound to CTL/dgram: 2 datagrams queued from a socket
 * closed since.
 * Listeners, served while running: unix CTL/sock, abstract
 * "\0ferry-socks-PID", TCP ADDR:PORT (SO_REUSEADDR, TCP_NODELAY, backlog
 * 16) and [::1]:PORT+1 (IPV6_V6ONLY); each accepted connection gets one
 * line "ping" and answers "pong KIND N" (N: connections served so far),
 * then is closed. UDP ADDR:PORT+2 answers each datagram "pong udp N".
 * CTL/count: values streamed so far.
 * After stop: every value in order, every queued byte, message and packet
 * where it was with its boundaries, options and names as set, no peek
 * offset left.
 * Output: OK socks values=N served=S udp=U
 * usage: socks CTL ADDR PORT */
#include "common.h"
#include <arpa/inet.h>
#include <stddef.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#define BACKLOG (32 * 1024)
#define BATCH 512
#define REVERSE 1000
#define NLISTEN 4


static void write_count(uint64_t n)
{
	if (wl_write_value("count", (long long)n) < 0)
		wl_fail("count file: %s", strerror(errno));
}
static uint64_t next_write, next_read;
static unsigned served, udp_served;

static void fill(int w, int r)
{
	int queued = 0;
	while (ioctl(r, FIONREAD, &queued) == 0 && queued < BACKLOG) {
		uint64_t v[BATCH];
		for (int i = 0; i < BATCH; i++)
			v[i] = next_write + (uint64_t)i;
		ssize_t n = send(w, v, sizeof(v), MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n != (ssize_t)sizeof(v)) /* a partial send would split a value: the test sizes avoid it */
			wl_fail("send: %zd (%s)", n, strerror(errno));
		next_write += BATCH;
	}
}

static void drain(int r, size_t max)
{
	static uint8_t part[8];
	static size_t npart;
	uint8_t buf[BATCH * 8];
	size_t got = 0;
	while (!max || got < max) {
		ssize_t n = recv(r, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			wl_fail("recv: %zd (%s)", n, strerror(errno));
		for (ssize_t i = 0; i < n; i++) {
			part[npart++] = buf[i];
			if (npart == 8) {
				uint64_t v;
				memcpy(&v, part, 8);
				npart = 0;
				if (v != next_read++)
					wl_fail("value %llu where %llu was next", (unsigned long long)v,
						(unsigned long long)next_read - 1);
			}
		}
		got += (size_t)n;
	}
}

static int listener(int family, const void *sa, socklen_t len)
{
	int s = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
	if (s < 0)
		wl_fail("socket: %s", strerror(errno));
	if (family != AF_UNIX && (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
				  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0))
		wl_fail("setsockopt: %s", strerror(errno));
	if (family == AF_INET6 && setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		wl_fail("IPV6_V6ONLY: %s", strerror(errno));
	if (bind(s, sa, len) < 0 || listen(s, 16) < 0)
		wl_fail("bind/listen (family %d): %s", family, strerror(errno));
	return s;
}

/* One connection: "ping" in, "pong KIND N" out. */
static void serve(int l, const char *kind)
{
	int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return;
	struct pollfd p = {.fd = c, .events = POLLIN};
	char buf[64];
	ssize_t n = poll(&p, 1, 2000) == 1 ? recv(c, buf, sizeof(buf), 0) : -1;
	if (n >= 4 && memcmp(buf, "ping", 4) == 0) {
		served++;
		int m = snprintf(buf, sizeof(buf), "pong %s %u\n", kind, served);
		if (send(c, buf, (size_t)m, MSG_NOSIGNAL) != m)
			wl_log("reply: %s", strerror(errno));
	}
	close(c);
}

static void serve_udp(int u)
{
	char buf[64];
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	ssize_t n = recvfrom(u, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
	if (n < 4 || memcmp(buf, "ping", 4))
		return;
	udp_served++;
	int m = snprintf(buf, sizeof(buf), "pong udp %u\n", udp_served);
	sendto(u, buf, (size_t)m, 0, (struct sockaddr *)&from, fl);
}

static void expect(int fd, const char *what, const char *want)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, (size_t)n))
		wl_fail("%s: got %zd bytes '%.*s', expected '%s'", what, n, n > 0 ? (int)n : 0, buf, want);
}

static int intopt(int s, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);
	getsockopt(s, level, name, &v, &l);
	return v;
}

int main(int argc, char **argv)
{
	wl_init("socks", argc, argv);
	if (argc < 4)
		wl_fail("usage: socks CTL ADDR PORT");
	int port = atoi(argv[3]);
	int t[2], d[2], q[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, t) < 0 || socketpair(AF_UNIX, SOCK_DGRAM, 0, d) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, q) < 0)
		wl_fail("socketpair: %s", strerror(errno));
	uint8_t rev[REVERSE];
	for (int i = 0; i < REVERSE; i++)
		rev[i] = (uint8_t)(i * 7);
	if (send(t[1], rev, sizeof(rev), 0) != REVERSE)
		wl_fail("reverse send: %s", strerror(errno));
	const char *d01[] = {"d-one", "d-two!", "d-three"}, *d10[] = {"back-1", "back-22"};
	const char *q01[] = {"q-first", "q-second"}, *q10[] = {"q-back"};
	for (int i = 0; i < 3; i++)
		send(d[0], d01[i], strlen(d01[i]), 0);
	for (int i = 0; i < 2; i++)
		send(d[1], d10[i], strlen(d10[i]), 0);
	for (int i = 0; i < 2; i++)
		send(q[0], q01[i], strlen(q01[i]), 0);
	send(q[1], q10[0], strlen(q10[0]), 0);

	struct sockaddr_un su = {.sun_family = AF_UNIX}, sa = {.sun_family = AF_UNIX};
	if ((size_t)snprintf(su.sun_path, sizeof(su.sun_path), "%.100s/sock", wl_ctl) >= sizeof(su.sun_path) - 1)
		wl_fail("control dir path too long for a unix socket");
	unlink(su.sun_path);
	int alen = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "ferry-socks-%d", (int)getpid()) + 1;
	struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)(port + 1)),
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	if (inet_pton(AF_INET, argv[2], &s4.sin_addr) != 1)
		wl_fail("bad address %s", argv[2]);
	int l[NLISTEN] = {listener(AF_UNIX, &su, sizeof(su)),
			  listener(AF_UNIX, &sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)alen)),
			  listener(AF_INET, &s4, sizeof(s4)), listener(AF_INET6, &s6, sizeof(s6))};
	const char *kind[NLISTEN] = {"unix", "abstract", "tcp", "tcp6"};
	struct sockaddr_un sg = {.sun_family = AF_UNIX};
	snprintf(sg.sun_path, sizeof(sg.sun_path), "%.100s/dgram", wl_ctl);
	unlink(sg.sun_path);
	int g = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0), snd = socket(AF_UNIX, SOCK_DGRAM, 0);
	const char *g_msgs[] = {"to-g-1", "to-g-22"};
	if (g < 0 || snd < 0 || bind(g, (struct sockaddr *)&sg, sizeof(sg)) < 0)
		wl_fail("bound datagram socket: %s", strerror(errno));
	for (int i = 0; i < 2; i++)
		if (sendto(snd, g_msgs[i], strlen(g_msgs[i]), 0, (struct sockaddr *)&sg, sizeof(sg)) < 0)
			wl_fail("sendto: %s", strerror(errno));
	close(snd);
	struct sockaddr_in su4 = s4;
	su4.sin_port = htons((uint16_t)(port + 2));
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	if (u < 0 || bind(u, (struct sockaddr *)&su4, sizeof(su4)) < 0)
		wl_fail("udp: %s", strerror(errno));
	fill(t[0], t[1]);
	wl_ready();
	for (unsigned round = 0; !wl_stop_poll(20); round++) {
		struct pollfd p[NLISTEN + 1];
		for (int i = 0; i < NLISTEN; i++)
			p[i] = (struct pollfd){.fd = l[i], .events = POLLIN};
		p[NLISTEN] = (struct pollfd){.fd = u, .events = POLLIN};
		if (poll(p, NLISTEN + 1, 1) > 0) {
			for (int i = 0; i < NLISTEN; i++)
				if (p[i].revents & POLLIN)
					serve(l[i], kind[i]);
			if (p[NLISTEN].revents & POLLIN)
				serve_udp(u);
		}
		drain(t[1], 4 * BATCH * 8);
		fill(t[0], t[1]);
		if (round % 50 == 0)
			write_count(next_read);
	}
	uint64_t last = next_write;
	drain(t[1], 0);
	if (next_read != last)
		wl_fail("stream drained to %llu, %llu were sent", (unsigned long long)next_read, (unsigned long long)last);
	uint8_t got[REVERSE + 16];
	if (recv(t[0], got, sizeof(got), MSG_DONTWAIT) != REVERSE || memcmp(got, rev, REVERSE))
		wl_fail("the 1000 bytes queued the other way are not there");
	for (int i = 0; i < 3; i++)
		expect(d[1], "datagram to D1", d01[i]);
	for (int i = 0; i < 2; i++)
		expect(d[0], "datagram to D0", d10[i]);
	for (int i = 0; i < 2; i++)
		expect(q[1], "packet to Q1", q01[i]);
	expect(q[0], "packet to Q0", q10[0]);
	for (int i = 0; i < 2; i++)
		expect(g, "datagram to the bound socket", g_msgs[i]);
	if (recv(d[1], got, sizeof(got), MSG_DONTWAIT) >= 0 || recv(q[1], got, sizeof(got), MSG_DONTWAIT) >= 0 ||
	    recv(g, got, sizeof(got), MSG_DONTWAIT) >= 0)
		wl_fail("more queued than was sent");
	if (!intopt(l[2], SOL_SOCKET, SO_REUSEADDR) || !intopt(l[2], IPPROTO_TCP, TCP_NODELAY) ||
	    !intopt(l[3], IPPROTO_IPV6, IPV6_V6ONLY) || !intopt(l[0], SOL_SOCKET, SO_ACCEPTCONN))
		wl_fail("socket options lost");
	if (!(fcntl(t[0], F_GETFL) & O_NONBLOCK) || (fcntl(d[0], F_GETFL) & O_NONBLOCK))
		wl_fail("O_NONBLOCK changed");
	struct sockaddr_un got_name;
	socklen_t gl = sizeof(got_name);
	if (getsockname(l[0], (struct sockaddr *)&got_name, &gl) < 0 || strcmp(got_name.sun_path, su.sun_path) != 0)
		wl_fail("the unix listener's name is '%s', not '%s'", got_name.sun_path, su.sun_path);
	for (int i = 0; i < 2; i++) /* ferry peeks from offset 0 and must put the offset back */
		if (intopt(t[i], SOL_SOCKET, SO_PEEK_OFF) != -1 || intopt(d[i], SOL_SOCKET, SO_PEEK_OFF) != -1)
			wl_fail("SO_PEEK_OFF left set");
	unlink(su.sun_path);
	unlink(sg.sun_path);
	wl_ok("values=%llu served=%u udp=%u", (unsigned long long)next_read, served, udp_served);
}

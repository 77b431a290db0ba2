/* test_net.c — TCP endpoints: address parsing (IPv4, IPv6, names, any),
 * refusals of malformed addresses, listen/connect on loopback, and a connect
 * to a closed port failing at once with a message naming the address. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/tcp.h"

static void test_parse(void **state)
{
	(void)state;
	struct net_addr a;
	char err[256];
	assert_int_equal(net_parse_addr("127.0.0.1:7070", false, &a, err, sizeof(err)), 0);
	assert_int_equal(a.ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&a.ss)->sin_port), 7070);
	assert_int_equal(net_parse_addr("[::1]:80", false, &a, err, sizeof(err)), 0);
	assert_int_equal(a.ss.ss_family, AF_INET6);
	assert_int_equal(net_parse_addr("localhost:65535", false, &a, err, sizeof(err)), 0);
	assert_int_equal(net_parse_addr(":7070", true, &a, err, sizeof(err)), 0);

	const char *bad[] = {"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:12x",
			     "[::1]80", "[::1:80", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(net_parse_addr(bad[i], false, &a, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "is not HOST:PORT"));
	}
	assert_int_equal(net_parse_addr("no-such-host.invalid:80", false, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cannot resolve 'no-such-host.invalid'"));
}

static void test_loopback(void **state)
{
	(void)state;
	struct net_addr a;
	char err[256];
	assert_int_equal(net_parse_addr("127.0.0.1:0", false, &a, err, sizeof(err)), -EINVAL); /* port 0 refused */
	/* find a free port: bind to an ephemeral one and reuse its number */
	int probe = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(in);
	assert_int_equal(bind(probe, (struct sockaddr *)&in, sizeof(in)), 0);
	assert_int_equal(getsockname(probe, (struct sockaddr *)&in, &sl), 0);
	close(probe);
	char spec[64];
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", ntohs(in.sin_port));
	assert_int_equal(net_parse_addr(spec, true, &a, err, sizeof(err)), 0);

	err[0] = '\0';
	int c = net_connect(&a, 1000, err, sizeof(err)); /* nobody listens yet */
	assert_true(c < 0);
	assert_non_null(strstr(err, spec));

	int l = net_listen(&a, err, sizeof(err));
	assert_true(l >= 0);
	c = net_connect(&a, 1000, err, sizeof(err));
	assert_true(c >= 0);
	int s = accept(l, NULL, NULL);
	assert_true(s >= 0);
	assert_int_equal(net_tune(s, 5000), 0);
	assert_int_equal(write(c, "ferry", 5), 5);
	char buf[8] = {0};
	assert_int_equal(read(s, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "ferry");
	char peer[80];
	net_peer_name(s, peer, sizeof(peer));
	assert_memory_equal(peer, "127.0.0.1:", 10);
	int l2 = net_listen(&a, err, sizeof(err)); /* the port is taken */
	assert_true(l2 < 0);
	assert_non_null(strstr(err, "cannot listen on"));
	close(s);
	close(c);
	close(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_loopback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_channel.c — the migration channel: key files (hex, length, mode),
 * a TLS 1.3 PSK session carrying data both ways (small pieces and 8 MiB),
 * a wrong key refused on both ends with a reason, TLS against plain TCP
 * refused, a read that times out instead of hanging, and over TLS, a
 * record read ahead of gnutls that still counts as the peer speaking. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/channel.h"

#define BIG (8u << 20)

static char keydir[] = "/tmp/ferry-test-channel.XXXXXX";

static const char *key_file(const char *name, const char *text, mode_t mode)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", keydir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	fchmod(fd, mode);
	close(fd);
	return path;
}

static void test_key_files(void **state)
{
	(void)state;
	struct channel_key k;
	char err[256];
	assert_non_null(mkdtemp(keydir));
	assert_int_equal(channel_key_load(key_file("ok", "00112233445566778899aabbccddeeff\n", 0600), &k, err,
					  sizeof(err)), 0);
	assert_int_equal(k.len, 16);
	assert_int_equal(k.bytes[15], 0xff);
	assert_int_equal(channel_key_load(key_file("short", "0011223344556677\n", 0600), &k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "openssl rand -hex 32"));
	assert_int_equal(channel_key_load(key_file("odd", "00112233445566778899aabbccddeeff0\n", 0600), &k, err,
					  sizeof(err)), -EINVAL);
	assert_int_equal(channel_key_load(key_file("nothex", "zz112233445566778899aabbccddeeff\n", 0600), &k, err,
					  sizeof(err)), -EINVAL);
	assert_int_equal(channel_key_load(key_file("open", "00112233445566778899aabbccddeeff\n", 0644), &k, err,
					  sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "chmod 600"));
	assert_true(channel_key_load("/nonexistent/ferry.key", &k, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "/nonexistent/ferry.key"));
}

struct side {
	int fd;
	bool server;
	const struct channel_key *key;
	int timeout_ms;
	struct channel c;
	int open_rc;
	char err[256];
	bool echo; /* server: read BIG bytes, answer with their sum */
};

static void *run_side(void *arg)
{
	struct side *s = arg;
	s->open_rc = channel_open(&s->c, s->fd, s->server, s->key, s->timeout_ms, s->err, sizeof(s->err));
	if (s->open_rc < 0 || !s->echo)
		return NULL;
	uint8_t *buf = malloc(BIG);
	size_t got = 0;
	while (got < BIG) {
		ssize_t n = channel_read(&s->c, buf + got, BIG - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	uint64_t sum = 0;
	for (size_t i = 0; i < got; i++)
		sum += buf[i] * (i % 251 + 1);
	struct iovec v = {&sum, sizeof(sum)};
	channel_writev(&s->c, &v, 1);
	free(buf);
	return NULL;
}

static void pair(struct side *srv, struct side *cli, const struct channel_key *ks, const struct channel_key *kc)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	*srv = (struct side){.fd = sv[0], .server = true, .key = ks, .timeout_ms = 3000};
	*cli = (struct side){.fd = sv[1], .server = false, .key = kc, .timeout_ms = 3000};
}

static void test_session(void **state)
{
	(void)state;
	struct channel_key k = {.len = 32};
	for (int i = 0; i < 32; i++)
		k.bytes[i] = (uint8_t)(i * 7 + 1);
	for (int secure = 0; secure < 2; secure++) {
		struct side srv, cli;
		pair(&srv, &cli, secure ? &k : NULL, secure ? &k : NULL);
		srv.echo = true;
		pthread_t t;
		pthread_create(&t, NULL, run_side, &srv);
		run_side(&cli);
		assert_int_equal(cli.open_rc, 0);
		assert_string_equal(channel_kind(&cli.c), secure ? "TLS 1.3 (pre-shared key)" : "plain TCP");
		uint8_t *data = malloc(BIG);
		uint64_t want = 0;
		for (size_t i = 0; i < BIG; i++) {
			data[i] = (uint8_t)(i * 31 + (i >> 13));
			want += data[i] * (i % 251 + 1);
		}
		/* a header, a small piece and the bulk in one call, as a record goes out */
		struct iovec v[3] = {{data, 12}, {data + 12, 16}, {data + 28, BIG - 28}};
		assert_int_equal(channel_writev(&cli.c, v, 3), 0);
		uint64_t sum = 0;
		size_t got = 0;
		while (got < sizeof(sum)) {
			ssize_t n = channel_read(&cli.c, (char *)&sum + got, sizeof(sum) - got);
			assert_true(n > 0);
			got += (size_t)n;
		}
		assert_true(sum == want);
		pthread_join(t, NULL);
		assert_int_equal(srv.open_rc, 0);
		channel_close(&cli.c, true);
		channel_close(&srv.c, true);
		free(data);
	}
}

static void test_refusals(void **state)
{
	(void)state;
	struct channel_key a = {.len = 16}, b = {.len = 16};
	memset(a.bytes, 0xa5, 16);
	memset(b.bytes, 0x5a, 16);
	struct { const struct channel_key *ks, *kc; } cases[] = {{&a, &b}, {&a, NULL}, {NULL, &a}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct side srv, cli;
		pair(&srv, &cli, cases[i].ks, cases[i].kc);
		srv.timeout_ms = cli.timeout_ms = 1000; /* the mismatched side waits this long */
		pthread_t t;
		pthread_create(&t, NULL, run_side, &srv);
		run_side(&cli);
		pthread_join(t, NULL);
		print_message("case %zu: server [%s] client [%s]\n", i, srv.err, cli.err);
		if (cases[i].ks && cases[i].kc) { /* different keys: both refuse, each says why */
			assert_true(srv.open_rc < 0 && cli.open_rc < 0);
			assert_true(strlen(srv.err) > 10 && strlen(cli.err) > 10);
		} else if (cases[i].kc) { /* TLS client, plain server: the client refuses */
			assert_true(cli.open_rc < 0);
			assert_true(strlen(cli.err) > 10);
			channel_close(&srv.c, false);
		} else { /* plain client, TLS server: the server refuses */
			assert_true(srv.open_rc < 0);
			assert_true(strlen(srv.err) > 10);
			channel_close(&cli.c, false);
		}
	}
}

static void test_read_deadline(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct channel c;
	char err[256];
	assert_int_equal(channel_open(&c, sv[0], true, NULL, 200, err, sizeof(err)), 0);
	char b[4];
	assert_int_equal(channel_read(&c, b, sizeof(b)), -ETIMEDOUT); /* the peer says nothing */
	close(sv[1]);
	assert_int_equal(channel_read(&c, b, sizeof(b)), 0); /* the peer is gone */
	channel_close(&c, false);
}

/* TLS: the channel reads ahead of gnutls (tls_pull), so a record the peer
 * sent can sit in ferry's buffer, in neither the socket nor gnutls: the
 * peer has still spoken; and a silent peer still times a read out. */
static void test_tls_read_ahead(void **state)
{
	(void)state;
	struct channel_key k = {.len = 16};
	memset(k.bytes, 0x3c, 16);
	struct side srv, cli;
	pair(&srv, &cli, &k, &k);
	srv.timeout_ms = cli.timeout_ms = 500;
	pthread_t t;
	pthread_create(&t, NULL, run_side, &srv);
	run_side(&cli);
	pthread_join(t, NULL);
	assert_int_equal(cli.open_rc, 0);
	assert_int_equal(srv.open_rc, 0);
	char one[12] = "first record", two[12] = "second recrd", got[12];
	struct iovec v1 = {one, sizeof(one)}, v2 = {two, sizeof(two)};
	assert_int_equal(channel_writev(&cli.c, &v1, 1), 0);
	assert_int_equal(channel_writev(&cli.c, &v2, 1), 0);
	assert_int_equal(channel_read(&srv.c, got, sizeof(got)), sizeof(got));
	assert_memory_equal(got, one, sizeof(got));
	assert_true(channel_peer_spoke(&srv.c)); /* the second record is read ahead, not in the socket */
	assert_int_equal(channel_read(&srv.c, got, sizeof(got)), sizeof(got));
	assert_memory_equal(got, two, sizeof(got));
	assert_false(channel_peer_spoke(&srv.c));
	assert_int_equal(channel_read(&srv.c, got, sizeof(got)), -ETIMEDOUT); /* the peer says nothing */
	channel_close(&cli.c, true);
	channel_close(&srv.c, true);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* as ferry: a closed peer is an error return */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_session),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_read_deadline),
		cmocka_unit_test(test_tls_read_ahead),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", keydir);
	if (system(cmd) != 0)
		return 1;
	return r;
}

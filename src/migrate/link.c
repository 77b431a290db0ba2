/* link.c — see link.h. */
#include "link.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/util.h"
#include "../net/join.h"
#include "../net/tcp.h"
#include "../state/control.h"

#define LINGER_MS 2000 /* after a refusal: time for the peer to stop sending and read it */

static ssize_t io_read(void *ctx, void *buf, size_t len) { return channel_read(&((struct link *)ctx)->ch, buf, len); }
/* --bandwidth: each write waits until the bytes sent so far fit the rate
 * since the first write (a long-run average, so bursts of one record are
 * fine and the link is never left idle below the rate). */
static void pace(struct link *l, size_t bytes)
{
	double now = now_ms();
	if (l->paced_bytes == 0)
		l->pace_start_ms = now;
	l->paced_bytes += bytes;
	double due = l->pace_start_ms + (double)l->paced_bytes * 1e3 / (double)l->max_bps;
	if (due > now) {
		long long ns = (long long)((due - now) * 1e6);
		struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000), .tv_nsec = (long)(ns % 1000000000)};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
}

/* On the sending side, a peer that speaks while this side streams is
 * refusing: stop writing and let the caller read why (-ECONNABORTED). */
static int io_writev(void *ctx, const struct iovec *iov, int n)
{
	struct link *l = ctx;
	if (l->sender && channel_peer_spoke(&l->ch))
		return -ECONNABORTED;
	if (l->max_bps) {
		size_t bytes = 0;
		for (int i = 0; i < n; i++)
			bytes += iov[i].iov_len;
		pace(l, bytes);
	}
	return channel_writev(&l->ch, iov, n);
}

static void link_init_streams(struct link *l)
{
	l->io = (struct fr_io){.read = io_read, .writev = io_writev, .ctx = l};
	stream_init_io(&l->out, &l->io);
	stream_init_io(&l->in, &l->io);
	l->open = true;
}

int link_connect(struct link *l, const char *to, const struct channel_key *key, int timeout_ms, char *err,
		 size_t errlen)
{
	*l = (struct link){0};
	struct net_addr a;
	int r = net_parse_addr(to, false, &a, err, errlen);
	if (r < 0)
		return r;
	int fd = net_connect(&a, timeout_ms, err, errlen);
	if (fd < 0)
		return fd;
	net_tune(fd, timeout_ms);
	net_peer_name(fd, l->peer, sizeof(l->peer));
	char why[256];
	if ((r = channel_open(&l->ch, fd, false, key, timeout_ms, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "%s: %s", l->peer, why);
		return r;
	}
	l->sender = true;
	link_init_streams(l);
	return 0;
}

int link_peer_of(const struct link *l, struct link_peer *p)
{
	*p = (struct link_peer){.addr = {.len = sizeof(p->addr.ss)}, .key = l->ch.key, .timeout_ms = l->ch.timeout_ms};
	if (getpeername(l->ch.fd, (struct sockaddr *)&p->addr.ss, &p->addr.len) < 0)
		return -errno;
	snprintf(p->addr.text, sizeof(p->addr.text), "%s", l->peer);
	return 0;
}

bool link_lost(int e)
{
	return e == -ETIMEDOUT || e == -ENODATA || e == -ECONNRESET || e == -EPIPE || e == -ECONNABORTED || e == -EIO ||
	       e == -ENOTCONN || e == -EHOSTUNREACH || e == -ENETUNREACH;
}

int link_join(struct link *l, const struct link_peer *p, const uint8_t *token, enum join_kind kind, char *err,
	      size_t errlen)
{
	*l = (struct link){0};
	int fd = net_connect(&p->addr, p->timeout_ms, err, errlen);
	if (fd < 0)
		return fd;
	net_tune(fd, p->timeout_ms);
	net_peer_name(fd, l->peer, sizeof(l->peer));
	int r = join_send_prefix(fd, token, kind);
	char why[256];
	if (r < 0) {
		close(fd);
		snprintf(err, errlen, "%s: cannot send the session token: %s", l->peer, strerror(-r));
		return r;
	}
	if ((r = channel_open(&l->ch, fd, false, p->key, p->timeout_ms, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "%s: %s", l->peer, why);
		return r;
	}
	link_init_streams(l);
	return 0;
}

int link_accept(struct link *l, int fd, const struct channel_key *key, int timeout_ms, char *err, size_t errlen)
{
	*l = (struct link){0};
	net_tune(fd, timeout_ms);
	net_peer_name(fd, l->peer, sizeof(l->peer));
	char why[256];
	int r = channel_open(&l->ch, fd, true, key, timeout_ms, why, sizeof(why));
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", l->peer, why);
		return r;
	}
	link_init_streams(l);
	return 0;
}

int link_put(struct link *l, uint16_t type, struct buf *b)
{
	int r = b->oom ? -ENOMEM : stream_write_record(&l->out, type, b->data, b->len);
	b->len = 0;
	return r;
}

void link_io_error(struct link *l, int e, const char *doing, char *err, size_t errlen)
{
	if (e == -EINTR)
		snprintf(err, errlen, "%s: interrupted by a signal", doing);
	else if (e == -ETIMEDOUT)
		snprintf(err, errlen, "%s: %s did not answer within %d s", doing, l->peer, l->ch.timeout_ms / 1000);
	else if (e == -ENODATA || e == -ECONNRESET || e == -EPIPE || e == -ECONNABORTED)
		snprintf(err, errlen, "%s: %s closed the connection", doing, l->peer);
	else if (e == -EBADMSG && l->in.err[0])
		snprintf(err, errlen, "%s: %s", doing, l->in.err);
	else
		snprintf(err, errlen, "%s: %s", doing, strerror(-e));
}

int link_expect_payload(struct link *l, uint16_t type, const char *what, const uint8_t **p, uint32_t *len,
			char *err, size_t errlen)
{
	uint16_t got;
	char doing[96];
	snprintf(doing, sizeof(doing), "waiting for %s", fr_record_name(type));
	int r = stream_read_record(&l->in, &got, p, len);
	if (r < 0) {
		link_io_error(l, r, doing, err, errlen);
		return r;
	}
	if (got == REC_REFUSE) {
		char *reason = NULL;
		if (decode_refuse(*p, *len, &reason) < 0)
			snprintf(err, errlen, "%s refused %s (its reason was unreadable)", l->peer, what);
		else
			snprintf(err, errlen, "%s refused %s: %s", l->peer, what, reason);
		free(reason);
		return -ECONNREFUSED;
	}
	if (got != type) {
		snprintf(err, errlen, "%s: %s sent a %s record", doing, l->peer, fr_record_name(got));
		return -EPROTO;
	}
	return 0;
}

void link_malformed(struct link *l, uint16_t type, char *err, size_t errlen)
{
	snprintf(err, errlen, "waiting for %s: a malformed %s record from %s", fr_record_name(type),
		 fr_record_name(type), l->peer);
}

int link_expect(struct link *l, uint16_t type, uint64_t *v, const char *what, char *err, size_t errlen)
{
	const uint8_t *p;
	uint32_t len;
	int r = link_expect_payload(l, type, what, &p, &len, err, errlen);
	if (r < 0)
		return r;
	if (v && decode_u64_record(p, len, v) < 0) {
		link_malformed(l, type, err, errlen);
		return -EBADMSG;
	}
	if (!v && len) {
		snprintf(err, errlen, "waiting for %s: a %s record from %s with an unexpected payload", fr_record_name(type),
			 fr_record_name(type), l->peer);
		return -EBADMSG;
	}
	return 0;
}

void link_refuse(struct link *l, const char *reason)
{
	struct buf b = {0};
	encode_refuse(&b, reason);
	if (link_put(l, REC_REFUSE, &b) == 0)
		channel_linger(&l->ch, LINGER_MS);
	buf_free(&b);
}

void link_close(struct link *l, bool graceful)
{
	if (!l->open)
		return;
	stream_release(&l->in);
	stream_release(&l->out);
	channel_close(&l->ch, graceful);
	l->open = false;
}

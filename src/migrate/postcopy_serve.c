/* postcopy_serve.c — A's side of post-copy (postcopy.h): requests first,
 * the background push otherwise, from the stopped copy of the process. */
#include "postcopy.h"

#include <errno.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../common/interrupt.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../state/codec.h"
#include "../state/control.h"
#include "lazy_index.h"

#define PUSH_PAGES 8            /* background chunk: a request waits for at most one */
#define NOTSENT_LOWAT (32 << 10) /* unsent bytes the socket may queue ahead of a request */
#define QUEUE_MAX 4096
#define SNDBUF_MIN (64 << 10)
#define SNDBUF_MAX (32 << 20)

struct serve {
	struct link *l;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct fr_discard queue[QUEUE_MAX]; /* requests not served yet */
	size_t head, n;
	bool complete, failed;
	uint64_t complete_pages;
	char err[256];
	uint64_t requests;
};

/* B's records: PAGE_REQ (queued), COMPLETE, or the end. */
static void *read_requests(void *arg)
{
	struct serve *sv = arg;
	long page = sysconf(_SC_PAGESIZE);
	for (;;) {
		uint16_t type;
		const uint8_t *p;
		uint32_t len;
		int r = stream_read_record(&sv->l->in, &type, &p, &len);
		pthread_mutex_lock(&sv->lock);
		bool stop = false;
		if (r == -ETIMEDOUT && !sv->failed) {
			/* B asks only when its process faults: silence is fine */
		} else if (r < 0) {
			snprintf(sv->err, sizeof(sv->err), "the connection failed during post-copy: %s",
				 sv->l->in.err[0] ? sv->l->in.err : strerror(-r));
			sv->failed = stop = true;
		} else if (type == REC_PAGE_REQ) {
			struct fr_discard d;
			if (decode_discard(p, len, (uint32_t)page, &d) < 0) {
				snprintf(sv->err, sizeof(sv->err), "%s sent a malformed page request", sv->l->peer);
				sv->failed = stop = true;
			} else if (sv->n < QUEUE_MAX) {
				sv->queue[(sv->head + sv->n++) % QUEUE_MAX] = d;
				sv->requests++;
			} /* a full queue drops the request: the push brings the page anyway */
		} else if (type == REC_COMPLETE && decode_u64_record(p, len, &sv->complete_pages) == 0) {
			sv->complete = stop = true;
		} else if (type == REC_REFUSE) {
			char *why = NULL;
			decode_refuse(p, len, &why);
			snprintf(sv->err, sizeof(sv->err), "%s gave up during post-copy: %s", sv->l->peer, why ? why : "?");
			free(why);
			sv->failed = stop = true;
		} else {
			snprintf(sv->err, sizeof(sv->err), "%s sent a %s record during post-copy", sv->l->peer,
				 fr_record_name(type));
			sv->failed = stop = true;
		}
		pthread_cond_broadcast(&sv->cond);
		pthread_mutex_unlock(&sv->lock);
		if (stop)
			return NULL;
	}
}

/* Sends the unsent pages of [addr, addr + n pages) that are lazy; *sent
 * counts them. */
static int send_range(struct serve *sv, struct lazy_index *ix, pid_t pid, uint8_t *buf, uint64_t addr, uint64_t n,
		      uint64_t *sent)
{
	long page = ix->page;
	for (uint64_t i = 0; i < n;) {
		int64_t k = lazy_index_of(ix, addr + i * (uint64_t)page);
		if (k < 0 || ix->state[k]) {
			i++;
			continue;
		}
		uint64_t j = i + 1;
		while (j < n && j - i < PUSH_PAGES && lazy_index_of(ix, addr + j * (uint64_t)page) == k + (int64_t)(j - i) &&
		       !ix->state[k + (int64_t)(j - i)])
			j++;
		uint64_t at = addr + i * (uint64_t)page;
		size_t bytes = (size_t)(j - i) * (size_t)page;
		struct iovec lo = {.iov_base = buf + sizeof(struct fr_pages_hdr), .iov_len = bytes};
		struct iovec ro = {.iov_base = (void *)at, .iov_len = bytes};
		if (process_vm_readv(pid, &lo, 1, &ro, 1, 0) != (ssize_t)bytes)
			return errno ? neg_errno() : -EIO;
		struct fr_pages_hdr h = {.addr = at, .npages = (uint32_t)(j - i)};
		memcpy(buf, &h, sizeof(h));
		int r = stream_write_record(&sv->l->out, REC_PAGES, buf, sizeof(h) + bytes);
		if (r < 0)
			return r;
		for (uint64_t q = 0; q < j - i; q++)
			ix->state[k + (int64_t)q] = 1;
		*sent += j - i;
		i = j;
	}
	return 0;
}

/* Bulk data in flight sits in every queue on the way (a shaped link's holds
 * 100 ms and more): a request's answer would wait behind all of it. The
 * socket's buffer (unsent + unacknowledged) is cut to twice the path's
 * bandwidth-delay product as TCP measured it while the state crossed, so
 * the link stays full and its queues stay short. */
static void bound_in_flight(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 || !ti.tcpi_min_rtt || !ti.tcpi_delivery_rate)
		return;
	uint64_t bdp = (uint64_t)ti.tcpi_min_rtt * ti.tcpi_delivery_rate / 1000000; /* µs × bytes/s */
	int buf = (int)MIN(MAX(2 * bdp, (uint64_t)SNDBUF_MIN), (uint64_t)SNDBUF_MAX);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	pr_debug("post-copy: min RTT %u us, %llu bytes/s: send buffer %d bytes", ti.tcpi_min_rtt,
		 (unsigned long long)ti.tcpi_delivery_rate, buf);
}

int postcopy_serve(struct link *l, pid_t pid, const struct range_list *lazy, struct postcopy_stats *st, char *err,
		   size_t errlen)
{
	double t0 = now_ms();
	struct lazy_index ix;
	int r = lazy_index_init(&ix, lazy);
	uint8_t *buf = malloc(sizeof(struct fr_pages_hdr) + (size_t)PUSH_PAGES * (size_t)ix.page);
	if (r < 0 || !buf) {
		lazy_index_free(&ix);
		free(buf);
		snprintf(err, errlen, "out of memory for post-copy");
		return -ENOMEM;
	}
	st->pages_total = ix.total;
	l->sender = false; /* B speaks while this side streams now: requests, not a refusal */
	int one = NOTSENT_LOWAT;
	setsockopt(l->ch.fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &one, sizeof(one));
	bound_in_flight(l->ch.fd);
	struct serve sv = {.l = l, .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	pthread_t reader;
	if (pthread_create(&reader, NULL, read_requests, &sv) != 0) {
		free(buf);
		lazy_index_free(&ix);
		snprintf(err, errlen, "cannot start the post-copy reader");
		return -EAGAIN;
	}
	uint64_t cursor = 0; /* index of the next page the push looks at */
	uint64_t left = ix.total;
	while (r == 0 && left > 0) {
		pthread_mutex_lock(&sv.lock);
		bool have = sv.n > 0, failed = sv.failed;
		struct fr_discard d = have ? sv.queue[sv.head] : (struct fr_discard){0};
		if (have)
			sv.head = (sv.head + 1) % QUEUE_MAX, sv.n--;
		pthread_mutex_unlock(&sv.lock);
		if (failed || interrupted()) {
			r = failed ? -EPIPE : -EINTR;
			break;
		}
		uint64_t sent = 0;
		if (have) {
			r = send_range(&sv, &ix, pid, buf, d.addr, d.npages, &sent);
			st->pages_requested += sent;
			int64_t k = lazy_index_of(&ix, d.addr + (uint64_t)d.npages * (uint64_t)ix.page);
			if (k >= 0)
				cursor = (uint64_t)k; /* the push goes on near the fault */
		} else {
			while (ix.state[cursor % ix.total])
				cursor++;
			uint64_t k = cursor % ix.total;
			r = send_range(&sv, &ix, pid, buf, lazy_index_addr(&ix, k), PUSH_PAGES, &sent);
			st->pages_pushed += sent;
		}
		left -= sent;
		st->bytes += sent * (uint64_t)ix.page;
	}
	struct buf b = {0};
	if (r == 0) {
		struct fr_done done = {.pages = st->pages_requested + st->pages_pushed};
		encode_done(&b, &done);
		r = link_put(l, REC_DONE, &b);
	}
	pthread_mutex_lock(&sv.lock);
	while (r == 0 && !sv.complete && !sv.failed)
		pthread_cond_wait(&sv.cond, &sv.lock);
	if (r == 0 && sv.failed)
		r = -EPIPE;
	pthread_mutex_unlock(&sv.lock);
	if (r < 0) {
		if (sv.err[0])
			snprintf(err, errlen, "%s", sv.err);
		else
			link_io_error(l, r, "serving post-copy pages", err, errlen);
		shutdown(l->ch.fd, SHUT_RDWR); /* the reader stops */
	}
	pthread_join(reader, NULL);
	st->requests = sv.requests;
	st->t_complete_ms = now_ms() - t0;
	buf_free(&b);
	free(buf);
	lazy_index_free(&ix);
	return r;
}

/* postcopy_serve.c — A's side of post-copy (postcopy.h), from the stopped
 * copy of the process. Threads:
 *   - the caller pushes every page not sent yet, in chunks, from where the
 *     last request ended (--no-push: only while B has asked for nothing for
 *     PUSH_IDLE_MS);
 *   - a server answers B's requests as they come, on the urgent connection
 *     once it is up (no answer queues behind pushed pages), else on the
 *     main one between two chunks;
 *   - a reader per connection queues B's requests and takes COMPLETE;
 *   - the urgent connection is made (link_join) while pages already flow.
 * Each page is claimed once (an atomic flag per page), by whichever thread
 * sends it first. A connection that breaks ends the session; with
 * --retry-for, the main connection is made again (link_join, JOIN_RESUME)
 * until the window closes, B's RESUME says which pages it holds, and a new
 * session sends the others (without an urgent connection). */
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

#define PUSH_PAGES 8             /* background chunk: a request waits for at most one (one connection) */
#define ANSWER_PAGES 32          /* a record of an answer */
#define NOTSENT_LOWAT (32 << 10) /* unsent bytes a socket may queue ahead of a request */
#define QUEUE_MAX 4096
#define SNDBUF_MIN (64 << 10)
#define SNDBUF_MAX (32 << 20)
#define PUSH_IDLE_MS 1000 /* --no-push: B asked for nothing this long, the rest is pushed */
#define WAIT_SLICE_MS 100
#define RETRY_PAUSE_MS 500 /* between two attempts to connect again */

struct serve {
	struct link *l;
	struct link urgent;
	bool urgent_up; /* atomic: answers go on urgent */
	struct link_peer peer; /* where to connect again */
	uint32_t flags; /* FR_PC_* */
	pid_t pid;
	struct lazy_index ix; /* state: 1 = claimed by a sender */
	long page;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct fr_discard queue[QUEUE_MAX]; /* requests not served yet */
	size_t head, n;
	bool complete, failed, ending;
	bool lost; /* a connection broke: the session ends (and may be made again) */
	bool over; /* the urgent connection is not wanted any more */
	uint64_t complete_pages;
	uint64_t sent; /* pages written */
	uint64_t hint; /* index after the last request: where the push goes on */
	double last_request_ms;
	char err[256];
	uint64_t requests, answered;
	double urgent_ms; /* time to bring the urgent connection up (0: not up) */
	uint8_t token[FR_SESSION_TOKEN_LEN];
	struct postcopy_stats *st; /* its counters kept live, under lock, for the series */
};

static void serve_fail(struct serve *sv, const char *fmt, const char *what) /* sv->lock held */
{
	if (!sv->failed)
		snprintf(sv->err, sizeof(sv->err), fmt, what);
	sv->failed = true;
}

/* Connection l failed with e: lost if it broke (sv->lock held). */
static void serve_io_fail(struct serve *sv, struct link *l, int e, const char *doing)
{
	if (!sv->failed) {
		link_io_error(l, e, doing, sv->err, sizeof(sv->err));
		sv->lost = link_lost(e);
	}
	sv->failed = true;
}

/* B's records on one connection: PAGE_REQ (queued), COMPLETE (main only),
 * or the end. */
static void read_requests(struct serve *sv, struct link *l, bool main)
{
	for (;;) {
		uint16_t type;
		const uint8_t *p;
		uint32_t len;
		int r = stream_read_record(&l->in, &type, &p, &len);
		pthread_mutex_lock(&sv->lock);
		bool stop = false;
		if (r == -ETIMEDOUT && !sv->failed && !sv->ending) {
			/* B asks only when its process faults: silence is fine */
		} else if (r < 0) {
			/* the urgent connection ends when B has every page */
			if (main || !(sv->ending || sv->complete || sv->over))
				serve_io_fail(sv, l, r, "the connection failed during post-copy");
			stop = true;
		} else if (type == REC_PAGE_REQ) {
			struct fr_discard d;
			if (decode_discard(p, len, (uint32_t)sv->page, &d) < 0) {
				serve_fail(sv, "%s sent a malformed page request", sv->l->peer);
				stop = true;
			} else if (sv->n < QUEUE_MAX) {
				sv->queue[(sv->head + sv->n++) % QUEUE_MAX] = d;
				sv->requests++;
				sv->last_request_ms = now_ms();
			} /* a full queue drops the request: the push brings the page anyway */
		} else if (main && type == REC_COMPLETE && decode_u64_record(p, len, &sv->complete_pages) == 0) {
			sv->complete = stop = true;
		} else if (type == REC_REFUSE) {
			char *why = NULL;
			decode_refuse(p, len, &why);
			snprintf(sv->err, sizeof(sv->err), "%s gave up during post-copy: %s", sv->l->peer, why ? why : "?");
			free(why);
			sv->failed = stop = true;
		} else {
			serve_fail(sv, "%s sent an unexpected record during post-copy", sv->l->peer);
			stop = true;
		}
		pthread_cond_broadcast(&sv->cond);
		pthread_mutex_unlock(&sv->lock);
		if (stop)
			return;
	}
}

static void *read_main(void *arg)
{
	struct serve *sv = arg;
	read_requests(sv, sv->l, true);
	return NULL;
}

/* The urgent connection: made, then read for requests. A connection that
 * cannot be made is no failure: answers stay on the main one. */
static void *run_urgent(void *arg)
{
	struct serve *sv = arg;
	double t0 = now_ms();
	char why[256];
	if (link_join(&sv->urgent, &sv->peer, sv->token, JOIN_URGENT, why, sizeof(why)) < 0) {
		pthread_mutex_lock(&sv->lock);
		bool late = sv->ending || sv->complete || sv->over; /* every page went already: B closed its end */
		pthread_mutex_unlock(&sv->lock);
		if (late)
			pr_debug("post-copy: the urgent connection came too late to be used: %s", why);
		else
			pr_warn("post-copy goes on with one connection: %s", why);
		return NULL;
	}
	int lowat = NOTSENT_LOWAT;
	setsockopt(sv->urgent.ch.fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
	sv->urgent.sender = false;
	pthread_mutex_lock(&sv->lock);
	bool late = sv->over; /* post-copy ended meanwhile */
	if (!late) {
		sv->urgent_ms = now_ms() - t0;
		__atomic_store_n(&sv->urgent_up, true, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&sv->lock);
	if (late)
		return NULL; /* closed by postcopy_serve */
	pr_info("post-copy: urgent connection up in %.1f ms", now_ms() - t0);
	read_requests(sv, &sv->urgent, false);
	return NULL;
}

/* Claims and sends the unsent lazy pages of [addr, addr + n pages) on l,
 * at most `chunk` to a record; *sent counts them. */
static int send_range(struct serve *sv, struct link *l, uint8_t *buf, uint64_t addr, uint64_t n, uint64_t chunk,
		      uint64_t *sent)
{
	struct lazy_index *ix = &sv->ix;
	uint64_t page = (uint64_t)sv->page;
	for (uint64_t i = 0; i < n;) {
		int64_t k = lazy_index_of(ix, addr + i * page);
		if (k < 0 || __atomic_exchange_n(&ix->state[k], 1, __ATOMIC_ACQ_REL)) {
			i++;
			continue;
		}
		uint64_t j = i + 1;
		while (j < n && j - i < chunk && lazy_index_of(ix, addr + j * page) == k + (int64_t)(j - i) &&
		       !__atomic_exchange_n(&ix->state[k + (int64_t)(j - i)], 1, __ATOMIC_ACQ_REL))
			j++;
		uint64_t at = addr + i * page;
		size_t bytes = (size_t)((j - i) * page);
		struct iovec lo = {.iov_base = buf + sizeof(struct fr_pages_hdr), .iov_len = bytes};
		struct iovec ro = {.iov_base = (void *)at, .iov_len = bytes};
		if (process_vm_readv(sv->pid, &lo, 1, &ro, 1, 0) != (ssize_t)bytes)
			return errno ? neg_errno() : -EIO;
		struct fr_pages_hdr h = {.addr = at, .npages = (uint32_t)(j - i)};
		memcpy(buf, &h, sizeof(h));
		int r = stream_write_record(&l->out, REC_PAGES, buf, sizeof(h) + bytes);
		if (r < 0)
			return r;
		*sent += j - i;
		i = j;
	}
	return 0;
}

static void count_sent(struct serve *sv, uint64_t n, bool answered)
{
	pthread_mutex_lock(&sv->lock);
	sv->sent += n;
	*(answered ? &sv->st->pages_requested : &sv->st->pages_pushed) += n;
	sv->st->bytes += n * (uint64_t)sv->page;
	postcopy_tick(sv->st, false, false);
	pthread_cond_broadcast(&sv->cond);
	pthread_mutex_unlock(&sv->lock);
}

/* The next request, or false when the migration ends or fails. */
static bool next_request(struct serve *sv, struct fr_discard *d)
{
	pthread_mutex_lock(&sv->lock);
	while (!sv->n && !sv->ending && !sv->failed)
		pthread_cond_wait(&sv->cond, &sv->lock);
	bool have = sv->n > 0 && !sv->failed;
	if (have) {
		*d = sv->queue[sv->head];
		sv->head = (sv->head + 1) % QUEUE_MAX, sv->n--;
	}
	pthread_mutex_unlock(&sv->lock);
	return have;
}

/* Answers requests, on the urgent connection when it is up. */
static void *answer(void *arg)
{
	struct serve *sv = arg;
	uint8_t *buf = malloc(sizeof(struct fr_pages_hdr) + (size_t)ANSWER_PAGES * (size_t)sv->page);
	struct fr_discard d;
	while (buf && next_request(sv, &d)) {
		bool urgent = __atomic_load_n(&sv->urgent_up, __ATOMIC_ACQUIRE);
		int64_t asked = lazy_index_of(&sv->ix, d.addr); /* the fault's page: urgent if not claimed yet */
		bool fresh = asked >= 0 && !__atomic_load_n(&sv->ix.state[asked], __ATOMIC_ACQUIRE);
		uint64_t sent = 0;
		int r = send_range(sv, urgent ? &sv->urgent : sv->l, buf, d.addr, d.npages, ANSWER_PAGES, &sent);
		pthread_mutex_lock(&sv->lock);
		int64_t k = lazy_index_of(&sv->ix, d.addr + (uint64_t)d.npages * (uint64_t)sv->page);
		if (k >= 0)
			sv->hint = (uint64_t)k; /* the push goes on near the fault */
		sv->answered += sent;
		sv->st->pages_urgent += fresh && sent;
		sv->st->faults++;
		if (r < 0)
			serve_io_fail(sv, urgent ? &sv->urgent : sv->l, r, "cannot answer a page request");
		pthread_mutex_unlock(&sv->lock);
		count_sent(sv, sent, true);
	}
	if (!buf) {
		pthread_mutex_lock(&sv->lock);
		serve_fail(sv, "%s", "out of memory for post-copy");
		pthread_cond_broadcast(&sv->cond);
		pthread_mutex_unlock(&sv->lock);
	}
	free(buf);
	return NULL;
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
	int lowat = NOTSENT_LOWAT;
	setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 || !ti.tcpi_min_rtt || !ti.tcpi_delivery_rate)
		return;
	uint64_t bdp = (uint64_t)ti.tcpi_min_rtt * ti.tcpi_delivery_rate / 1000000; /* µs × bytes/s */
	int buf = (int)MIN(MAX(2 * bdp, (uint64_t)SNDBUF_MIN), (uint64_t)SNDBUF_MAX);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	pr_debug("post-copy: min RTT %u us, %llu bytes/s: send buffer %d bytes", ti.tcpi_min_rtt,
		 (unsigned long long)ti.tcpi_delivery_rate, buf);
}

/* --no-push: may the push go on? Only once B has asked for nothing for a
 * while (the migration must end even if the process never touches a page). */
static bool push_allowed(struct serve *sv)
{
	if (!(sv->flags & FR_PC_NO_PUSH))
		return true;
	pthread_mutex_lock(&sv->lock);
	double idle = now_ms() - sv->last_request_ms;
	if (idle < PUSH_IDLE_MS && !sv->failed) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		long long ns = ts.tv_nsec + (long long)MIN(PUSH_IDLE_MS - idle, (double)WAIT_SLICE_MS) * 1000000;
		ts.tv_sec += (time_t)(ns / 1000000000), ts.tv_nsec = (long)(ns % 1000000000);
		pthread_cond_timedwait(&sv->cond, &sv->lock, &ts);
		idle = now_ms() - sv->last_request_ms;
	}
	pthread_mutex_unlock(&sv->lock);
	return idle >= PUSH_IDLE_MS;
}

/* The caller's loop: every page not claimed yet, from the last request's end. */
static int push(struct serve *sv)
{
	uint8_t *buf = malloc(sizeof(struct fr_pages_hdr) + (size_t)PUSH_PAGES * (size_t)sv->page);
	if (!buf)
		return -ENOMEM;
	uint64_t total = sv->ix.total, cursor = 0, scanned = 0;
	int r = 0;
	while (r == 0 && scanned < total) {
		pthread_mutex_lock(&sv->lock);
		bool failed = sv->failed;
		if (sv->hint != UINT64_MAX)
			cursor = sv->hint, sv->hint = UINT64_MAX, scanned = 0;
		pthread_mutex_unlock(&sv->lock);
		if (failed || interrupted()) {
			r = failed ? -EPIPE : -EINTR;
			break;
		}
		if (!push_allowed(sv))
			continue;
		uint64_t k = cursor % total;
		if (__atomic_load_n(&sv->ix.state[k], __ATOMIC_ACQUIRE)) {
			cursor++, scanned++;
			continue;
		}
		uint64_t sent = 0;
		r = send_range(sv, sv->l, buf, lazy_index_addr(&sv->ix, k), PUSH_PAGES, PUSH_PAGES, &sent);
		count_sent(sv, sent, false);
		cursor++, scanned = 0;
	}
	free(buf);
	if (r < 0 && r != -EPIPE && r != -EINTR) {
		pthread_mutex_lock(&sv->lock);
		serve_io_fail(sv, sv->l, r, "cannot push post-copy pages");
		pthread_mutex_unlock(&sv->lock);
		r = -EPIPE;
	}
	/* every page is claimed: wait until the answers are written too */
	pthread_mutex_lock(&sv->lock);
	while (r == 0 && sv->sent < total && !sv->failed)
		pthread_cond_wait(&sv->cond, &sv->lock);
	if (r == 0 && sv->failed)
		r = -EPIPE;
	pthread_mutex_unlock(&sv->lock);
	return r;
}

/* SESSION: B's token for the urgent connection (all zeros: B has none). */
static bool read_session(struct serve *sv, char *err, size_t errlen, int *r)
{
	const uint8_t *p;
	uint32_t len;
	if ((*r = link_expect_payload(sv->l, REC_SESSION, "the post-copy", &p, &len, err, errlen)) < 0)
		return false;
	if (decode_session(p, len, sv->token) < 0) {
		link_malformed(sv->l, REC_SESSION, err, errlen);
		*r = -EBADMSG;
		return false;
	}
	static const uint8_t none[FR_SESSION_TOKEN_LEN];
	return memcmp(sv->token, none, sizeof(none)) != 0;
}

/* One session on sv->l: until B's COMPLETE (0), or a failure (sv->err,
 * sv->lost if a connection broke). */
static int serve_session(struct serve *sv, bool first, bool want_urgent)
{
	sv->n = 0, sv->complete = sv->failed = sv->ending = sv->lost = sv->over = false;
	sv->hint = UINT64_MAX, sv->err[0] = '\0';
	sv->l->sender = false; /* B speaks while this side streams now: requests, not a refusal */
	bound_in_flight(sv->l->ch.fd);
	pthread_t reader, server, urgent;
	bool have_reader = pthread_create(&reader, NULL, read_main, sv) == 0;
	bool have_server = have_reader && pthread_create(&server, NULL, answer, sv) == 0;
	bool have_urgent = have_server && first && want_urgent && pthread_create(&urgent, NULL, run_urgent, sv) == 0;
	int r = 0;
	if (!have_server) {
		snprintf(sv->err, sizeof(sv->err), "cannot start the post-copy threads");
		r = -EAGAIN;
	}
	if (r == 0)
		r = push(sv);
	pthread_mutex_lock(&sv->lock);
	sv->ending = true; /* the server stops; the urgent connection may end */
	pthread_cond_broadcast(&sv->cond);
	pthread_mutex_unlock(&sv->lock);
	if (have_server)
		pthread_join(server, NULL);
	struct buf b = {0};
	if (r == 0) {
		struct fr_done done = {.pages = sv->sent};
		encode_done(&b, &done);
		if ((r = link_put(sv->l, REC_DONE, &b)) < 0) {
			pthread_mutex_lock(&sv->lock);
			serve_io_fail(sv, sv->l, r, "cannot send DONE");
			pthread_mutex_unlock(&sv->lock);
		}
	}
	buf_free(&b);
	pthread_mutex_lock(&sv->lock);
	while (r == 0 && !sv->complete && !sv->failed)
		pthread_cond_wait(&sv->cond, &sv->lock);
	if (r == 0 && sv->failed)
		r = -EPIPE;
	pthread_mutex_unlock(&sv->lock);
	if (r < 0)
		shutdown(sv->l->ch.fd, SHUT_RDWR); /* the reader stops */
	if (have_reader)
		pthread_join(reader, NULL);
	if (have_urgent) {
		pthread_mutex_lock(&sv->lock);
		sv->over = true;
		if (sv->urgent_up)
			shutdown(sv->urgent.ch.fd, SHUT_RDWR); /* B has every page: its reader stops */
		pthread_mutex_unlock(&sv->lock);
		pthread_join(urgent, NULL);
		if (sv->urgent.open)
			link_close(&sv->urgent, false);
		__atomic_store_n(&sv->urgent_up, false, __ATOMIC_RELEASE);
	}
	return r;
}

/* B's RESUME on a connection made again: the pages it holds are sent, the
 * others are not (whatever was in flight on the broken one is lost). */
static int take_resume(struct serve *sv, struct link *l, char *err, size_t errlen)
{
	const uint8_t *p;
	uint32_t len;
	int r = link_expect_payload(l, REC_RESUME, "the connection made again", &p, &len, err, errlen);
	if (r < 0)
		return r;
	uint64_t total = sv->ix.total;
	uint8_t *bits = malloc((size_t)(total + 7) / 8 + 1);
	if (!bits)
		return -ENOMEM;
	if (decode_resume(p, len, total, bits) < 0) {
		link_malformed(l, REC_RESUME, err, errlen);
		free(bits);
		return -EPROTO;
	}
	uint64_t have = 0;
	for (uint64_t k = 0; k < total; k++) {
		uint8_t in = (bits[k / 8] >> (k % 8)) & 1;
		sv->ix.state[k] = in;
		have += in;
	}
	free(bits);
	sv->sent = have;
	return 0;
}

/* The main connection again, within the retry window; 0 or -errno. */
static int reconnect(struct serve *sv, struct link **fresh, double deadline, char *err, size_t errlen)
{
	char why[256] = "";
	while (now_ms() < deadline && !interrupted()) {
		struct link *l = calloc(1, sizeof(*l));
		if (!l)
			return -ENOMEM;
		int r = link_join(l, &sv->peer, sv->token, JOIN_RESUME, why, sizeof(why));
		if (r == 0) {
			l->sender = false;
			if ((r = take_resume(sv, l, why, sizeof(why))) == 0) {
				*fresh = l;
				return 0;
			}
			link_close(l, false);
		}
		free(l);
		pr_info("post-copy: connecting again failed: %s", why);
		if (r == -EPROTO || r == -EBADMSG || r == -ENOMEM || r == -ECONNREFUSED)
			break; /* B answered, but not with a RESUME: trying again will not help */
		usleep(RETRY_PAUSE_MS * 1000);
	}
	snprintf(err, errlen, "%s", why[0] ? why : "interrupted");
	return -ETIMEDOUT;
}

int postcopy_serve(struct link *l, pid_t pid, const struct range_list *lazy, const struct postcopy_serve_opts *o,
		   struct postcopy_stats *st, char *err, size_t errlen)
{
	double t0 = now_ms();
	struct serve *sv = calloc(1, sizeof(*sv));
	if (!sv || lazy_index_init(&sv->ix, lazy) < 0) {
		if (sv)
			lazy_index_free(&sv->ix);
		free(sv);
		snprintf(err, errlen, "out of memory for post-copy");
		return -ENOMEM;
	}
	*sv = (struct serve){.l = l, .flags = o->flags, .pid = pid, .ix = sv->ix, .page = sv->ix.page,
			     .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .hint = UINT64_MAX,
			     .last_request_ms = now_ms(), .st = st};
	st->pages_total = sv->ix.total;
	postcopy_tick(st, true, false);
	int r = link_peer_of(l, &sv->peer);
	bool want_urgent = false;
	if (r == 0 && (!(o->flags & FR_PC_NO_URGENT) || o->retry_for_ms)) {
		bool have = read_session(sv, err, errlen, &r);
		want_urgent = have && !(o->flags & FR_PC_NO_URGENT);
		if (r == 0 && !have && o->retry_for_ms)
			pr_warn("%s cannot take a connection made again: a broken link will end the migration", l->peer);
	}
	struct link *fresh = NULL; /* the main connection made again */
	for (bool first = true; r == 0; first = false) {
		r = serve_session(sv, first, want_urgent);
		if (r == 0 || !sv->lost || !o->retry_for_ms || sv->complete)
			break;
		pr_info("post-copy: %s; connecting again for up to %d s", sv->err, o->retry_for_ms / 1000);
		st->reconnects++;
		double t_lost = now_ms();
		struct link *again = NULL;
		char why[256];
		if (reconnect(sv, &again, t_lost + o->retry_for_ms, why, sizeof(why)) < 0) {
			size_t n = strlen(sv->err);
			snprintf(sv->err + n, sizeof(sv->err) - n, "; connecting again for %d s failed: %s",
				 o->retry_for_ms / 1000, why);
			break;
		}
		pr_info("post-copy: connected again after %.0f ms; %llu of %llu pages were in place", now_ms() - t_lost,
			(unsigned long long)sv->sent, (unsigned long long)sv->ix.total);
		if (fresh)
			link_close(fresh, false), free(fresh);
		sv->l = fresh = again;
		r = 0;
	}
	if (r < 0 && sv->err[0])
		snprintf(err, errlen, "%s", sv->err);
	if (fresh) {
		link_close(fresh, r == 0);
		free(fresh);
	}
	/* the series counts what was sent, again after a reconnect too; the
	 * totals below what B got */
	postcopy_tick(st, true, true);
	st->pages_requested = sv->answered;
	st->pages_pushed = sv->sent >= sv->answered ? sv->sent - sv->answered : 0;
	st->bytes = sv->sent * (uint64_t)sv->page;
	st->requests = sv->requests;
	st->urgent_ms = sv->urgent_ms;
	st->t_complete_ms = now_ms() - t0;
	lazy_index_free(&sv->ix);
	free(sv);
	return r;
}

/* postcopy_fill.c — B's side of post-copy (postcopy.h): the fault thread
 * asks (on the urgent connection once it is up), the calling thread places
 * what the main connection brings and the urgent thread what the urgent one
 * brings. Page states: 0 missing, 1 asked for, 2 in place (or no longer
 * wanted: unmapped or dropped by the process). A connection that breaks
 * ends the session (its threads stop; the process's faults wait in the
 * kernel); with --retry-for, A's new connection arrives at the join point,
 * RESUME tells A which pages are in place, what was asked for and lost is
 * asked for again, and a new session goes on. */
#include "postcopy.h"

#include <errno.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/interrupt.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../state/codec.h"
#include "../state/control.h"
#include "lazy_index.h"

enum { MISSING = 0, ASKED = 1, PLACED = 2 };
#define RA_MIN 1
#define RA_START 8
#define RA_MAX 256
#define FAULT_POLL_MS 100
#define REMAPS_MAX 256
#define COPY_RETRIES_MAX 50000 /* 5 s of 100 µs waits for the process's layout change to be read */
#define JOIN_SLICE_MS 100      /* the urgent thread looks at `stop` this often while it waits */

/* An mremap the process made during post-copy: A's addresses in
 * [from, from + len) are at to now. */
struct remap {
	uint64_t from, to, len;
};

struct fill {
	struct link *l;
	struct link urgent;
	bool urgent_up;          /* under lock: requests go on urgent */
	struct join_point *join; /* where urgent arrives, or NULL */
	uint32_t flags;          /* FR_PC_* */
	uint64_t placed;         /* under lock */
	int uffd;
	struct lazy_index ix;
	pthread_mutex_t lock; /* remaps, latencies, counters, the link's writer */
	struct remap remaps[REMAPS_MAX];
	uint32_t nremaps;
	double *asked_ms; /* per page: when a fault asked for it (0: not by a fault) */
	double *lat;      /* latencies of faults served, ms */
	uint64_t nlat;
	uint64_t last_fault, window;
	struct postcopy_stats *st;
	volatile bool stop;         /* post-copy is over */
	volatile bool session_over; /* this connection's threads stop */
	bool finishing;             /* every page is in: the memory is being released */
	int error;                  /* this session's failure */
	bool lost;                  /* ... a connection that broke */
	char err[256];
	int resume_fd;              /* A's connection made again, come while the old one seemed alive */
	uint32_t retry_for_ms;
};

/* Where A's address a is in the process now (its mremaps applied). */
static uint64_t here(const struct fill *f, uint64_t a)
{
	for (uint32_t i = 0; i < f->nremaps; i++)
		if (a >= f->remaps[i].from && a < f->remaps[i].from + f->remaps[i].len)
			a = a - f->remaps[i].from + f->remaps[i].to;
	return a;
}

/* A's address for the process's address a, or NO_ADDR where a mapping
 * moved away from (whatever is there now was mapped since: no data at A). */
#define NO_ADDR UINT64_MAX
static uint64_t there(const struct fill *f, uint64_t a)
{
	for (uint32_t i = f->nremaps; i-- > 0;) {
		const struct remap *m = &f->remaps[i];
		if (a >= m->to && a < m->to + m->len)
			a = a - m->to + m->from;
		else if (a >= m->from && a < m->from + m->len)
			return NO_ADDR;
	}
	return a;
}

/* The session fails with e (lost if a connection broke); the main
 * connection's reader is woken by a shutdown. */
static void fail_with(struct fill *f, int e, const char *what)
{
	pthread_mutex_lock(&f->lock);
	if (f->finishing) { /* every page is in place: nothing is lost, COMPLETE still goes */
		pthread_mutex_unlock(&f->lock);
		pr_warn("post-copy, once every page was in place: %s: %s", what, strerror(-e));
		return;
	}
	if (!f->error) {
		f->error = e;
		f->lost = link_lost(e);
		snprintf(f->err, sizeof(f->err), "%s: %s", what,
			 e == -ENODATA ? "the connection was closed" : strerror(-e));
	}
	f->session_over = true;
	shutdown(f->l->ch.fd, SHUT_RDWR);
	pthread_mutex_unlock(&f->lock);
}

/* A fault on lazy memory at the process's address addr. */
static void on_fault(struct fill *f, uint64_t addr)
{
	long page = f->ix.page;
	addr &= ~(uint64_t)(page - 1);
	pthread_mutex_lock(&f->lock);
	uint64_t a = there(f, addr);
	int64_t k = a == NO_ADDR ? -1 : lazy_index_of(&f->ix, a);
	f->st->faults++;
	uint8_t state = k < 0 ? PLACED : __atomic_load_n(&f->ix.state[k], __ATOMIC_ACQUIRE);
	if (state == ASKED) { /* it comes; its UFFDIO_COPY wakes the thread */
		pthread_mutex_unlock(&f->lock);
		return;
	}
	/* no data at A, or placed and dropped since by the process (or moved
	 * away and mapped anew): zeros, here and now */
	if (state == PLACED) {
		f->st->zero_faults++;
		pthread_mutex_unlock(&f->lock);
		struct uffdio_zeropage z = {.range = {.start = addr, .len = (uint64_t)page}};
		int e = ioctl(f->uffd, UFFDIO_ZEROPAGE, &z) < 0 ? errno : 0;
		/* EEXIST: it landed between the fault and now; EAGAIN, ENOENT: a
		 * layout change is in flight or made (by another thread), whose
		 * event this thread must read first: the woken thread faults again
		 * after it, or finds the mapping gone */
		if (e == EEXIST || e == EAGAIN || e == ENOENT) {
			struct uffdio_range w = {.start = addr, .len = (uint64_t)page};
			ioctl(f->uffd, UFFDIO_WAKE, &w);
		} else if (e) {
			fail_with(f, -e, "cannot place a zero page");
		}
		return;
	}
	/* adaptive read-ahead: sequential faults double the window, others halve it */
	if (f->flags & FR_PC_NO_READAHEAD)
		f->window = 1;
	else
		f->window = a == f->last_fault ? MIN(f->window * 2, RA_MAX) : MAX(f->window / 2, RA_MIN);
	uint64_t n = 0;
	double t = now_ms();
	while (n < f->window && (uint64_t)k + n < f->ix.total &&
	       lazy_index_addr(&f->ix, (uint64_t)k + n) == a + n * (uint64_t)page &&
	       __atomic_load_n(&f->ix.state[k + (int64_t)n], __ATOMIC_ACQUIRE) == MISSING) {
		__atomic_store_n(&f->ix.state[k + (int64_t)n], ASKED, __ATOMIC_RELEASE);
		n++;
	}
	f->asked_ms[k] = t;
	f->last_fault = a + n * (uint64_t)page;
	f->st->requests++;
	struct buf b = {0};
	encode_discard(&b, &(struct fr_discard){.addr = a, .npages = (uint32_t)n});
	struct link *to = f->urgent_up ? &f->urgent : f->l;
	pthread_mutex_unlock(&f->lock);
	int r = link_put(to, REC_PAGE_REQ, &b);
	buf_free(&b);
	if (r < 0)
		fail_with(f, r, "cannot ask for a page"); /* asked again on a connection made again */
}

/* The process unmapped or dropped [start, end): pages of it still to come
 * are not wanted any more. */
static void forget(struct fill *f, uint64_t start, uint64_t end) /* f->lock held */
{
	for (uint64_t p = start; p < end; p += (uint64_t)f->ix.page) {
		uint64_t a = there(f, p);
		int64_t k = a == NO_ADDR ? -1 : lazy_index_of(&f->ix, a);
		if (k >= 0 && __atomic_exchange_n(&f->ix.state[k], PLACED, __ATOMIC_ACQ_REL) != PLACED)
			f->st->pages_skipped++;
	}
}

/* The kernel lets the process's layout change go on once its event is
 * read: the read and the bookkeeping are one step under f->lock, so that
 * place() never copies by a table the change has made stale. */
static void *read_faults(void *arg)
{
	struct fill *f = arg;
	while (!f->stop && !f->session_over) {
		struct pollfd p = {.fd = f->uffd, .events = POLLIN};
		if (poll(&p, 1, FAULT_POLL_MS) <= 0)
			continue;
		struct uffd_msg m;
		pthread_mutex_lock(&f->lock);
		ssize_t n = read(f->uffd, &m, sizeof(m));
		if (n == sizeof(m) && m.event == UFFD_EVENT_REMAP) {
			if (f->nremaps < REMAPS_MAX)
				f->remaps[f->nremaps++] = (struct remap){.from = m.arg.remap.from, .to = m.arg.remap.to,
									 .len = m.arg.remap.len};
			else if (!f->error)
				f->error = -E2BIG,
				snprintf(f->err, sizeof(f->err), "the process moved memory too often during post-copy");
		} else if (n == sizeof(m) && (m.event == UFFD_EVENT_REMOVE || m.event == UFFD_EVENT_UNMAP)) {
			forget(f, m.arg.remove.start, m.arg.remove.end);
		}
		pthread_mutex_unlock(&f->lock);
		if (n != sizeof(m)) {
			if (n < 0 && errno == EAGAIN)
				continue;
			fail_with(f, n < 0 ? -errno : -EIO, "cannot read the userfaultfd");
			break;
		}
		if (m.event == UFFD_EVENT_PAGEFAULT)
			on_fault(f, m.arg.pagefault.address);
	}
	return NULL;
}

/* One PAGES record from A: each page still missing or asked for goes in.
 * The check and the copy are one step under the lock, against the fault
 * thread's forget(): a page the process dropped meanwhile must stay zero. */
static int place(struct fill *f, const uint8_t *p, uint32_t len)
{
	long page = f->ix.page;
	struct fr_pages_hdr h;
	if (decode_pages_hdr(p, len, (uint32_t)page, &h) < 0)
		return -EBADMSG;
	const uint8_t *data = p + sizeof(h);
	for (uint32_t i = 0; i < h.npages; i++) {
		uint64_t a = h.addr + (uint64_t)i * (uint64_t)page;
		int64_t k = lazy_index_of(&f->ix, a);
		if (k < 0)
			return -EBADMSG;
		/* EAGAIN: the process is changing its layout; ENOENT: it has
		 * changed it (moved or unmapped the mapping: the kernel looks for
		 * the mapping before it looks at a change in flight) and the fault
		 * thread has not read the event yet. Both: again, at the address
		 * the remap table gives once it has (an unmap's event marks the
		 * page placed). Taking ENOENT for "unmapped" lost the page of a
		 * mapping moved meanwhile: its new place stayed missing, and read
		 * zeros once the memory was unregistered. */
		int e = EAGAIN;
		uint8_t was = PLACED;
		for (int tries = 0; (e == EAGAIN || e == ENOENT) && tries < COPY_RETRIES_MAX && !f->stop; tries++) {
			if (tries)
				usleep(100);
			pthread_mutex_lock(&f->lock);
			was = f->ix.state[k];
			if (was == PLACED) {
				pthread_mutex_unlock(&f->lock);
				break;
			}
			struct uffdio_copy c = {.dst = here(f, a), .src = (uint64_t)(uintptr_t)(data + (size_t)i * (size_t)page),
						.len = (uint64_t)page};
			e = ioctl(f->uffd, UFFDIO_COPY, &c) < 0 ? errno : 0;
			if (e == 0 || e == EEXIST) { /* EEXIST: already there */
				__atomic_store_n(&f->ix.state[k], PLACED, __ATOMIC_RELEASE);
				f->placed++;
				if (was == ASKED) {
					f->st->pages_requested++;
					if (f->asked_ms[k] > 0)
						f->lat[f->nlat++] = now_ms() - f->asked_ms[k];
				} else {
					f->st->pages_pushed++;
				}
			}
			pthread_mutex_unlock(&f->lock);
		}
		if (was != PLACED && e && e != EEXIST)
			return -e; /* ENOENT for 5 s: a layout change without an event */
	}
	pthread_mutex_lock(&f->lock);
	f->st->bytes += (uint64_t)h.npages * (uint64_t)page;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/* A's urgent connection: accepted from the join point, then read for the
 * pages that answer requests. One that never comes is no failure: A
 * answers on the main connection then. */
static void *run_urgent(void *arg)
{
	struct fill *f = arg;
	double t0 = now_ms();
	int fd = -ETIMEDOUT;
	enum join_kind kind = JOIN_URGENT;
	while (!f->stop && !f->session_over && fd == -ETIMEDOUT && now_ms() - t0 < f->l->ch.timeout_ms)
		fd = join_wait(f->join, JOIN_SLICE_MS, &kind);
	if (fd >= 0 && kind == JOIN_RESUME) {
		/* A made the main connection again: the one here broke on its side */
		pthread_mutex_lock(&f->lock);
		f->resume_fd = fd;
		pthread_mutex_unlock(&f->lock);
		fail_with(f, -ECONNRESET, "the source connected again");
		return NULL;
	}
	char why[256];
	if (fd < 0 || link_accept(&f->urgent, fd, f->l->ch.key, f->l->ch.timeout_ms, why, sizeof(why)) < 0) {
		if (!f->stop && !f->session_over)
			pr_warn("post-copy goes on with one connection: %s",
				fd < 0 ? (fd == -ETIMEDOUT ? "the urgent connection did not come" : strerror(-fd)) : why);
		return NULL;
	}
	pthread_mutex_lock(&f->lock);
	bool late = f->stop || f->session_over; /* every page came on the main connection meanwhile */
	f->urgent_up = !late;
	f->st->urgent_ms = late ? 0 : now_ms() - t0;
	pthread_mutex_unlock(&f->lock);
	if (late)
		return NULL; /* closed by postcopy_fill */
	for (;;) {
		uint16_t type;
		const uint8_t *p;
		uint32_t len;
		int r = stream_read_record(&f->urgent.in, &type, &p, &len);
		if (r == -ETIMEDOUT && !f->stop && !f->session_over)
			continue; /* no fault, no answer */
		if (r < 0 || f->stop || f->session_over) {
			if (!f->stop && !f->session_over)
				fail_with(f, r, "the urgent connection failed");
			break;
		}
		if (type != REC_PAGES) {
			fail_with(f, -EPROTO, "a record other than pages on the urgent connection");
			break;
		}
		if ((r = place(f, p, len)) < 0) {
			fail_with(f, r, r == -EBADMSG ? "pages outside the lazy memory (corrupted stream)"
						      : "cannot place post-copy pages");
			break;
		}
	}
	return NULL;
}

/* Every page is placed or forgotten. */
static bool all_in(const struct fill *f)
{
	for (uint64_t k = 0; k < f->ix.total; k++)
		if (__atomic_load_n(&f->ix.state[k], __ATOMIC_ACQUIRE) != PLACED)
			return false;
	return true;
}

/* After A's DONE: the pages still on the urgent connection land (or the
 * connection fails, or nothing comes for the link's timeout). */
static int wait_all_in(struct fill *f, char *err, size_t errlen)
{
	double t0 = now_ms();
	while (!all_in(f)) {
		if (f->error) {
			snprintf(err, errlen, "%s", f->err);
			return f->error;
		}
		if (!f->join || now_ms() - t0 > f->l->ch.timeout_ms) {
			snprintf(err, errlen, "%s ended post-copy with pages missing", f->l->peer);
			return -EPROTO;
		}
		usleep(1000);
	}
	return 0;
}

static int by_value(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

static void latencies(struct fill *f)
{
	if (!f->nlat)
		return;
	qsort(f->lat, f->nlat, sizeof(double), by_value);
	f->st->lat_p50_ms = f->lat[f->nlat / 2];
	f->st->lat_p99_ms = f->lat[MIN(f->nlat - 1, f->nlat * 99 / 100)];
	f->st->lat_max_ms = f->lat[f->nlat - 1];
}

/* The main connection until A's DONE and every page in place (0), or the
 * session's failure (f->lost if a connection broke). */
static int read_main(struct fill *f, char *err, size_t errlen)
{
	struct link *l = f->l;
	for (;;) {
		uint16_t type;
		const uint8_t *p;
		uint32_t len;
		int r = stream_read_record(&l->in, &type, &p, &len);
		if (r == 0 && type == REC_PAGES) {
			if ((r = place(f, p, len)) < 0)
				snprintf(err, errlen, "cannot place post-copy pages: %s",
					 r == -EBADMSG ? "outside the lazy memory (corrupted stream)" : strerror(-r));
		} else if (r == 0 && type == REC_DONE) {
			return wait_all_in(f, err, errlen);
		} else if (r == 0) {
			snprintf(err, errlen, "%s sent a %s record during post-copy", l->peer, fr_record_name(type));
			r = -EPROTO;
		}
		pthread_mutex_lock(&f->lock);
		if (f->error) { /* another thread's failure came first */
			snprintf(err, errlen, "%s", f->err);
			r = f->error;
		} else if (r < 0) {
			if (l->in.err[0] || r != -EBADMSG)
				link_io_error(l, r, "waiting for post-copy pages", err, errlen);
			f->error = r;
			f->lost = link_lost(r);
		}
		pthread_mutex_unlock(&f->lock);
		if (r < 0)
			return r;
	}
}

/* A's connection made again, within the window: RESUME says which pages
 * are in place; those asked for by a fault and lost with the old one are
 * asked for again (the faulting threads still wait). */
static int resume(struct fill *f, double deadline, struct link **fresh, char *err, size_t errlen)
{
	int fd = f->resume_fd;
	f->resume_fd = -1;
	while (fd < 0 && now_ms() < deadline && !interrupted()) {
		enum join_kind kind;
		fd = join_wait(f->join, JOIN_SLICE_MS, &kind);
		if (fd >= 0 && kind != JOIN_RESUME) {
			close(fd); /* a late urgent connection: not wanted any more */
			fd = -ETIMEDOUT;
		}
		if (fd < 0 && fd != -ETIMEDOUT)
			break;
	}
	if (fd < 0) {
		snprintf(err, errlen, "%s did not connect again within %u s", f->l->peer, f->retry_for_ms / 1000);
		return -ETIMEDOUT;
	}
	struct link *l = calloc(1, sizeof(*l));
	uint8_t *bits = calloc((size_t)(f->ix.total + 7) / 8 + 1, 1);
	char why[256];
	int r = !l || !bits ? -ENOMEM : link_accept(l, fd, f->l->ch.key, f->l->ch.timeout_ms, why, sizeof(why));
	if (r < 0) {
		snprintf(err, errlen, "connecting again: %s", r == -ENOMEM ? strerror(ENOMEM) : why);
		free(l);
		free(bits);
		return r;
	}
	struct range_list again = {0};
	pthread_mutex_lock(&f->lock);
	for (uint64_t k = 0; k < f->ix.total; k++) {
		uint8_t state = f->ix.state[k];
		if (state == PLACED)
			bits[k / 8] |= (uint8_t)(1u << (k % 8));
		if (state == ASKED) { /* lost with the old connection */
			f->ix.state[k] = MISSING;
			if (f->asked_ms[k] > 0) { /* a thread waits for it */
				uint64_t a = lazy_index_addr(&f->ix, k);
				range_list_add(&again, a, a + (uint64_t)f->ix.page);
			}
		}
	}
	pthread_mutex_unlock(&f->lock);
	struct buf b = {0};
	encode_resume(&b, f->ix.total, bits);
	free(bits);
	if ((r = link_put(l, REC_RESUME, &b)) < 0)
		link_io_error(l, r, "sending RESUME", err, errlen);
	for (size_t i = 0; r == 0 && i < again.n; i++) {
		int64_t k = lazy_index_of(&f->ix, again.v[i].start);
		if (k < 0 || f->ix.state[k] != MISSING)
			continue;
		f->ix.state[k] = ASKED;
		encode_discard(&b, &(struct fr_discard){.addr = again.v[i].start, .npages = 1});
		if ((r = link_put(l, REC_PAGE_REQ, &b)) < 0)
			link_io_error(l, r, "asking again for a page", err, errlen);
	}
	buf_free(&b);
	range_list_free(&again);
	if (r < 0) {
		link_close(l, false);
		free(l);
		return r;
	}
	*fresh = l;
	return 0;
}

int postcopy_fill(struct link *l, pid_t pid, struct restore_lazy *lz, const struct postcopy_fill_opts *o,
		  struct postcopy_stats *st, char *err, size_t errlen)
{
	double t0 = now_ms();
	struct fill f = {.l = l, .uffd = lz->uffd, .st = st, .lock = PTHREAD_MUTEX_INITIALIZER, .window = RA_START,
			 .join = o->join, .flags = o->flags, .resume_fd = -1, .retry_for_ms = o->retry_for_ms};
	int r = lazy_index_init(&f.ix, &lz->pages);
	if (r == 0) {
		f.asked_ms = calloc(f.ix.total ? f.ix.total : 1, sizeof(double));
		f.lat = calloc(f.ix.total ? f.ix.total : 1, sizeof(double));
		if (!f.asked_ms || !f.lat)
			r = -ENOMEM;
	}
	st->pages_total = f.ix.total;
	if (r < 0)
		snprintf(err, errlen, "cannot start post-copy: %s", strerror(-r));
	pthread_t faults, urgent;
	bool faults_run = false, urgent_run = false;
	struct link *fresh = NULL; /* the main connection made again */
	for (bool first = true; r == 0; first = false) {
		f.session_over = false, f.error = 0, f.lost = false, f.err[0] = '\0';
		faults_run = pthread_create(&faults, NULL, read_faults, &f) == 0;
		urgent_run = faults_run && first && f.join && !(f.flags & FR_PC_NO_URGENT) &&
			     pthread_create(&urgent, NULL, run_urgent, &f) == 0;
		if (!faults_run) {
			snprintf(err, errlen, "cannot start post-copy: %s", strerror(EAGAIN));
			r = -EAGAIN;
			break;
		}
		if ((r = read_main(&f, err, errlen)) == 0) {
			pthread_mutex_lock(&f.lock);
			f.finishing = true;
			pthread_mutex_unlock(&f.lock);
			break; /* the fault thread reads on while the memory is released */
		}
		pthread_mutex_lock(&f.lock);
		f.session_over = true;
		if (f.urgent_up)
			shutdown(f.urgent.ch.fd, SHUT_RDWR);
		f.urgent_up = false;
		pthread_mutex_unlock(&f.lock);
		pthread_join(faults, NULL);
		if (urgent_run)
			pthread_join(urgent, NULL);
		faults_run = urgent_run = false;
		if (f.urgent.open)
			link_close(&f.urgent, false);
		if (!f.lost || !f.retry_for_ms || !f.join)
			break;
		pr_warn("post-copy: %s; waiting up to %u s for the source to connect again", err, f.retry_for_ms / 1000);
		st->reconnects++;
		double t_lost = now_ms();
		struct link *again = NULL;
		char why[256];
		if (resume(&f, t_lost + f.retry_for_ms, &again, why, sizeof(why)) < 0) {
			size_t n = strlen(err);
			snprintf(err + n, errlen - n, "; %s", why);
			break;
		}
		pr_info("post-copy: %s connected again after %.0f ms", again->peer, now_ms() - t_lost);
		if (fresh)
			link_close(fresh, false), free(fresh);
		f.l = fresh = again;
		r = 0;
	}
	if (r == 0) {
		/* the process's copy is closed inside it while the fault thread
		 * still reads its events, then ours: the memory is unregistered */
		char why[256];
		if ((r = restore_lazy_release(pid, lz, why, sizeof(why))) < 0)
			snprintf(err, errlen, "%s", why);
	}
	pthread_mutex_lock(&f.lock);
	f.stop = true;
	if (f.urgent_up)
		shutdown(f.urgent.ch.fd, SHUT_RDWR); /* its reader stops */
	pthread_mutex_unlock(&f.lock);
	if (faults_run)
		pthread_join(faults, NULL);
	if (urgent_run)
		pthread_join(urgent, NULL);
	if (f.urgent.open)
		link_close(&f.urgent, false);
	if (f.resume_fd >= 0)
		close(f.resume_fd);
	if (r == 0)
		restore_lazy_free(lz);
	st->t_complete_ms = now_ms() - t0;
	latencies(&f);
	if (r == 0) {
		struct buf b = {0};
		encode_u64_record(&b, f.placed);
		if ((r = link_put(f.l, REC_COMPLETE, &b)) < 0)
			link_io_error(f.l, r, "sending COMPLETE", err, errlen);
		buf_free(&b);
	}
	if (fresh) {
		link_close(fresh, r == 0);
		free(fresh);
	}
	free(f.asked_ms);
	free(f.lat);
	lazy_index_free(&f.ix);
	return r;
}

void postcopy_stats_json(FILE *fp, const struct postcopy_stats *st)
{
	fprintf(fp,
		"\"postcopy\":{\"pages_total\":%llu,\"pages_requested\":%llu,\"pages_pushed\":%llu,\"pages_skipped\":%llu,"
		"\"faults\":%llu,\"zero_faults\":%llu,\"requests\":%llu,\"fault_latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,"
		"\"max\":%.3f},\"complete_ms\":%.3f,\"bytes\":%llu,\"urgent_ms\":%.3f,\"reconnects\":%u}",
		(unsigned long long)st->pages_total, (unsigned long long)st->pages_requested,
		(unsigned long long)st->pages_pushed, (unsigned long long)st->pages_skipped,
		(unsigned long long)st->faults, (unsigned long long)st->zero_faults, (unsigned long long)st->requests,
		st->lat_p50_ms, st->lat_p99_ms, st->lat_max_ms, st->t_complete_ms, (unsigned long long)st->bytes,
		st->urgent_ms, st->reconnects);
}

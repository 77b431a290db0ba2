/* postcopy_fill.c — B's side of post-copy (postcopy.h): the fault thread
 * asks, the calling thread places. Page states: 0 missing, 1 asked for,
 * 2 in place (or no longer wanted: unmapped or dropped by the process). */
#include "postcopy.h"

#include <errno.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

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

/* An mremap the process made during post-copy: A's addresses in
 * [from, from + len) are at to now. */
struct remap {
	uint64_t from, to, len;
};

struct fill {
	struct link *l;
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
	volatile bool stop;
	int error;
	char err[256];
};

/* Where A's address a is in the process now (its mremaps applied). */
static uint64_t here(const struct fill *f, uint64_t a)
{
	for (uint32_t i = 0; i < f->nremaps; i++)
		if (a >= f->remaps[i].from && a < f->remaps[i].from + f->remaps[i].len)
			a = a - f->remaps[i].from + f->remaps[i].to;
	return a;
}

/* A's address for the process's address a. */
static uint64_t there(const struct fill *f, uint64_t a)
{
	for (uint32_t i = f->nremaps; i-- > 0;)
		if (a >= f->remaps[i].to && a < f->remaps[i].to + f->remaps[i].len)
			a = a - f->remaps[i].to + f->remaps[i].from;
	return a;
}

static void fail_with(struct fill *f, int e, const char *what)
{
	pthread_mutex_lock(&f->lock);
	if (!f->error) {
		f->error = e;
		snprintf(f->err, sizeof(f->err), "%s: %s", what, strerror(-e));
	}
	f->stop = true;
	pthread_mutex_unlock(&f->lock);
}

/* A fault on lazy memory at the process's address addr. */
static void on_fault(struct fill *f, uint64_t addr)
{
	long page = f->ix.page;
	addr &= ~(uint64_t)(page - 1);
	pthread_mutex_lock(&f->lock);
	uint64_t a = there(f, addr);
	int64_t k = lazy_index_of(&f->ix, a);
	f->st->faults++;
	if (k < 0) { /* no data at A: zeros, here and now */
		f->st->zero_faults++;
		pthread_mutex_unlock(&f->lock);
		struct uffdio_zeropage z = {.range = {.start = addr, .len = (uint64_t)page}};
		if (ioctl(f->uffd, UFFDIO_ZEROPAGE, &z) < 0 && errno != EEXIST && errno != ENOENT)
			fail_with(f, -errno, "cannot place a zero page");
		return;
	}
	if (__atomic_load_n(&f->ix.state[k], __ATOMIC_ACQUIRE) != MISSING) {
		pthread_mutex_unlock(&f->lock);
		/* asked for already (it wakes the thread when it lands), or it
		 * landed between the fault and now */
		struct uffdio_range w = {.start = addr, .len = (uint64_t)page};
		ioctl(f->uffd, UFFDIO_WAKE, &w);
		return;
	}
	/* adaptive read-ahead: sequential faults double the window, others halve it */
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
	pthread_mutex_unlock(&f->lock);
	int r = link_put(f->l, REC_PAGE_REQ, &b);
	buf_free(&b);
	if (r < 0)
		fail_with(f, r, "cannot ask for a page");
}

/* The process unmapped or dropped [start, end): pages of it still to come
 * are not wanted any more. */
static void forget(struct fill *f, uint64_t start, uint64_t end)
{
	pthread_mutex_lock(&f->lock);
	for (uint64_t p = start; p < end; p += (uint64_t)f->ix.page) {
		int64_t k = lazy_index_of(&f->ix, there(f, p));
		if (k >= 0 && __atomic_exchange_n(&f->ix.state[k], PLACED, __ATOMIC_ACQ_REL) != PLACED)
			f->st->pages_skipped++;
	}
	pthread_mutex_unlock(&f->lock);
}

static void *read_faults(void *arg)
{
	struct fill *f = arg;
	while (!f->stop) {
		struct pollfd p = {.fd = f->uffd, .events = POLLIN};
		if (poll(&p, 1, FAULT_POLL_MS) <= 0)
			continue;
		struct uffd_msg m;
		ssize_t n = read(f->uffd, &m, sizeof(m));
		if (n != sizeof(m)) {
			if (n < 0 && errno == EAGAIN)
				continue;
			fail_with(f, n < 0 ? -errno : -EIO, "cannot read the userfaultfd");
			break;
		}
		switch (m.event) {
		case UFFD_EVENT_PAGEFAULT:
			on_fault(f, m.arg.pagefault.address);
			break;
		case UFFD_EVENT_REMAP:
			pthread_mutex_lock(&f->lock);
			if (f->nremaps < REMAPS_MAX)
				f->remaps[f->nremaps++] = (struct remap){.from = m.arg.remap.from, .to = m.arg.remap.to,
									 .len = m.arg.remap.len};
			else
				f->error = -E2BIG, snprintf(f->err, sizeof(f->err), "the process moved memory too often during post-copy");
			pthread_mutex_unlock(&f->lock);
			break;
		case UFFD_EVENT_REMOVE:
		case UFFD_EVENT_UNMAP:
			forget(f, m.arg.remove.start, m.arg.remove.end);
			break;
		default:
			break;
		}
	}
	return NULL;
}

/* One PAGES record from A: each page still missing or asked for goes in. */
static int place(struct fill *f, const uint8_t *p, uint32_t len, uint64_t *placed)
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
		uint8_t was = __atomic_load_n(&f->ix.state[k], __ATOMIC_ACQUIRE);
		if (was == PLACED)
			continue;
		pthread_mutex_lock(&f->lock);
		uint64_t at = here(f, a);
		pthread_mutex_unlock(&f->lock);
		struct uffdio_copy c = {.dst = at, .src = (uint64_t)(uintptr_t)(data + (size_t)i * (size_t)page),
					.len = (uint64_t)page};
		/* EEXIST: already there; ENOENT: unmapped since (a REMOVE/UNMAP
		 * event follows or came) */
		if (ioctl(f->uffd, UFFDIO_COPY, &c) < 0 && errno != EEXIST && errno != ENOENT)
			return -errno;
		if (__atomic_exchange_n(&f->ix.state[k], PLACED, __ATOMIC_ACQ_REL) == PLACED)
			continue; /* forgotten meanwhile */
		(*placed)++;
		pthread_mutex_lock(&f->lock);
		if (was == ASKED) {
			f->st->pages_requested++;
			if (f->asked_ms[k] > 0)
				f->lat[f->nlat++] = now_ms() - f->asked_ms[k];
		} else {
			f->st->pages_pushed++;
		}
		pthread_mutex_unlock(&f->lock);
	}
	f->st->bytes += (uint64_t)h.npages * (uint64_t)page;
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

/* Every page is placed or forgotten. */
static bool all_in(const struct fill *f)
{
	for (uint64_t k = 0; k < f->ix.total; k++)
		if (__atomic_load_n(&f->ix.state[k], __ATOMIC_ACQUIRE) != PLACED)
			return false;
	return true;
}

int postcopy_fill(struct link *l, pid_t pid, struct restore_lazy *lz, struct postcopy_stats *st, char *err,
		  size_t errlen)
{
	double t0 = now_ms();
	struct fill f = {.l = l, .uffd = lz->uffd, .st = st, .lock = PTHREAD_MUTEX_INITIALIZER, .window = RA_START};
	int r = lazy_index_init(&f.ix, &lz->pages);
	if (r == 0) {
		f.asked_ms = calloc(f.ix.total ? f.ix.total : 1, sizeof(double));
		f.lat = calloc(f.ix.total ? f.ix.total : 1, sizeof(double));
		if (!f.asked_ms || !f.lat)
			r = -ENOMEM;
	}
	st->pages_total = f.ix.total;
	pthread_t faults;
	bool started = false;
	if (r == 0 && pthread_create(&faults, NULL, read_faults, &f) != 0)
		r = -EAGAIN;
	started = r == 0;
	if (r < 0)
		snprintf(err, errlen, "cannot start post-copy: %s", strerror(-r));
	uint64_t placed = 0;
	bool done = false;
	while (r == 0 && !(done && all_in(&f))) {
		uint16_t type;
		const uint8_t *p;
		uint32_t len;
		if ((r = stream_read_record(&l->in, &type, &p, &len)) < 0) {
			link_io_error(l, r, "waiting for post-copy pages", err, errlen);
			break;
		}
		if (type == REC_PAGES) {
			if ((r = place(&f, p, len, &placed)) < 0)
				snprintf(err, errlen, "cannot place post-copy pages: %s",
					 r == -EBADMSG ? "outside the lazy memory (corrupted stream)" : strerror(-r));
		} else if (type == REC_DONE) {
			done = true;
			if (!all_in(&f)) {
				snprintf(err, errlen, "%s ended post-copy with pages missing", l->peer);
				r = -EPROTO;
			}
		} else {
			snprintf(err, errlen, "%s sent a %s record during post-copy", l->peer, fr_record_name(type));
			r = -EPROTO;
		}
		if (r == 0 && f.error) {
			r = f.error;
			snprintf(err, errlen, "%s", f.err);
		}
	}
	f.stop = true;
	if (started)
		pthread_join(faults, NULL);
	st->t_complete_ms = now_ms() - t0;
	latencies(&f);
	if (r == 0) {
		char why[256];
		/* the process's copy is closed inside it, then ours: unregistered */
		if ((r = restore_lazy_done(pid, lz, why, sizeof(why))) < 0)
			snprintf(err, errlen, "%s", why);
	}
	if (r == 0) {
		struct buf b = {0};
		encode_u64_record(&b, placed);
		if ((r = link_put(l, REC_COMPLETE, &b)) < 0)
			link_io_error(l, r, "sending COMPLETE", err, errlen);
		buf_free(&b);
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
		"\"max\":%.3f},\"complete_ms\":%.3f,\"bytes\":%llu}",
		(unsigned long long)st->pages_total, (unsigned long long)st->pages_requested,
		(unsigned long long)st->pages_pushed, (unsigned long long)st->pages_skipped,
		(unsigned long long)st->faults, (unsigned long long)st->zero_faults, (unsigned long long)st->requests,
		st->lat_p50_ms, st->lat_p99_ms, st->lat_max_ms, st->t_complete_ms, (unsigned long long)st->bytes);
}

/* postcopy_fill.c — B's side of post-copy (postcopy.h): the fault thread
 * asks (on the urgent connection once it is up), the calling thread places
 * what the main connection brings and the urgent thread what the urgent one
 * brings. Page states: 0 missing, 1 asked for, 2 in place (or no longer
 * wanted: unmapped or dropped by the process). A connection that breaks
 * ends the session (its threads stop; the process's faults wait in the
 * kernel); with --retry-for, A's new connection arrives at the join point,
 * RESUME tells A which pages are in place, what was asked for and lost is
 * asked for again, and a new session goes on.
 * A fork() of the process during post-copy gives its child an address
 * space of its own, registered on a userfaultfd of its own
 * (UFFD_EVENT_FORK): a space here, whose missing pages are those the
 * parent's space lacked at the fork. Each page A sends goes into every
 * space that lacks it (spaces are kept in fork order, a child after its
 * parent); a child's fault asks A as its parent's does; a space whose
 * memory is gone (exit, exec) is dropped. */
#include "postcopy.h"

#include <errno.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
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
#include "../inspect/capture.h"
#include "../inspect/proc.h"
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

/* One address space filled: the process's own (spaces[0]), or one a
 * fork() made during post-copy. */
struct space {
	int uffd;
	uint8_t *state; /* per lazy page (the process's: the index's own) */
	struct remap remaps[REMAPS_MAX];
	uint32_t nremaps;
	double next_probe; /* a child's: when to look whether its memory still exists */
};

struct fill {
	struct link *l;
	struct link urgent;
	bool urgent_up;          /* under lock: requests go on urgent */
	struct join_point *join; /* where urgent arrives, or NULL */
	uint32_t flags;          /* FR_PC_* */
	pid_t pid;               /* the process */
	uint64_t placed;         /* under lock */
	struct lazy_index ix;
	pthread_mutex_t lock; /* spaces, remaps, latencies, counters, the link's writer */
	struct space **spaces; /* [0]: the process; then children in fork order, NULL once gone */
	uint32_t nspaces;
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

/* Post-copy or this session is over: the threads stop. */
static bool ended(const struct fill *f)
{
	return f->stop || f->session_over;
}

/* Where A's address a is in the process now (its mremaps applied). */
static uint64_t here(const struct space *s, uint64_t a)
{
	for (uint32_t i = 0; i < s->nremaps; i++)
		if (a >= s->remaps[i].from && a < s->remaps[i].from + s->remaps[i].len)
			a = a - s->remaps[i].from + s->remaps[i].to;
	return a;
}

/* A's address for the process's address a, or NO_ADDR where a mapping
 * moved away from (whatever is there now was mapped since: no data at A). */
#define NO_ADDR UINT64_MAX
static uint64_t there(const struct space *s, uint64_t a)
{
	for (uint32_t i = s->nremaps; i-- > 0;) {
		const struct remap *m = &s->remaps[i];
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

/* A fault on lazy memory in space sp at its address addr. */
static void on_fault(struct fill *f, struct space *sp, uint64_t addr)
{
	long page = f->ix.page;
	addr &= ~(uint64_t)(page - 1);
	pthread_mutex_lock(&f->lock);
	uint64_t a = there(sp, addr);
	int64_t k = a == NO_ADDR ? -1 : lazy_index_of(&f->ix, a);
	f->st->faults++;
	uint8_t state = k < 0 ? PLACED : __atomic_load_n(&sp->state[k], __ATOMIC_ACQUIRE);
	if (state == ASKED) { /* it comes; its UFFDIO_COPY wakes the thread */
		pthread_mutex_unlock(&f->lock);
		return;
	}
	/* no data at A, or placed and dropped since by the process (or moved
	 * away and mapped anew): zeros, here and now */
	if (state == PLACED) {
		f->st->zero_faults++;
		int uffd = sp->uffd;
		pthread_mutex_unlock(&f->lock);
		struct uffdio_zeropage z = {.range = {.start = addr, .len = (uint64_t)page}};
		int e = ioctl(uffd, UFFDIO_ZEROPAGE, &z) < 0 ? errno : 0;
		/* EEXIST: it landed between the fault and now; EAGAIN, ENOENT: a
		 * layout change is in flight or made (by another thread), whose
		 * event this thread must read first: the woken thread faults again
		 * after it, or finds the mapping gone; ESRCH: a child's memory
		 * is gone */
		if (e == EEXIST || e == EAGAIN || e == ENOENT) {
			struct uffdio_range w = {.start = addr, .len = (uint64_t)page};
			ioctl(uffd, UFFDIO_WAKE, &w);
		} else if (e && e != ESRCH) {
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
	       __atomic_load_n(&sp->state[k + (int64_t)n], __ATOMIC_ACQUIRE) == MISSING) {
		__atomic_store_n(&sp->state[k + (int64_t)n], ASKED, __ATOMIC_RELEASE);
		n++;
	}
	f->asked_ms[k] = t;
	f->last_fault = a + n * (uint64_t)page;
	f->st->requests++;
	struct buf b = {0};
	/* a child's request may name pages A sent already: A skips those,
	 * and they go into every space that lacks them when they land */
	encode_discard(&b, &(struct fr_discard){.addr = a, .npages = (uint32_t)n});
	struct link *to = f->urgent_up ? &f->urgent : f->l;
	pthread_mutex_unlock(&f->lock);
	int r = link_put(to, REC_PAGE_REQ, &b);
	buf_free(&b);
	if (r < 0)
		fail_with(f, r, "cannot ask for a page"); /* asked again on a connection made again */
}

/* Space sp unmapped or dropped [start, end): pages of it still to come
 * are not wanted there any more. */
static void forget(struct fill *f, struct space *sp, uint64_t start, uint64_t end) /* f->lock held */
{
	for (uint64_t p = start; p < end; p += (uint64_t)f->ix.page) {
		uint64_t a = there(sp, p);
		int64_t k = a == NO_ADDR ? -1 : lazy_index_of(&f->ix, a);
		if (k >= 0 && __atomic_exchange_n(&sp->state[k], PLACED, __ATOMIC_ACQ_REL) != PLACED && sp == f->spaces[0])
			f->st->pages_skipped++;
	}
}

/* A child's space (the process's own is the caller's). */
static void space_free(struct space *sp)
{
	if (!sp)
		return;
	close(sp->uffd);
	free(sp->state);
	free(sp);
}

/* sp forked: its child's memory lacks what sp lacks now (a page copied
 * into sp before the fork was copied into the child; the kernel refuses
 * copies into sp while the fork is in flight, until its event is read
 * here). A page asked for by sp is still to come for the child. Under
 * f->lock, so no page lands meanwhile: the process's smaps is read here
 * (a fork during post-copy is rare; placing waits for that walk). */
static int space_fork(struct fill *f, const struct space *sp, int uffd) /* f->lock held */
{
	struct space *c = calloc(1, sizeof(*c));
	struct space **grown = realloc(f->spaces, (f->nspaces + 1) * sizeof(*grown));
	if (grown)
		f->spaces = grown;
	if (!c || !grown || !(c->state = malloc(f->ix.total ? f->ix.total : 1))) {
		free(c);
		close(uffd);
		return -ENOMEM;
	}
	c->uffd = uffd;
	for (uint64_t k = 0; k < f->ix.total; k++)
		c->state[k] = sp->state[k] == PLACED ? PLACED : MISSING;
	memcpy(c->remaps, sp->remaps, sp->nremaps * sizeof(sp->remaps[0]));
	c->nremaps = sp->nremaps;
	/* MADV_WIPEONFORK memory starts as zeros in the child: nothing of A's
	 * goes there, as if the child had dropped it (a child's own child
	 * inherits that from the state) */
	struct vma_attr_list l;
	if (sp == f->spaces[0] && vma_attrs_read(f->pid, &l) == 0) {
		for (size_t i = 0; i < l.n; i++)
			if (l.v[i].attrs & FR_VMA_WIPEONFORK)
				forget(f, c, l.v[i].start, l.v[i].end);
		vma_attrs_free(&l);
	}
	c->next_probe = now_ms() + FAULT_POLL_MS;
	f->spaces[f->nspaces] = c;
	__atomic_store_n(&f->nspaces, f->nspaces + 1, __ATOMIC_RELEASE);
	f->st->forks++;
	return 0;
}

/* Is a child's memory gone (it exited or called exec)? A write-protect
 * request changes nothing here (no mapping is registered for it) and
 * fails with ESRCH once the memory is gone. */
static bool space_gone(const struct space *sp)
{
	struct uffdio_writeprotect w = {.range = {.start = 1ull << 32, .len = 4096}, .mode = 0};
	return ioctl(sp->uffd, UFFDIO_WRITEPROTECT, &w) < 0 && errno == ESRCH;
}

/* One event of space i, read under f->lock: the kernel lets the change go
 * on once its event is read, so the read and the bookkeeping are one step
 * and place() never copies by a table the change has made stale. Returns
 * the fault's address, 0 for another event, or a negative errno. */
static int64_t read_event(struct fill *f, uint32_t i) /* f->lock held */
{
	struct space *sp = f->spaces[i];
	struct uffd_msg m;
	ssize_t n = read(sp->uffd, &m, sizeof(m));
	if (n != sizeof(m))
		return n < 0 && errno == EAGAIN ? 0 : n < 0 ? -errno : -EIO;
	switch (m.event) {
	case UFFD_EVENT_PAGEFAULT:
		return (int64_t)m.arg.pagefault.address;
	case UFFD_EVENT_REMAP:
		if (sp->nremaps < REMAPS_MAX)
			sp->remaps[sp->nremaps++] =
				(struct remap){.from = m.arg.remap.from, .to = m.arg.remap.to, .len = m.arg.remap.len};
		else if (!f->error)
			f->error = -E2BIG,
			snprintf(f->err, sizeof(f->err), "the process moved memory too often during post-copy");
		return 0;
	case UFFD_EVENT_REMOVE:
	case UFFD_EVENT_UNMAP:
		forget(f, sp, m.arg.remove.start, m.arg.remove.end);
		return 0;
	case UFFD_EVENT_FORK:
		if (space_fork(f, sp, (int)m.arg.fork.ufd) < 0 && !f->error)
			f->error = -ENOMEM, snprintf(f->err, sizeof(f->err), "no memory to follow a fork of the process");
		return 0;
	}
	return 0;
}

/* The faults and layout changes of every space. */
static void *read_faults(void *arg)
{
	struct fill *f = arg;
	struct pollfd *p = NULL;
	uint32_t *which = NULL, cap = 0;
	while (!ended(f)) {
		pthread_mutex_lock(&f->lock);
		if (cap < f->nspaces) {
			cap = f->nspaces * 2;
			struct pollfd *np = realloc(p, cap * sizeof(*p));
			uint32_t *nw = np ? realloc(which, cap * sizeof(*which)) : NULL;
			p = np ? np : p, which = nw ? nw : which;
			if (!np || !nw) {
				pthread_mutex_unlock(&f->lock);
				fail_with(f, -ENOMEM, "cannot follow the process's faults");
				break;
			}
		}
		nfds_t n = 0;
		double t = now_ms();
		for (uint32_t i = 0; i < f->nspaces; i++) {
			struct space *sp = f->spaces[i];
			if (!sp)
				continue;
			if (i && t >= sp->next_probe) {
				sp->next_probe = t + FAULT_POLL_MS;
				if (space_gone(sp)) {
					space_free(sp);
					f->spaces[i] = NULL;
					continue;
				}
			}
			p[n] = (struct pollfd){.fd = sp->uffd, .events = POLLIN};
			which[n++] = i;
		}
		pthread_mutex_unlock(&f->lock);
		if (poll(p, n, FAULT_POLL_MS) <= 0)
			continue;
		for (nfds_t j = 0; j < n && !ended(f); j++) {
			if (!(p[j].revents & POLLIN))
				continue;
			pthread_mutex_lock(&f->lock);
			struct space *sp = f->spaces[which[j]];
			int64_t e = read_event(f, which[j]);
			pthread_mutex_unlock(&f->lock);
			if (e < 0) {
				fail_with(f, (int)e, "cannot read the userfaultfd");
				break;
			}
			if (e > 0)
				on_fault(f, sp, (uint64_t)e);
		}
	}
	free(p);
	free(which);
	return NULL;
}

/* A's page k (at A's address a) into space i unless it is in place there
 * (or the space is gone): 0, or a positive errno once retried enough. The
 * check and the copy are one step under the lock, against the fault
 * thread's forget(): a page the process dropped meanwhile must stay zero.
 * EAGAIN: the space's layout is changing (or it is forking); ENOENT: it
 * has changed (moved or unmapped the mapping: the kernel looks for the
 * mapping before it looks at a change in flight) and the fault thread has
 * not read the event yet. Both: again, at the address the remap table
 * gives once it has (an unmap's event marks the page placed). Taking
 * ENOENT for "unmapped" lost the page of a mapping moved meanwhile: its
 * new place stayed missing, and read zeros once the memory was
 * unregistered. ESRCH: a child's memory is gone (the fault thread drops
 * its space). */
static int put_page(struct fill *f, uint32_t i, int64_t k, uint64_t a, const uint8_t *src)
{
	int e = EAGAIN;
	for (int tries = 0; (e == EAGAIN || e == ENOENT) && tries < COPY_RETRIES_MAX && !f->stop; tries++) {
		if (tries)
			usleep(100);
		pthread_mutex_lock(&f->lock);
		struct space *sp = f->spaces[i];
		uint8_t was = sp ? sp->state[k] : PLACED;
		if (was == PLACED) {
			pthread_mutex_unlock(&f->lock);
			return 0;
		}
		struct uffdio_copy c = {.dst = here(sp, a), .src = (uint64_t)(uintptr_t)src, .len = (uint64_t)f->ix.page};
		e = ioctl(sp->uffd, UFFDIO_COPY, &c) < 0 ? errno : 0;
		if (e == ESRCH) {
			sp->next_probe = 0;
			e = 0;
		} else if (e == 0 || e == EEXIST) { /* EEXIST: already there */
			__atomic_store_n(&sp->state[k], PLACED, __ATOMIC_RELEASE);
			e = 0;
			if (i) {
				f->st->pages_forked++;
			} else if (f->placed++, was == ASKED) {
				f->st->pages_requested++;
				if (f->asked_ms[k] > 0) {
					f->lat[f->nlat++] = now_ms() - f->asked_ms[k];
					f->st->pages_urgent++;
				}
			} else {
				f->st->pages_pushed++;
			}
		}
		pthread_mutex_unlock(&f->lock);
	}
	return e; /* ENOENT for 5 s: a layout change without an event */
}

/* One PAGES record from A: each page goes into every space that lacks it,
 * the process first, then its children in fork order (a child forked
 * meanwhile comes after its parent: it has the page from the fork, or
 * gets it here). */
static int place(struct fill *f, const uint8_t *p, uint32_t len)
{
	long page = f->ix.page;
	struct fr_pages_hdr h;
	if (decode_pages_hdr(p, len, (uint32_t)page, &h) < 0)
		return -EBADMSG;
	const uint8_t *data = p + sizeof(h);
	for (uint32_t j = 0; j < h.npages; j++) {
		uint64_t a = h.addr + (uint64_t)j * (uint64_t)page;
		int64_t k = lazy_index_of(&f->ix, a);
		if (k < 0)
			return -EBADMSG;
		for (uint32_t i = 0; i < __atomic_load_n(&f->nspaces, __ATOMIC_ACQUIRE); i++) {
			int e = put_page(f, i, k, a, data + (size_t)j * (size_t)page);
			if (e)
				return -e;
		}
	}
	pthread_mutex_lock(&f->lock);
	f->st->bytes += (uint64_t)h.npages * (uint64_t)page;
	postcopy_tick(f->st, false, false); /* from either connection's thread */
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
	while (!ended(f) && fd == -ETIMEDOUT && now_ms() - t0 < f->l->ch.timeout_ms)
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
		if (!ended(f))
			pr_warn("post-copy goes on with one connection: %s",
				fd < 0 ? (fd == -ETIMEDOUT ? "the urgent connection did not come" : strerror(-fd)) : why);
		return NULL;
	}
	pthread_mutex_lock(&f->lock);
	bool late = ended(f); /* every page came on the main connection meanwhile */
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
		if (r == -ETIMEDOUT && !ended(f))
			continue; /* no fault, no answer */
		if (r < 0 || ended(f)) {
			if (!ended(f))
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

/* Every page is placed or forgotten in every space. */
static bool all_in(struct fill *f)
{
	for (uint64_t k = 0; k < f->ix.total; k++) /* the process's first, without the lock */
		if (__atomic_load_n(&f->ix.state[k], __ATOMIC_ACQUIRE) != PLACED)
			return false;
	pthread_mutex_lock(&f->lock);
	bool in = true;
	for (uint32_t i = 1; in && i < f->nspaces; i++)
		for (uint64_t k = 0; in && f->spaces[i] && k < f->ix.total; k++)
			in = f->spaces[i]->state[k] == PLACED;
	pthread_mutex_unlock(&f->lock);
	return in;
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
	/* a page is in place once no space lacks it */
	struct range_list again = {0};
	pthread_mutex_lock(&f->lock);
	for (uint64_t k = 0; k < f->ix.total; k++) {
		bool in = true, waits = false;
		for (uint32_t i = 0; i < f->nspaces; i++) {
			struct space *sp = f->spaces[i];
			if (!sp || sp->state[k] == PLACED)
				continue;
			in = false;
			if (sp->state[k] == ASKED) { /* lost with the old connection */
				sp->state[k] = MISSING;
				waits |= i > 0 || f->asked_ms[k] > 0; /* a thread waits for it */
			}
		}
		if (in)
			bits[k / 8] |= (uint8_t)(1u << (k % 8));
		if (waits) {
			uint64_t a = lazy_index_addr(&f->ix, k);
			range_list_add(&again, a, a + (uint64_t)f->ix.page);
		}
	}
	pthread_mutex_unlock(&f->lock);
	struct buf b = {0};
	encode_resume(&b, f->ix.total, bits);
	free(bits);
	if ((r = link_put(l, REC_RESUME, &b)) < 0)
		link_io_error(l, r, "sending RESUME", err, errlen);
	for (size_t i = 0; r == 0 && i < again.n; i++) {
		uint64_t npages = (again.v[i].end - again.v[i].start) / (uint64_t)f->ix.page;
		for (uint64_t k = (uint64_t)lazy_index_of(&f->ix, again.v[i].start), n = 0; n < npages; n++)
			if (f->ix.state[k + n] == MISSING)
				f->ix.state[k + n] = ASKED;
		encode_discard(&b, &(struct fr_discard){.addr = again.v[i].start, .npages = (uint32_t)npages});
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

/* Post-copy failed: a child forked meanwhile loses its registration when
 * ferry's copy of its userfaultfd closes, and would then read zeros where
 * its missing pages belong; it is killed instead (the process itself
 * keeps its own copy: its faults wait). Those are the descendants whose
 * memory still has a mapping registered (VmFlags "um"). */
static void kill_forked(const struct fill *f, pid_t pid)
{
	bool any = false;
	for (uint32_t i = 1; i < f->nspaces; i++)
		any |= f->spaces[i] != NULL;
	if (!any)
		return;
	pid_t *kin = NULL;
	size_t n = 0;
	if (proc_descendants(pid, &kin, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct vma_attr_list l;
		bool waits = false;
		if (vma_attrs_read(kin[i], &l) == 0)
			for (size_t j = 0; j < l.n; j++)
				waits |= l.v[j].uffd_missing;
		vma_attrs_free(&l);
		if (waits) {
			pr_warn("post-copy failed: killing pid %d, forked during post-copy, before it reads zeros where "
				"its pages belong",
				kin[i]);
			kill(kin[i], SIGKILL);
		}
	}
	free(kin);
}

int postcopy_fill(struct link *l, pid_t pid, struct restore_lazy *lz, const struct postcopy_fill_opts *o,
		  struct postcopy_stats *st, char *err, size_t errlen)
{
	double t0 = now_ms();
	struct fill f = {.l = l, .pid = pid, .st = st, .lock = PTHREAD_MUTEX_INITIALIZER, .window = RA_START,
			 .join = o->join, .flags = o->flags, .resume_fd = -1, .retry_for_ms = o->retry_for_ms};
	struct space self = {.uffd = lz->uffd};
	int r = lazy_index_init(&f.ix, &lz->pages);
	if (r == 0) {
		f.asked_ms = calloc(f.ix.total ? f.ix.total : 1, sizeof(double));
		f.lat = calloc(f.ix.total ? f.ix.total : 1, sizeof(double));
		f.spaces = malloc(sizeof(*f.spaces));
		if (!f.asked_ms || !f.lat || !f.spaces)
			r = -ENOMEM;
		else
			self.state = f.ix.state, f.spaces[0] = &self, f.nspaces = 1;
	}
	st->pages_total = f.ix.total;
	postcopy_tick(st, true, false);
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
	if (r < 0)
		kill_forked(&f, pid);
	for (uint32_t i = 1; i < f.nspaces; i++)
		space_free(f.spaces[i]);
	free(f.spaces);
	if (r == 0)
		restore_lazy_free(lz);
	st->t_complete_ms = now_ms() - t0;
	latencies(&f);
	postcopy_tick(st, true, true);
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

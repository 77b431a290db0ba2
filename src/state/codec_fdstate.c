/* codec_fdstate.c — the kind-specific tail of a FILE record for the kernel
 * objects whose state is more than a counter: an epoll set's or an inotify
 * instance's watches, a timerfd's clock and times, the contents of a memfd
 * or deleted file. Only records of those kinds carry the tail (other kinds'
 * records end at kind_flags), and the checks here are the per-kind rules
 * decode_file applies to value and kind_flags. Wire order of the tail:
 * nwatches, then per watch id, mask, data, path; a timerfd's clockid,
 * value_ns, interval_ns; nextents, then per extent offset, len, the bytes. */
#include "codec_internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/timerfd.h>
#include <time.h>

#define WATCH_MIN_BYTES 20 /* id, mask, data and an absent path: bounds nwatches by what is left */
/* Every bit epoll_ctl(EPOLL_CTL_ADD) takes, plus the ERR/HUP it always adds. */
#define EPOLL_WATCH_BITS                                                                                       \
	((uint32_t)(EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLRDNORM | EPOLLRDBAND | EPOLLWRNORM | \
		    EPOLLWRBAND | EPOLLMSG | EPOLLRDHUP | EPOLLEXCLUSIVE | EPOLLWAKEUP | EPOLLONESHOT | EPOLLET))
#define INOTIFY_WATCH_BITS                                                                                     \
	((uint32_t)(IN_ALL_EVENTS | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK | IN_ONESHOT))
#define TIMERFD_SETTIME_BITS ((uint32_t)(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET))
#define NSEC_MAX ((uint64_t)INT64_MAX) /* a timespec of the kernel's ktime_t range */

#define EXTENT_MIN_BYTES 13 /* offset, len and at least one byte */
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020 /* Linux 6.3; glibc 2.36 lacks it */
#endif
#define MEMFD_SEALS ((uint32_t)(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | F_SEAL_EXEC))
#define MEMFD_PREFIX "/memfd:"
#define DELETED_SUFFIX " (deleted)"

static bool has_watches(uint32_t kind) { return kind == FILE_EPOLL || kind == FILE_INOTIFY; }
static bool has_contents(uint32_t kind) { return kind == FILE_MEMFD || kind == FILE_GHOST; }

bool codec_file_has_tail(uint32_t kind) { return has_watches(kind) || kind == FILE_TIMERFD || has_contents(kind); }

void encode_file_tail(struct buf *b, const struct fr_file *f)
{
	if (has_watches(f->kind)) {
		buf_put_u32(b, f->nwatches);
		for (uint32_t i = 0; i < f->nwatches; i++) {
			const struct fr_watch *w = &f->watches[i];
			buf_put_u32(b, (uint32_t)w->id);
			buf_put_u32(b, w->mask);
			buf_put_u64(b, w->data);
			buf_put_str(b, w->path);
		}
	}
	if (f->kind == FILE_TIMERFD) {
		buf_put_u32(b, (uint32_t)f->timer.clockid);
		buf_put_u64(b, f->timer.value_ns);
		buf_put_u64(b, f->timer.interval_ns);
	}
	if (has_contents(f->kind)) {
		buf_put_u32(b, f->nextents);
		for (uint32_t i = 0; i < f->nextents; i++) {
			buf_put_u64(b, f->extents[i].offset);
			buf_put_u32(b, f->extents[i].len);
			buf_put(b, f->extents[i].data, f->extents[i].len);
		}
	}
}

static void decode_extents(struct buf_reader *r, struct fr_file *f)
{
	uint32_t n = buf_get_u32(r);
	if (r->bad || (size_t)n * EXTENT_MIN_BYTES > r->left) {
		r->bad = true;
		return;
	}
	if (n && !(f->extents = calloc(n, sizeof(*f->extents)))) {
		r->bad = true;
		return;
	}
	for (uint32_t i = 0; i < n && !r->bad; i++) {
		struct fr_extent *e = &f->extents[i];
		e->offset = buf_get_u64(r);
		e->len = buf_get_u32(r);
		if (r->bad || e->len == 0 || e->len > r->left || !(e->data = malloc(e->len))) {
			r->bad = true;
			return;
		}
		f->nextents++;
		buf_get(r, e->data, e->len);
	}
}

void decode_file_tail(struct buf_reader *r, struct fr_file *f)
{
	if (has_watches(f->kind)) {
		uint32_t n = buf_get_u32(r);
		if (r->bad || n > FR_MAX_WATCHES || (size_t)n * WATCH_MIN_BYTES > r->left) {
			r->bad = true;
			return;
		}
		if (n && !(f->watches = calloc(n, sizeof(*f->watches)))) {
			r->bad = true;
			return;
		}
		for (uint32_t i = 0; i < n && !r->bad; i++, f->nwatches++) {
			struct fr_watch *w = &f->watches[i];
			w->id = (int32_t)buf_get_u32(r);
			w->mask = buf_get_u32(r);
			w->data = buf_get_u64(r);
			w->path = buf_get_str(r);
		}
	}
	if (f->kind == FILE_TIMERFD) {
		f->timer.clockid = (int32_t)buf_get_u32(r);
		f->timer.value_ns = buf_get_u64(r);
		f->timer.interval_ns = buf_get_u64(r);
	}
	if (has_contents(f->kind))
		decode_extents(r, f);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Extents ascending, apart, inside the size, within FR_CONTENTS_MAX. */
static int check_contents(const struct fr_file *f)
{
	uint64_t end = 0, total = 0;
	for (uint32_t i = 0; i < f->nextents; i++) {
		const struct fr_extent *e = &f->extents[i];
		if (e->offset < end || e->offset + e->len < e->offset || e->offset + e->len > f->value)
			return codec_refuse("extents (overlapping, unordered or beyond the size)");
		end = e->offset + e->len;
		total += e->len;
	}
	if (total > FR_CONTENTS_MAX || f->value > (uint64_t)INT64_MAX)
		return codec_refuse("contents (too large)");
	if (f->kind == FILE_MEMFD) {
		if (strncmp(f->path, MEMFD_PREFIX, strlen(MEMFD_PREFIX)) != 0 || !ends_with(f->path, DELETED_SUFFIX))
			return codec_refuse("memfd path (not /memfd:NAME (deleted))");
		if (f->kind_flags & ~MEMFD_SEALS)
			return codec_refuse("memfd seals");
	} else if (f->path[0] != '/' || (f->kind_flags & ~07777u)) {
		return codec_refuse("deleted file (relative path or mode)");
	}
	return f->pos < 0 ? codec_refuse("pos (negative)") : 0;
}

static bool timerfd_clock(int32_t c)
{
	return c == CLOCK_REALTIME || c == CLOCK_MONOTONIC || c == CLOCK_BOOTTIME || c == CLOCK_REALTIME_ALARM ||
	       c == CLOCK_BOOTTIME_ALARM;
}

static int check_watches(const struct fr_file *f)
{
	for (uint32_t i = 0; i < f->nwatches; i++) {
		const struct fr_watch *w = &f->watches[i];
		if (f->kind == FILE_EPOLL) {
			if (w->id < 0 || (i && w->id <= f->watches[i - 1].id))
				return codec_refuse("epoll watch (fds not ascending)");
			if ((w->mask & ~EPOLL_WATCH_BITS) || w->path)
				return codec_refuse("epoll watch (events or path)");
		} else {
			if (w->id <= 0 || (i && w->id <= f->watches[i - 1].id))
				return codec_refuse("inotify watch (wd not positive and ascending)");
			if ((w->mask & ~INOTIFY_WATCH_BITS) || !(w->mask & IN_ALL_EVENTS) || w->data)
				return codec_refuse("inotify watch (mask or data)");
			if (!w->path || w->path[0] != '/')
				return codec_refuse("inotify watch (path absent or relative)");
		}
	}
	return 0;
}

int check_file_state(const struct fr_file *f)
{
	switch (f->kind) {
	case FILE_EVENTFD:
		if (f->value > FR_EVENTFD_MAX || (f->kind_flags & ~(uint32_t)EFD_SEMAPHORE) || f->pos != 0)
			return codec_refuse("eventfd (counter, flags or offset)");
		return 0;
	case FILE_EPOLL:
	case FILE_INOTIFY:
		if (f->value || f->kind_flags || f->pos != 0)
			return codec_refuse("value / kind_flags / pos (reserved for this kind)");
		return check_watches(f);
	case FILE_TIMERFD:
		if (!timerfd_clock(f->timer.clockid))
			return codec_refuse("timerfd clockid");
		if ((f->kind_flags & ~TIMERFD_SETTIME_BITS) || f->pos != 0)
			return codec_refuse("timerfd (settime flags or offset)");
		if (f->timer.value_ns > NSEC_MAX || f->timer.interval_ns > NSEC_MAX)
			return codec_refuse("timerfd (time left or interval out of range)");
		return 0;
	case FILE_SIGNALFD:
		if (f->kind_flags || f->pos != 0)
			return codec_refuse("signalfd (flags or offset)");
		return 0;
	case FILE_MEMFD:
	case FILE_GHOST:
		return f->path ? check_contents(f) : codec_refuse("path (absent)");
	}
	if (f->value || f->kind_flags)
		return codec_refuse("value / kind_flags (reserved for this kind)");
	return 0;
}

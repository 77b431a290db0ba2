/* image.c — the restore's metadata reader and the PAGES range check (see
 * image.h). Every count a stream states is checked against a cap before
 * memory is allocated for it, and every array grows only while records
 * keep arriving, so a stream cannot make ferry allocate more than its own
 * length plus the caps allow. */
#include "image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"

/* Fallbacks when /proc/sys cannot be read, and a ceiling on threads: the
 * restore clones and drives every thread one by one, and a real process
 * with more threads than this is beyond what ferry is tested with. */
#define IMAGE_THREADS_MAX 32768u
#define IMAGE_VMAS_FALLBACK 65530u /* DEFAULT_MAX_MAP_COUNT in the kernel */
#define IMAGE_FDS_FALLBACK 4096u   /* systemd's default RLIMIT_NOFILE hard limit is higher; stay modest */
#define SHM_PAGE 4096ull /* x86_64 base page: a System V segment is attached in whole pages */
#define IMAGE_PENDING_FALLBACK FR_MAX_PENDING

static uint32_t rlimit_u32(int resource, bool hard, uint32_t fallback)
{
	struct rlimit rl;
	if (getrlimit(resource, &rl) < 0)
		return fallback;
	rlim_t v = hard ? rl.rlim_max : rl.rlim_cur;
	return v == RLIM_INFINITY || v > INT32_MAX ? INT32_MAX : (uint32_t)v;
}

static uint32_t read_sysctl_u32(const char *path, uint32_t fallback)
{
	char *text = NULL;
	size_t n;
	unsigned long long v;
	uint32_t out = fallback;
	if (read_small_file(path, &text, &n) == 0 && sscanf(text, "%llu", &v) == 1 && v > 0)
		out = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
	free(text);
	return out;
}

void image_limits_of_host(struct image_limits *lim)
{
	lim->max_threads = MIN(read_sysctl_u32("/proc/sys/kernel/threads-max", IMAGE_THREADS_MAX), IMAGE_THREADS_MAX);
	lim->max_vmas = read_sysctl_u32("/proc/sys/vm/max_map_count", IMAGE_VMAS_FALLBACK);
	lim->max_fds = rlimit_u32(RLIMIT_NOFILE, true, IMAGE_FDS_FALLBACK);
	lim->max_pending = rlimit_u32(RLIMIT_SIGPENDING, false, IMAGE_PENDING_FALLBACK);
}

/* A record that failed to decode: out of memory, or the decoder's reason. */
static int refuse_record(int r, struct fr_stream *s, const char *what, char *err, size_t errlen)
{
	if (r == -ENOMEM) {
		snprintf(err, errlen, "out of memory while reading the %s record (record %llu)", what,
			 (unsigned long long)s->records);
		return r;
	}
	snprintf(err, errlen, "stream is corrupted: invalid %s record (record %llu): %s", what,
		 (unsigned long long)s->records, codec_why());
	return -EBADMSG;
}

static int corrupt(char *err, size_t errlen, struct fr_stream *s, const char *what)
{
	snprintf(err, errlen, "stream is corrupted: %s (record %llu)", what, (unsigned long long)s->records);
	return -EBADMSG;
}

static int too_many(char *err, size_t errlen, const char *what, uint32_t max, const char *why)
{
	snprintf(err, errlen, "the image has more than %u %s, more than this host allows (%s)", max, what, why);
	return -E2BIG;
}

int restore_read_record(struct fr_stream *s, uint16_t *type, const uint8_t **p, uint32_t *len, char *err,
			size_t errlen)
{
	int r = stream_read_record(s, type, p, len);
	if (r == -ENODATA && !s->err[0])
		snprintf(err, errlen, "stream is truncated: it ends after %llu records without an end record",
			 (unsigned long long)s->records);
	else if (r < 0)
		snprintf(err, errlen, "%s", s->err);
	return r;
}

/* Makes room for element n of an array whose capacity doubles at powers of two. */
static int grow(void **arr, uint32_t n, size_t elem, const char *what, char *err, size_t errlen)
{
	if (n & (n - 1))
		return 0;
	void *na = realloc(*arr, (n ? 2 * (size_t)n : 1) * elem);
	if (!na) {
		snprintf(err, errlen, "out of memory while reading %u %s", n, what);
		return -ENOMEM;
	}
	*arr = na;
	return 0;
}

/* Room for one more of n records, at most max of them (why: the limit's
 * name, for the message). */
static int grow_capped(void **arr, uint32_t n, uint32_t max, size_t elem, const char *what, const char *why, char *err,
		       size_t errlen)
{
	if (n >= max)
		return too_many(err, errlen, what, max, why);
	return grow(arr, n, elem, what, err, errlen);
}

static int read_hello(struct fr_stream *s, uint16_t type, const uint8_t *p, uint32_t len, char *err, size_t errlen)
{
	if (type != REC_HELLO)
		return corrupt(err, errlen, s, "the first record is not a hello record");
	struct fr_hello hello = {0};
	int r = decode_hello(p, len, &hello);
	if (r < 0)
		return refuse_record(r, s, "hello", err, errlen);
	struct utsname u;
	uname(&u);
	long page = sysconf(_SC_PAGESIZE);
	if (hello.page_size != page || strcmp(hello.arch, u.machine) != 0) {
		snprintf(err, errlen, "stream is from a %s machine with %u-byte pages; this is %s with %ld-byte pages",
			 hello.arch, hello.page_size, u.machine, page);
		fr_hello_free(&hello);
		return -EPROTO;
	}
	if (strcmp(hello.kernel ? hello.kernel : "", u.release) != 0)
		pr_info("stream comes from kernel %s, this is %s", hello.kernel, u.release);
	fr_hello_free(&hello);
	return 0;
}

uint32_t image_file_index(const struct fr_image *img, uint32_t n, int32_t fd)
{
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (img->files[mid].fd < fd)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The file with this fd among the first n (sorted by fd), or NULL. */
static const struct fr_file *find_file(const struct fr_image *img, uint32_t n, int32_t fd)
{
	uint32_t i = image_file_index(img, n, fd);
	return i < n && img->files[i].fd == fd ? &img->files[i] : NULL;
}

/* proc.nthreads, already checked against the cap, bounds the thread records. */
static int add_thread(struct fr_stream *s, struct fr_image *img, const uint8_t *p, uint32_t len, char *err,
		      size_t errlen)
{
	if (img->nthreads >= img->proc.nthreads)
		return corrupt(err, errlen, s, "more thread records than the process record counts");
	int r = grow((void **)&img->threads, img->nthreads, sizeof(*img->threads), "threads", err, errlen);
	if (r < 0)
		return r;
	if ((r = decode_thread(p, len, &img->threads[img->nthreads])) < 0)
		return refuse_record(r, s, "thread", err, errlen);
	img->nthreads++;
	return 0;
}

static int add_file(struct fr_stream *s, const struct image_limits *lim, struct fr_image *img, const uint8_t *p,
		    uint32_t len, char *err, size_t errlen)
{
	int r = grow_capped((void **)&img->files, img->nfiles, lim->max_fds, sizeof(*img->files), "fds",
			    "RLIMIT_NOFILE hard limit", err, errlen);
	if (r < 0)
		return r;
	struct fr_file *f = &img->files[img->nfiles];
	if ((r = decode_file(p, len, f)) < 0)
		return refuse_record(r, s, "file", err, errlen);
	img->nfiles++;
	if ((uint32_t)f->fd >= lim->max_fds) {
		snprintf(err, errlen, "the image has fd %d; this host allows fds below %u (RLIMIT_NOFILE hard limit)",
			 f->fd, lim->max_fds);
		return -E2BIG;
	}
	if (img->nfiles > 1 && f->fd <= img->files[img->nfiles - 2].fd)
		return corrupt(err, errlen, s, "file records are not sorted by fd");
	if (img->nfiles > 1 && img->files[img->nfiles - 2].mapping_only && !f->mapping_only)
		return corrupt(err, errlen, s, "an fd's record follows one of an object only mappings hold");
	if (f->share_of >= 0) {
		const struct fr_file *owner = find_file(img, img->nfiles - 1, f->share_of);
		if (!owner)
			return corrupt(err, errlen, s, "a file record shares the description of an unknown fd");
		if (owner->kind != f->kind || owner->mapping_only)
			return corrupt(err, errlen, s, "a file record shares the description of an fd of another kind");
	}
	return 0;
}

/* Timers, like queued signals, take from RLIMIT_SIGPENDING: one each. */
static int add_timer(struct fr_stream *s, const struct image_limits *lim, struct fr_image *img, const uint8_t *p,
		     uint32_t len, char *err, size_t errlen)
{
	int r = grow_capped((void **)&img->timers, img->ntimers, lim->max_pending, sizeof(*img->timers), "POSIX timers",
			    "RLIMIT_SIGPENDING", err, errlen);
	if (r < 0)
		return r;
	const struct fr_posix_timer *t = &img->timers[img->ntimers];
	if ((r = decode_posix_timer(p, len, &img->timers[img->ntimers])) < 0)
		return refuse_record(r, s, "posix timer", err, errlen);
	img->ntimers++;
	if (img->ntimers > 1 && t->id <= img->timers[img->ntimers - 2].id)
		return corrupt(err, errlen, s, "posix timer records are not sorted by id");
	return 0;
}

/* A lock is taken through an fd of the image that owns its description. */
static int add_lock(struct fr_stream *s, struct fr_image *img, const uint8_t *p, uint32_t len, char *err,
		    size_t errlen)
{
	int r = grow_capped((void **)&img->locks, img->nlocks, FR_MAX_LOCKS, sizeof(*img->locks), "file locks",
			    "ferry's limit", err, errlen);
	if (r < 0)
		return r;
	struct fr_lock *l = &img->locks[img->nlocks];
	if ((r = decode_file_lock(p, len, l)) < 0)
		return refuse_record(r, s, "file lock", err, errlen);
	img->nlocks++;
	const struct fr_file *f = find_file(img, img->nfiles, l->fd);
	if (!f || f->share_of >= 0 || f->mapping_only)
		return corrupt(err, errlen, s, "a file lock names no fd of the image that owns its description");
	return 0;
}

static int add_shm(struct fr_stream *s, struct fr_image *img, const uint8_t *p, uint32_t len, char *err,
		   size_t errlen)
{
	int r = grow_capped((void **)&img->shms, img->nshms, FR_MAX_SHMS, sizeof(*img->shms),
			    "System V shared memory segments", "ferry's limit", err, errlen);
	if (r < 0)
		return r;
	const struct fr_shm *m = &img->shms[img->nshms];
	if ((r = decode_shm(p, len, &img->shms[img->nshms])) < 0)
		return refuse_record(r, s, "shm", err, errlen);
	img->nshms++;
	if (img->nshms > 1 && m->id <= img->shms[img->nshms - 2].id)
		return corrupt(err, errlen, s, "shm records are not sorted by id");
	return 0;
}

static const struct fr_shm *find_shm(const struct fr_image *img, int32_t id)
{
	for (uint32_t i = 0; i < img->nshms; i++)
		if (img->shms[i].id == id)
			return &img->shms[i];
	return NULL;
}

static int add_vma(struct fr_stream *s, const struct image_limits *lim, struct fr_image *img, const uint8_t *p,
		   uint32_t len, char *err, size_t errlen)
{
	int r = grow_capped((void **)&img->vmas, img->nvmas, lim->max_vmas, sizeof(*img->vmas), "mappings",
			    "vm.max_map_count", err, errlen);
	if (r < 0)
		return r;
	const struct fr_vma *v = &img->vmas[img->nvmas];
	if ((r = decode_vma(p, len, &img->vmas[img->nvmas])) < 0)
		return refuse_record(r, s, "vma", err, errlen);
	img->nvmas++;
	if (img->nvmas > 1 && v->start < img->vmas[img->nvmas - 2].end)
		return corrupt(err, errlen, s, "vma records overlap or are not sorted by address");
	if (v->kind >= VMA_VDSO)
		for (uint32_t i = 0; i + 1 < img->nvmas; i++)
			if (img->vmas[i].kind == v->kind)
				return corrupt(err, errlen, s, "a special mapping ([vdso]/[vvar]) appears twice");
	if (v->kind == VMA_SYSV_SHM) {
		const struct fr_shm *m = find_shm(img, fr_vma_object(v));
		if (!m || v->end - v->start != ((m->size + SHM_PAGE - 1) & ~(uint64_t)(SHM_PAGE - 1)))
			return corrupt(err, errlen, s, "a System V mapping names no segment of the image, or not all of it");
		return 0;
	}
	const struct fr_file *f = v->object ? find_file(img, img->nfiles, fr_vma_object(v)) : NULL;
	if (v->object && (!f || (f->kind != FILE_MEMFD && f->kind != FILE_GHOST) || f->share_of >= 0))
		return corrupt(err, errlen, s, "a mapping's object is no memfd or deleted file of the image");
	return 0;
}

int image_read_metadata(struct fr_stream *s, const struct image_limits *lim, struct fr_image *img, uint16_t *type,
			const uint8_t **p, uint32_t *len, char *err, size_t errlen)
{
	int r = stream_read_preamble(s);
	if (r < 0) {
		snprintf(err, errlen, "%s", s->err);
		return r;
	}
	if ((r = restore_read_record(s, type, p, len, err, errlen)) < 0)
		return r;
	if ((r = read_hello(s, *type, *p, *len, err, errlen)) < 0)
		return r;
	return image_read_state(s, lim, img, type, p, len, err, errlen);
}

int image_read_state(struct fr_stream *s, const struct image_limits *lim, struct fr_image *img, uint16_t *type,
		     const uint8_t **p, uint32_t *len, char *err, size_t errlen)
{
	int r;
	bool have_proc = false;
	uint64_t pending = 0; /* queued signals so far */
	for (;;) {
		if ((r = restore_read_record(s, type, p, len, err, errlen)) < 0)
			return r;
		if (*type == REC_PROCESS && !have_proc) {
			if ((r = decode_process(*p, *len, &img->proc)) < 0)
				return refuse_record(r, s, "process", err, errlen);
			if (img->proc.nthreads > lim->max_threads)
				return too_many(err, errlen, "threads", lim->max_threads, "kernel.threads-max");
			pending = img->proc.npending;
			have_proc = true;
		} else if (*type == REC_THREAD && have_proc) {
			r = add_thread(s, img, *p, *len, err, errlen);
			if (r == 0)
				pending += img->threads[img->nthreads - 1].npending;
		} else if (*type == REC_FILE && have_proc) {
			r = add_file(s, lim, img, *p, *len, err, errlen);
		} else if (*type == REC_POSIX_TIMER && have_proc) {
			r = add_timer(s, lim, img, *p, *len, err, errlen);
		} else if (*type == REC_FILE_LOCK && have_proc) {
			r = add_lock(s, img, *p, *len, err, errlen);
		} else if (*type == REC_SHM && have_proc) {
			r = add_shm(s, img, *p, *len, err, errlen);
		} else if (*type == REC_VMA && have_proc) {
			r = add_vma(s, lim, img, *p, *len, err, errlen);
		} else if ((*type == REC_PAGES || *type == REC_DISCARD || *type == REC_LAZY || *type == REC_DONE) && have_proc) {
			break;
		} else {
			snprintf(err, errlen, "stream is corrupted: unexpected %s record (record %llu)",
				 fr_record_name(*type), (unsigned long long)s->records);
			return -EBADMSG;
		}
		if (r < 0)
			return r;
		if (pending > lim->max_pending)
			return too_many(err, errlen, "queued signals", lim->max_pending, "RLIMIT_SIGPENDING");
	}
	if (img->nthreads != img->proc.nthreads || img->threads[0].tid != img->proc.pid) {
		snprintf(err, errlen, "stream is corrupted: %u of %u thread records, leader %d", img->nthreads,
			 img->proc.nthreads, img->nthreads ? img->threads[0].tid : 0);
		return -EBADMSG;
	}
	if (!img->proc.mm.exe)
		return corrupt(err, errlen, s, "the process record names no executable");
	return 0;
}

int image_read_layout(struct fr_stream *s, const struct image_limits *lim, struct fr_image *layout, uint16_t *type,
		      const uint8_t **p, uint32_t *len, char *err, size_t errlen)
{
	int r = 0;
	while (r == 0 && *type == REC_VMA) {
		if ((r = add_vma(s, lim, layout, *p, *len, err, errlen)) == 0)
			r = restore_read_record(s, type, p, len, err, errlen);
	}
	if (r == 0 && *type != REC_PAGES && *type != REC_DISCARD && *type != REC_ROUND_END) {
		snprintf(err, errlen, "stream is corrupted: unexpected %s record in a pre-copy round (record %llu)",
			 fr_record_name(*type), (unsigned long long)s->records);
		r = -EBADMSG;
	}
	if (r == 0 && layout->nvmas == 0)
		r = corrupt(err, errlen, s, "a pre-copy round without a layout");
	return r;
}

/* The mapping of img that holds all of [addr, end) and takes pages, or NULL. */
static const struct fr_vma *pages_vma(const struct fr_image *img, uint64_t addr, uint64_t end)
{
	uint32_t lo = 0, hi = img->nvmas; /* the last mapping that starts at or below addr */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (img->vmas[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	const struct fr_vma *v = lo ? &img->vmas[lo - 1] : NULL;
	return v && addr < v->end && end <= v->end && fr_vma_has_pages(v) ? v : NULL;
}

static int outside(uint32_t npages, uint64_t addr, char *err, size_t errlen)
{
	snprintf(err, errlen, "stream is corrupted: %u pages at %#llx are not inside one restored mapping that takes pages",
		 npages, (unsigned long long)addr);
	return -EBADMSG;
}

int image_check_pages(const struct fr_image *img, uint32_t page_size, const uint8_t *p, uint32_t len,
		      struct fr_pages_hdr *h, char *err, size_t errlen)
{
	if (decode_pages_hdr(p, len, page_size, h) < 0) {
		snprintf(err, errlen, "stream is corrupted: invalid pages record: %s", codec_why());
		return -EBADMSG;
	}
	uint64_t end = h->addr + (uint64_t)h->npages * page_size; /* checked by decode_pages_hdr */
	return pages_vma(img, h->addr, end) ? 0 : outside(h->npages, h->addr, err, errlen);
}

const struct fr_vma *image_check_discard(const struct fr_image *img, uint32_t page_size, const uint8_t *p,
					 uint32_t len, struct fr_discard *d, char *err, size_t errlen)
{
	if (decode_discard(p, len, page_size, d) < 0) {
		snprintf(err, errlen, "stream is corrupted: invalid discard record: %s", codec_why());
		return NULL;
	}
	const struct fr_vma *v = pages_vma(img, d->addr, d->addr + (uint64_t)d->npages * page_size);
	if (!v)
		outside(d->npages, d->addr, err, errlen);
	return v;
}

/* fuzzseed — test tool: writes the seed corpus of the fuzz target
 * (tests/fuzz/corpus/). Usage:
 *   fuzzseed trim IN OUT   a real image cut down to its metadata, its first
 *                          SEED_PAGE_RECORDS pages records (one page each)
 *                          and a matching end record
 *   fuzzseed synth DIR     hand-made streams: a minimal valid one and one
 *                          per guard of the decoders (wrapping addr, negative
 *                          share index, reserved flags, too many records,
 *                          pages outside any mapping, truncation), one
 *                          with an epoll set, timerfd, signalfd, inotify
 *                          instance, memfd, deleted file, POSIX timers,
 *                          file locks, mappings of memfds (one held by
 *                          mappings only) and a System V segment; another with a pipe, a socket pair
 *                          with queued datagrams, a TCP listener and an
 *                          external fd; and two pre-copy rounds */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "state/codec.h"
#include "state/stream.h"

#define SEED_PAGE_RECORDS 2
#define SEED_PID 4242
#define SEED_TOO_MANY_VMAS 70 /* above the fuzz target's cap of 64 */
#define SEED_VMA_BASE 0x10000000ull

static int die(const char *what, int r)
{
	fprintf(stderr, "fuzzseed: %s: %s\n", what, strerror(r < 0 ? -r : r));
	return 1;
}

static int put(struct fr_stream *s, uint16_t type, struct buf *b)
{
	int r = b->oom ? -ENOMEM : stream_write_record(s, type, b->data, b->len);
	b->len = 0;
	return r;
}

static int trim(const char *in, const char *out)
{
	int ifd = open(in, O_RDONLY | O_CLOEXEC), ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (ifd < 0 || ofd < 0)
		return die(ifd < 0 ? in : out, -errno);
	struct fr_stream is, os;
	stream_init(&is, ifd);
	stream_init(&os, ofd);
	int r = stream_read_preamble(&is);
	if (r == 0)
		r = stream_write_preamble(&os);
	uint16_t type;
	const uint8_t *p;
	uint32_t len;
	uint64_t page_records = 0;
	uint32_t page = (uint32_t)sysconf(_SC_PAGESIZE);
	while (r == 0 && (r = stream_read_record(&is, &type, &p, &len)) == 0 && type != REC_DONE) {
		if (type != REC_PAGES) {
			r = stream_write_record(&os, type, p, len);
			continue;
		}
		if (page_records == SEED_PAGE_RECORDS)
			continue;
		struct fr_pages_hdr h;
		memcpy(&h, p, sizeof(h));
		h.npages = 1;
		struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)(p + sizeof(h)), page}};
		r = stream_write_recordv(&os, REC_PAGES, iov, 2);
		page_records++;
	}
	if (r == 0) {
		struct buf b = {0};
		encode_done(&b, &(struct fr_done){.page_records = page_records, .pages = page_records});
		r = put(&os, REC_DONE, &b);
		buf_free(&b);
	}
	stream_release(&is);
	close(ifd);
	close(ofd);
	return r < 0 ? die(in, r) : 0;
}

enum seed_case {
	SEED_VALID, SEED_WRAP, SEED_SHARE, SEED_PAGE_FLAGS, SEED_MANY_VMAS, SEED_OUTSIDE, SEED_KOBJ, SEED_FDOBJ, SEED__N
};
static const char *const seed_names[SEED__N] = {"valid", "pages-addr-wraps", "negative-share-index",
						"pages-reserved-flags", "too-many-vmas", "pages-outside-mappings",
						"kernel-objects", "fd-objects"};

/* The FILE records of SEED_KOBJ: an eventfd and an inotify instance watched
 * by an epoll set, a timerfd, a signalfd. */
static struct fr_watch kobj_epoll_watches[] = {{.id = 5, .mask = 0x80000019, .data = 0x1122334455667788ull},
					       {.id = 8, .mask = 0x40000001, .data = 7}};
static struct fr_watch kobj_inotify_watches[] = {{.id = 3, .mask = 0x100, .path = "/tmp"},
						 {.id = 5, .mask = 0x80000002, .path = "/etc/hostname"}};
static uint8_t kobj_bytes[] = "ferry seed contents";
static struct fr_extent kobj_extents[] = {{.offset = 0, .len = 5, .data = kobj_bytes},
					  {.offset = 4096, .len = 4, .data = kobj_bytes + 6}};
static const struct fr_file kobj_files[] = {
	{.fd = 4, .kind = FILE_EPOLL, .flags = O_RDWR, .share_of = -1, .path = "anon_inode:[eventpoll]",
	 .nwatches = 2, .watches = kobj_epoll_watches},
	{.fd = 5, .kind = FILE_EVENTFD, .flags = O_RDWR, .share_of = -1, .path = "anon_inode:[eventfd]", .value = 3},
	{.fd = 6, .kind = FILE_TIMERFD, .flags = O_RDWR | O_NONBLOCK, .share_of = -1, .path = "anon_inode:[timerfd]",
	 .value = 2, .kind_flags = 1, .timer = {.clockid = 0, .value_ns = 5000000, .interval_ns = 20000000}},
	{.fd = 7, .kind = FILE_SIGNALFD, .flags = O_RDWR, .share_of = -1, .path = "anon_inode:[signalfd]",
	 .value = 1ull << 9},
	{.fd = 8, .kind = FILE_INOTIFY, .flags = O_RDONLY, .share_of = -1, .path = "anon_inode:inotify",
	 .nwatches = 2, .watches = kobj_inotify_watches},
	{.fd = 9, .kind = FILE_MEMFD, .flags = O_RDWR, .share_of = -1, .path = "/memfd:seed (deleted)", .value = 8192,
	 .kind_flags = 7, .nextents = 2, .extents = kobj_extents},
	{.fd = 10, .kind = FILE_GHOST, .flags = O_RDWR | O_APPEND, .share_of = -1, .pos = 5, .path = "/tmp/seed-ghost",
	 .value = 4100, .kind_flags = 0640, .nextents = 1, .extents = kobj_extents + 1},
	{.fd = 11, .kind = FILE_MEMFD, .flags = O_RDWR, .cloexec = true, .share_of = -1, .path = "/memfd:mapped (deleted)",
	 .value = 16384, .kind_flags = 1, .nextents = 1, .extents = kobj_extents, .mapping_only = true},
};
/* SEED_KOBJ's mappings past the common two: fd 9's memfd mapped shared, and
 * the memfd only mappings hold (fd 11) mapped private. */
static const struct fr_vma kobj_vmas[] = {
	{.start = SEED_VMA_BASE + 0x20000, .end = SEED_VMA_BASE + 0x22000, .prot = PROT_READ | PROT_WRITE,
	 .flags = MAP_SHARED, .kind = VMA_FILE_SHARED, .pgoff = 4096, .path = "/memfd:seed (deleted)", .object = 10},
	{.start = SEED_VMA_BASE + 0x30000, .end = SEED_VMA_BASE + 0x34000, .prot = PROT_READ | PROT_WRITE,
	 .flags = MAP_PRIVATE, .kind = VMA_FILE_PRIVATE, .path = "/memfd:mapped (deleted)", .object = 12},
	{.start = SEED_VMA_BASE + 0x40000, .end = SEED_VMA_BASE + 0x42000, .prot = PROT_READ, .flags = MAP_SHARED,
	 .kind = VMA_SYSV_SHM, .path = "/SYSV46520001 (deleted)", .object = 8},
};
/* ...and the System V segment the last one attaches (removed, read-only). */
static const struct fr_shm kobj_shm = {.id = 7, .key = 0x46520001, .size = 8000, .mode = 0640 | 01000};

static const struct fr_posix_timer kobj_timers[] = {
	{.id = 1, .clockid = 1, .notify = SIGEV_SIGNAL, .signo = 35, .sigval = 0xa, .value_ns = 4000000,
	 .interval_ns = 10000000},
	{.id = 3, .clockid = 1, .notify = SIGEV_THREAD_ID, .signo = 36, .tid = SEED_PID, .sigval = 0xb,
	 .value_ns = 9000000, .interval_ns = 25000000},
	{.id = 4, .clockid = 0, .notify = SIGEV_NONE, .value_ns = 999000000000ull},
};

static const struct fr_lock kobj_locks[] = {
	{.fd = 3, .kind = FR_LOCK_POSIX, .type = F_WRLCK, .start = 10, .len = 20},
	{.fd = 3, .kind = FR_LOCK_OFD, .type = F_RDLCK, .start = 100},
	{.fd = 10, .kind = FR_LOCK_FLOCK, .type = F_WRLCK},
};

/* SEED_FDOBJ's records past the common three: fds 4-5 a pipe with 5
 * buffered bytes, 6-7 a datagram pair with two messages queued on 7, 8 a
 * TCP listener on 127.0.0.1:7000 with SO_REUSEADDR, 9 external. */
static int put_fd_objects(struct fr_stream *s, struct buf *b)
{
	static uint8_t pipe_data[] = "hello", dgrams[] = "onetwo!";
	static uint32_t dgram_len[] = {3, 4};
	struct fr_fdobj pr = {.id = 100, .pipe_size = 65536, .data_len = 5, .data = pipe_data}, pw = {.id = 100};
	struct fr_fdobj u6 = {.id = 200, .peer = 201, .family = AF_UNIX, .type = SOCK_DGRAM, .state = FR_SOCK_CONNECTED};
	struct fr_fdobj u7 = u6;
	u7.id = 201, u7.peer = 200, u7.data_len = 7, u7.data = dgrams, u7.nmsgs = 2, u7.msg_len = dgram_len;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(7000), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct fr_fdobj tl = {.family = AF_INET, .type = SOCK_STREAM, .protocol = IPPROTO_TCP, .state = FR_SOCK_LISTEN,
			      .backlog = 16, .name_len = sizeof(sa), .nopts = 1};
	memcpy(tl.name, &sa, sizeof(sa));
	tl.opts[0] = (struct fr_sockopt){.level = SOL_SOCKET, .name = SO_REUSEADDR, .len = sizeof(int), .val = {1}};
	struct fr_file files[] = {
		{.fd = 4, .kind = FILE_PIPE, .flags = O_RDONLY, .share_of = -1, .path = "pipe:[100]", .obj = &pr},
		{.fd = 5, .kind = FILE_PIPE, .flags = O_WRONLY, .share_of = -1, .path = "pipe:[100]", .obj = &pw},
		{.fd = 6, .kind = FILE_UNIX, .flags = O_RDWR, .share_of = -1, .path = "socket:[200]", .obj = &u6},
		{.fd = 7, .kind = FILE_UNIX, .flags = O_RDWR, .share_of = -1, .path = "socket:[201]", .obj = &u7},
		{.fd = 8, .kind = FILE_INET, .flags = O_RDWR, .share_of = -1, .path = "socket:[300]", .obj = &tl},
		{.fd = 9, .kind = FILE_EXTERNAL, .flags = O_RDONLY, .share_of = -1, .path = "pipe:[400]"},
	};
	int r = 0;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		encode_file(b, &files[i]);
		r = r ?: put(s, REC_FILE, b);
	}
	return r;
}

/* Creates DIR/synth-NAME and a stream writer on it; the fd, or -1. */
static int seed_open(const char *dir, const char *name, char *path, size_t len, struct fr_stream *s)
{
	snprintf(path, len, "%s/synth-%s", dir, name);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0)
		stream_init(s, fd);
	return fd;
}

static int synth_one(const char *dir, enum seed_case c)
{
	char path[4096];
	struct fr_stream s;
	int fd = seed_open(dir, seed_names[c], path, sizeof(path), &s);
	if (fd < 0)
		return die(path, -errno);
	struct buf b = {0};
	struct utsname u;
	uname(&u);
	uint32_t page = (uint32_t)sysconf(_SC_PAGESIZE);
	int r = stream_write_preamble(&s);
	encode_hello(&b, &(struct fr_hello){.page_size = page, .arch = u.machine, .kernel = u.release, .host = "seed"});
	r = r ?: put(&s, REC_HELLO, &b);
	struct fr_process proc = {.pid = SEED_PID, .pgid = SEED_PID, .sid = SEED_PID, .cwd = "/", .nthreads = 1};
	proc.mm.exe = "/bin/true";
	encode_process(&b, &proc);
	r = r ?: put(&s, REC_PROCESS, &b);
	encode_thread(&b, &(struct fr_thread){.tid = SEED_PID, .comm = "seed"});
	r = r ?: put(&s, REC_THREAD, &b);
	struct fr_file files[] = {
		{.fd = 0, .kind = FILE_CHR, .flags = O_RDWR, .share_of = -1, .path = "/dev/null"},
		{.fd = 1, .kind = FILE_CHR, .flags = O_RDWR, .share_of = c == SEED_SHARE ? -2 : 0, .path = "/dev/null"},
		{.fd = 3, .kind = FILE_REG, .flags = O_RDONLY, .cloexec = true, .share_of = -1, .pos = 5,
		 .path = "/etc/hostname"},
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		encode_file(&b, &files[i]);
		r = r ?: put(&s, REC_FILE, &b);
	}
	for (size_t i = 0; c == SEED_KOBJ && i < sizeof(kobj_files) / sizeof(kobj_files[0]); i++) {
		encode_file(&b, &kobj_files[i]);
		r = r ?: put(&s, REC_FILE, &b);
	}
	for (size_t i = 0; c == SEED_KOBJ && i < sizeof(kobj_timers) / sizeof(kobj_timers[0]); i++) {
		encode_posix_timer(&b, &kobj_timers[i]);
		r = r ?: put(&s, REC_POSIX_TIMER, &b);
	}
	for (size_t i = 0; c == SEED_KOBJ && i < sizeof(kobj_locks) / sizeof(kobj_locks[0]); i++) {
		encode_file_lock(&b, &kobj_locks[i]);
		r = r ?: put(&s, REC_FILE_LOCK, &b);
	}
	if (c == SEED_KOBJ) {
		encode_shm(&b, &kobj_shm);
		r = r ?: put(&s, REC_SHM, &b);
	}
	if (c == SEED_FDOBJ)
		r = r ?: put_fd_objects(&s, &b);
	int nvmas = c == SEED_MANY_VMAS ? SEED_TOO_MANY_VMAS : 2;
	for (int i = 0; i < nvmas; i++) {
		uint64_t start = SEED_VMA_BASE + (uint64_t)i * 16 * page;
		struct fr_vma v = {.start = start, .end = start + 4 * (uint64_t)page, .prot = PROT_READ | PROT_WRITE,
				   .flags = MAP_PRIVATE, .kind = VMA_ANON};
		if (i == 1)
			v.kind = VMA_FILE_PRIVATE, v.prot = PROT_READ, v.path = "/bin/true";
		encode_vma(&b, &v);
		r = r ?: put(&s, REC_VMA, &b);
	}
	for (size_t i = 0; c == SEED_KOBJ && i < sizeof(kobj_vmas) / sizeof(kobj_vmas[0]); i++) {
		encode_vma(&b, &kobj_vmas[i]);
		r = r ?: put(&s, REC_VMA, &b);
	}
	struct fr_pages_hdr h = {.addr = SEED_VMA_BASE + page, .npages = 1};
	if (c == SEED_WRAP)
		h.addr = 0xfffffffffffff000ull;
	if (c == SEED_PAGE_FLAGS)
		h.flags = 1;
	if (c == SEED_OUTSIDE)
		h.addr = SEED_VMA_BASE + 8 * (uint64_t)page;
	uint8_t *data = calloc(1, page);
	if (!data)
		return die("calloc", -ENOMEM);
	memset(data, 0x5a, page);
	struct iovec iov[2] = {{&h, sizeof(h)}, {data, page}};
	r = r ?: stream_write_recordv(&s, REC_PAGES, iov, 2);
	encode_done(&b, &(struct fr_done){.page_records = 1, .pages = 1});
	r = r ?: put(&s, REC_DONE, &b);
	free(data);
	buf_free(&b);
	close(fd);
	return r < 0 ? die(path, r) : 0;
}

/* Two pre-copy rounds as a receiver reads them after the offer: each a
 * layout, PAGES and DISCARD records, ROUND_END; then SWITCHOVER. */
static int synth_rounds(const char *dir)
{
	char path[4096];
	struct fr_stream s;
	int fd = seed_open(dir, "precopy-rounds", path, sizeof(path), &s);
	if (fd < 0)
		return die(path, -errno);
	struct buf b = {0};
	uint32_t page = (uint32_t)sysconf(_SC_PAGESIZE);
	uint8_t *data = calloc(1, page);
	if (!data)
		return die("calloc", -ENOMEM);
	memset(data, 0xa5, page);
	int r = stream_write_preamble(&s);
	for (int round = 1; round <= 2; round++) {
		for (int i = 0; i < 2; i++) {
			uint64_t start = SEED_VMA_BASE + (uint64_t)i * 16 * page;
			struct fr_vma v = {.start = start, .end = start + (4 + (uint64_t)round) * page,
					   .prot = PROT_READ | PROT_WRITE, .flags = MAP_PRIVATE, .kind = VMA_ANON};
			encode_vma(&b, &v);
			r = r ?: put(&s, REC_VMA, &b);
		}
		struct fr_pages_hdr h = {.addr = SEED_VMA_BASE + page, .npages = 1};
		struct iovec iov[2] = {{&h, sizeof(h)}, {data, page}};
		r = r ?: stream_write_recordv(&s, REC_PAGES, iov, 2);
		encode_discard(&b, &(struct fr_discard){.addr = SEED_VMA_BASE + 2 * (uint64_t)page, .npages = 1});
		r = r ?: put(&s, REC_DISCARD, &b);
		encode_done(&b, &(struct fr_done){.page_records = 1, .pages = 1});
		r = r ?: put(&s, REC_ROUND_END, &b);
	}
	r = r ?: put(&s, REC_SWITCHOVER, &b);
	free(data);
	buf_free(&b);
	close(fd);
	return r < 0 ? die(path, r) : 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "trim") == 0)
		return trim(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "synth") == 0) {
		for (int c = 0; c < SEED__N; c++)
			if (synth_one(argv[2], (enum seed_case)c))
				return 1;
		return synth_rounds(argv[2]);
	}
	fprintf(stderr, "usage: fuzzseed trim IN OUT | fuzzseed synth DIR\n");
	return 2;
}

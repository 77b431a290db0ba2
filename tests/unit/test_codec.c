/* test_codec.c — model <-> record payloads: every field survives a round
 * trip, and malformed payloads (short, trailing bytes, impossible values)
 * are refused. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "state/codec.h"

static void test_process_round_trip(void **state)
{
	(void)state;
	uint32_t groups[] = {4, 24, 27};
	struct fr_process p = {.pid = 4242, .pgid = 4242, .sid = 4000, .uid = {1000, 1001, 1002, 1003},
			       .gid = {100, 101, 102, 103}, .ngroups = 3, .groups = groups, .umask = 027,
			       .personality = 0x0040000, .cwd = "/srv/app", .dumpable = 1, .no_new_privs = 1,
			       .child_subreaper = 1, .thp_disable = 1, .oom_score_adj = 300, .nthreads = 9,
			       .membarrier = (1u << 4) | (1u << 6), .pdeathsig = 9, .cwd_deleted = S_IFDIR | 0750};
	p.rlim[7].rlim_cur = 1024, p.rlim[7].rlim_max = 4096;
	p.mm.brk = 0x555555600000, p.mm.start_brk = 0x555555580000, p.mm.auxv_words = 4;
	p.mm.auxv[0] = 33, p.mm.auxv[1] = 0x7fff0000, p.mm.exe = "/usr/bin/app";
	p.sigact[9].handler = 0x401000, p.sigact[9].flags = 0x14000004, p.sigact[9].mask = 1 << 11;
	struct buf b = {0};
	encode_process(&b, &p);
	struct fr_process q;
	assert_int_equal(decode_process(b.data, (uint32_t)b.len, &q), 0);
	assert_int_equal(q.pid, 4242);
	assert_int_equal(q.sid, 4000);
	assert_memory_equal(q.uid, p.uid, sizeof(p.uid));
	assert_memory_equal(q.groups, groups, sizeof(groups));
	assert_string_equal(q.cwd, "/srv/app");
	assert_string_equal(q.mm.exe, "/usr/bin/app");
	assert_int_equal(q.mm.brk, p.mm.brk);
	assert_int_equal(q.mm.auxv[1], 0x7fff0000);
	assert_int_equal(q.rlim[7].rlim_max, 4096);
	assert_memory_equal(&q.sigact[9], &p.sigact[9], sizeof(p.sigact[9]));
	assert_int_equal(q.oom_score_adj, 300);
	assert_int_equal(q.umask, 027);
	assert_int_equal(q.nthreads, 9);
	assert_int_equal(q.membarrier, (1u << 4) | (1u << 6));
	assert_int_equal(q.pdeathsig, 9);
	assert_int_equal(q.cwd_deleted, S_IFDIR | 0750);
	free(q.groups), free(q.cwd), free(q.mm.exe);

	/* A registration bit membarrier(2) does not have is refused by name. */
	struct fr_process odd = p;
	odd.membarrier = 1u << 30;
	struct buf ob = {0};
	encode_process(&ob, &odd);
	assert_int_equal(decode_process(ob.data, (uint32_t)ob.len, &q), -EBADMSG);
	assert_string_equal(codec_why(), "membarrier (unknown registrations)");
	free(q.groups), free(q.cwd), free(q.mm.exe);
	buf_free(&ob);
	odd = p; /* no signal 65 */
	odd.pdeathsig = 65;
	ob = (struct buf){0};
	encode_process(&ob, &odd);
	assert_int_equal(decode_process(ob.data, (uint32_t)ob.len, &q), -EBADMSG);
	assert_string_equal(codec_why(), "pdeathsig");
	free(q.groups), free(q.cwd), free(q.mm.exe);
	buf_free(&ob);
	odd = p; /* a removed cwd is a directory */
	odd.cwd_deleted = S_IFREG | 0644;
	ob = (struct buf){0};
	encode_process(&ob, &odd);
	assert_int_equal(decode_process(ob.data, (uint32_t)ob.len, &q), -EBADMSG);
	free(q.groups), free(q.cwd), free(q.mm.exe);
	buf_free(&ob);

	/* Every strict prefix is refused, and so is a trailing byte. */
	for (uint32_t cut = 0; cut < b.len; cut += 7) {
		struct fr_process r;
		assert_int_not_equal(decode_process(b.data, cut, &r), 0);
		free(r.groups), free(r.cwd), free(r.mm.exe);
	}
	buf_put_u32(&b, 0);
	assert_int_equal(decode_process(b.data, (uint32_t)b.len, &q), -EBADMSG);
	free(q.groups), free(q.cwd), free(q.mm.exe);
	buf_free(&b);
}

static void test_thread_round_trip(void **state)
{
	(void)state;
	uint8_t xs[832];
	for (size_t i = 0; i < sizeof(xs); i++)
		xs[i] = (uint8_t)i;
	struct fr_thread t = {.tid = 77, .xstate_len = sizeof(xs), .xstate = xs, .sigmask = 1ull << 11,
			      .clear_child_tid = 0x7f0000001000, .robust_head = 0x7f0000002000, .robust_len = 24,
			      .rseq_addr = 0x7f0000003000, .rseq_len = 32, .rseq_sig = 0x53053053, .nice = 5};
	t.regs.rip = 0x401234, t.regs.fs_base = 0x7f0000004000, t.regs.rax = 60;
	uint8_t si[2 * FR_SIGINFO_SIZE] = {0};
	si[0] = 12, si[FR_SIGINFO_SIZE] = 34; /* si_signo of two queued signals */
	t.npending = 2, t.pending = si;
	snprintf(t.comm, sizeof(t.comm), "worker-3");
	struct buf b = {0};
	encode_thread(&b, &t);
	struct fr_thread u;
	assert_int_equal(decode_thread(b.data, (uint32_t)b.len, &u), 0);
	assert_int_equal(u.tid, 77);
	assert_memory_equal(&u.regs, &t.regs, sizeof(t.regs));
	assert_int_equal(u.xstate_len, sizeof(xs));
	assert_memory_equal(u.xstate, xs, sizeof(xs));
	assert_int_equal(u.rseq_sig, 0x53053053);
	assert_int_equal(u.nice, 5);
	assert_string_equal(u.comm, "worker-3");
	assert_int_equal(u.npending, 2);
	assert_memory_equal(u.pending, si, sizeof(si));
	free(u.xstate);
	free(u.pending);
	/* An xstate length beyond the payload is refused, not read. */
	uint32_t bogus = 0xffffff;
	memcpy(b.data + 4 + sizeof(t.regs), &bogus, 4);
	assert_int_equal(decode_thread(b.data, (uint32_t)b.len, &u), -EBADMSG);
	buf_free(&b);
}

static void test_vma_validation(void **state)
{
	(void)state;
	struct fr_vma v = {.start = 0x400000, .end = 0x401000, .prot = PROT_READ | PROT_EXEC, .flags = MAP_PRIVATE,
			   .kind = VMA_FILE_PRIVATE, .pgoff = 0x1000, .path = "/bin/true"};
	struct buf b = {0};
	encode_vma(&b, &v);
	struct fr_vma w;
	assert_int_equal(decode_vma(b.data, (uint32_t)b.len, &w), 0);
	assert_string_equal(w.path, "/bin/true");
	assert_int_equal(w.pgoff, 0x1000);
	free(w.path);
	buf_free(&b);
	/* mlock / madvise attributes travel with the mapping */
	struct fr_vma locked = {.start = 0x600000, .end = 0x800000, .prot = PROT_READ | PROT_WRITE, .flags = MAP_PRIVATE,
				.kind = VMA_ANON, .attrs = FR_VMA_LOCKED | FR_VMA_LOCKONFAULT | FR_VMA_DONTDUMP | FR_VMA_HUGEPAGE};
	encode_vma(&b, &locked);
	assert_int_equal(decode_vma(b.data, (uint32_t)b.len, &w), 0);
	assert_int_equal(w.attrs, FR_VMA_LOCKED | FR_VMA_LOCKONFAULT | FR_VMA_DONTDUMP | FR_VMA_HUGEPAGE);
	b.len = 0;

	struct fr_vma bad[] = {
		{.start = 0x401000, .end = 0x400000, .kind = VMA_ANON},                /* inverted */
		{.start = 0x400001, .end = 0x401000, .kind = VMA_ANON},                /* unaligned */
		{.start = 0x400000, .end = 0x401000, .kind = 99},                      /* unknown kind */
		{.start = 0x400000, .end = 0x401000, .kind = VMA_FILE_SHARED},         /* file without path */
		{.start = 0x400000, .end = 0x401000, .kind = VMA_ANON, .prot = 0x100}, /* bogus prot */
		{.start = 0x7ffffffff000, .end = 0x800000000000, .kind = VMA_ANON},    /* kernel half */
		{.start = 0x400000, .end = 0x401000, .kind = VMA_ANON, .attrs = 1u << 10}, /* unknown attribute */
		{.start = 0x400000, .end = 0x401000, .kind = VMA_ANON, .attrs = FR_VMA_LOCKONFAULT}, /* without LOCKED */
		{.start = 0x400000, .end = 0x401000, .kind = VMA_ANON, .attrs = FR_VMA_HUGEPAGE | FR_VMA_NOHUGEPAGE},
		{.start = 0x400000, .end = 0x401000, .kind = VMA_VDSO, .attrs = FR_VMA_DONTDUMP}, /* a special mapping */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		encode_vma(&b, &bad[i]);
		assert_int_equal(decode_vma(b.data, (uint32_t)b.len, &w), -EBADMSG);
		b.len = 0;
	}
	buf_free(&b);
}

/* A mapping of a memfd or deleted file names the record of its object; a
 * record of an object only mappings hold is a memfd or deleted file that
 * shares no description. */
static void test_mapped_object_fields(void **state)
{
	(void)state;
	struct fr_vma v = {.start = 0x400000, .end = 0x402000, .prot = PROT_READ | PROT_WRITE, .flags = MAP_SHARED,
			   .kind = VMA_FILE_SHARED, .pgoff = 0x4000, .path = "/memfd:m (deleted)", .object = 4};
	struct buf b = {0};
	encode_vma(&b, &v);
	struct fr_vma w;
	assert_int_equal(decode_vma(b.data, (uint32_t)b.len, &w), 0);
	assert_int_equal(w.object, 4);
	assert_int_equal(fr_vma_object(&w), 3);
	free(w.path);
	struct fr_vma bad[] = {v, v};
	bad[0].kind = VMA_ANON, bad[0].flags = MAP_PRIVATE, bad[0].path = NULL; /* not a file mapping */
	bad[1].object = FR_VMA_OBJECT_UNRESOLVED;                                /* the source's marker */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b.len = 0;
		encode_vma(&b, &bad[i]);
		assert_int_equal(decode_vma(b.data, (uint32_t)b.len, &w), -EBADMSG);
	}
	static uint8_t data[] = "contents";
	struct fr_extent ext = {.offset = 0, .len = sizeof(data), .data = data};
	struct fr_file f = {.fd = 9, .kind = FILE_MEMFD, .flags = O_RDWR, .cloexec = true, .share_of = -1,
			    .path = "/memfd:m (deleted)", .value = 8192, .kind_flags = F_SEAL_SEAL, .nextents = 1,
			    .extents = &ext, .mapping_only = true};
	b.len = 0;
	encode_file(&b, &f);
	struct fr_file g;
	assert_int_equal(decode_file(b.data, (uint32_t)b.len, &g), 0);
	assert_true(g.mapping_only);
	assert_int_equal(g.nextents, 1);
	fr_file_free(&g);
	struct fr_file badf[] = {f, f};
	badf[0].kind = FILE_REG, badf[0].nextents = 0, badf[0].extents = NULL, badf[0].value = 0,
	badf[0].kind_flags = 0, badf[0].path = "/tmp/x"; /* not a memfd or deleted file */
	badf[1].share_of = 3;                           /* a shared description */
	for (size_t i = 0; i < sizeof(badf) / sizeof(badf[0]); i++) {
		b.len = 0;
		encode_file(&b, &badf[i]);
		assert_int_equal(decode_file(b.data, (uint32_t)b.len, &g), -EBADMSG);
	}
	buf_free(&b);
}

/* A System V segment: id, key, size, mode (SHM_DEST too) and owner travel;
 * its mappings name it and attach it whole. */
static void test_shm_round_trip(void **state)
{
	(void)state;
	struct fr_shm m = {.id = 32769, .key = 0x46520001, .size = 3 * 4096 + 100, .mode = 0640 | 01000, .uid = 1000,
			   .gid = 100};
	struct buf b = {0};
	encode_shm(&b, &m);
	struct fr_shm n;
	assert_int_equal(decode_shm(b.data, (uint32_t)b.len, &n), 0);
	assert_int_equal(n.id, 32769);
	assert_int_equal(n.key, 0x46520001);
	assert_int_equal(n.size, 3 * 4096 + 100);
	assert_int_equal(n.mode, 0640 | 01000);
	assert_int_equal(n.uid, 1000);
	assert_int_equal(n.gid, 100);
	struct fr_shm bad[] = {m, m, m};
	bad[0].id = -1;        /* no id */
	bad[1].size = 0;       /* empty */
	bad[2].mode |= 02000;  /* SHM_LOCKED: not carried */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b.len = 0;
		encode_shm(&b, &bad[i]);
		assert_int_equal(decode_shm(b.data, (uint32_t)b.len, &n), -EBADMSG);
	}
	b.len = 0;
	encode_shm(&b, &m);
	assert_int_equal(decode_shm(b.data, (uint32_t)b.len - 1, &n), -EBADMSG); /* short */
	struct fr_vma v = {.start = 0x400000, .end = 0x404000, .prot = PROT_READ, .flags = MAP_SHARED,
			   .kind = VMA_SYSV_SHM, .object = 32770};
	b.len = 0;
	encode_vma(&b, &v);
	struct fr_vma w;
	assert_int_equal(decode_vma(b.data, (uint32_t)b.len, &w), 0);
	assert_int_equal(fr_vma_object(&w), 32769);
	free(w.path);
	struct fr_vma badv[] = {v, v, v};
	badv[0].object = 0;            /* names no segment */
	badv[1].pgoff = 4096;          /* attached in part */
	badv[2].flags = MAP_PRIVATE;   /* not shared */
	for (size_t i = 0; i < sizeof(badv) / sizeof(badv[0]); i++) {
		b.len = 0;
		encode_vma(&b, &badv[i]);
		assert_int_equal(decode_vma(b.data, (uint32_t)b.len, &w), -EBADMSG);
	}
	buf_free(&b);
}

static void test_file_round_trip_and_sharing_rule(void **state)
{
	(void)state;
	struct fr_file f = {.fd = 5, .kind = FILE_REG, .flags = O_WRONLY | O_APPEND, .cloexec = true, .share_of = 1,
			    .pos = 12345, .path = "/var/log/app.log"};
	struct buf b = {0};
	encode_file(&b, &f);
	struct fr_file g;
	assert_int_equal(decode_file(b.data, (uint32_t)b.len, &g), 0);
	assert_int_equal(g.fd, 5);
	assert_int_equal(g.flags, O_WRONLY | O_APPEND);
	assert_true(g.cloexec);
	assert_int_equal(g.share_of, 1);
	assert_int_equal(g.pos, 12345);
	assert_string_equal(g.path, "/var/log/app.log");
	free(g.path);
	/* An fd can only share the description of a lower fd. */
	b.len = 0;
	f.share_of = 7;
	encode_file(&b, &f);
	assert_int_equal(decode_file(b.data, (uint32_t)b.len, &g), -EBADMSG);

	/* An eventfd carries its counter (all 64 bits) and semaphore mode ... */
	struct fr_file e = {.fd = 3, .kind = FILE_EVENTFD, .flags = O_RDWR | O_NONBLOCK, .share_of = -1,
			    .path = "anon_inode:[eventfd]", .value = FR_EVENTFD_MAX, .kind_flags = EFD_SEMAPHORE};
	b.len = 0;
	encode_file(&b, &e);
	assert_int_equal(decode_file(b.data, (uint32_t)b.len, &g), 0);
	assert_int_equal(g.kind, FILE_EVENTFD);
	assert_true(g.value == FR_EVENTFD_MAX);
	assert_int_equal(g.kind_flags, EFD_SEMAPHORE);
	free(g.path);
	/* ... never a counter it cannot hold, unknown flags, or an offset; and
	 * other kinds leave those fields zero */
	struct fr_file bad[] = {e, e, e, f};
	bad[0].value = FR_EVENTFD_MAX + 1;
	bad[1].kind_flags = EFD_SEMAPHORE | 0x100;
	bad[2].pos = 1;
	bad[3].share_of = -1, bad[3].value = 9;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b.len = 0;
		encode_file(&b, &bad[i]);
		assert_int_equal(decode_file(b.data, (uint32_t)b.len, &g), -EBADMSG);
	}
	buf_free(&b);
}

/* Encodes f, decodes it into *g: the decoder's return. */
static int file_trip(const struct fr_file *f, struct fr_file *g)
{
	struct buf b = {0};
	encode_file(&b, f);
	int r = decode_file(b.data, (uint32_t)b.len, g);
	buf_free(&b);
	return r;
}

static void test_fd_objects_round_trip(void **state)
{
	(void)state;
	/* a pipe's reading end with its buffered data and size */
	uint8_t data[] = "buffered";
	uint32_t lens[] = {3, 6};
	struct fr_fdobj po = {.id = 77, .pipe_size = 65536, .data_len = 9, .data = data};
	struct fr_file f = {.fd = 4, .kind = FILE_PIPE, .flags = O_RDONLY | O_NONBLOCK, .share_of = -1,
			    .path = "pipe:[77]", .obj = &po}, g;
	assert_int_equal(file_trip(&f, &g), 0);
	assert_non_null(g.obj);
	assert_true(g.obj->id == 77);
	assert_int_equal(g.obj->pipe_size, 65536);
	assert_int_equal(g.obj->data_len, 9);
	assert_memory_equal(g.obj->data, data, 9);
	assert_int_equal(g.obj->nmsgs, 0);
	free(g.path);
	fr_fdobj_free(g.obj);

	/* a datagram socket of a pair, two messages queued, an option */
	struct fr_fdobj uo = {.id = 5, .peer = 6, .family = AF_UNIX, .type = SOCK_DGRAM, .state = FR_SOCK_CONNECTED,
			      .shutdown = FR_SHUT_SEND, .data_len = 9, .data = data, .nmsgs = 2, .msg_len = lens,
			      .nopts = 1};
	uo.opts[0] = (struct fr_sockopt){.level = SOL_SOCKET, .name = SO_SNDBUF, .len = sizeof(int), .val = {0, 0, 4}};
	f = (struct fr_file){.fd = 6, .kind = FILE_UNIX, .flags = O_RDWR, .share_of = -1, .path = "socket:[5]", .obj = &uo};
	assert_int_equal(file_trip(&f, &g), 0);
	assert_true(g.obj->peer == 6);
	assert_int_equal(g.obj->type, SOCK_DGRAM);
	assert_int_equal(g.obj->shutdown, FR_SHUT_SEND);
	assert_int_equal(g.obj->nmsgs, 2);
	assert_int_equal(g.obj->msg_len[1], 6);
	assert_int_equal(g.obj->nopts, 1);
	assert_int_equal(g.obj->opts[0].name, SO_SNDBUF);
	assert_memory_equal(g.obj->opts[0].val, uo.opts[0].val, sizeof(int));
	free(g.path);
	fr_fdobj_free(g.obj);

	/* a TCP listener on [::1]:7000 */
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(7000), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct fr_fdobj to = {.family = AF_INET6, .type = SOCK_STREAM, .protocol = IPPROTO_TCP, .state = FR_SOCK_LISTEN,
			      .backlog = 128, .name_len = sizeof(sa)};
	memcpy(to.name, &sa, sizeof(sa));
	f = (struct fr_file){.fd = 3, .kind = FILE_INET, .flags = O_RDWR, .share_of = -1, .path = "socket:[9]", .obj = &to};
	assert_int_equal(file_trip(&f, &g), 0);
	assert_int_equal(g.obj->backlog, 128);
	assert_memory_equal(g.obj->name, &sa, sizeof(sa));
	free(g.path);
	fr_fdobj_free(g.obj);

	/* an external fd: its number and link only */
	f = (struct fr_file){.fd = 0, .kind = FILE_EXTERNAL, .flags = O_RDONLY, .share_of = -1, .path = "pipe:[1]"};
	assert_int_equal(file_trip(&f, &g), 0);
	assert_null(g.obj);
	free(g.path);
}

static void test_fd_objects_refused(void **state)
{
	(void)state;
	uint8_t data[16] = {0};
	uint32_t lens[] = {3, 5};
	struct fr_fdobj pipe = {.id = 77, .pipe_size = 4096}, pair = {.id = 5, .peer = 6, .family = AF_UNIX,
								      .type = SOCK_STREAM, .state = FR_SOCK_CONNECTED};
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(80)};
	struct fr_fdobj tcp = {.family = AF_INET, .type = SOCK_STREAM, .protocol = IPPROTO_TCP, .state = FR_SOCK_LISTEN,
			       .name_len = sizeof(sa)};
	memcpy(tcp.name, &sa, sizeof(sa));
	struct {
		uint32_t kind;
		struct fr_fdobj o;
		const char *why;
	} bad[] = {
		{FILE_PIPE, pipe, "more data"},        /* data larger than the pipe */
		{FILE_PIPE, pipe, "id"},               /* a pipe without an id */
		{FILE_PIPE, pipe, "pipe_size"},        /* a size no pipe has */
		{FILE_PIPE, pipe, "socket fields"},    /* a socket's field on a pipe */
		{FILE_UNIX, pair, "message lengths"},  /* messages that do not add up */
		{FILE_UNIX, pair, "type"},             /* a raw unix socket */
		{FILE_UNIX, pair, "only a connected"}, /* a listener naming a peer */
		{FILE_UNIX, pair, "socket option"},    /* an option not in the list */
		{FILE_INET, tcp, "state"},             /* a connected TCP socket */
		{FILE_INET, tcp, "address length"},    /* a truncated address */
		{FILE_INET, tcp, "type and protocol"}, /* not TCP or UDP */
		{FILE_INET, tcp, "data"},              /* queued data on an inet socket */
	};
	bad[0].o.data_len = 8192;
	bad[1].o.id = 0;
	bad[2].o.pipe_size = 100;
	bad[3].o.family = AF_UNIX;
	bad[4].o.data = data, bad[4].o.data_len = 9, bad[4].o.nmsgs = 2, bad[4].o.msg_len = lens;
	bad[5].o.type = SOCK_RAW;
	bad[6].o.state = FR_SOCK_LISTEN;
	bad[7].o.nopts = 1, bad[7].o.opts[0] = (struct fr_sockopt){.level = SOL_SOCKET, .name = SO_ATTACH_FILTER, .len = 4};
	bad[8].o.state = FR_SOCK_CONNECTED, bad[8].o.peer_name_len = sizeof(sa);
	bad[9].o.name_len = 8;
	bad[10].o.protocol = IPPROTO_SCTP;
	bad[11].o.data = data, bad[11].o.data_len = 4;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (bad[i].o.data_len > sizeof(data))
			bad[i].o.data = calloc(1, bad[i].o.data_len);
		struct fr_file f = {.fd = 3, .kind = bad[i].kind, .flags = O_RDWR, .share_of = -1, .path = "x", .obj = &bad[i].o}, g;
		int r = file_trip(&f, &g);
		if (r != -EBADMSG || !strstr(codec_why(), bad[i].why))
			fail_msg("case %zu: decode gave %d (%s), expected a refusal naming '%s'", i, r, codec_why(), bad[i].why);
		if (bad[i].o.data_len > sizeof(data))
			free(bad[i].o.data);
	}
	/* a record cut short in its object part */
	struct buf b = {0};
	struct fr_file f = {.fd = 3, .kind = FILE_PIPE, .flags = O_RDONLY, .share_of = -1, .path = "p", .obj = &pipe}, g;
	encode_file(&b, &f);
	assert_int_equal(decode_file(b.data, (uint32_t)b.len - 3, &g), -EBADMSG);
	buf_free(&b);
}

static void test_pages_header_bounds(void **state)
{
	(void)state;
	uint8_t rec[16 + 2 * 4096] = {0};
	struct fr_pages_hdr h = {.addr = 0x10000, .npages = 2};
	memcpy(rec, &h, sizeof(h));
	struct fr_pages_hdr o;
	assert_int_equal(decode_pages_hdr(rec, sizeof(rec), 4096, &o), 0);
	assert_int_equal(o.npages, 2);
	assert_int_equal(decode_pages_hdr(rec, sizeof(rec) - 1, 4096, &o), -EBADMSG); /* short data */
	h.npages = 3;
	memcpy(rec, &h, sizeof(h));
	assert_int_equal(decode_pages_hdr(rec, sizeof(rec), 4096, &o), -EBADMSG); /* count lies */
	h.npages = 2, h.addr = 0x10001;
	memcpy(rec, &h, sizeof(h));
	assert_int_equal(decode_pages_hdr(rec, sizeof(rec), 4096, &o), -EBADMSG); /* unaligned */
}

/* Issue 9: an address near the top of the 64-bit space must not pass the
 * range check because addr + length wraps around to a small number. */
static void test_pages_addr_that_wraps_is_refused(void **state)
{
	(void)state;
	uint8_t rec[16 + 2 * 4096] = {0};
	struct fr_pages_hdr h = {.addr = 0xfffffffffffff000ull, .npages = 2};
	memcpy(rec, &h, sizeof(h));
	struct fr_pages_hdr o;
	assert_int_equal(decode_pages_hdr(rec, sizeof(rec), 4096, &o), -EBADMSG);
	assert_non_null(strstr(codec_why(), "addr"));
	h.addr = 0x00007ffffffff000ull; /* the last user page + 1: ends beyond user space */
	memcpy(rec, &h, sizeof(h));
	assert_int_equal(decode_pages_hdr(rec, sizeof(rec), 4096, &o), -EBADMSG);
	h.addr = 0x00007fffffffd000ull; /* the last two user pages: fine */
	memcpy(rec, &h, sizeof(h));
	assert_int_equal(decode_pages_hdr(rec, sizeof(rec), 4096, &o), 0);
}

static void test_pages_reserved_flags_are_refused(void **state)
{
	(void)state;
	uint8_t rec[16 + 4096] = {0};
	struct fr_pages_hdr h = {.addr = 0x10000, .npages = 1, .flags = 1u << 31};
	memcpy(rec, &h, sizeof(h));
	struct fr_pages_hdr o;
	assert_int_equal(decode_pages_hdr(rec, sizeof(rec), 4096, &o), -EBADMSG);
	assert_non_null(strstr(codec_why(), "pages flags"));
}

static void test_negative_share_index_is_refused(void **state)
{
	(void)state;
	struct fr_file f = {.fd = 5, .kind = FILE_REG, .flags = O_RDONLY, .share_of = -1, .path = "/etc/hostname"};
	struct buf b = {0};
	encode_file(&b, &f);
	struct fr_file g;
	assert_int_equal(decode_file(b.data, (uint32_t)b.len, &g), 0); /* -1: owns its description */
	free(g.path);
	int32_t bad[] = {-2, -5, INT32_MIN};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b.len = 0;
		f.share_of = bad[i];
		encode_file(&b, &f);
		assert_int_equal(decode_file(b.data, (uint32_t)b.len, &g), -EBADMSG);
		assert_null(g.path);
		assert_non_null(strstr(codec_why(), "share_of"));
	}
	buf_free(&b);
}

static void test_reserved_payload_fields_are_refused(void **state)
{
	(void)state;
	struct buf b = {0};
	struct fr_vma w;
	struct fr_vma v = {.start = 0x400000, .end = 0x401000, .prot = PROT_READ, .flags = MAP_PRIVATE | MAP_FIXED,
			   .kind = VMA_ANON};
	encode_vma(&b, &v);
	assert_int_equal(decode_vma(b.data, (uint32_t)b.len, &w), -EBADMSG);
	assert_non_null(strstr(codec_why(), "flags"));
	b.len = 0;
	v.flags = MAP_PRIVATE, v.kind = VMA_FILE_PRIVATE, v.path = "/bin/true", v.pgoff = 0xfffffffffffff000ull;
	encode_vma(&b, &v); /* pgoff + length wraps */
	assert_int_equal(decode_vma(b.data, (uint32_t)b.len, &w), -EBADMSG);
	assert_non_null(strstr(codec_why(), "pgoff"));
	/* A boolean stored in a u32 must be 0 or 1: other values are a later format's. */
	b.len = 0;
	struct fr_file f = {.fd = 3, .kind = FILE_REG, .share_of = -1, .path = "/etc/hostname"};
	encode_file(&b, &f);
	uint32_t two = 2;
	memcpy(b.data + 12, &two, sizeof(two)); /* fd, kind, flags, then cloexec */
	struct fr_file g;
	assert_int_equal(decode_file(b.data, (uint32_t)b.len, &g), -EBADMSG);
	assert_non_null(strstr(codec_why(), "cloexec"));
	/* A string longer than PATH_MAX is refused before it is allocated. */
	b.len = 0;
	buf_put_u64(&b, 0x400000), buf_put_u64(&b, 0x401000), buf_put_u32(&b, PROT_READ);
	buf_put_u32(&b, MAP_PRIVATE), buf_put_u32(&b, VMA_FILE_PRIVATE), buf_put_u64(&b, 0);
	static char longpath[8192];
	memset(longpath, 'a', sizeof(longpath) - 1);
	buf_put_str(&b, longpath);
	assert_int_equal(decode_vma(b.data, (uint32_t)b.len, &w), -EBADMSG);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_process_round_trip),
		cmocka_unit_test(test_thread_round_trip),
		cmocka_unit_test(test_vma_validation),
		cmocka_unit_test(test_mapped_object_fields),
		cmocka_unit_test(test_shm_round_trip),
		cmocka_unit_test(test_file_round_trip_and_sharing_rule),
		cmocka_unit_test(test_fd_objects_round_trip),
		cmocka_unit_test(test_fd_objects_refused),
		cmocka_unit_test(test_pages_header_bounds),
		cmocka_unit_test(test_pages_addr_that_wraps_is_refused),
		cmocka_unit_test(test_pages_reserved_flags_are_refused),
		cmocka_unit_test(test_negative_share_index_is_refused),
		cmocka_unit_test(test_reserved_payload_fields_are_refused),
	};
	return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}

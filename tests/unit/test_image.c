/* test_image.c — the restore's metadata reader (restore/image.c) on
 * streams built with the encoders: a good stream gives the image back;
 * too many records of a kind stop at the host's cap with a one-line reason
 * instead of growing memory; PAGES records outside one restored mapping
 * (wrapping, straddling, in a mapping that takes no pages) are refused. */
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
#include <sys/utsname.h>
#include <unistd.h>

#include <cmocka.h>

#include "restore/image.h"

#define TEST_PID 4242
#define PAGE 4096u

struct spec {
	uint32_t nthreads_said; /* what the process record counts */
	uint32_t nthreads, nfiles, nvmas;
	uint32_t pending_per_thread; /* queued signals in each thread record */
	int32_t share_of_last; /* share_of of the last file */
	uint32_t memfd_at;     /* 1 + the index of the file that is a memfd (0: none) */
	bool mapping_only;     /* that memfd is held by mappings only */
	uint32_t vma_object;   /* fr_vma.object of the shared file mappings */
	uint32_t shm_pages;    /* > 0: a System V segment (id 7) of this many pages, the last mapping attaching it */
	uint32_t shm_attach;   /* pages that mapping has (0: shm_pages) */
};

static void put(struct fr_stream *s, uint16_t type, struct buf *b)
{
	assert_false(b->oom);
	assert_int_equal(stream_write_record(s, type, b->data, b->len), 0);
	b->len = 0;
}

/* A memfd holding preamble, hello, process, threads, files, vmas (every
 * other one a shared file mapping, which takes no pages), done. */
static int make_image(const struct spec *sp)
{
	int fd = memfd_create("image", 0);
	assert_true(fd >= 0);
	struct fr_stream s;
	stream_init(&s, fd);
	assert_int_equal(stream_write_preamble(&s), 0);
	struct buf b = {0};
	struct utsname u;
	uname(&u);
	struct fr_hello h = {.page_size = (uint32_t)sysconf(_SC_PAGESIZE), .arch = u.machine, .kernel = u.release,
			     .host = "test"};
	encode_hello(&b, &h);
	put(&s, REC_HELLO, &b);
	struct fr_process p = {.pid = TEST_PID, .pgid = TEST_PID, .sid = TEST_PID, .cwd = "/",
			       .nthreads = sp->nthreads_said};
	p.mm.exe = "/bin/true";
	encode_process(&b, &p);
	put(&s, REC_PROCESS, &b);
	for (uint32_t i = 0; i < sp->nthreads; i++) {
		static uint8_t si[FR_MAX_PENDING * FR_SIGINFO_SIZE];
		struct fr_thread t = {.tid = TEST_PID + (int32_t)i, .npending = sp->pending_per_thread, .pending = si};
		encode_thread(&b, &t);
		put(&s, REC_THREAD, &b);
	}
	for (uint32_t i = 0; i < sp->nfiles; i++) {
		struct fr_file f = {.fd = (int32_t)i, .kind = FILE_CHR, .share_of = -1, .path = "/dev/null"};
		if (i + 1 == sp->nfiles)
			f.share_of = sp->share_of_last;
		if (i + 1 == sp->memfd_at)
			f.kind = FILE_MEMFD, f.path = "/memfd:m (deleted)", f.mapping_only = sp->mapping_only;
		encode_file(&b, &f);
		put(&s, REC_FILE, &b);
	}
	if (sp->shm_pages) {
		encode_shm(&b, &(struct fr_shm){.id = 7, .size = (uint64_t)sp->shm_pages * PAGE - 100, .mode = 0600});
		put(&s, REC_SHM, &b);
	}
	for (uint32_t i = 0; i < sp->nvmas; i++) {
		uint64_t start = 0x10000000ull + i * 0x100000ull;
		struct fr_vma v = {.start = start, .end = start + 4 * PAGE, .prot = PROT_READ | PROT_WRITE,
				   .flags = MAP_PRIVATE, .kind = VMA_ANON};
		if (i % 2) {
			v.kind = VMA_FILE_SHARED, v.flags = MAP_SHARED, v.path = "/tmp/shared";
			v.object = sp->vma_object;
		}
		if (sp->shm_pages && i + 1 == sp->nvmas) {
			v = (struct fr_vma){.start = start, .end = start + (uint64_t)(sp->shm_attach ?: sp->shm_pages) * PAGE,
					    .prot = PROT_READ, .flags = MAP_SHARED, .kind = VMA_SYSV_SHM, .object = 8};
		}
		encode_vma(&b, &v);
		put(&s, REC_VMA, &b);
	}
	struct fr_done d = {0};
	encode_done(&b, &d);
	put(&s, REC_DONE, &b);
	buf_free(&b);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static const struct image_limits roomy = {.max_threads = 64, .max_vmas = 64, .max_fds = 64, .max_pending = 64};

static int read_image(const struct spec *sp, const struct image_limits *lim, struct fr_image *img, char *err,
		      size_t errlen)
{
	int fd = make_image(sp);
	struct fr_stream s;
	stream_init(&s, fd);
	uint16_t type;
	const uint8_t *p;
	uint32_t len;
	*img = (struct fr_image){0};
	err[0] = '\0';
	int r = image_read_metadata(&s, lim, img, &type, &p, &len, err, errlen);
	if (r == 0)
		assert_int_equal(type, REC_DONE);
	stream_release(&s);
	close(fd);
	return r;
}

static void test_good_image_is_read(void **state)
{
	(void)state;
	struct spec sp = {.nthreads_said = 3, .nthreads = 3, .nfiles = 3, .nvmas = 4, .share_of_last = 1};
	struct fr_image img;
	char err[512];
	assert_int_equal(read_image(&sp, &roomy, &img, err, sizeof(err)), 0);
	assert_int_equal(img.nthreads, 3);
	assert_int_equal(img.nfiles, 3);
	assert_int_equal(img.nvmas, 4);
	assert_int_equal(img.files[2].share_of, 1);
	fr_image_free(&img);
}

static void test_too_many_records_are_refused(void **state)
{
	(void)state;
	struct fr_image img;
	char err[512];
	struct image_limits lim = roomy;
	lim.max_vmas = 3;
	struct spec sp = {.nthreads_said = 1, .nthreads = 1, .nfiles = 1, .nvmas = 4, .share_of_last = -1};
	assert_int_equal(read_image(&sp, &lim, &img, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "vm.max_map_count"));
	fr_image_free(&img);

	lim = roomy, lim.max_fds = 2;
	sp.nvmas = 1, sp.nfiles = 3;
	assert_int_equal(read_image(&sp, &lim, &img, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "RLIMIT_NOFILE"));
	fr_image_free(&img);

	lim = roomy, lim.max_threads = 4;
	sp.nfiles = 1, sp.nthreads_said = 5, sp.nthreads = 5;
	assert_int_equal(read_image(&sp, &lim, &img, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "threads"));
	assert_null(img.threads); /* refused before any thread was allocated */
	fr_image_free(&img);

	/* Queued signals add up over the threads: 3 x 30 > 64. */
	sp.nthreads_said = 3, sp.nthreads = 3, sp.pending_per_thread = 30;
	assert_int_equal(read_image(&sp, &roomy, &img, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "RLIMIT_SIGPENDING"));
	fr_image_free(&img);
	sp.pending_per_thread = 0;

	/* More thread records than the process record counts. */
	sp.nthreads_said = 2, sp.nthreads = 3;
	assert_int_equal(read_image(&sp, &roomy, &img, err, sizeof(err)), -EBADMSG);
	fr_image_free(&img);

	/* The host's own caps are read and sane. */
	struct image_limits host;
	image_limits_of_host(&host);
	assert_true(host.max_threads > 0 && host.max_vmas > 0 && host.max_fds > 0 && host.max_pending > 0);
}

static void test_share_of_unknown_fd_is_refused(void **state)
{
	(void)state;
	struct fr_image img;
	char err[512];
	/* fd 1 sharing fd 0's description is fine; a negative index other than -1 is not. */
	struct spec sp = {.nthreads_said = 1, .nthreads = 1, .nfiles = 2, .nvmas = 1, .share_of_last = 0};
	assert_int_equal(read_image(&sp, &roomy, &img, err, sizeof(err)), 0);
	fr_image_free(&img);
	sp.share_of_last = -3;
	assert_int_equal(read_image(&sp, &roomy, &img, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "share_of"));
	fr_image_free(&img);
}

/* A mapping of a memfd names the memfd's record; one held by mappings
 * only comes after every fd's record. */
static void test_mapped_objects_name_their_records(void **state)
{
	(void)state;
	struct fr_image img;
	char err[512];
	struct spec sp = {.nthreads_said = 1, .nthreads = 1, .nfiles = 3, .nvmas = 4, .share_of_last = -1,
			  .memfd_at = 3, .mapping_only = true, .vma_object = 3};
	assert_int_equal(read_image(&sp, &roomy, &img, err, sizeof(err)), 0);
	assert_true(img.files[2].mapping_only);
	assert_int_equal(fr_vma_object(&img.vmas[1]), 2);
	fr_image_free(&img);
	sp.vma_object = 1; /* fd 0: /dev/null, no memfd */
	assert_int_equal(read_image(&sp, &roomy, &img, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "object"));
	fr_image_free(&img);
	sp.vma_object = 9; /* no such fd */
	assert_int_equal(read_image(&sp, &roomy, &img, err, sizeof(err)), -EBADMSG);
	fr_image_free(&img);
	sp.vma_object = 2, sp.memfd_at = 2; /* an fd's record after a mapping-only one */
	assert_int_equal(read_image(&sp, &roomy, &img, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "mappings hold"));
	fr_image_free(&img);
}

/* A System V mapping names a SHM record and attaches all of it. */
static void test_sysv_mappings_name_their_segments(void **state)
{
	(void)state;
	struct fr_image img;
	char err[512];
	struct spec sp = {.nthreads_said = 1, .nthreads = 1, .nfiles = 1, .nvmas = 3, .share_of_last = -1,
			  .shm_pages = 3};
	assert_int_equal(read_image(&sp, &roomy, &img, err, sizeof(err)), 0);
	assert_int_equal(img.nshms, 1);
	assert_int_equal(img.vmas[2].kind, VMA_SYSV_SHM);
	fr_image_free(&img);
	sp.shm_attach = 2; /* part of it */
	assert_int_equal(read_image(&sp, &roomy, &img, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "System V"));
	fr_image_free(&img);
}

static int check_pages(const struct fr_image *img, uint64_t addr, uint32_t npages, char *err, size_t errlen)
{
	size_t len = sizeof(struct fr_pages_hdr) + (size_t)npages * PAGE;
	uint8_t *rec = calloc(1, len);
	assert_non_null(rec);
	struct fr_pages_hdr h = {.addr = addr, .npages = npages};
	memcpy(rec, &h, sizeof(h));
	struct fr_pages_hdr out;
	int r = image_check_pages(img, PAGE, rec, (uint32_t)len, &out, err, errlen);
	free(rec);
	return r;
}

static void test_pages_must_land_inside_one_mapping(void **state)
{
	(void)state;
	struct spec sp = {.nthreads_said = 1, .nthreads = 1, .nfiles = 0, .nvmas = 2, .share_of_last = -1};
	struct fr_image img;
	char err[512];
	assert_int_equal(read_image(&sp, &roomy, &img, err, sizeof(err)), 0);
	assert_int_equal(check_pages(&img, 0x10000000, 4, err, sizeof(err)), 0);
	assert_int_equal(check_pages(&img, 0x10001000, 3, err, sizeof(err)), 0);
	assert_int_equal(check_pages(&img, 0x10001000, 4, err, sizeof(err)), -EBADMSG); /* straddles the end */
	assert_int_equal(check_pages(&img, 0x0fff0000, 1, err, sizeof(err)), -EBADMSG); /* below every mapping */
	assert_int_equal(check_pages(&img, 0x10100000, 1, err, sizeof(err)), -EBADMSG); /* shared file: no pages */
	assert_non_null(strstr(err, "not inside one restored mapping"));
	assert_int_equal(check_pages(&img, 0xfffffffffffff000ull, 2, err, sizeof(err)), -EBADMSG); /* wraps */
	assert_non_null(strstr(err, "addr"));
	fr_image_free(&img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_image_is_read),
		cmocka_unit_test(test_too_many_records_are_refused),
		cmocka_unit_test(test_share_of_unknown_fd_is_refused),
		cmocka_unit_test(test_mapped_objects_name_their_records),
		cmocka_unit_test(test_sysv_mappings_name_their_segments),
		cmocka_unit_test(test_pages_must_land_inside_one_mapping),
	};
	return cmocka_run_group_tests_name("image", tests, NULL, NULL);
}

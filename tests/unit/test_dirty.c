/* test_dirty.c — the dirty-page tracker on a live child process: exactly the
 * pages it writes are reported, once; MADV_DONTNEED and a replaced mapping
 * are reported; pages without data of their own are found (dirty_absent); tracking survives the freeze/remote-syscall/thaw that sets it
 * up (the child is blocked in read() meanwhile) and leaves nothing behind. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "inspect/freeze.h"
#include "inspect/rsys.h"
#include "mem/dirty.h"

#define NPAGES 64
#define REMAP_FIRST 40 /* pages [40, 48) are unmapped and mapped again */
#define REMAP_PAGES 8

struct child {
	pid_t pid;
	int cmd, ack; /* parent's ends of the two pipes */
	uint64_t base;
	long page;
};

/* The child: NPAGES touched pages, then commands "w N" (write page N),
 * "d N" (MADV_DONTNEED page N), "r" (remap), "c" (check every page holds
 * what was last written to it; 0 after DONTNEED), "q" (exit 0 if all was
 * well). Each command is acknowledged with one byte: 'k' or 'x'. */
static void child_main(int cmd, int ack, long page)
{
	uint8_t *m = mmap(NULL, NPAGES * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t want[NPAGES];
	for (int i = 0; i < NPAGES; i++) {
		want[i] = (uint8_t)(i + 1);
		memset(m + (size_t)i * page, want[i], (size_t)page);
	}
	uint64_t base = (uint64_t)(uintptr_t)m;
	if (write(ack, &base, sizeof(base)) != sizeof(base))
		_exit(2);
	char c[2];
	bool ok = true;
	while (read(cmd, c, 2) == 2) {
		int n = (uint8_t)c[1];
		if (c[0] == 'w') {
			want[n] = (uint8_t)(want[n] + 0x40);
			memset(m + (size_t)n * page, want[n], (size_t)page);
		} else if (c[0] == 'd') {
			madvise(m + (size_t)n * page, (size_t)page, MADV_DONTNEED);
			want[n] = 0;
		} else if (c[0] == 'r') {
			void *at = m + (size_t)REMAP_FIRST * page;
			munmap(at, REMAP_PAGES * (size_t)page);
			if (mmap(at, REMAP_PAGES * (size_t)page, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != at)
				ok = false;
			for (int i = REMAP_FIRST; i < REMAP_FIRST + REMAP_PAGES; i++)
				want[i] = 0;
		} else if (c[0] == 'c' || c[0] == 'q') {
			for (int i = 0; i < NPAGES; i++)
				for (long k = 0; k < page; k++)
					ok &= m[(size_t)i * page + k] == want[i];
			if (c[0] == 'q')
				_exit(ok ? 0 : 3);
		}
		if (write(ack, ok ? "k" : "x", 1) != 1)
			_exit(2);
	}
	_exit(4);
}

static void child_do(struct child *ch, char op, int n)
{
	char c[2] = {op, (char)n}, a = 0;
	assert_int_equal(write(ch->cmd, c, 2), 2);
	assert_int_equal(read(ch->ack, &a, 1), 1);
	assert_int_equal(a, 'k');
}

static void child_start(struct child *ch)
{
	int cmd[2], ack[2];
	assert_int_equal(pipe(cmd), 0);
	assert_int_equal(pipe(ack), 0);
	ch->page = sysconf(_SC_PAGESIZE);
	ch->pid = fork();
	assert_true(ch->pid >= 0);
	if (ch->pid == 0) {
		close(cmd[1]);
		close(ack[0]);
		child_main(cmd[0], ack[1], ch->page);
	}
	close(cmd[0]);
	close(ack[1]);
	ch->cmd = cmd[1];
	ch->ack = ack[0];
	assert_int_equal(read(ch->ack, &ch->base, sizeof(ch->base)), sizeof(ch->base));
}

static void child_finish(struct child *ch)
{
	char c[2] = {'q', 0};
	assert_int_equal(write(ch->cmd, c, 2), 2);
	int st;
	assert_int_equal(waitpid(ch->pid, &st, 0), ch->pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0); /* its memory held what it wrote */
	close(ch->cmd);
	close(ch->ack);
}

static uint64_t pg(const struct child *ch, int n) { return ch->base + (uint64_t)n * (uint64_t)ch->page; }

/* Opens a tracker the way pre-copy does: freeze, one remote syscall, thaw. */
static void open_tracker(struct child *ch, struct dirty_tracker *t, enum dirty_backend b)
{
	struct frozen_proc fp;
	char err[256] = "";
	assert_int_equal(freeze_process(ch->pid, &fp, err, sizeof(err)), 0);
	uint64_t ip;
	assert_int_equal(rsys_find_syscall(ch->pid, &ip), 0);
	struct rsys rs;
	assert_int_equal(rsys_begin_exact(&rs, ch->pid, ip), 0);
	int r = dirty_open(t, ch->pid, b, &rs, err, sizeof(err));
	if (r < 0)
		print_error("dirty_open: %s\n", err);
	assert_int_equal(r, 0);
	rsys_end(&rs);
	thaw_process(&fp);
	frozen_free(&fp);
	child_do(ch, 'c', 0); /* the interrupted read() went on; memory intact */
}

static void expect(const struct range_list *l, const struct child *ch, const int *first, const int *count, size_t n)
{
	bool same = l->n == n;
	for (size_t i = 0; same && i < n; i++)
		same = l->v[i].start == pg(ch, first[i]) && l->v[i].end == pg(ch, first[i] + count[i]);
	for (size_t i = 0; !same && i < l->n; i++)
		print_error("got pages %lld-%lld\n", (long long)(l->v[i].start - ch->base) / ch->page,
			    (long long)(l->v[i].end - ch->base) / ch->page);
	assert_int_equal(l->n, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(l->v[i].start, pg(ch, first[i]));
		assert_int_equal(l->v[i].end, pg(ch, first[i] + count[i]));
	}
}

static void collect(struct dirty_tracker *t, struct range_list *l)
{
	range_list_free(l);
	assert_int_equal(dirty_collect(t, l, NULL), 0);
}

static void test_uffd_wp(void **state)
{
	(void)state;
	if (dirty_backend_best() != DIRTY_UFFD_WP) {
		print_message("SKIP: this kernel has no userfaultfd WP_ASYNC + PAGEMAP_SCAN\n");
		skip();
	}
	struct child ch;
	child_start(&ch);
	struct dirty_tracker t;
	open_tracker(&ch, &t, DIRTY_UFFD_WP);
	assert_int_equal(dirty_track(&t, pg(&ch, 0), pg(&ch, NPAGES)), 0);
	struct range_list l = {0};

	collect(&t, &l);
	expect(&l, &ch, NULL, NULL, 0); /* nothing written since it was armed */

	child_do(&ch, 'w', 3);
	child_do(&ch, 'w', 10);
	child_do(&ch, 'w', 11);
	collect(&t, &l);
	expect(&l, &ch, (int[]){3, 10}, (int[]){1, 2}, 2);
	assert_int_equal(range_list_bytes(&l) / 4096, 3);

	collect(&t, &l);
	expect(&l, &ch, NULL, NULL, 0); /* reported once, then watched again */
	child_do(&ch, 'w', 10);
	collect(&t, &l);
	expect(&l, &ch, (int[]){10}, (int[]){1}, 1);

	child_do(&ch, 'd', 20); /* dropped: reads as zero now, must be sent */
	collect(&t, &l);
	expect(&l, &ch, (int[]){20}, (int[]){1}, 1);

	/* a new mapping under a tracked range: the whole entry counts as
	 * written (the failed walk may have re-armed pages it did not report) */
	child_do(&ch, 'r', 0);
	struct range_list lost = {0};
	/* seen without a collect, holes and all (the new mapping is untouched) */
	assert_int_equal(dirty_replaced(&t, &lost), 0);
	expect(&lost, &ch, (int[]){REMAP_FIRST}, (int[]){REMAP_PAGES}, 1);
	range_list_free(&lost);
	range_list_free(&l);
	assert_int_equal(dirty_collect(&t, &l, &lost), 0);
	expect(&l, &ch, (int[]){0}, (int[]){NPAGES}, 1);
	expect(&lost, &ch, (int[]){REMAP_FIRST}, (int[]){REMAP_PAGES}, 1);
	range_list_free(&lost);
	/* no data of their own: the mapping made again, never touched since
	 * (pre-copy discards these where the destination holds data; the page
	 * dropped above keeps a write-protect marker, which counts as swapped,
	 * and was reported as written instead) */
	struct range_list whole = {0}, absent = {0};
	range_list_add(&whole, pg(&ch, 0), pg(&ch, NPAGES));
	assert_int_equal(dirty_absent(&t, &whole, &absent), 0);
	expect(&absent, &ch, (int[]){REMAP_FIRST}, (int[]){REMAP_PAGES}, 1);
	range_list_free(&whole);
	range_list_free(&absent);
	dirty_untrack(&t, pg(&ch, REMAP_FIRST), pg(&ch, REMAP_FIRST + REMAP_PAGES));
	assert_int_equal(dirty_track(&t, pg(&ch, REMAP_FIRST), pg(&ch, REMAP_FIRST + REMAP_PAGES)), 0);
	child_do(&ch, 'w', REMAP_FIRST + 4);
	child_do(&ch, 'w', 63);
	collect(&t, &l);
	expect(&l, &ch, (int[]){REMAP_FIRST + 4, 63}, (int[]){1, 1}, 2);

	dirty_close(&t);
	child_do(&ch, 'w', 5); /* no tracking left: writes just happen */
	child_do(&ch, 'c', 0);
	range_list_free(&l);
	child_finish(&ch);
}

static void test_none_reports_everything(void **state)
{
	(void)state;
	struct child ch;
	child_start(&ch);
	struct dirty_tracker t;
	char err[256];
	assert_int_equal(dirty_open(&t, ch.pid, DIRTY_NONE, NULL, err, sizeof(err)), 0);
	assert_int_equal(dirty_track(&t, pg(&ch, 0), pg(&ch, 16)), 0);
	assert_int_equal(dirty_track(&t, pg(&ch, 32), pg(&ch, NPAGES)), 0);
	dirty_untrack(&t, pg(&ch, 40), pg(&ch, 48));
	struct range_list l = {0};
	collect(&t, &l);
	expect(&l, &ch, (int[]){0, 32, 48}, (int[]){16, 8, 16}, 3);
	assert_int_equal(range_list_bytes(&l) / 4096, 40);
	range_list_free(&l);
	dirty_close(&t);
	child_finish(&ch);
}

static void test_list_merges(void **state)
{
	(void)state;
	struct range_list l = {0};
	for (uint64_t a = 0; a < 100 * 4096; a += 4096)
		assert_int_equal(range_list_add(&l, a, a + 4096), 0);
	assert_int_equal(range_list_add(&l, 200 * 4096, 201 * 4096), 0);
	assert_int_equal(range_list_add(&l, 300 * 4096, 300 * 4096), 0); /* empty: ignored */
	assert_int_equal(l.n, 2);
	assert_int_equal(range_list_bytes(&l) / 4096, 101);
	assert_int_equal(l.v[0].end, 100 * 4096);
	range_list_free(&l);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_merges),
		cmocka_unit_test(test_none_reports_everything),
		cmocka_unit_test(test_uffd_wp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

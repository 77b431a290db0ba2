/* forker: a process that forks while its memory may still be on its way
 * (post-copy): each child checks every page it inherited, writes some of
 * them and checks again; some fork a grandchild that checks too, some
 * call exec at once, some stay until the end (holding what they inherited,
 * while the parent drops pages and changes its layout). The parent
 * rewrites random pages all along, and drops one now and then
 * (MADV_DONTNEED) before writing it again, so that children inherit pages
 * of every kind: placed, rewritten, dropped, still missing. A region
 * marked MADV_WIPEONFORK holds data in the parent and must read zeros in
 * every child (glibc keeps arc4random's state so).
 *
 * usage: forker CTL [MiB=32] [EVERY_MS=100]
 * It forks only once CTL/go exists (a process with children cannot be
 * migrated: the test moves it first), then every EVERY_MS, at most 3
 * children alive at once. Every page holds a pattern of its number and
 * generation (a generation per page, in a separate array the children
 * inherit too). A child or grandchild that finds a wrong word prints it on
 * stderr and exits 2. After stop, the parent waits for its children,
 * checks its own memory and says
 *   OK forker forks=N checked=C grandchildren=G execs=E writes=W
 * or FAIL if a child found a wrong word, or none checked anything. */
#include "common.h"
#include "genpages.h"
#include <stdbool.h>
#include <sys/wait.h>

#define CHILDREN_MAX 3
#define WIPE_PAGES 64

static uint64_t *wipe; /* MADV_WIPEONFORK: data here, zeros in a child */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return rng;
}

/* A child's wiped region: zeros only. */
static bool wiped(const char *who)
{
	for (size_t i = 0; i < WIPE_PAGES * WORDS; i++)
		if (wipe[i]) {
			wl_log("%s: word %zu of the MADV_WIPEONFORK region is %#llx, not zero", who, i,
			       (unsigned long long)wipe[i]);
			return false;
		}
	return true;
}

static int child(uint64_t *mem, uint32_t *gen, size_t npages, bool grandchild, bool stay)
{
	if (!wiped("child") || gen_check(mem, gen, npages, grandchild ? "grandchild" : "child") >= 0)
		return 2;
	pid_t g = -1;
	if (grandchild && (g = fork()) == 0)
		_exit(!wiped("grandchild") || gen_check(mem, gen, npages, "grandchild") >= 0 ? 2 : 0);
	for (size_t n = 0; n < npages / 10; n++) {
		size_t p = rnd() % npages;
		gen_fill(mem + p * WORDS, p, gen[p] += 1000);
	}
	if (gen_check(mem, gen, npages, "child after its writes") >= 0)
		return 2;
	while (stay && !wl_stop_requested())
		wl_sleep_us(20000);
	int st = 0;
	if (g > 0 && (waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st)))
		return 2;
	return g > 0 ? 3 : 0; /* 3: fine, with a grandchild */
}

struct tally {
	unsigned checked, grandchildren, execs, bad;
};

static void count(struct tally *t, pid_t done, int st)
{
	int code = done > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : done > 0 ? 128 + WTERMSIG(st) : -1;
	if (code == 0 || code == 3)
		t->checked++, t->grandchildren += code == 3;
	else if (code == 4)
		t->execs++;
	else
		t->bad++, wl_log("child %d ended with %d", done, code);
}

int main(int argc, char **argv)
{
	wl_init("forker", argc, argv);
	size_t npages = (size_t)(argc > 2 ? atol(argv[2]) : 32) * 256;
	int every_ms = argc > 3 ? atoi(argv[3]) : 100;
	if (!npages || every_ms <= 0)
		wl_fail("usage: forker CTL [MiB] [EVERY_MS]");
	/* mapped first, so above the rest: a post-copy push in address order
	 * brings it last, and the children fork while it is still missing */
	wipe = mmap(NULL, WIPE_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (wipe == MAP_FAILED || madvise(wipe, WIPE_PAGES * PAGE, MADV_WIPEONFORK) < 0)
		wl_fail("MADV_WIPEONFORK: %s", strerror(errno));
	uint64_t *mem;
	uint32_t *gen;
	gen_alloc(npages, &mem, &gen);
	for (size_t p = 0; p < WIPE_PAGES; p++)
		gen_fill(wipe + p * WORDS, npages + p, 0);
	char go[4200];
	snprintf(go, sizeof(go), "%s/go", wl_ctl);
	wl_ready();
	unsigned forks = 0, alive = 0;
	bool staying = false; /* one child stays until the end */
	struct tally t = {0};
	uint64_t writes = 0;
	struct timespec last = {0};
	while (!wl_stop_requested()) {
		for (int i = 0; i < 20; i++, writes++) { /* ~4,000 pages/s */
			size_t p = rnd() % npages;
			if (i == 0 && madvise(mem + p * WORDS, PAGE, MADV_DONTNEED) < 0)
				wl_fail("madvise: %s", strerror(errno));
			gen_fill(mem + p * WORDS, p, ++gen[p]);
		}
		int st;
		pid_t done;
		while ((done = waitpid(-1, &st, WNOHANG)) > 0)
			alive--, count(&t, done, st);
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		double since = (double)(now.tv_sec - last.tv_sec) * 1e3 + (double)(now.tv_nsec - last.tv_nsec) / 1e6;
		if (alive < CHILDREN_MAX && since >= every_ms && access(go, F_OK) == 0) {
			last = now;
			unsigned kind = forks++ % 4;
			bool stay = kind == 2 && !staying;
			staying |= stay;
			pid_t c = fork();
			if (c == 0) {
				rng ^= (uint64_t)getpid() << 20;
				if (kind == 3) { /* exec at once: its memory goes */
					execl("/bin/sh", "sh", "-c", "exit 4", (char *)NULL);
					_exit(5);
				}
				_exit(child(mem, gen, npages, kind == 1, stay));
			}
			if (c < 0)
				wl_fail("fork: %s", strerror(errno));
			alive++;
		}
		wl_sleep_us(5000);
	}
	for (int st = 0; alive > 0; alive--) {
		pid_t done = wait(&st);
		count(&t, done, st);
	}
	if (gen_check(mem, gen, npages, "parent") >= 0)
		wl_fail("the parent's memory is wrong");
	for (size_t p = 0; p < WIPE_PAGES; p++)
		for (unsigned i = 0; i < WORDS; i++)
			if (wipe[p * WORDS + i] != gen_word(npages + p, 0, i))
				wl_fail("the parent's MADV_WIPEONFORK region is wrong at page %zu word %u", p, i);
	if (t.bad)
		wl_fail("%u of %u children found wrong memory or failed", t.bad, forks);
	if (!t.checked)
		wl_fail("no child checked its memory (%u forks)", forks);
	wl_ok("forks=%u checked=%u grandchildren=%u execs=%u writes=%llu", forks, t.checked, t.grandchildren, t.execs,
	      (unsigned long long)writes);
}

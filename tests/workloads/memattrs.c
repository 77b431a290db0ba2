/* memattrs: what mlock and madvise set on mappings survives a restore, with
 * the contents, and so does the parent-death signal.
 * Ten 2 MiB anonymous mappings (2 MiB aligned), each filled with its own
 * pattern: 0 mlock; 1 mlock2(MLOCK_ONFAULT) with 4 pages touched (the rest
 * untouched); 2 MADV_DONTFORK; 3 MADV_DONTDUMP; 4 MADV_WIPEONFORK;
 * 5 MADV_HUGEPAGE; 6 MADV_NOHUGEPAGE; 7 MADV_MERGEABLE (skipped without
 * KSM); 8 MADV_RANDOM; 9 nothing. PR_SET_PDEATHSIG is SIGUSR2 (ignored).
 * Before ready it records VmLck (status) and each mapping's VmFlags
 * (smaps); after stop, both must be the same, every byte as written, and
 * the parent-death signal SIGUSR2, or 0 with argv[2] = "no-pdeathsig" (a
 * migration: ferry is the parent there and does not stay).
 * While it waits, CTL/change asks for a change (done once, then
 * CTL/changed): "attrs" makes mapping 9 MADV_DONTFORK whole (its maps line
 * stays the same), "layout" makes its second half MADV_WIPEONFORK (it
 * splits); the flags it then records are the ones checked.
 * Output: OK memattrs vmlck=N kB flags=F flags9=F9 [half=FH]
 * usage: memattrs CTL [no-pdeathsig] */
#include "common.h"
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#define N_MAPS 10
#define MAP_LEN (2u << 20)
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 0x01
#endif

static uint8_t *maps[N_MAPS + 1]; /* + the second half of mapping 9 once it splits */
static char flags_before[N_MAPS + 1][256];
static int n_checked = N_MAPS; /* flags checked: N_MAPS, + 1 after a "layout" change */

/* VmFlags of the mapping at addr, from our own smaps, but the userfaultfd
 * ones (um, uw, ui): pre-copy's tracking sets them for a while */
static void vmflags(uint8_t *addr, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	bool in = false;
	out[0] = '\0';
	while (f && fgets(line, sizeof line, f)) {
		unsigned long start;
		if (sscanf(line, "%lx-", &start) == 1 && strchr(line, '-') && strchr(line, '-') < strchr(line, ' '))
			in = start == (unsigned long)(uintptr_t)addr;
		else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			size_t n = 0;
			for (char *tok = strtok(line + 9, " \n"); tok && n + 4 < len; tok = strtok(NULL, " \n"))
				if (strcmp(tok, "um") != 0 && strcmp(tok, "uw") != 0 && strcmp(tok, "ui") != 0)
					n += (size_t)snprintf(out + n, len - n, "%s%s", n ? " " : "", tok);
			break;
		}
	}
	if (f)
		fclose(f);
	if (!out[0])
		wl_fail("no smaps entry at %p", (void *)addr);
}

static long vmlck_kb(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmLck: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static uint8_t pattern(int m, size_t i) { return (uint8_t)wl_mix((uint64_t)m << 32 | i); }

/* CTL/change, if it is there: changes mapping 9 and records its flags anew. */
static void change_if_asked(void)
{
	static bool done;
	char path[4200], what[16] = "";
	snprintf(path, sizeof path, "%s/change", wl_ctl);
	FILE *f = done ? NULL : fopen(path, "re");
	if (!f)
		return;
	bool got = fgets(what, sizeof what, f) != NULL;
	fclose(f);
	if (!got)
		return; /* not written yet: next time */
	done = true;
	if (strncmp(what, "attrs", 5) == 0) {
		if (madvise(maps[9], MAP_LEN, MADV_DONTFORK) < 0)
			wl_fail("madvise DONTFORK 9: %s", strerror(errno));
	} else if (strncmp(what, "layout", 6) == 0) {
		maps[N_MAPS] = maps[9] + MAP_LEN / 2;
		if (madvise(maps[N_MAPS], MAP_LEN / 2, MADV_WIPEONFORK) < 0)
			wl_fail("madvise WIPEONFORK half of 9: %s", strerror(errno));
		n_checked = N_MAPS + 1;
	} else {
		wl_fail("CTL/change says '%s'", what);
	}
	for (int m = 9; m < n_checked; m++)
		vmflags(maps[m], flags_before[m], sizeof flags_before[m]);
	snprintf(path, sizeof path, "%s/changed", wl_ctl);
	fclose(fopen(path, "we"));
}

int main(int argc, char **argv)
{
	wl_init("memattrs", argc, argv);
	bool expect_pdeathsig = !(argc > 2 && strcmp(argv[2], "no-pdeathsig") == 0);
	signal(SIGUSR2, SIG_IGN);
	if (prctl(PR_SET_PDEATHSIG, SIGUSR2) < 0)
		wl_fail("PR_SET_PDEATHSIG: %s", strerror(errno));
	/* one reservation, carved into aligned pieces with gaps so none merge */
	uint8_t *base = mmap(NULL, (size_t)(2 * N_MAPS + 1) * MAP_LEN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		wl_fail("mmap: %s", strerror(errno));
	uint8_t *aligned = (uint8_t *)(((uintptr_t)base + MAP_LEN - 1) & ~(uintptr_t)(MAP_LEN - 1));
	int advice[N_MAPS] = {-1, -1, MADV_DONTFORK, MADV_DONTDUMP, MADV_WIPEONFORK, MADV_HUGEPAGE, MADV_NOHUGEPAGE,
			      MADV_MERGEABLE, MADV_RANDOM, -1};
	for (int m = 0; m < N_MAPS; m++) {
		maps[m] = mmap(aligned + (size_t)2 * m * MAP_LEN, MAP_LEN, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (maps[m] == MAP_FAILED)
			wl_fail("mmap %d: %s", m, strerror(errno));
		size_t fill = m == 1 ? 4 * 4096 : MAP_LEN;
		for (size_t i = 0; i < fill; i++)
			maps[m][i] = pattern(m, i);
		if (advice[m] >= 0 && madvise(maps[m], MAP_LEN, advice[m]) < 0 &&
		    !(advice[m] == MADV_MERGEABLE && errno == EINVAL))
			wl_fail("madvise %d: %s", m, strerror(errno));
	}
	if (mlock(maps[0], MAP_LEN) < 0 || syscall(SYS_mlock2, maps[1], MAP_LEN, MLOCK_ONFAULT) < 0)
		wl_fail("mlock: %s", strerror(errno));
	for (int m = 0; m < N_MAPS; m++)
		vmflags(maps[m], flags_before[m], sizeof flags_before[m]);
	long lck = vmlck_kb();
	wl_ready();
	while (!wl_stop_requested()) {
		change_if_asked();
		wl_sleep_us(5000);
	}
	for (int m = 0; m < N_MAPS; m++) {
		size_t fill = m == 1 ? 4 * 4096 : MAP_LEN;
		for (size_t i = 0; i < MAP_LEN; i++)
			if (maps[m][i] != (i < fill ? pattern(m, i) : 0))
				wl_fail("mapping %d byte %zu changed", m, i);
	}
	for (int m = 0; m < n_checked; m++) {
		char now[256];
		vmflags(maps[m], now, sizeof now);
		if (strcmp(now, flags_before[m]) != 0)
			wl_fail("mapping %d: VmFlags %s, before %s", m, now, flags_before[m]);
	}
	long lck_now = vmlck_kb(); /* the locked ranges' sizes, on fault or not */
	if (lck_now != lck)
		wl_fail("VmLck %ld kB, %ld kB before the pause", lck_now, lck);
	int sig = -1;
	prctl(PR_GET_PDEATHSIG, &sig);
	if (sig != (expect_pdeathsig ? SIGUSR2 : 0))
		wl_fail("parent-death signal %d, expected %d", sig, expect_pdeathsig ? SIGUSR2 : 0);
	if (n_checked > N_MAPS)
		wl_ok("vmlck=%ld kB flags=%s flags9=%s half=%s", lck, flags_before[1], flags_before[9], flags_before[N_MAPS]);
	else
		wl_ok("vmlck=%ld kB flags=%s flags9=%s", lck, flags_before[1], flags_before[9]);
}

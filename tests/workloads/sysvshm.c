/* sysvshm: System V shared memory segments attached by this process alone
 * keep their ids, keys, sizes, modes, contents and attachments.
 * - segment K: key 0x46520000 + (pid & 0xffff), 3 pages + 100 bytes, mode
 *   0640, attached read-write twice (KA, KB); the loop writes its round
 *   counter through KA at 0 every 2 ms.
 * - segment P: IPC_PRIVATE, 16 pages, filled through a read-write attach
 *   that is then detached, attached again SHM_RDONLY (PR) and removed
 *   (IPC_RMID: it goes with its last detach).
 * After stop: both ids as before (K found again by its key), sizes, modes,
 *   K attached twice and P once, P marked removed; the counter through KB;
 *   both patterns; a write through KB shows through KA; PR reads only
 *   (mprotect to writable is refused, as for an SHM_RDONLY attach); then K
 *   is removed, so nothing outlives the workload.
 * Output: OK sysvshm rounds=N */
#include "common.h"
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>

#define PAGE 4096u
#define K_SIZE (3 * PAGE + 100)
#define P_SIZE (16 * PAGE)

static uint64_t *word(void *base, size_t i) { return (uint64_t *)base + i; }

static void expect(const char *what, uint64_t got, uint64_t want)
{
	if (got != want)
		wl_fail("%s: %llu, expected %llu", what, (unsigned long long)got, (unsigned long long)want);
}

static struct shmid_ds stat_of(int id, const char *what)
{
	struct shmid_ds ds;
	if (shmctl(id, IPC_STAT, &ds) < 0)
		wl_fail("IPC_STAT %s (id %d): %s", what, id, strerror(errno));
	return ds;
}

/* Does smaps show flag (two letters) in the VmFlags of the mapping at p? */
static int has_vmflag(const void *p, const char *flag)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	unsigned long lo;
	int in = 0, found = 0;
	while (f && fgets(line, sizeof line, f)) {
		char *dash = strchr(line, '-'), *sp = strchr(line, ' ');
		if (dash && sp && dash < sp && sscanf(line, "%lx-", &lo) == 1) /* a mapping's first line */
			in = lo == (unsigned long)p;
		else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			char want[8];
			snprintf(want, sizeof want, " %s", flag);
			found = strstr(line, want) != NULL;
		}
	}
	if (f)
		fclose(f);
	return found;
}

static void *attach(int id, int flags, const char *what)
{
	void *p = shmat(id, NULL, flags);
	if (p == (void *)-1)
		wl_fail("shmat %s: %s", what, strerror(errno));
	return p;
}

int main(int argc, char **argv)
{
	wl_init("sysvshm", argc, argv);
	key_t key = (key_t)(0x46520000 + (getpid() & 0xffff));
	int k = shmget(key, K_SIZE, IPC_CREAT | IPC_EXCL | 0640), p = shmget(IPC_PRIVATE, P_SIZE, IPC_CREAT | 0600);
	if (k < 0 || p < 0)
		wl_fail("shmget: %s", strerror(errno));
	char *ka = attach(k, 0, "K"), *kb = attach(k, 0, "K again");
	for (size_t i = 1; i < K_SIZE / 8; i++)
		*word(ka, i) = wl_mix(0x4B000000ull + i);
	char *fill = attach(p, 0, "P to fill");
	for (size_t i = 0; i < P_SIZE / 8; i++)
		*word(fill, i) = wl_mix(0x50000000ull + i);
	shmdt(fill);
	char *pr = attach(p, SHM_RDONLY, "P read-only");
	if (mlock(kb, K_SIZE) < 0)
		wl_fail("mlock KB: %s", strerror(errno));
	if (shmctl(p, IPC_RMID, NULL) < 0)
		wl_fail("IPC_RMID: %s", strerror(errno));
	wl_ready();
	uint64_t rounds = 0;
	while (!wl_stop_requested()) {
		rounds++;
		*word(ka, 0) = rounds;
		wl_sleep_us(2000);
	}
	expect("K's id, by its key", (uint64_t)shmget(key, 0, 0), (uint64_t)k);
	struct shmid_ds ks = stat_of(k, "K"), ps = stat_of(p, "P");
	expect("K's size", ks.shm_segsz, K_SIZE);
	expect("K's mode", ks.shm_perm.mode & 0777, 0640);
	expect("K's attaches", ks.shm_nattch, 2);
	expect("P's size", ps.shm_segsz, P_SIZE);
	expect("P's mode", ps.shm_perm.mode & 0777, 0600);
	expect("P's attaches", ps.shm_nattch, 1);
	expect("P removed", !!(ps.shm_perm.mode & SHM_DEST), 1);
	expect("the counter through KB", *word(kb, 0), rounds);
	for (size_t i = 1; i < K_SIZE / 8; i++)
		expect("K's pattern through KB", *word(kb, i), wl_mix(0x4B000000ull + i));
	for (size_t i = 0; i < P_SIZE / 8; i++)
		expect("P's pattern", *word(pr, i), wl_mix(0x50000000ull + i));
	*word(kb, 17) = 4242;
	expect("a write through KB, through KA", *word(ka, 17), 4242);
	expect("KB mlock'd (smaps lo)", has_vmflag(kb, "lo"), 1);
	expect("KA not mlock'd", has_vmflag(ka, "lo"), 0);
	if (mprotect(pr, P_SIZE, PROT_READ | PROT_WRITE) == 0)
		wl_fail("P's read-only attach became writable");
	shmctl(k, IPC_RMID, NULL); /* gone with this process: nothing leaks */
	wl_ok("rounds=%llu", (unsigned long long)rounds);
}

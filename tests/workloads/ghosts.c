/* ghosts: memfds and a file deleted while open keep their names, sizes,
 * contents, seals, modes, flags and offsets.
 * - memfd S "ferry-sealed": 4 MiB, data at 0 (192 KiB) and at 3 MiB (64 KiB),
 *   the rest a hole; sealed F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL.
 * - memfd P "ferry-plain" (no sealing: F_SEAL_SEAL alone), offset 1234; the
 *   loop writes its round counter at offset 0 every 2 ms.
 * - CTL/ghost: 300 KiB, mode 0640, opened O_RDWR | O_APPEND, a dup of it,
 *   then unlinked; the loop appends nothing (its size is checked).
 * After stop: every byte of S and the ghost as written (holes zero), the
 *   counter in P equals the loop's, F_GET_SEALS as set, S refuses to grow,
 *   names in /proc/self/fd, the ghost has no link, mode 0640, O_APPEND, and
 *   its dup shares the offset; a new write to it lands at the end.
 * - its working directory CTL/gone (mode 0750) is removed: after stop it is
 *   still there, removed, with its mode, as /proc/self/cwd says.
 * usage: ghosts CTL [BYTES]  (BYTES: the ghost's size, default 300 KiB)
 * Output: OK ghosts rounds=N */
#include "common.h"
#include <sys/mman.h>

#define MIN_U64(a, b) ((a) < (b) ? (a) : (b))

#define S_SIZE (4u << 20)
#define S_A_LEN (192u << 10)
#define S_B_OFF (3u << 20)
#define S_B_LEN (64u << 10)
#define G_DEFAULT (300u << 10)

static uint8_t byte_at(uint32_t seed, uint64_t i) { return (uint8_t)wl_mix(seed * 0x100000001ull + i); }

static void fill(int fd, uint32_t seed, uint64_t off, uint64_t len)
{
	uint8_t buf[4096];
	for (uint64_t done = 0; done < len;) {
		size_t n = (size_t)MIN_U64(sizeof buf, len - done);
		for (size_t i = 0; i < n; i++)
			buf[i] = byte_at(seed, off + done + i);
		if (pwrite(fd, buf, n, (off_t)(off + done)) != (ssize_t)n)
			wl_fail("pwrite: %s", strerror(errno));
		done += n;
	}
}

/* [off, off+len) reads as written (seed) or as zeros (seed 0) */
static void check(int fd, const char *what, uint32_t seed, uint64_t off, uint64_t len)
{
	uint8_t buf[4096];
	for (uint64_t done = 0; done < len;) {
		size_t n = (size_t)MIN_U64(sizeof buf, len - done);
		if (pread(fd, buf, n, (off_t)(off + done)) != (ssize_t)n)
			wl_fail("%s: short read at %llu", what, (unsigned long long)(off + done));
		for (size_t i = 0; i < n; i++)
			if (buf[i] != (seed ? byte_at(seed, off + done + i) : 0))
				wl_fail("%s: byte %llu is %#x", what, (unsigned long long)(off + done + i), buf[i]);
		done += n;
	}
}

static void check_link(int fd, const char *want)
{
	char path[64], got[4096];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, got, sizeof got - 1);
	if (n < 0)
		wl_fail("readlink %s: %s", path, strerror(errno));
	got[n] = '\0';
	if (strcmp(got, want) != 0)
		wl_fail("fd %d is %s, expected %s", fd, got, want);
}

int main(int argc, char **argv)
{
	wl_init("ghosts", argc, argv);
	uint64_t g_len = argc > 2 ? strtoull(argv[2], NULL, 0) : G_DEFAULT;
	int s = memfd_create("ferry-sealed", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	int p = memfd_create("ferry-plain", 0);
	char gpath[4300];
	snprintf(gpath, sizeof gpath, "%s/ghost", wl_ctl);
	int g = open(gpath, O_RDWR | O_CREAT | O_EXCL | O_APPEND, 0640);
	if (s < 0 || p < 0 || g < 0)
		wl_fail("setup: %s", strerror(errno));
	fchmod(g, 0640);
	if (ftruncate(s, S_SIZE) < 0)
		wl_fail("ftruncate: %s", strerror(errno));
	fill(s, 1, 0, S_A_LEN);
	fill(s, 1, S_B_OFF, S_B_LEN);
	if (fcntl(s, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		wl_fail("F_ADD_SEALS: %s", strerror(errno));
	if (ftruncate(p, 8192) < 0 || lseek(p, 1234, SEEK_SET) != 1234)
		wl_fail("plain memfd: %s", strerror(errno));
	fill(g, 2, 0, g_len);
	int g2 = dup(g);
	if (g2 < 0 || unlink(gpath) < 0)
		wl_fail("ghost: %s", strerror(errno));
	char gone[4300];
	snprintf(gone, sizeof gone, "%s/gone", wl_ctl);
	if (mkdir(gone, 0750) < 0 || chmod(gone, 0750) < 0 || chdir(gone) < 0 || rmdir(gone) < 0)
		wl_fail("removed cwd %s: %s", gone, strerror(errno));
	wl_ready();
	uint64_t rounds = 0;
	while (!wl_stop_requested()) {
		rounds++;
		if (pwrite(p, &rounds, sizeof rounds, 0) != sizeof rounds)
			wl_fail("pwrite counter: %s", strerror(errno));
		wl_sleep_us(2000);
	}
	check(s, "sealed memfd", 1, 0, S_A_LEN);
	check(s, "sealed memfd hole", 0, S_A_LEN, S_B_OFF - S_A_LEN);
	check(s, "sealed memfd", 1, S_B_OFF, S_B_LEN);
	check(s, "sealed memfd tail", 0, S_B_OFF + S_B_LEN, S_SIZE - S_B_OFF - S_B_LEN);
	struct stat st;
	if (fstat(s, &st) < 0 || st.st_size != S_SIZE)
		wl_fail("sealed memfd size %lld", (long long)st.st_size);
	int seals = fcntl(s, F_GET_SEALS);
	if (seals != (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))
		wl_fail("sealed memfd seals %#x", seals);
	if (ftruncate(s, 2 * S_SIZE) == 0 || errno != EPERM)
		wl_fail("the sealed memfd grew");
	check_link(s, "/memfd:ferry-sealed (deleted)");
	uint64_t got = 0;
	if (pread(p, &got, sizeof got, 0) != sizeof got || got != rounds)
		wl_fail("plain memfd counter %llu, the loop's %llu", (unsigned long long)got, (unsigned long long)rounds);
	if (fcntl(p, F_GET_SEALS) != F_SEAL_SEAL || lseek(p, 0, SEEK_CUR) != 1234 || fstat(p, &st) < 0 ||
	    st.st_size != 8192)
		wl_fail("plain memfd: seals %#x offset %lld", fcntl(p, F_GET_SEALS), (long long)lseek(p, 0, SEEK_CUR));
	check_link(p, "/memfd:ferry-plain (deleted)");
	check(g, "ghost", 2, 0, g_len);
	if (fstat(g, &st) < 0 || st.st_size != (off_t)g_len || st.st_nlink != 0 || (st.st_mode & 07777) != 0640)
		wl_fail("ghost: size %lld links %lu mode %o", (long long)st.st_size, (unsigned long)st.st_nlink,
			st.st_mode & 07777);
	if (!(fcntl(g, F_GETFL) & O_APPEND) || (fcntl(g, F_GETFL) & O_ACCMODE) != O_RDWR)
		wl_fail("ghost flags %#x", fcntl(g, F_GETFL));
	char want[4400];
	snprintf(want, sizeof want, "%s (deleted)", gpath);
	check_link(g, want);
	if (write(g, "end", 3) != 3 || lseek(g2, 0, SEEK_CUR) != (off_t)g_len + 3)
		wl_fail("ghost dup does not share the offset: %lld", (long long)lseek(g2, 0, SEEK_CUR));
	char cwd[4400], want_cwd[4400];
	ssize_t cl = readlink("/proc/self/cwd", cwd, sizeof cwd - 1);
	snprintf(want_cwd, sizeof want_cwd, "%s (deleted)", gone);
	if (cl < 0 || (cwd[cl] = '\0', strcmp(cwd, want_cwd) != 0))
		wl_fail("cwd is %s, expected %s", cl < 0 ? strerror(errno) : cwd, want_cwd);
	if (stat(".", &st) < 0 || !S_ISDIR(st.st_mode) || st.st_nlink != 0 || (st.st_mode & 07777) != 0750)
		wl_fail("cwd: links %lu mode %o", (unsigned long)st.st_nlink, st.st_mode & 07777);
	wl_ok("rounds=%llu", (unsigned long long)rounds);
}

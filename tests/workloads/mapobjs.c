/* mapobjs: mappings of memfds and deleted files stay mappings of the same
 * objects as the fds on them, with their private (COW'd) pages.
 * - memfd M "ferry-mapped" (64 KiB, fd kept): mapped shared whole (MA) and
 *   shared again from offset 16 KiB, 4 pages (MB); mapped private, 4 pages
 *   (MP), its page 1 written privately.
 * - memfd C "ferry-closed" (32 KiB): mapped shared (CA) and private (CP, page
 *   2 written privately), then its fd closed: only the mappings hold it.
 * - CTL/dfile (3 pages, fd kept) and CTL/efile (2 pages, fd closed), both
 *   mapped shared and unlinked.
 * The loop (every 2 ms) writes its round counter through the fd of M at 0,
 * through MA at 8, MB at 0 (M's 16 KiB), CA at 0, the mapping of dfile at 0
 * and efile's at 0.
 * After stop: every counter equals the loop's, read back through the other
 * way in (the fd where it was written through a mapping and the reverse);
 * the private pages keep their own data while the pages not written
 * privately show the object's; then new writes through each fd and each
 * mapping are seen through the others (one object, not copies); the
 * mappings still name their objects in /proc/self/maps with the fds' inodes,
 * and no fd holds C or efile.
 * Output: OK mapobjs rounds=N */
#include "common.h"
#include <sys/mman.h>

#define PAGE 4096u
#define M_SIZE (64u << 10)
#define MB_OFF (16u << 10)
#define C_SIZE (32u << 10)

static uint64_t *at(void *base, size_t off) { return (uint64_t *)((char *)base + off); }

static void *map(int fd, size_t len, int flags, off_t off, const char *what)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, off);
	if (p == MAP_FAILED)
		wl_fail("mmap %s: %s", what, strerror(errno));
	return p;
}

static void expect(const char *what, uint64_t got, uint64_t want)
{
	if (got != want)
		wl_fail("%s: %llu, expected %llu", what, (unsigned long long)got, (unsigned long long)want);
}

static uint64_t pread64_at(int fd, off_t off)
{
	uint64_t v = 0;
	if (pread(fd, &v, sizeof v, off) != sizeof v)
		wl_fail("pread: %s", strerror(errno));
	return v;
}

static void pwrite64_at(int fd, off_t off, uint64_t v)
{
	if (pwrite(fd, &v, sizeof v, off) != sizeof v)
		wl_fail("pwrite: %s", strerror(errno));
}

/* The inode /proc/self/maps names for the mapping at p. */
static unsigned long maps_inode(const void *p)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4400];
	unsigned long lo, ino = 0;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "%lx-%*x %*s %*x %*x:%*x %lu", &lo, &ino) == 2 && lo == (unsigned long)p)
			break;
		else
			ino = 0;
	if (f)
		fclose(f);
	return ino;
}

static int make_deleted(const char *name, size_t len, char *path, size_t pathlen)
{
	snprintf(path, pathlen, "%s/%s", wl_ctl, name);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)len) < 0 || unlink(path) < 0)
		wl_fail("%s: %s", path, strerror(errno));
	return fd;
}

int main(int argc, char **argv)
{
	wl_init("mapobjs", argc, argv);
	int m = memfd_create("ferry-mapped", MFD_CLOEXEC), c = memfd_create("ferry-closed", 0);
	if (m < 0 || c < 0 || ftruncate(m, M_SIZE) < 0 || ftruncate(c, C_SIZE) < 0)
		wl_fail("memfd: %s", strerror(errno));
	for (uint32_t i = 0; i < M_SIZE / PAGE; i++)
		pwrite64_at(m, (off_t)(i * PAGE + 64), 1000 + i);
	for (uint32_t i = 0; i < C_SIZE / PAGE; i++)
		pwrite64_at(c, (off_t)(i * PAGE + 64), 2000 + i);
	char *ma = map(m, M_SIZE, MAP_SHARED, 0, "MA"), *mb = map(m, 4 * PAGE, MAP_SHARED, MB_OFF, "MB");
	char *mp = map(m, 4 * PAGE, MAP_PRIVATE, 0, "MP");
	*at(mp, PAGE + 64) = 77; /* page 1 of MP is its own now */
	char *ca = map(c, C_SIZE, MAP_SHARED, 0, "CA"), *cp = map(c, 4 * PAGE, MAP_PRIVATE, 0, "CP");
	*at(cp, 2 * PAGE + 64) = 88;
	close(c);
	char dpath[4300], epath[4300];
	int d = make_deleted("dfile", 3 * PAGE, dpath, sizeof dpath), e = make_deleted("efile", 2 * PAGE, epath, sizeof epath);
	char *dm = map(d, 3 * PAGE, MAP_SHARED, 0, "dfile"), *em = map(e, 2 * PAGE, MAP_SHARED, 0, "efile");
	*at(em, PAGE + 64) = 99;
	close(e);
	wl_ready();
	uint64_t rounds = 0;
	while (!wl_stop_requested()) {
		rounds++;
		pwrite64_at(m, 0, rounds);
		*at(ma, 8) = rounds;
		*at(mb, 0) = rounds;
		*at(ca, 0) = rounds;
		*at(dm, 0) = rounds;
		*at(em, 0) = rounds;
		wl_sleep_us(2000);
	}
	/* the counters, each read the other way in */
	expect("M at 0 through MA", *at(ma, 0), rounds);
	expect("M at 8 through its fd", pread64_at(m, 8), rounds);
	expect("M at 16 KiB through its fd", pread64_at(m, MB_OFF), rounds);
	expect("M at 16 KiB through MA", *at(ma, MB_OFF), rounds);
	expect("C at 0 through CP (a page not written privately)", *at(cp, 0), rounds);
	expect("dfile at 0 through its fd", pread64_at(d, 0), rounds);
	expect("efile at 0", *at(em, 0), rounds);
	/* contents and private pages */
	for (uint32_t i = 0; i < M_SIZE / PAGE; i++)
		expect("M's pattern through MA", *at(ma, i * PAGE + 64), 1000 + i);
	expect("MP's private page", *at(mp, PAGE + 64), 77);
	expect("MP's page 2 (the object's)", *at(mp, 2 * PAGE + 64), 1002);
	expect("M under MP's private page", pread64_at(m, PAGE + 64), 1001);
	for (uint32_t i = 0; i < C_SIZE / PAGE; i++)
		expect("C's pattern through CA", *at(ca, i * PAGE + 64), 2000 + i);
	expect("CP's private page", *at(cp, 2 * PAGE + 64), 88);
	expect("efile's page 1", *at(em, PAGE + 64), 99);
	/* one object each: a new write is seen through the other ways in */
	pwrite64_at(m, MB_OFF + PAGE, 4242);
	expect("a write through M's fd, through MB", *at(mb, PAGE), 4242);
	expect("a write through M's fd, through MA", *at(ma, MB_OFF + PAGE), 4242);
	*at(mb, 2 * PAGE + 16) = 4343;
	expect("a write through MB, through M's fd", pread64_at(m, MB_OFF + 2 * PAGE + 16), 4343);
	expect("a write through MB, through MA", *at(ma, MB_OFF + 2 * PAGE + 16), 4343);
	*at(ma, 3 * PAGE + 16) = 4444;
	expect("a write through MA, through MP (not its own page)", *at(mp, 3 * PAGE + 16), 4444);
	*at(ca, 3 * PAGE + 16) = 4545;
	expect("a write through CA, through CP", *at(cp, 3 * PAGE + 16), 4545);
	expect("CP's private page after a write to C", *at(cp, 2 * PAGE + 64), 88);
	pwrite64_at(d, 2 * PAGE, 4646);
	expect("a write through dfile's fd, through its mapping", *at(dm, 2 * PAGE), 4646);
	*at(dm, PAGE) = 4747;
	expect("a write through dfile's mapping, through its fd", pread64_at(d, PAGE), 4747);
	/* the objects the mappings name: the fds' (new ones after a restore) */
	struct stat mst, dst;
	if (fstat(m, &mst) < 0 || fstat(d, &dst) < 0)
		wl_fail("fstat: %s", strerror(errno));
	expect("MA's inode", maps_inode(ma), mst.st_ino);
	expect("MB's inode", maps_inode(mb), mst.st_ino);
	expect("MP's inode", maps_inode(mp), mst.st_ino);
	expect("dfile mapping's inode", maps_inode(dm), dst.st_ino);
	if (maps_inode(ca) == 0 || maps_inode(ca) != maps_inode(cp))
		wl_fail("CA and CP map inodes %lu and %lu, not one object", maps_inode(ca), maps_inode(cp));
	/* no fd holds C or efile: a restore made them for the mappings only */
	for (int fd = 0; fd < 1024; fd++) {
		char link[64], got[4400];
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, got, sizeof got - 1);
		if (n > 0 && (got[n] = '\0', strstr(got, "ferry-closed") || strstr(got, "/efile")))
			wl_fail("fd %d holds %s, which only mappings held", fd, got);
	}
	struct stat now;
	if (fstat(m, &now) < 0 || now.st_size != M_SIZE || fstat(d, &now) < 0 || now.st_size != 3 * PAGE ||
	    now.st_nlink != 0)
		wl_fail("sizes or links changed: %lld, %lu links", (long long)now.st_size, (unsigned long)now.st_nlink);
	wl_ok("rounds=%llu", (unsigned long long)rounds);
}

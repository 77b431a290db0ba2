/* identity: a restore must be exact for process identity and for unusual
 * memory and fd kinds.  At start it sets up and RECORDS: credentials (with
 * "drop": uid/gid 65534, groups {65534,100}), umask 027, cwd DIR, rlimits
 * NOFILE 777/888 and CORE 0/12345, nice 5, comm, prctl CHILD_SUBREAPER,
 * THP_DISABLE, NO_NEW_PRIVS, DUMPABLE=0, a malloc'd 64 KiB sigaltstack with a
 * SA_ONSTACK SIGUSR1 handler, pid/sid/pgrp (started via setsid); memory: a
 * 1 MiB MAP_SHARED|MAP_ANONYMOUS region, private anonymous regions made
 * PROT_READ and PROT_NONE, a MAP_PRIVATE file mapping with some pages
 * modified (COW), a MAP_SHARED read-write file mapping, brk heap via malloc;
 * fds: O_PATH and O_DIRECTORY on DIR, /dev/null O_WRONLY, /dev/zero O_RDONLY,
 * a file O_RDWR|O_CLOEXEC at offset 1234 plus a dup() of it, a file
 * O_RDONLY|O_NONBLOCK.  After CTL/stop everything is re-read and compared;
 * the first mismatch is reported as "FAIL identity WHAT: expected X got Y".
 * Also membarrier registrations (private expedited, sync core).
 * Output: OK identity uid=U checks=N
 * usage: identity CTL root|drop DIR
 */
#include "common.h"
#include <linux/membarrier.h>

#include <dirent.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define DROP_ID 65534
#define EXTRA_GID 100
#define PG 4096
#define SHANON_LEN (1024 * 1024)
#define RO_LEN (64 * 1024)
#define NONE_LEN (32 * 1024)
#define FILE_LEN (64 * 1024)
#define HEAP_LEN (48 * 1024) /* below the mmap threshold: brk heap */
#define ALTSTACK_LEN (64 * 1024)
#define COMM "idtest-comm"
#define REG_OFF 1234
#define NB_OFF 100

#define MEMBARRIER_GET_REGISTRATIONS (1 << 9) /* Linux 6.3; not in Debian's 6.1 headers */
static long checks;
#define ITIMER_REAL_S 1000         /* seconds: far beyond the test */
#define ITIMER_PROF_S 900
#define ITIMER_PROF_INTERVAL_S 7
static char workdir[4096];

#define CHECK_EQ(what, exp, got)                                                                         \
	do {                                                                                             \
		long long e_ = (long long)(exp), g_ = (long long)(got);                                  \
		checks++;                                                                                \
		if (e_ != g_)                                                                            \
			wl_fail("%s: expected %lld (0x%llx) got %lld (0x%llx)", what, e_,               \
				(unsigned long long)e_, g_, (unsigned long long)g_);                     \
	} while (0)

#define CHECK_STR(what, exp, got)                                                                        \
	do {                                                                                             \
		checks++;                                                                                \
		if (strcmp((exp), (got)) != 0)                                                           \
			wl_fail("%s: expected '%s' got '%s'", what, (exp), (got));                       \
	} while (0)

/* ------------------------------------------------------------ patterns */
static uint64_t pat(uint64_t seed, size_t word) { return wl_mix(seed * 0x100000001b3ull + word); }

static void fill(void *p, size_t len, uint64_t seed)
{
	uint64_t *w = p;
	for (size_t i = 0; i < len / 8; i++)
		w[i] = pat(seed, i);
}

/* private file mapping: which words were modified in memory */
#define SEED_FILE_PRIV 0xF11E0001ull
#define SEED_FILE_SHARED 0xF11E0002ull
#define SEED_COW 0xC0C0C0C0ull
static int cow_word(size_t word)
{
	size_t page = word * 8 / PG, in = word * 8 % PG;
	if (page == 1 || page == 15)
		return 1; /* whole pages */
	if (page == 5 && in < 8)
		return 1; /* one word of page 5 */
	if (page == 9 && in >= PG - 16)
		return 1; /* the last two words of page 9 */
	return 0;
}
static uint64_t expect_priv(size_t word)
{
	return cow_word(word) ? pat(SEED_COW, word) : pat(SEED_FILE_PRIV, word);
}

static void verify_words(const char *what, const void *p, size_t len, uint64_t seed,
			 uint64_t (*exp_fn)(size_t))
{
	const uint64_t *w = p;
	for (size_t i = 0; i < len / 8; i++) {
		uint64_t e = exp_fn ? exp_fn(i) : pat(seed, i);
		if (w[i] != e)
			wl_fail("%s: byte offset %zu: expected 0x%016llx got 0x%016llx", what, i * 8,
				(unsigned long long)e, (unsigned long long)w[i]);
	}
	checks++;
}

/* ------------------------------------------------------------ /proc/self/maps */
/* perms ("rw-s") and "offset path" of the mapping containing addr */
static void maps_of(const void *addr, char perms[8], char rest[512])
{
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		wl_fail("open /proc/self/maps: %s", strerror(errno));
	char line[1024];
	uintptr_t a = (uintptr_t)addr;
	perms[0] = 0;
	rest[0] = 0;
	while (fgets(line, sizeof line, f)) {
		unsigned long s, e, off;
		char pr[8], dev[32];
		unsigned long ino;
		int n = 0;
		if (sscanf(line, "%lx-%lx %7s %lx %31s %lu %n", &s, &e, pr, &off, dev, &ino, &n) < 6)
			continue;
		if (a < s || a >= e)
			continue;
		char *path = line + n;
		path[strcspn(path, "\n")] = 0;
		snprintf(perms, 8, "%s", pr);
		/* the offset relative to addr is what matters (VMAs may merge/split);
		 * a shared anonymous region is a new shmem object after a restore,
		 * so its inode number is not compared */
		if (strncmp(path, "/dev/zero", 9) == 0 || strncmp(path, "[anon_shmem", 11) == 0)
			snprintf(rest, 512, "off@addr=%lx %s", off + (a - s), path);
		else
			snprintf(rest, 512, "off@addr=%lx ino=%lu %s", off + (a - s), ino, path);
		break;
	}
	fclose(f);
	if (!perms[0])
		wl_fail("no mapping contains %p", addr);
}

/* ------------------------------------------------------------ state */
struct fdrec {
	const char *what;
	int fd;
	int fl, fdfl;
	dev_t dev;
	ino_t ino;
	dev_t rdev;
	off_t off; /* -1 when not seekable (O_PATH) */
};

enum { FD_PATH, FD_DIR, FD_NULL, FD_ZERO, FD_REG, FD_DUP, FD_NB, NFD };

struct ident {
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	int ngroups;
	gid_t groups[64];
	mode_t umask;
	char cwd[4096];
	struct rlimit nofile, core;
	int prio;
	int policy;
	char comm[32];
	int subreaper, thp, nnp, dumpable;
	long membarrier; /* registrations (MEMBARRIER_CMD_GET_REGISTRATIONS) */
	stack_t ss;
	pid_t pid, sid, pgrp;
	void *brk;
	char perms[6][8], mrest[6][512];
	struct fdrec fds[NFD];
	int nopen;
	int open_fds[64];
};

static struct ident rec; /* recorded at start */

static char *shanon, *ro, *none, *fpriv, *fshared, *heap, *altstack;
static volatile sig_atomic_t usr1_runs, usr1_onstack, usr1_ssflag;

static void on_usr1(int sig)
{
	(void)sig;
	char here;
	usr1_runs++;
	uintptr_t h = (uintptr_t)&here, s = (uintptr_t)altstack;
	usr1_onstack = h >= s && h < s + ALTSTACK_LEN;
	stack_t cur;
	usr1_ssflag = sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_ONSTACK);
}

static void read_fd(struct fdrec *r)
{
	r->fl = fcntl(r->fd, F_GETFL);
	r->fdfl = fcntl(r->fd, F_GETFD);
	if (r->fl < 0 || r->fdfl < 0)
		wl_fail("fd %d (%s): fcntl: %s", r->fd, r->what, strerror(errno));
	struct stat st;
	if (fstat(r->fd, &st) < 0)
		wl_fail("fd %d (%s): fstat: %s", r->fd, r->what, strerror(errno));
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	r->rdev = st.st_rdev;
	r->off = (r->fl & O_PATH) ? -1 : lseek(r->fd, 0, SEEK_CUR);
}

static void snapshot(struct ident *s, const struct fdrec *fdtmpl)
{
	memset(s, 0, sizeof *s);
	s->membarrier = syscall(SYS_membarrier, MEMBARRIER_GET_REGISTRATIONS, 0, 0);
	if (getresuid(&s->ruid, &s->euid, &s->suid) < 0 || getresgid(&s->rgid, &s->egid, &s->sgid) < 0)
		wl_fail("getres[ug]id: %s", strerror(errno));
	s->ngroups = getgroups(64, s->groups);
	if (s->ngroups < 0)
		wl_fail("getgroups: %s", strerror(errno));
	s->umask = umask(0777);
	umask(s->umask);
	if (!getcwd(s->cwd, sizeof s->cwd))
		wl_fail("getcwd: %s", strerror(errno));
	getrlimit(RLIMIT_NOFILE, &s->nofile);
	getrlimit(RLIMIT_CORE, &s->core);
	errno = 0;
	s->prio = getpriority(PRIO_PROCESS, 0);
	if (errno)
		wl_fail("getpriority: %s", strerror(errno));
	s->policy = sched_getscheduler(0);
	if (prctl(PR_GET_NAME, s->comm, 0, 0, 0) < 0)
		wl_fail("PR_GET_NAME: %s", strerror(errno));
	if (prctl(PR_GET_CHILD_SUBREAPER, &s->subreaper, 0, 0, 0) < 0)
		wl_fail("PR_GET_CHILD_SUBREAPER: %s", strerror(errno));
	s->thp = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);
	s->nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	s->dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	if (sigaltstack(NULL, &s->ss) < 0)
		wl_fail("sigaltstack query: %s", strerror(errno));
	s->pid = getpid();
	s->sid = getsid(0);
	s->pgrp = getpgrp();
	s->brk = sbrk(0);
	const void *addrs[6] = {shanon, ro, none, fpriv, fshared, heap};
	for (int i = 0; i < 6; i++)
		maps_of(addrs[i], s->perms[i], s->mrest[i]);
	for (int i = 0; i < NFD; i++) {
		s->fds[i] = fdtmpl[i];
		read_fd(&s->fds[i]);
	}
	/* the whole fd table (no proc needed: probe every number below NOFILE) */
	for (int fd = 0; fd < (int)s->nofile.rlim_cur && fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0) {
			if (s->nopen == 64)
				wl_fail("too many open fds");
			s->open_fds[s->nopen++] = fd;
		}
}

static void compare(const struct ident *a, const struct ident *b)
{
	CHECK_EQ("ruid", a->ruid, b->ruid);
	CHECK_EQ("euid", a->euid, b->euid);
	CHECK_EQ("suid", a->suid, b->suid);
	CHECK_EQ("rgid", a->rgid, b->rgid);
	CHECK_EQ("egid", a->egid, b->egid);
	CHECK_EQ("sgid", a->sgid, b->sgid);
	CHECK_EQ("number of supplementary groups", a->ngroups, b->ngroups);
	for (int i = 0; i < a->ngroups; i++)
		CHECK_EQ("supplementary group", a->groups[i], b->groups[i]);
	CHECK_EQ("umask", a->umask, b->umask);
	CHECK_EQ("membarrier registrations", a->membarrier, b->membarrier);
	CHECK_STR("cwd", a->cwd, b->cwd);
	CHECK_EQ("RLIMIT_NOFILE soft", a->nofile.rlim_cur, b->nofile.rlim_cur);
	CHECK_EQ("RLIMIT_NOFILE hard", a->nofile.rlim_max, b->nofile.rlim_max);
	CHECK_EQ("RLIMIT_CORE soft", a->core.rlim_cur, b->core.rlim_cur);
	CHECK_EQ("RLIMIT_CORE hard", a->core.rlim_max, b->core.rlim_max);
	CHECK_EQ("nice", a->prio, b->prio);
	CHECK_EQ("scheduling policy", a->policy, b->policy);
	CHECK_STR("comm", a->comm, b->comm);
	CHECK_EQ("PR_GET_CHILD_SUBREAPER", a->subreaper, b->subreaper);
	CHECK_EQ("PR_GET_THP_DISABLE", a->thp, b->thp);
	CHECK_EQ("PR_GET_NO_NEW_PRIVS", a->nnp, b->nnp);
	CHECK_EQ("PR_GET_DUMPABLE", a->dumpable, b->dumpable);
	CHECK_EQ("sigaltstack ss_sp", (uintptr_t)a->ss.ss_sp, (uintptr_t)b->ss.ss_sp);
	CHECK_EQ("sigaltstack ss_size", a->ss.ss_size, b->ss.ss_size);
	CHECK_EQ("sigaltstack ss_flags", a->ss.ss_flags, b->ss.ss_flags);
	CHECK_EQ("getpid", a->pid, b->pid);
	CHECK_EQ("getsid", a->sid, b->sid);
	CHECK_EQ("getpgrp", a->pgrp, b->pgrp);
	CHECK_EQ("sbrk(0)", (uintptr_t)a->brk, (uintptr_t)b->brk);
	static const char *const mname[6] = {"shared anon", "read-only anon", "PROT_NONE anon",
					     "private file map", "shared file map", "heap"};
	char w[128];
	for (int i = 0; i < 6; i++) {
		snprintf(w, sizeof w, "%s perms", mname[i]);
		CHECK_STR(w, a->perms[i], b->perms[i]);
		snprintf(w, sizeof w, "%s offset/inode/path", mname[i]);
		CHECK_STR(w, a->mrest[i], b->mrest[i]);
	}
	for (int i = 0; i < NFD; i++) {
		const struct fdrec *x = &a->fds[i], *y = &b->fds[i];
		snprintf(w, sizeof w, "fd %d (%s) F_GETFL", x->fd, x->what);
		CHECK_EQ(w, x->fl, y->fl);
		snprintf(w, sizeof w, "fd %d (%s) F_GETFD", x->fd, x->what);
		CHECK_EQ(w, x->fdfl, y->fdfl);
		snprintf(w, sizeof w, "fd %d (%s) st_dev", x->fd, x->what);
		CHECK_EQ(w, x->dev, y->dev);
		snprintf(w, sizeof w, "fd %d (%s) st_ino", x->fd, x->what);
		CHECK_EQ(w, x->ino, y->ino);
		snprintf(w, sizeof w, "fd %d (%s) st_rdev", x->fd, x->what);
		CHECK_EQ(w, x->rdev, y->rdev);
		snprintf(w, sizeof w, "fd %d (%s) offset", x->fd, x->what);
		CHECK_EQ(w, x->off, y->off);
	}
	CHECK_EQ("number of open fds", a->nopen, b->nopen);
	for (int i = 0; i < a->nopen; i++)
		CHECK_EQ("open fd number", a->open_fds[i], b->open_fds[i]);
}

/* ------------------------------------------------------------ verification */
static void verify_memory(void)
{
	verify_words("shared anon region", shanon, SHANON_LEN, 1, NULL);
	verify_words("read-only anon region", ro, RO_LEN, 2, NULL);
	if (mprotect(none, NONE_LEN, PROT_READ) < 0)
		wl_fail("mprotect PROT_NONE region to read: %s", strerror(errno));
	verify_words("PROT_NONE anon region", none, NONE_LEN, 3, NULL);
	if (mprotect(none, NONE_LEN, PROT_NONE) < 0)
		wl_fail("mprotect back to PROT_NONE: %s", strerror(errno));
	verify_words("private file mapping (COW pages + file pages)", fpriv, FILE_LEN, 0, expect_priv);
	verify_words("shared file mapping", fshared, FILE_LEN, SEED_FILE_SHARED, NULL);
	verify_words("malloc heap block", heap, HEAP_LEN, 4, NULL);
}

static void verify_files(void)
{
	/* the file behind the private mapping is unchanged on disk */
	static uint64_t buf[FILE_LEN / 8];
	int fd = openat(rec.fds[FD_DIR].fd, "priv.dat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		wl_fail("openat(dirfd, priv.dat): %s", strerror(errno));
	if (pread(fd, buf, FILE_LEN, 0) != FILE_LEN)
		wl_fail("pread priv.dat: %s", strerror(errno));
	close(fd);
	verify_words("priv.dat on disk (COW must not write back)", buf, FILE_LEN, SEED_FILE_PRIV, NULL);
	/* the shared mapping's writes are in the file */
	fd = openat(rec.fds[FD_PATH].fd, "shared.dat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		wl_fail("openat(O_PATH fd, shared.dat): %s", strerror(errno));
	if (pread(fd, buf, FILE_LEN, 0) != FILE_LEN)
		wl_fail("pread shared.dat: %s", strerror(errno));
	verify_words("shared.dat on disk", buf, FILE_LEN, SEED_FILE_SHARED, NULL);
	close(fd);
}

/* things that change state: only after the restore */
static void final_behaviour(void)
{
	/* registered: a private expedited barrier is allowed (EPERM if not) */
	CHECK_EQ("membarrier PRIVATE_EXPEDITED after restore", 0,
		 syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
	/* the dup shares the offset with the O_RDWR fd */
	int a = rec.fds[FD_REG].fd, b = rec.fds[FD_DUP].fd;
	if (lseek(a, 4321, SEEK_SET) != 4321)
		wl_fail("lseek: %s", strerror(errno));
	CHECK_EQ("dup'ed fd offset after lseek of the original", 4321, lseek(b, 0, SEEK_CUR));
	if (lseek(b, 77, SEEK_SET) != 77)
		wl_fail("lseek: %s", strerror(errno));
	CHECK_EQ("original fd offset after lseek of the dup", 77, lseek(a, 0, SEEK_CUR));
	/* the nonblocking reader reads the file content at its offset */
	char c[8];
	if (pread(rec.fds[FD_NB].fd, c, 8, 0) != 8)
		wl_fail("pread nonblocking fd: %s", strerror(errno));
	CHECK_EQ("O_NONBLOCK fd content", 0x4e42, (c[0] << 8) | c[1]);
	/* /dev/zero and /dev/null work */
	char z[16];
	memset(z, 1, sizeof z);
	if (read(rec.fds[FD_ZERO].fd, z, sizeof z) != (ssize_t)sizeof z)
		wl_fail("read /dev/zero: %s", strerror(errno));
	for (size_t i = 0; i < sizeof z; i++)
		CHECK_EQ("/dev/zero byte", 0, z[i]);
	CHECK_EQ("write /dev/null", 5, write(rec.fds[FD_NULL].fd, "hello", 5));
	/* the directory fd lists the temp dir */
	int dfd = dup(rec.fds[FD_DIR].fd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d)
		wl_fail("fdopendir: %s", strerror(errno));
	rewinddir(d);
	int seen = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		seen += strcmp(de->d_name, "priv.dat") == 0 || strcmp(de->d_name, "shared.dat") == 0;
	closedir(d);
	CHECK_EQ("files seen through the O_DIRECTORY fd", 2, seen);

	/* the shared file mapping is still backed by the file */
	uint64_t v = 0x5AFE5AFE5AFE5AFEull, got = 0;
	((volatile uint64_t *)fshared)[100] = v;
	if (pread(rec.fds[FD_REG].fd, &got, 8, 0) < 0) /* keep fd use */
		wl_fail("pread: %s", strerror(errno));
	int fd = openat(rec.fds[FD_DIR].fd, "shared.dat", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || pread(fd, &got, 8, 800) != 8)
		wl_fail("reread shared.dat: %s", strerror(errno));
	close(fd);
	CHECK_EQ("write through the shared file mapping reaches the file", v, got);

	/* the shared anonymous region is still MAP_SHARED: a child's write is seen */
	pid_t ch = fork();
	if (ch < 0)
		wl_fail("fork: %s", strerror(errno));
	if (ch == 0) {
		((volatile uint64_t *)shanon)[7] = 0xC41DC41Dull;
		_exit(0);
	}
	int stt;
	if (waitpid(ch, &stt, 0) != ch || !WIFEXITED(stt) || WEXITSTATUS(stt) != 0)
		wl_fail("child status 0x%x", stt);
	CHECK_EQ("child's write into the shared anonymous region", 0xC41DC41Dull, ((volatile uint64_t *)shanon)[7]);

	/* SIGUSR1 runs on the alternate stack */
	int runs = usr1_runs;
	raise(SIGUSR1);
	CHECK_EQ("SIGUSR1 handler ran", runs + 1, usr1_runs);
	CHECK_EQ("SIGUSR1 handler ran on the sigaltstack", 1, usr1_onstack);
	CHECK_EQ("sigaltstack reported SS_ONSTACK inside the handler", 1, usr1_ssflag);

	/* interval timers armed at start are still armed, with the interval
	 * unchanged and no more time left than was set */
	struct itimerval real, prof;
	getitimer(ITIMER_REAL, &real);
	getitimer(ITIMER_PROF, &prof);
	CHECK_EQ("ITIMER_REAL still armed", 1, real.it_value.tv_sec > 0 && real.it_value.tv_sec < ITIMER_REAL_S);
	CHECK_EQ("ITIMER_REAL interval", 0, real.it_interval.tv_sec);
	CHECK_EQ("ITIMER_PROF still armed", 1, prof.it_value.tv_sec > 0 && prof.it_value.tv_sec <= ITIMER_PROF_S);
	CHECK_EQ("ITIMER_PROF interval", ITIMER_PROF_INTERVAL_S, prof.it_interval.tv_sec);
}

/* ------------------------------------------------------------ setup */
static void *map_anon(size_t len, int flags)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		wl_fail("mmap anon %zu: %s", len, strerror(errno));
	return p;
}

static int make_file(const char *name, uint64_t seed, size_t len)
{
	int fd = open(name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		wl_fail("create %s/%s: %s", workdir, name, strerror(errno));
	void *buf = calloc(1, len);
	if (!buf)
		wl_fail("calloc");
	if (seed)
		fill(buf, len, seed);
	if (pwrite(fd, buf, len, 0) != (ssize_t)len)
		wl_fail("write %s: %s", name, strerror(errno));
	free(buf);
	return fd;
}

static int xopen(const char *path, int flags)
{
	int fd = open(path, flags);
	if (fd < 0)
		wl_fail("open %s (flags 0x%x): %s", path, flags, strerror(errno));
	return fd;
}

int main(int argc, char **argv)
{
	wl_init("identity", argc, argv);
	if (argc < 4)
		wl_fail("usage: identity CTL root|drop DIR");
	int drop = strcmp(argv[2], "drop") == 0;
	if (!realpath(argv[3], workdir))
		wl_fail("realpath %s: %s", argv[3], strerror(errno));

	/* process identity (root-only parts first) */
	if (getsid(0) != getpid())
		wl_fail("not a session leader (start it with setsid): sid %d pid %d", (int)getsid(0), (int)getpid());
	umask(027);
	if (chdir(workdir) < 0)
		wl_fail("chdir %s: %s", workdir, strerror(errno));
	struct rlimit rl = {777, 888};
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		wl_fail("setrlimit NOFILE: %s", strerror(errno));
	rl = (struct rlimit){0, 12345};
	if (setrlimit(RLIMIT_CORE, &rl) < 0)
		wl_fail("setrlimit CORE: %s", strerror(errno));
	if (setpriority(PRIO_PROCESS, 0, 5) < 0)
		wl_fail("setpriority: %s", strerror(errno));
	if (prctl(PR_SET_NAME, COMM, 0, 0, 0) < 0)
		wl_fail("PR_SET_NAME: %s", strerror(errno));
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		wl_fail("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) < 0)
		wl_fail("PR_SET_THP_DISABLE: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		wl_fail("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));

	/* long interval timers: they must survive the dump, and never fire here */
	struct itimerval real = {.it_value = {.tv_sec = ITIMER_REAL_S}};
	struct itimerval prof = {.it_interval = {.tv_sec = ITIMER_PROF_INTERVAL_S}, .it_value = {.tv_sec = ITIMER_PROF_S}};
	if (setitimer(ITIMER_REAL, &real, NULL) < 0 || setitimer(ITIMER_PROF, &prof, NULL) < 0)
		wl_fail("setitimer: %s", strerror(errno));

	altstack = malloc(ALTSTACK_LEN);
	if (!altstack)
		wl_fail("malloc altstack");
	stack_t ss = {.ss_sp = altstack, .ss_size = ALTSTACK_LEN, .ss_flags = 0};
	if (sigaltstack(&ss, NULL) < 0)
		wl_fail("sigaltstack: %s", strerror(errno));
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		wl_fail("sigaction: %s", strerror(errno));

	/* memory */
	shanon = map_anon(SHANON_LEN, MAP_SHARED);
	fill(shanon, SHANON_LEN, 1);
	ro = map_anon(RO_LEN, MAP_PRIVATE);
	fill(ro, RO_LEN, 2);
	if (mprotect(ro, RO_LEN, PROT_READ) < 0)
		wl_fail("mprotect PROT_READ: %s", strerror(errno));
	none = map_anon(NONE_LEN, MAP_PRIVATE);
	fill(none, NONE_LEN, 3);
	if (mprotect(none, NONE_LEN, PROT_NONE) < 0)
		wl_fail("mprotect PROT_NONE: %s", strerror(errno));
	heap = malloc(HEAP_LEN);
	if (!heap)
		wl_fail("malloc heap");
	fill(heap, HEAP_LEN, 4);

	int pf = make_file("priv.dat", SEED_FILE_PRIV, FILE_LEN);
	fpriv = mmap(NULL, FILE_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE, pf, 0);
	if (fpriv == MAP_FAILED)
		wl_fail("mmap priv.dat: %s", strerror(errno));
	close(pf);
	/* touch every page (read) so unmodified ones are file-backed page cache */
	volatile uint64_t sink = 0;
	for (size_t o = 0; o < FILE_LEN; o += PG)
		sink += *(volatile uint64_t *)(fpriv + o);
	(void)sink;
	for (size_t i = 0; i < FILE_LEN / 8; i++)
		if (cow_word(i))
			((uint64_t *)fpriv)[i] = pat(SEED_COW, i);

	int sf = make_file("shared.dat", 0, FILE_LEN);
	fshared = mmap(NULL, FILE_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, sf, 0);
	if (fshared == MAP_FAILED)
		wl_fail("mmap shared.dat: %s", strerror(errno));
	close(sf);
	fill(fshared, FILE_LEN, SEED_FILE_SHARED);

	/* fds */
	int regf = make_file("reg.dat", 0x12345, 8192);
	close(regf);
	int nbf = make_file("nb.dat", 0, 4096);
	if (pwrite(nbf, "NB", 2, 0) != 2)
		wl_fail("write nb.dat");
	close(nbf);
	struct fdrec fdt[NFD] = {
		[FD_PATH] = {.what = "O_PATH dir", .fd = xopen(workdir, O_PATH | O_DIRECTORY)},
		[FD_DIR] = {.what = "O_DIRECTORY dir", .fd = xopen(workdir, O_RDONLY | O_DIRECTORY)},
		[FD_NULL] = {.what = "/dev/null O_WRONLY", .fd = xopen("/dev/null", O_WRONLY)},
		[FD_ZERO] = {.what = "/dev/zero O_RDONLY", .fd = xopen("/dev/zero", O_RDONLY)},
		[FD_REG] = {.what = "reg.dat O_RDWR|O_CLOEXEC", .fd = xopen("reg.dat", O_RDWR | O_CLOEXEC)},
	};
	if (lseek(fdt[FD_REG].fd, REG_OFF, SEEK_SET) != REG_OFF)
		wl_fail("lseek: %s", strerror(errno));
	fdt[FD_DUP] = (struct fdrec){.what = "dup of reg.dat", .fd = dup(fdt[FD_REG].fd)};
	if (fdt[FD_DUP].fd < 0)
		wl_fail("dup: %s", strerror(errno));
	fdt[FD_NB] = (struct fdrec){.what = "nb.dat O_RDONLY|O_NONBLOCK", .fd = xopen("nb.dat", O_RDONLY | O_NONBLOCK)};
	if (lseek(fdt[FD_NB].fd, NB_OFF, SEEK_SET) != NB_OFF)
		wl_fail("lseek: %s", strerror(errno));

	if (drop) {
		/* the control dir and the files must stay usable as nobody */
		const char *own[] = {wl_ctl, workdir, "priv.dat", "shared.dat", "reg.dat", "nb.dat"};
		for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
			if (chown(own[i], DROP_ID, DROP_ID) < 0)
				wl_fail("chown %s: %s", own[i], strerror(errno));
		gid_t gl[2] = {DROP_ID, EXTRA_GID};
		if (setgroups(2, gl) < 0)
			wl_fail("setgroups: %s", strerror(errno));
		if (setresgid(DROP_ID, DROP_ID, DROP_ID) < 0)
			wl_fail("setresgid: %s", strerror(errno));
		if (setresuid(DROP_ID, DROP_ID, DROP_ID) < 0)
			wl_fail("setresuid: %s", strerror(errno));
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		wl_fail("PR_SET_DUMPABLE: %s", strerror(errno));
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) < 0 ||
	    syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0) < 0)
		wl_fail("membarrier register: %s", strerror(errno));

	snapshot(&rec, fdt);
	/* sanity: what we set is what we see */
	CHECK_EQ("euid after setup", drop ? DROP_ID : 0, rec.euid);
	CHECK_EQ("umask after setup", 027, rec.umask);
	CHECK_EQ("nice after setup", 5, rec.prio);
	CHECK_EQ("subreaper after setup", 1, rec.subreaper);
	CHECK_EQ("THP disable after setup", 1, rec.thp);
	CHECK_EQ("no_new_privs after setup", 1, rec.nnp);
	CHECK_EQ("dumpable after setup", 0, rec.dumpable);
	CHECK_EQ("membarrier registrations after setup",
		 MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE,
		 rec.membarrier);
	CHECK_EQ("pgrp after setup", rec.pid, rec.pgrp);
	CHECK_EQ("fd offset after setup", REG_OFF, rec.fds[FD_DUP].off);
	CHECK_STR("PROT_NONE perms after setup", "---p", rec.perms[2]);
	CHECK_STR("shared anon perms after setup", "rw-s", rec.perms[0]);
	verify_memory();
	verify_files();
	raise(SIGUSR1);
	if (!usr1_runs || !usr1_onstack)
		wl_fail("SIGUSR1 handler before restore: runs %d onstack %d", (int)usr1_runs, (int)usr1_onstack);
	/* re-snapshot and compare with itself: the check is stable */
	struct ident again;
	snapshot(&again, fdt);
	compare(&rec, &again);
	checks = 0;

	wl_ready();
	while (!wl_stop_requested())
		wl_sleep_us(2000);

	struct ident now;
	snapshot(&now, fdt);
	compare(&rec, &now);
	verify_memory();
	verify_files();
	final_behaviour();
	wl_ok("uid=%d checks=%ld", (int)rec.euid, checks);
}

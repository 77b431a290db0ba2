/* refuse: holds one thing ferry cannot checkpoint yet, so `ferry dump` must
 * refuse it before stopping the process, and leave it running untouched.
 * MODE is one of
 *   pipe      the reading end of a pipe whose writing end a forked child
 *             holds (it writes "x", then sleeps until the parent dies)
 *   socket    an established TCP connection to itself over 127.0.0.1 (both
 *             ends; the listener is closed)
 *   scmrights a unix socket pair with an fd in flight (SCM_RIGHTS) to the
 *             second socket; "fds" names that one
 *   uffd      a userfaultfd (an anonymous-inode object ferry cannot restore)
 *             watched by an epoll set; "fds" lists the userfaultfd, CTL/epoll
 *             holds the epoll fd's number
 *   memfd     a memfd holding 64 MiB of data, 1 MiB of it mapped MAP_SHARED,
 *             its fd closed (its object is more than ferry carries)
 *   bigmemfd  a memfd holding 64 MiB of data (more than ferry carries)
 *   deleted   a directory (CTL/deleted) removed while open
 *   sysvshm   a 1 MiB System V shared memory segment, attached (IPC_RMID'd),
 *             also by a forked child as in sharedmem
 *   sharedmem a 1 MiB MAP_SHARED|MAP_ANONYMOUS region, also mapped by a forked
 *             child that sleeps until the parent dies (PR_SET_PDEATHSIG)
 * Before CTL/ready it writes CTL/info: "fds A B" (the fd numbers it holds)
 * or "range START-END" (hex, the shared region).  Then a counter loop updates
 * a 4 MiB buffer with a running checksum; after CTL/stop the buffer, the
 * checksum and the held object (still usable) are verified.
 * A stop detector (stopcheck.h) counts ptrace stops: a refusal made before
 * the freeze leaves stops=0.
 * Output: OK refuse mode=MODE iters=N stops=S
 * usage: refuse CTL MODE
 */
#include "common.h"
#include "stopcheck.h"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define BUF_WORDS (4u * 1024 * 1024 / 8)
#define SH_LEN (1024 * 1024)

/* Sends one byte and fd over unix socket sk (SCM_RIGHTS). */
static void send_fd(int sk, int fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct iovec iov = {.iov_base = "f", .iov_len = 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS, c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(sk, &m, 0) != 1)
		wl_fail("sendmsg SCM_RIGHTS: %s", strerror(errno));
}

/* Receives the byte and fd send_fd sent. */
static int recv_fd(int sk)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	char byte = 0;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
	int fd = -1;
	struct cmsghdr *c = recvmsg(sk, &m, MSG_DONTWAIT) == 1 ? CMSG_FIRSTHDR(&m) : NULL;
	if (c && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	if (byte != 'f' || fd < 0)
		wl_fail("the fd in flight was lost: %s", strerror(errno));
	return fd;
}

/* A forked child that keeps the shared region sh mapped (it inherits the
 * mapping: a System V segment stays attached) and dies with the parent. */
static pid_t share_with_child(volatile uint64_t *sh)
{
	pid_t parent = getpid(), child = fork();
	if (child < 0)
		wl_fail("fork: %s", strerror(errno));
	if (child == 0) {
		/* keep the region mapped; die with the parent; never print */
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (getppid() != parent)
			_exit(0);
		sh[0] = 0xC41DC41Dull; /* proves the mapping is shared */
		for (;;)
			pause();
	}
	uint64_t t0 = wl_now_ms();
	while (sh[0] != 0xC41DC41Dull) {
		if (wl_now_ms() - t0 > 10000)
			wl_fail("child did not write into the shared region");
		wl_sleep_us(1000);
	}
	sh[0] = wl_mix(0x5A5A0000ull);
	return child;
}

static void write_info(const char *text)
{
	char tmp[4300], fin[4300];
	snprintf(tmp, sizeof tmp, "%s/info.tmp", wl_ctl);
	snprintf(fin, sizeof fin, "%s/info", wl_ctl);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		wl_fail("create %s: %s", tmp, strerror(errno));
	size_t n = strlen(text);
	if (write(fd, text, n) != (ssize_t)n || write(fd, "\n", 1) != 1)
		wl_fail("write %s: %s", tmp, strerror(errno));
	close(fd);
	if (rename(tmp, fin) < 0)
		wl_fail("rename %s: %s", fin, strerror(errno));
}

int main(int argc, char **argv)
{
	wl_init("refuse", argc, argv);
	if (argc < 3)
		wl_fail("usage: refuse CTL pipe|socket|scmrights|uffd|memfd|deleted|sharedmem|sysvshm|bigmemfd");
	const char *mode = argv[2];
	int fds[2] = {-1, -1}, epfd = -1;
	uint64_t *sh = NULL;
	pid_t child = -1;
	char info[256];

	if (strcmp(mode, "pipe") == 0) {
		pid_t parent = getpid();
		if (pipe(fds) < 0 || (child = fork()) < 0)
			wl_fail("pipe/fork: %s", strerror(errno));
		if (child == 0) { /* keep the writing end; die with the parent; never print */
			prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
			if (getppid() != parent || write(fds[1], "x", 1) != 1)
				_exit(0);
			for (;;)
				pause();
		}
		close(fds[1]);
		fds[1] = -1;
	} else if (strcmp(mode, "scmrights") == 0) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
			wl_fail("socketpair: %s", strerror(errno));
		send_fd(fds[0], 0); /* stdin (/dev/null), in flight to fds[1] */
	} else if (strcmp(mode, "socket") == 0) {
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t len = sizeof(sa);
		int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (l < 0 || bind(l, (struct sockaddr *)&sa, len) < 0 || listen(l, 1) < 0 ||
		    getsockname(l, (struct sockaddr *)&sa, &len) < 0 || (fds[0] = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
		    connect(fds[0], (struct sockaddr *)&sa, len) < 0 || (fds[1] = accept(l, NULL, NULL)) < 0)
			wl_fail("TCP connection to itself: %s", strerror(errno));
		close(l);
	} else if (strcmp(mode, "deleted") == 0) {
		char path[4200];
		snprintf(path, sizeof path, "%s/deleted", wl_ctl);
		if (mkdir(path, 0700) < 0 || (fds[0] = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
		    rmdir(path) < 0)
			wl_fail("deleted directory %s: %s", path, strerror(errno));
	} else if (strcmp(mode, "bigmemfd") == 0) {
		fds[0] = memfd_create("refuse-big", MFD_CLOEXEC);
		char chunk[65536];
		memset(chunk, 0x5a, sizeof chunk);
		for (int i = 0; fds[0] >= 0 && i < (64 << 20) / (int)sizeof chunk; i++)
			if (write(fds[0], chunk, sizeof chunk) != (ssize_t)sizeof chunk)
				wl_fail("write memfd: %s", strerror(errno));
		if (fds[0] < 0)
			wl_fail("memfd_create: %s", strerror(errno));
	} else if (strcmp(mode, "sysvshm") == 0) {
		int id = shmget(IPC_PRIVATE, SH_LEN, IPC_CREAT | 0600);
		if (id < 0 || (sh = shmat(id, NULL, 0)) == (void *)-1)
			wl_fail("shmget/shmat: %s", strerror(errno));
		shmctl(id, IPC_RMID, NULL); /* gone with its last detach: nothing leaks */
		for (size_t i = 0; i < SH_LEN / 8; i++)
			sh[i] = wl_mix(0x5A5A0000ull + i);
		child = share_with_child(sh);
	} else if (strcmp(mode, "uffd") == 0) {
		fds[0] = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
		epfd = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
		if (fds[0] < 0 || epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, fds[0], &ev) < 0)
			wl_fail("userfaultfd watched by epoll: %s", strerror(errno));
		char path[4200], num[16];
		snprintf(path, sizeof path, "%s/epoll", wl_ctl);
		int n = snprintf(num, sizeof num, "%d", epfd), fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, num, (size_t)n) != n)
			wl_fail("write %s: %s", path, strerror(errno));
		close(fd);
	} else if (strcmp(mode, "memfd") == 0) {
		int m = memfd_create("refuse", MFD_CLOEXEC);
		char chunk[65536];
		memset(chunk, 0x5a, sizeof chunk);
		for (int i = 0; m >= 0 && i < (64 << 20) / (int)sizeof chunk; i++)
			if (write(m, chunk, sizeof chunk) != (ssize_t)sizeof chunk)
				wl_fail("write memfd: %s", strerror(errno));
		if (m < 0 ||
		    (sh = mmap(NULL, SH_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0)) == MAP_FAILED)
			wl_fail("memfd mapping: %s", strerror(errno));
		close(m);
		for (size_t i = 0; i < SH_LEN / 8; i++)
			sh[i] = wl_mix(0x5A5A0000ull + i);
	} else if (strcmp(mode, "sharedmem") == 0) {
		sh = mmap(NULL, SH_LEN, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (sh == MAP_FAILED)
			wl_fail("mmap shared: %s", strerror(errno));
		for (size_t i = 0; i < SH_LEN / 8; i++)
			sh[i] = wl_mix(0x5A5A0000ull + i);
		child = share_with_child(sh);
	} else {
		wl_fail("unknown mode '%s'", mode);
	}
	if (sh)
		snprintf(info, sizeof info, "range %lx-%lx", (unsigned long)(uintptr_t)sh,
			 (unsigned long)(uintptr_t)sh + SH_LEN);
	else if (fds[1] >= 0)
		snprintf(info, sizeof info, "fds %d %d", fds[0], fds[1]);
	else
		snprintf(info, sizeof info, "fds %d", fds[0]);

	wl_stopcheck_start();
	uint64_t *buf = malloc(BUF_WORDS * 8);
	if (!buf)
		wl_fail("malloc");
	uint64_t sum = 0;
	for (uint32_t i = 0; i < BUF_WORDS; i++) {
		buf[i] = wl_mix(i);
		sum += buf[i];
	}
	write_info(info);
	wl_ready();

	long iters = 0;
	for (;;) {
		/* about 1 ms of work, then 1 ms of sleep */
		for (int k = 0; k < 2000; k++) {
			uint32_t i = (uint32_t)(wl_mix((uint64_t)iters * 2000 + (uint64_t)k) % BUF_WORDS);
			uint64_t nv = wl_mix(buf[i] ^ (uint64_t)iters);
			sum += nv - buf[i];
			buf[i] = nv;
		}
		iters++;
		if (wl_stop_poll(5))
			break;
		wl_sleep_us(1000);
	}

	uint64_t check = 0;
	for (uint32_t i = 0; i < BUF_WORDS; i++)
		check += buf[i];
	if (check != sum)
		wl_fail("buffer checksum 0x%llx, expected 0x%llx after %ld iterations", (unsigned long long)check,
			(unsigned long long)sum, iters);

	/* the held object is still what it was and works */
	if (strcmp(mode, "pipe") == 0) {
		char c = 0;
		if (read(fds[0], &c, 1) != 1 || c != 'x')
			wl_fail("pipe no longer passes the child's data: %s", strerror(errno));
	} else if (strcmp(mode, "socket") == 0) {
		char c = 0;
		if (write(fds[1], "x", 1) != 1 || read(fds[0], &c, 1) != 1 || c != 'x')
			wl_fail("%s no longer passes data: %s", mode, strerror(errno));
		if (strcmp(mode, "socket") == 0 &&
		    (write(fds[0], "y", 1) != 1 || read(fds[1], &c, 1) != 1 || c != 'y'))
			wl_fail("socket reverse direction broken: %s", strerror(errno));
	} else if (strcmp(mode, "scmrights") == 0) {
		struct stat a, b;
		int got = recv_fd(fds[1]);
		if (fstat(got, &a) < 0 || fstat(0, &b) < 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
			wl_fail("the fd in flight is not stdin's file: %s", strerror(errno));
	} else if (strcmp(mode, "uffd") == 0) {
		struct epoll_event ev = {0};
		int n = epoll_wait(epfd, &ev, 1, 0); /* a userfaultfd before UFFDIO_API polls as an error */
		if (n < 0 || (n == 1 && ev.data.u64 != 1))
			wl_fail("epoll set broken: %d %s", n, strerror(errno));
	} else if (strcmp(mode, "bigmemfd") == 0) {
		char c = 0;
		if (pread(fds[0], &c, 1, (64 << 20) - 1) != 1 || c != 0x5a)
			wl_fail("big memfd changed: %s", strerror(errno));
	} else if (strcmp(mode, "deleted") == 0) {
		struct stat st;
		if (fstat(fds[0], &st) < 0 || !S_ISDIR(st.st_mode) || st.st_nlink != 0)
			wl_fail("deleted directory changed: %s", strerror(errno));
	} else {
		for (size_t i = 0; i < SH_LEN / 8; i++)
			if (sh[i] != wl_mix(0x5A5A0000ull + i))
				wl_fail("shared region word %zu changed", i);
	}
	if (child > 0) {
		kill(child, SIGKILL);
		int st;
		if (waitpid(child, &st, 0) != child || !WIFSIGNALED(st))
			wl_fail("child %d was not running until killed (status 0x%x)", (int)child, st);
	}
	wl_ok("mode=%s iters=%ld stops=%ld", mode, iters, wl_stops());
}

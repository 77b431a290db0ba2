/* features.c — see features.h. */
#include "features.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "../common/compat.h"
#include "../common/util.h"
#include "freeze.h"

#define PM_SOFT_DIRTY (1ull << 55)

static int fail(char *d, size_t n, const char *what, int e)
{
	snprintf(d, n, "%s: %s", what, strerror(e));
	return -e;
}

static pid_t spawn_sleeper(void)
{
	pid_t c = fork();
	if (c == 0) {
		for (;;)
			pause();
	}
	return c;
}

static void reap(pid_t c)
{
	kill(c, SIGKILL);
	waitpid(c, NULL, __WALL);
}

static int probe_ptrace(char *d, size_t n)
{
	pid_t c = spawn_sleeper();
	if (c < 0)
		return fail(d, n, "fork", errno);
	int r = 0;
	if (ptrace(PTRACE_SEIZE, c, 0, 0) < 0 || ptrace(PTRACE_INTERRUPT, c, 0, 0) < 0)
		r = fail(d, n, "PTRACE_SEIZE", errno);
	else if (wait_ptrace_stop(c) < 0)
		r = fail(d, n, "PTRACE_INTERRUPT", EIO);
	else
		snprintf(d, n, "seize, interrupt");
	reap(c);
	return r;
}

static int probe_set_tid(char *d, size_t n)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		pid_t c = fork(); /* learn a pid that is free again once reaped */
		if (c == 0)
			_exit(0);
		if (c < 0)
			return fail(d, n, "fork", errno);
		waitpid(c, NULL, 0);
		pid_t want = c;
		struct clone_args ca = {.exit_signal = SIGCHLD, .set_tid = (uint64_t)(uintptr_t)&want, .set_tid_size = 1};
		long r = syscall(SYS_clone3, &ca, sizeof(ca));
		if (r == 0)
			_exit(0);
		if (r > 0) {
			waitpid((pid_t)r, NULL, 0);
			if (r != want)
				return fail(d, n, "clone3 ignored set_tid", EINVAL);
			snprintf(d, n, "clone3 created pid %d on request", want);
			return 0;
		}
		if (errno != EEXIST)
			return fail(d, n, "clone3 set_tid", errno);
	}
	return fail(d, n, "clone3 set_tid", EEXIST);
}

static int probe_pidfd_getfd(char *d, size_t n)
{
	int pfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (pfd < 0)
		return fail(d, n, "pidfd_open", errno);
	int fd = (int)syscall(SYS_pidfd_getfd, pfd, pfd, 0);
	int e = errno;
	close(pfd);
	if (fd < 0)
		return fail(d, n, "pidfd_getfd", e);
	close(fd);
	snprintf(d, n, "pidfd_open + pidfd_getfd");
	return 0;
}

static int uffd_features(uint64_t *features)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct uffdio_api api = {.api = UFFD_API};
	int r = ioctl(fd, UFFDIO_API, &api) < 0 ? -errno : 0;
	close(fd);
	*features = api.features;
	return r;
}

static int probe_uffd(char *d, size_t n)
{
	uint64_t f;
	int r = uffd_features(&f);
	if (r < 0)
		return fail(d, n, "userfaultfd", -r);
	snprintf(d, n, "features %#llx", (unsigned long long)f);
	return 0;
}

static int probe_uffd_wp_async(char *d, size_t n)
{
	uint64_t f;
	int r = uffd_features(&f);
	if (r < 0)
		return fail(d, n, "userfaultfd", -r);
	if (!(f & UFFD_FEATURE_WP_ASYNC))
		return fail(d, n, "UFFD_FEATURE_WP_ASYNC", EOPNOTSUPP);
	snprintf(d, n, "WP_ASYNC%s", (f & UFFD_FEATURE_WP_UNPOPULATED) ? " + WP_UNPOPULATED" : "");
	return 0;
}

static int probe_pagemap_scan(char *d, size_t n)
{
	long page = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return fail(d, n, "mmap", errno);
	m[0] = 1;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	struct page_region reg[1];
	struct pm_scan_arg arg = {.size = sizeof(arg), .start = (uint64_t)(uintptr_t)m,
				  .end = (uint64_t)(uintptr_t)m + (uint64_t)page, .vec = (uint64_t)(uintptr_t)reg,
				  .vec_len = 1, .category_mask = PAGE_IS_PRESENT, .return_mask = PAGE_IS_PRESENT};
	long r = fd < 0 ? -1 : ioctl(fd, PAGEMAP_SCAN, &arg);
	int e = errno;
	if (fd >= 0)
		close(fd);
	munmap(m, (size_t)page);
	if (r < 0)
		return fail(d, n, "PAGEMAP_SCAN", e);
	if (r != 1)
		return fail(d, n, "PAGEMAP_SCAN did not report a present page", EINVAL);
	snprintf(d, n, "PAGEMAP_SCAN ioctl on /proc/PID/pagemap");
	return 0;
}

static int probe_soft_dirty(char *d, size_t n)
{
	long page = sysconf(_SC_PAGESIZE);
	volatile char *m = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return fail(d, n, "mmap", errno);
	m[0] = 1; /* a freshly faulted page is soft-dirty where the kernel tracks it */
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t e = 0;
	ssize_t got = fd < 0 ? -1 : pread(fd, &e, sizeof(e), (off_t)((uintptr_t)m / (uintptr_t)page * 8));
	if (fd >= 0)
		close(fd);
	munmap((void *)m, (size_t)page);
	if (got != sizeof(e))
		return fail(d, n, "pagemap", EIO);
	if (!(e & PM_SOFT_DIRTY))
		return fail(d, n, "soft-dirty bit never set (kernel without CONFIG_MEM_SOFT_DIRTY)", EOPNOTSUPP);
	snprintf(d, n, "pagemap bit 55");
	return 0;
}

/* Asking for the mode changes nothing. */
static int probe_timer_restore_ids(char *d, size_t n)
{
	int on = prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_GET, 0, 0, 0);
	if (on < 0)
		return fail(d, n, "prctl(PR_TIMER_CREATE_RESTORE_IDS)", errno);
	snprintf(d, n, "timer_create takes the id to restore");
	return 0;
}

static int probe_shm_next_id(char *d, size_t n)
{
	if (access("/proc/sys/kernel/shm_next_id", W_OK) < 0)
		return fail(d, n, "kernel.shm_next_id", errno);
	snprintf(d, n, "kernel.shm_next_id is writable");
	return 0;
}

static int probe_process_vm(char *d, size_t n)
{
	char src[8] = "ferry", dst[8] = {0};
	struct iovec l = {dst, sizeof(dst)}, rm = {src, sizeof(src)};
	if (process_vm_readv(getpid(), &l, 1, &rm, 1, 0) != (ssize_t)sizeof(src))
		return fail(d, n, "process_vm_readv", errno);
	snprintf(d, n, "process_vm_readv / writev");
	return 0;
}

const struct feature ferry_features[] = {
	{"ptrace", "stop threads and run remote syscalls", true, probe_ptrace},
	{"clone3_set_tid", "restore with the original pid and tids", true, probe_set_tid},
	{"process_vm", "read and write another process's memory", true, probe_process_vm},
	{"pidfd_getfd", "take a file descriptor out of another process", false, probe_pidfd_getfd},
	{"userfaultfd", "post-copy page faults", false, probe_uffd},
	{"uffd_wp_async", "dirty tracking with userfaultfd write-protect (async)", false, probe_uffd_wp_async},
	{"pagemap_scan", "PAGEMAP_SCAN ioctl for dirty and present pages", false, probe_pagemap_scan},
	{"soft_dirty", "soft-dirty page tracking", false, probe_soft_dirty},
	{"timer_restore_ids", "POSIX timers made again with their ids (else: made until the id comes)", false,
	 probe_timer_restore_ids},
	{"sysv_shm_ids", "System V shared memory made again with its ids (else: such a restore fails)", false,
	 probe_shm_next_id},
};
const size_t ferry_nfeatures = ARRAY_SIZE(ferry_features);

const struct feature *feature_find(const char *name)
{
	for (size_t i = 0; i < ferry_nfeatures; i++)
		if (strcmp(ferry_features[i].name, name) == 0)
			return &ferry_features[i];
	return NULL;
}

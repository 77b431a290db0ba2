/* test_files.c — a FILE record's path must be what the record claims
 * (restore/files.c): a FIFO, socket, device or directory where a regular
 * file was recorded is refused without blocking, naming fd and path; what
 * the record claims truthfully opens with the recorded flags. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "restore/internal.h"

#define HANG_GUARD_S 10 /* a blocking open would hang the test: SIGALRM ends it instead */

static char dir[] = "/tmp/ferry-test-files.XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int reopen(uint32_t kind, int flags, const char *path, char *err, size_t errlen, int *fd)
{
	struct fr_file f = {.fd = 7, .kind = kind, .flags = (uint32_t)flags, .share_of = -1, .path = (char *)path};
	alarm(HANG_GUARD_S);
	int r = file_reopen(&f, fd, err, errlen);
	alarm(0);
	return r;
}

static void test_fifo_where_a_file_was_recorded(void **state)
{
	(void)state;
	char path[256], err[512];
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	int fd;
	/* O_WRONLY on a FIFO with no reader blocks forever without the check. */
	assert_int_equal(reopen(FILE_REG, O_WRONLY, path, err, sizeof(err), &fd), -EINVAL);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(err, "fd 7"));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "FIFO"));
	assert_int_equal(reopen(FILE_CHR, O_RDONLY, path, err, sizeof(err), &fd), -EINVAL);
}

static void test_socket_device_directory_where_a_file_was_recorded(void **state)
{
	(void)state;
	char path[256], err[512];
	int fd;
	snprintf(path, sizeof(path), "%s/sock", dir);
	int sk = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(sk, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(reopen(FILE_REG, O_RDWR, path, err, sizeof(err), &fd), -EINVAL);
	assert_non_null(strstr(err, "socket"));
	close(sk);
	assert_int_equal(reopen(FILE_REG, O_RDONLY, "/dev/null", err, sizeof(err), &fd), -EINVAL);
	assert_non_null(strstr(err, "character device"));
	assert_int_equal(reopen(FILE_REG, O_RDONLY, dir, err, sizeof(err), &fd), -EINVAL);
	assert_non_null(strstr(err, "directory"));
	assert_int_equal(reopen(FILE_DIR, O_RDONLY | O_DIRECTORY, "/dev/null", err, sizeof(err), &fd), -EINVAL);
}

static void test_what_the_record_claims_opens(void **state)
{
	(void)state;
	char path[256], err[512];
	int fd;
	snprintf(path, sizeof(path), "%s/file", dir);
	int w = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(w >= 0);
	close(w);
	assert_int_equal(reopen(FILE_REG, O_WRONLY | O_APPEND, path, err, sizeof(err), &fd), 0);
	int fl = fcntl(fd, F_GETFL);
	assert_true(fl & O_APPEND);
	assert_false(fl & O_NONBLOCK); /* the probe's O_NONBLOCK is not left behind */
	assert_int_equal(fcntl(fd, F_GETFD), FD_CLOEXEC);
	close(fd);
	assert_int_equal(reopen(FILE_REG, O_RDONLY | O_NONBLOCK, path, err, sizeof(err), &fd), 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK); /* recorded: kept */
	close(fd);
	assert_int_equal(reopen(FILE_CHR, O_RDWR, "/dev/null", err, sizeof(err), &fd), 0);
	close(fd);
	assert_int_equal(reopen(FILE_DIR, O_RDONLY | O_DIRECTORY, dir, err, sizeof(err), &fd), 0);
	close(fd);
	/* O_PATH names anything, a FIFO too, without opening it. */
	char fifo[256];
	snprintf(fifo, sizeof(fifo), "%s/fifo2", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(reopen(FILE_PATH, O_PATH, fifo, err, sizeof(err), &fd), 0);
	close(fd);
	/* A missing file names fd and path. */
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(reopen(FILE_REG, O_RDONLY, path, err, sizeof(err), &fd), -ENOENT);
	assert_non_null(strstr(err, "fd 7"));
	assert_non_null(strstr(err, path));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_where_a_file_was_recorded),
		cmocka_unit_test(test_socket_device_directory_where_a_file_was_recorded),
		cmocka_unit_test(test_what_the_record_claims_opens),
	};
	return cmocka_run_group_tests_name("files", tests, setup, teardown);
}

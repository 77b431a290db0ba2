/* lockprobe: tries, without waiting, to take a lock another process may
 * hold, and lets it go at once (a test tool, not a workload).
 * usage: lockprobe FILE flock|posix|ofd r|w [START LEN]
 * exit 0: taken (nobody held a conflicting lock); 1: refused (EAGAIN /
 * EWOULDBLOCK: someone holds it); 2: any other error (printed on stderr). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 4 && argc != 6) {
		fprintf(stderr, "usage: lockprobe FILE flock|posix|ofd r|w [START LEN]\n");
		return 2;
	}
	bool write_lock = strcmp(argv[3], "w") == 0;
	int fd = open(argv[1], O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "lockprobe: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	int r;
	if (strcmp(argv[2], "flock") == 0) {
		r = flock(fd, (write_lock ? LOCK_EX : LOCK_SH) | LOCK_NB);
	} else {
		struct flock fl = {.l_type = write_lock ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET,
				   .l_start = argc == 6 ? atoll(argv[4]) : 0, .l_len = argc == 6 ? atoll(argv[5]) : 0};
		r = fcntl(fd, strcmp(argv[2], "ofd") == 0 ? F_OFD_SETLK : F_SETLK, &fl);
	}
	if (r == 0)
		return 0;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EACCES)
		return 1;
	fprintf(stderr, "lockprobe: %s %s: %s\n", argv[1], argv[2], strerror(errno));
	return 2;
}

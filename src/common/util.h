/* util.h — small helpers every layer uses: cleanup attributes, errno-style
 * returns, array sizing. Nothing here knows about processes or streams. */
#ifndef FERRY_UTIL_H
#define FERRY_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_free_ __attribute__((cleanup(freep)))
#define _cleanup_close_ __attribute__((cleanup(closep)))

/* Return -errno of the last failed libc call (never 0, even if errno was clobbered). */
static inline int neg_errno(void) { return errno > 0 ? -errno : -EIO; }

/* Read a whole small file (procfs) into a NUL-terminated malloc'd buffer. */
int read_small_file(const char *path, char **out, size_t *len);
/* Write a string to a file (procfs knobs such as oom_score_adj). */
int write_small_file(const char *path, const char *text);
/* Full read/write that retries short transfers and EINTR. */
int read_full(int fd, void *buf, size_t len);
int write_full(int fd, const void *buf, size_t len);
/* Milliseconds of CLOCK_MONOTONIC. */
double now_ms(void);

#endif

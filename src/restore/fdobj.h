/* fdobj.h — making pipes, FIFOs and sockets again in ferry before they are
 * passed to the stub (identity.c), one file per kind: fd_pipe.c, fd_unix.c,
 * fd_inet.c; fd_external.c hands an fd declared external at dump the fd
 * given with --inherit-fd. An object with several fds (both ends of a pipe,
 * both sockets of a pair) is made when its first record is opened: that
 * call fills fds[] for every record of the object that owns its open file
 * description; fds[i] >= 0 on return. Each returns 0 or a negative errno
 * with err naming the fd. */
#ifndef FERRY_RESTORE_FDOBJ_H
#define FERRY_RESTORE_FDOBJ_H

#include <stddef.h>
#include <stdint.h>

#include "restore.h"

int fd_pipe_open(const struct fr_image *img, uint32_t i, int *fds, char *err, size_t errlen);
int fd_fifo_open(const struct fr_image *img, uint32_t i, int *fds, char *err, size_t errlen);
int fd_unix_open(const struct fr_image *img, uint32_t i, int *fds, char *err, size_t errlen);
int fd_inet_open(const struct fr_file *f, const struct restore_opts *opts, int *out, char *err, size_t errlen);
int fd_external_open(const struct fr_file *f, const struct restore_opts *opts, int *out, char *err, size_t errlen);

/* A restore that binds unix sockets to paths first moves the socket files
 * there aside: commit removes them, abort puts them back (and removes the
 * files of the sockets it bound). */
void fd_unix_commit_names(void);
void fd_unix_abort_names(void);

/* Helpers the kinds share (fd_common.c). */
/* Sets O_NONBLOCK of fd as the record had it. */
int fd_set_nonblock(int fd, const struct fr_file *f, char *err, size_t errlen);
/* Writes o's queue into fd (one write or send per message), never
 * blocking: it fit where it was queued. */
int fd_write_queue(int fd, const struct fr_fdobj *o, bool sock);
/* Sets every option the record carries on sk. */
int fd_apply_opts(int sk, const struct fr_file *f, char *err, size_t errlen);

#endif

/* fd_kinds.h — making the kernel objects of anonymous-inode fds, and the
 * files whose contents travel, again in ferry, before they are passed to the
 * stub (identity.c), one file per kind: fd_epoll.c, fd_timerfd.c,
 * fd_signalfd.c, fd_inotify.c, fd_contents.c (memfds and deleted files). Each make
 * function creates the object of record f with its state and its O_NONBLOCK
 * (*out, close-on-exec in ferry) or says in err why it cannot. */
#ifndef FERRY_RESTORE_FD_KINDS_H
#define FERRY_RESTORE_FD_KINDS_H

#include "fdobj.h"

#include <stddef.h>

#include "../inspect/rsys.h"
#include "internal.h"

typedef int fd_make_fn(const struct fr_image *img, const struct fr_file *f, int *out, char *err, size_t errlen);

/* An empty epoll set; its watched fds must be records of img. */
fd_make_fn fd_epoll_make;
/* Once every fd is on its number in the stub: each epoll set's watches,
 * added by remote epoll_ctl (the kernel keys a watch by the fd number it
 * was added through, so it must be the process's own number). */
int fd_epoll_add_watches(struct stub *s, struct rsys *r, const struct fr_image *img, char *err, size_t errlen);
fd_make_fn fd_timerfd_make;
fd_make_fn fd_signalfd_make;
/* The watches on their paths, each with its recorded wd. */
fd_make_fn fd_inotify_make;

/* A memfd with its name, size, data and seals. */
fd_make_fn fd_memfd_make;
/* A deleted file made again in its directory, with its mode and data. */
fd_make_fn fd_ghost_make;

/* The file locks (file_locks.c), taken by remote calls once every fd is in
 * place. */
int file_locks_apply(struct stub *s, struct rsys *r, const struct fr_image *img, char *err, size_t errlen);

/* fd_set_nonblock (O_NONBLOCK as recorded) is fdobj.h's. */

#endif

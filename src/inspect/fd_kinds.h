/* fd_kinds.h — the state of the kernel objects behind anonymous-inode fds,
 * read from /proc/PID/fdinfo/FD (one file per kind: fd_epoll.c,
 * fd_timerfd.c, fd_signalfd.c, fd_inotify.c), and of the files whose
 * contents travel (fd_contents.c). files.c finds the kind from
 * the fd's link and calls the kind's describe function, which sets f->kind
 * and the fields of that kind (value, kind_flags, watches, timer); info is
 * the fdinfo text. A refusal names the fd and says why in err. */
#ifndef FERRY_FD_KINDS_H
#define FERRY_FD_KINDS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../state/model.h"

typedef int fd_describe_fn(pid_t pid, int fd, const char *info, struct fr_file *f, char *err, size_t errlen);

/* fd_watches.c: the watches of f (kind set), one per line of info starting
 * with tag, each read by parse (-EINVAL: unreadable, said here; another
 * error: parse said why), capped at FR_MAX_WATCHES, sorted by id. */
typedef int fd_watch_parse_fn(pid_t pid, int fd, const char *line, struct fr_watch *w, char *err, size_t errlen);
int fd_read_watches(pid_t pid, int fd, const char *info, const char *tag, fd_watch_parse_fn *parse, struct fr_file *f,
		    char *err, size_t errlen);

/* Every watch with its events and data; a watch whose fd number no longer
 * holds the watched file (closed, or reused) is refused. */
fd_describe_fn fd_epoll_describe;
/* The lowest epoll fd of pid that watches fd, or -1. */
int fd_epoll_watcher_of(pid_t pid, int fd);
fd_describe_fn fd_timerfd_describe;
fd_describe_fn fd_signalfd_describe;
/* Every watch with its wd, mask and the path of its inode (found again from
 * the file handle fdinfo prints). */
fd_describe_fn fd_inotify_describe;

/* A memfd: size, seals and (with_data) data (link is "/memfd:NAME
 * (deleted)", kept as the path). */
int fd_memfd_describe(pid_t pid, int fd, const char *link, bool with_data, struct fr_file *f, char *err,
		      size_t errlen);
/* A regular file deleted while open (link ends with " (deleted)"): its
 * path, mode, size and (with_data) data, refused above limit bytes. */
int fd_ghost_describe(pid_t pid, int fd, const char *link, uint64_t limit, bool with_data, struct fr_file *f,
		      char *err, size_t errlen);
/* The memfd or deleted file mapped by v (its path as maps shows it), read
 * through /proc/PID/map_files as the two above read an fd's. */
int mapped_object_describe(pid_t pid, const struct fr_vma *v, uint64_t limit, bool with_data, struct fr_file *f,
			   char *err, size_t errlen);

#endif

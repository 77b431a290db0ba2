/* fdobj.h — pipes, FIFOs and sockets of a process being captured, one file
 * per kind: fd_pipe.c (pipes and FIFOs), fd_unix.c (unix sockets), fd_inet.c
 * (TCP and UDP), fd_sock.c (what sockets share: taking a copy of the
 * process's socket, options). files.c calls them: describe while it walks
 * the fd table, then check that every pipe and connected unix socket has
 * its other end in the process, then (once the process is frozen) read the
 * data queued in them without consuming it. */
#ifndef FERRY_FDOBJ_H
#define FERRY_FDOBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../state/model.h"

/* What the describers share for one walk of a process's fd table. */
struct fd_scan {
	pid_t pid;
	int pidfd; /* -1 until a socket needs it (pidfd_getfd) */
	int diag;  /* NETLINK_SOCK_DIAG socket in the process's network namespace, -1 until needed */
};
void fd_scan_end(struct fd_scan *sc);

/* f has fd, flags and path (the /proc link) set; these set kind and obj. */
int fd_pipe_describe(struct fr_file *f, bool fifo, ino_t ino);
int fd_sock_describe(struct fd_scan *sc, struct fr_file *f, ino_t ino, char *err, size_t errlen);
int fd_unix_describe(struct fd_scan *sc, struct fr_file *f, int sk, ino_t ino, char *err, size_t errlen);
int fd_inet_describe(struct fr_file *f, int sk, char *err, size_t errlen);

/* The process's fd as a socket of ferry's (pidfd_getfd): the same open
 * file description. */
int fd_sock_take(struct fd_scan *sc, int fd, char *err, size_t errlen);
/* Options of sk that differ from a fresh socket of its kind, into o->opts. */
int fd_sock_read_opts(int sk, struct fr_fdobj *o, char *err, size_t errlen);

/* Refuses a pipe whose other end, or a unix socket whose peer, is not in
 * files[0..n) (naming the fd and how to declare it external). */
int fd_objects_check(const struct fr_file *files, size_t n, char *err, size_t errlen);
/* Reads what is queued: each pipe's data onto its first record that
 * reads it (and that record's pipe size), each FIFO's onto its first
 * record, each unix socket's onto its own. Nothing is consumed. Call it
 * once share_of is known. */
int fd_objects_read_queues(struct fd_scan *sc, struct fr_file *files, size_t n, char *err, size_t errlen);
int fd_pipe_read_queue(struct fd_scan *sc, struct fr_file *f, char *err, size_t errlen);
int fd_unix_read_queue(struct fd_scan *sc, struct fr_file *f, char *err, size_t errlen);
/* The process runs: refuses a unix socket whose first queued message
 * carries fds (SCM_RIGHTS; sock_diag does not tell), peeked without
 * moving anything; fds further in the queue are seen once it is frozen. */
int fd_objects_check_heads(struct fd_scan *sc, struct fr_file *files, size_t n, char *err, size_t errlen);
int fd_unix_check_head(struct fd_scan *sc, struct fr_file *f, char *err, size_t errlen);

#endif

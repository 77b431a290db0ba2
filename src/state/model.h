/* model.h — the process-state model: plain structs that inspect/ fills on the
 * source, state/ encodes into stream records and decodes on the destination,
 * and restore/ consumes. Pages are not part of the model: they stream
 * separately (mem/) so no image has to fit in memory. */
#ifndef FERRY_MODEL_H
#define FERRY_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/user.h>

#define FR_NSIG 64          /* signals 1..64 */
#define FR_MAX_AUXV 64      /* auxv words (pairs * 2) kept; the kernel has ~46 */
#define FR_MAX_GROUPS 65536 /* NGROUPS_MAX */
#define FR_NLIMITS 16       /* RLIM_NLIMITS on x86_64 */
#define FR_SIGINFO_SIZE 128 /* sizeof(siginfo_t) */
#define FR_MAX_PENDING 4096 /* queued signals kept per queue; RLIMIT_SIGPENDING is usually lower */
/* The membarrier(2) registrations of an mm, as MEMBARRIER_CMD_GET_REGISTRATIONS
 * reports them: each is the command that registers it again. */
#define FR_MEMBARRIER_REGISTRATIONS                                                                            \
	((uint32_t)(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED |    \
		    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE |                                          \
		    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ))

/* One signal's disposition as the kernel's rt_sigaction sees it. */
struct fr_sigaction {
	uint64_t handler; /* SIG_DFL = 0, SIG_IGN = 1, else an address in the target */
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

/* mm fields restored with prctl(PR_SET_MM, PR_SET_MM_MAP). */
struct fr_mm {
	uint64_t start_code, end_code, start_data, end_data;
	uint64_t start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;
	uint32_t auxv_words;
	uint64_t auxv[FR_MAX_AUXV];
	char *exe; /* path of /proc/PID/exe */
};

struct fr_process {
	int32_t pid, pgid, sid;
	uint32_t uid[4], gid[4]; /* real, effective, saved, fs */
	uint32_t ngroups;
	uint32_t *groups;
	uint32_t umask;
	uint32_t personality;
	char *cwd;
	struct rlimit rlim[FR_NLIMITS];
	struct fr_mm mm;
	struct fr_sigaction sigact[FR_NSIG]; /* index sig-1 */
	int32_t dumpable, no_new_privs, child_subreaper, thp_disable;
	int32_t oom_score_adj;
	uint32_t nthreads;
	uint64_t itimer[3][4];  /* ITIMER_REAL/VIRTUAL/PROF: interval s/us, value s/us (remaining) */
	uint32_t membarrier;    /* FR_MEMBARRIER_REGISTRATIONS bits the process registered */
	int32_t pdeathsig;      /* PR_SET_PDEATHSIG: the signal it gets when its parent dies, or 0 */
	uint32_t cwd_deleted;   /* cwd was removed: S_IFDIR | its mode (made again empty, entered, removed); else 0 */
	uint32_t npending;      /* signals pending for the whole process */
	uint8_t *pending;       /* npending siginfo_t, oldest first */
};

/* Per-thread state. regs are as the image wants them on restore: a syscall
 * interrupted with -ERESTART* is rewound so it runs again (orig_rax = -1). */
struct fr_thread {
	int32_t tid;
	struct user_regs_struct regs;
	uint32_t xstate_len;
	uint8_t *xstate; /* NT_X86_XSTATE regset: FPU/SSE/AVX */
	uint64_t sigmask;
	uint64_t ss_sp, ss_size; /* sigaltstack */
	int32_t ss_flags;
	uint64_t clear_child_tid;
	uint64_t robust_head, robust_len;
	uint64_t rseq_addr, rseq_sig;
	uint32_t rseq_len;
	int32_t sched_policy, sched_priority, nice;
	char comm[16]; /* thread name (TASK_COMM_LEN) */
	uint32_t npending; /* signals pending for this thread only */
	uint8_t *pending;  /* npending siginfo_t, oldest first */
};

enum fr_vma_kind {
	VMA_ANON = 1,       /* private anonymous (heap, stack, malloc arenas) */
	VMA_FILE_PRIVATE,   /* private file mapping: file pages + COW'd pages */
	VMA_FILE_SHARED,    /* shared file mapping: contents live in the file */
	VMA_SHARED_ANON,    /* MAP_SHARED|MAP_ANONYMOUS mapped by this process only */
	VMA_SYSV_SHM,       /* a System V shared memory segment attached by this process only (shmat) */
	VMA_VDSO,           /* [vdso], [vvar], [vvar_vclock]: moved, not copied */
	VMA_VVAR,
	VMA_VVAR_VCLOCK,
};

/* What mlock and madvise set on a mapping, as smaps' VmFlags show it. */
#define FR_VMA_LOCKED (1u << 0)      /* "lo": mlock, mlock2, mlockall */
#define FR_VMA_LOCKONFAULT (1u << 1) /* "lf": MLOCK_ONFAULT (with LOCKED) */
#define FR_VMA_DONTFORK (1u << 2)    /* "dc": MADV_DONTFORK */
#define FR_VMA_DONTDUMP (1u << 3)    /* "dd": MADV_DONTDUMP */
#define FR_VMA_WIPEONFORK (1u << 4)  /* "wf": MADV_WIPEONFORK */
#define FR_VMA_HUGEPAGE (1u << 5)    /* "hg": MADV_HUGEPAGE */
#define FR_VMA_NOHUGEPAGE (1u << 6)  /* "nh": MADV_NOHUGEPAGE */
#define FR_VMA_MERGEABLE (1u << 7)   /* "mg": MADV_MERGEABLE */
#define FR_VMA_SEQUENTIAL (1u << 8)  /* "sr": MADV_SEQUENTIAL */
#define FR_VMA_RANDOM (1u << 9)      /* "rr": MADV_RANDOM */
#define FR_VMA_ATTRS_ALL ((1u << 10) - 1)

struct fr_vma {
	uint64_t start, end;
	uint32_t prot;  /* PROT_* */
	uint32_t flags; /* MAP_PRIVATE / MAP_SHARED | MAP_GROWSDOWN */
	uint32_t kind;  /* enum fr_vma_kind */
	uint64_t pgoff; /* byte offset into the file */
	char *path;     /* file-backed kinds; VMA_SYSV_SHM: its name in maps, for messages */
	uint32_t attrs; /* FR_VMA_*: set again once the pages are in (0 in pre-copy rounds) */
	uint32_t object; /* VMA_FILE_*: 0, or 1 + the fd of the image's FILE_MEMFD / FILE_GHOST record
			    whose object it maps (path is then that object's, for messages);
			    VMA_SYSV_SHM: 1 + the id of its segment (fr_image.shms) */
};
/* The object of a mapping of a memfd or deleted file, on the source until
 * capture_vma_objects() names its record; never in a stream. */
#define FR_VMA_OBJECT_UNRESOLVED UINT32_MAX

/* The fd of the record whose memfd or deleted file v maps (VMA_FILE_*),
 * or the id of its segment (VMA_SYSV_SHM); -1 if none. */
static inline int fr_vma_object(const struct fr_vma *v)
{
	return v->object && v->object != FR_VMA_OBJECT_UNRESOLVED ? (int)(v->object - 1) : -1;
}

/* A System V shared memory segment the process alone has attached; its
 * VMA_SYSV_SHM mappings name it by id. */
struct fr_shm {
	int32_t id;    /* shmid: made again with it (kernel.shm_next_id) */
	uint32_t key;  /* IPC_PRIVATE (0) or the key it was made with */
	uint64_t size; /* shm_segsz */
	uint32_t mode; /* permission bits, and SHM_DEST once IPC_RMID'd (gone with its last detach) */
	uint32_t uid, gid; /* its owner */
};
#define FR_SHM_MODES (0777u | 01000u) /* what fr_shm.mode may hold: SHM_DEST is 01000 */
#define FR_MAX_SHMS 4096u /* per image: kernel.shmmni's default */

enum fr_file_kind {
	FILE_REG = 1, /* regular file */
	FILE_DIR,     /* directory */
	FILE_PATH,    /* O_PATH fd */
	FILE_CHR,     /* character device reopened by path (/dev/null, ...) */
	FILE_TTY,     /* a terminal: reattached to ferry's own with --shell-job */
	FILE_EVENTFD, /* eventfd(2): its counter and semaphore mode travel, not a path */
	FILE_EPOLL,    /* epoll set: its watches (fr_watch) travel, restored once every fd is in place */
	FILE_TIMERFD,  /* timerfd: clock, settime flags, time left, interval and unread ticks */
	FILE_SIGNALFD, /* signalfd: its signal mask */
	FILE_INOTIFY,  /* inotify instance: its watches by path, with their numbers and masks */
	FILE_MEMFD,    /* memfd: name (in path), size, contents and seals travel */
	FILE_GHOST,    /* a regular file deleted while open: path, mode, size and contents travel */
	FILE_PIPE,     /* an end of a pipe whose both ends the process holds (fd_pipe.c) */
	FILE_FIFO,     /* a FIFO reopened by its path (fd_pipe.c) */
	FILE_UNIX,     /* a unix socket (fd_unix.c) */
	FILE_INET,     /* a TCP or UDP socket, IPv4 or IPv6, not connected (TCP) (fd_inet.c) */
	FILE_EXTERNAL, /* declared with dump --external fd:N: handed in with restore --inherit-fd */
};
#define FILE_KIND_LAST FILE_EXTERNAL
#define FR_EVENTFD_MAX 0xfffffffffffffffeull /* the largest value an eventfd counter holds */

/* Socket options carried by a socket record: those that differ from a
 * fresh socket of the same kind (fd_sock_opts.c has the list). */
#define FR_SOCKOPT_VAL_MAX 16 /* struct timeval, the largest value in the list */
#define FR_SOCKOPTS_MAX 32
struct fr_sockopt {
	int32_t level, name;
	uint32_t len;
	uint8_t val[FR_SOCKOPT_VAL_MAX];
};

/* What a socket record says of its connection. */
enum fr_sock_state {
	FR_SOCK_UNCONNECTED = 1, /* bound or not */
	FR_SOCK_LISTEN,
	FR_SOCK_CONNECTED,       /* unix: to the socket whose id is `peer` (0: a peer now closed); UDP: to peer_name */
};
#define FR_SHUT_RCV 1  /* RCV_SHUTDOWN: this socket's reading side was shut down */
#define FR_SHUT_SEND 2 /* SEND_SHUTDOWN */
#define FR_SOCKNAME_MAX 128 /* sizeof(struct sockaddr_storage) */
#define FR_QUEUE_MAX (64u << 20) /* bytes queued in one pipe or socket: FR_RECORD_MAX bounds them anyway */
#define FR_QUEUE_MSGS_MAX (1u << 20)

/* The kernel object behind a pipe, FIFO or socket fd. Fds on one object
 * (both ends of a pipe, the two sockets of a pair) name it by its id, the
 * object's inode number. Queued data travels with the record of the fd
 * that reads it: a pipe's with its lowest read end, a socket's with
 * itself. */
struct fr_fdobj {
	uint64_t id;          /* pipe or socket inode */
	uint64_t peer;        /* unix socket: its peer's id (0: none) */
	uint32_t family, type, protocol; /* sockets: AF_*, SOCK_*, IPPROTO_* */
	uint32_t state;       /* sockets: enum fr_sock_state */
	uint32_t backlog;     /* FR_SOCK_LISTEN: listen()'s backlog */
	uint32_t shutdown;    /* unix: the kernel's sk_shutdown bits, FR_SHUT_RCV / FR_SHUT_SEND */
	uint32_t pipe_size;   /* pipes, FIFOs: F_GETPIPE_SZ, on the record that carries the data */
	uint32_t name_len, peer_name_len; /* bound address; peer address (UDP connected) */
	uint8_t name[FR_SOCKNAME_MAX], peer_name[FR_SOCKNAME_MAX];
	uint32_t nopts;
	struct fr_sockopt opts[FR_SOCKOPTS_MAX];
	uint32_t data_len;    /* queued bytes */
	uint8_t *data;
	uint32_t nmsgs;       /* message lengths (datagrams, packet-mode pipe writes); 0: a byte stream */
	uint32_t *msg_len;
};

/* One watch of an epoll set or an inotify instance. */
struct fr_watch {
	int32_t id;    /* FILE_EPOLL: the watched fd's number; FILE_INOTIFY: the watch descriptor */
	uint32_t mask; /* FILE_EPOLL: EPOLL* events and flags (EPOLLET, EPOLLONESHOT); FILE_INOTIFY: IN_* mask */
	uint64_t data; /* FILE_EPOLL: the user's epoll_data; 0 for inotify */
	char *path;    /* FILE_INOTIFY: the watched file or directory; NULL for epoll */
};
#define FR_MAX_WATCHES (1u << 20) /* per epoll set or inotify instance; far above what programs hold */

/* A range of a file's data (the holes between extents read as zeros). */
struct fr_extent {
	uint64_t offset;
	uint32_t len;
	uint8_t *data;
};
/* The most data a memfd or deleted file carries in its record (the record
 * itself is capped at FR_RECORD_MAX). */
#define FR_CONTENTS_MAX (48u << 20)

/* A timer's clock, time left and interval (timerfd). value_ns = 0: disarmed. */
struct fr_timerspec {
	int32_t clockid;
	uint64_t value_ns, interval_ns;
};

struct fr_file {
	int32_t fd;
	uint32_t kind;   /* enum fr_file_kind */
	uint32_t flags;  /* open flags from fdinfo (O_ACCMODE, O_APPEND, O_NONBLOCK, ...) */
	bool cloexec;
	int32_t share_of; /* fd that owns the same open file description, or -1 */
	int64_t pos;
	char *path;
	uint64_t value;      /* FILE_EVENTFD: the counter; FILE_TIMERFD: unread ticks; FILE_SIGNALFD: the
				mask (bit sig-1); FILE_MEMFD, FILE_GHOST: the size; 0 for other kinds */
	uint32_t kind_flags; /* FILE_EVENTFD: EFD_SEMAPHORE; FILE_TIMERFD: TFD_TIMER_* settime flags;
				FILE_MEMFD: F_SEAL_* seals; FILE_GHOST: the mode's permission bits; 0 for
				other kinds */
	/* Only in the records of the kinds that have them (codec_fdstate.c): */
	uint32_t nwatches;
	struct fr_watch *watches;  /* FILE_EPOLL, FILE_INOTIFY; by ascending id */
	struct fr_timerspec timer; /* FILE_TIMERFD */
	uint32_t nextents;
	struct fr_extent *extents; /* FILE_MEMFD, FILE_GHOST: the data, by ascending offset */
	struct fr_fdobj *obj;      /* FILE_PIPE, FILE_FIFO, FILE_UNIX, FILE_INET; else NULL */
	bool mapping_only; /* FILE_MEMFD, FILE_GHOST: an object only mappings hold (its fd was closed):
			      made again for them, never installed; fd is a number above the others */
};

/* Do records of this kind carry a struct fr_fdobj? */
static inline bool fr_file_has_obj(uint32_t kind)
{
	return kind == FILE_PIPE || kind == FILE_FIFO || kind == FILE_UNIX || kind == FILE_INET;
}

/* A POSIX timer (timer_create), made again with its id. */
struct fr_posix_timer {
	int32_t id;
	int32_t clockid; /* CLOCK_*, or a negative CPU clock of the process or one of its threads */
	int32_t notify;  /* SIGEV_SIGNAL, SIGEV_NONE or SIGEV_THREAD_ID (glibc's SIGEV_THREAD is the last) */
	int32_t signo;   /* 0 for SIGEV_NONE */
	int32_t tid;     /* SIGEV_THREAD_ID: the thread it signals; 0 otherwise */
	uint64_t sigval; /* sigev_value, handed to the handler in si_value */
	uint64_t value_ns, interval_ns; /* time left (0: disarmed) and interval */
};

/* A lock the process holds on one of its files, taken again through fd. */
enum fr_lock_kind {
	FR_LOCK_FLOCK = 1, /* flock(2): the open file description's */
	FR_LOCK_POSIX,     /* fcntl F_SETLK: the process's */
	FR_LOCK_OFD,       /* fcntl F_OFD_SETLK: the open file description's */
};
struct fr_lock {
	int32_t fd;      /* an fd of the image that owns its description (share_of -1) */
	uint32_t kind;   /* enum fr_lock_kind */
	uint32_t type;   /* F_RDLCK or F_WRLCK */
	uint64_t start;  /* byte range (POSIX, OFD); 0 for flock */
	uint64_t len;    /* 0 = to the end of the file, and always for flock */
};
#define FR_MAX_LOCKS (1u << 16) /* per image: far above what programs hold */

/* Everything but memory contents: what a dump captures while frozen. */
struct fr_image {
	struct fr_process proc;
	uint32_t nthreads, nvmas, nfiles;
	struct fr_thread *threads; /* threads[0] is the thread-group leader */
	struct fr_vma *vmas;       /* sorted by address */
	struct fr_file *files;     /* sorted by fd */
	uint32_t ntimers;
	struct fr_posix_timer *timers; /* sorted by id */
	uint32_t nlocks;
	struct fr_lock *locks; /* by fd */
	uint32_t nshms;
	struct fr_shm *shms; /* by ascending id */
};

/* Does the image carry this mapping's contents as PAGES records? (Shared
 * file mappings live in their file; vDSO/vvar are moved, not copied.) */
/* Post-copy moves vmas[i] after the switch, on demand (the destination
 * registers it with userfaultfd): private writable anonymous memory, except
 * in a run of adjacent private anonymous mappings with a readable one that
 * is not writable (an mprotect'ed stretch): the restore may rebuild such a
 * run whole (mm_join.c), which registered memory cannot be; and except
 * mlock'd memory (locking it again faults every page in at once). PROT_NONE
 * pieces do not count: every thread stack has one (its guard), next to
 * other mappings. */
bool fr_vma_lazy_at(const struct fr_vma *vmas, uint32_t n, uint32_t i);

static inline bool fr_vma_has_pages(const struct fr_vma *v)
{
	return v->kind == VMA_ANON || v->kind == VMA_FILE_PRIVATE || v->kind == VMA_SHARED_ANON ||
	       v->kind == VMA_SYSV_SHM;
}

/* Is v shared memory whose pages live in a shmem object of its own (shared
 * anonymous memory, a System V segment)? */
static inline bool fr_vma_is_shmem(const struct fr_vma *v)
{
	return v->kind == VMA_SHARED_ANON || v->kind == VMA_SYSV_SHM;
}

void fr_image_free(struct fr_image *img);
/* Frees what one file record owns (path, watches, extents), not the record. */
void fr_file_free(struct fr_file *f);
void fr_fdobj_free(struct fr_fdobj *o);
const char *fr_vma_kind_name(uint32_t kind);
const char *fr_file_kind_name(uint32_t kind);

#endif

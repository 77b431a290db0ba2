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
	VMA_VDSO,           /* [vdso], [vvar], [vvar_vclock]: moved, not copied */
	VMA_VVAR,
	VMA_VVAR_VCLOCK,
};

struct fr_vma {
	uint64_t start, end;
	uint32_t prot;  /* PROT_* */
	uint32_t flags; /* MAP_PRIVATE / MAP_SHARED | MAP_GROWSDOWN */
	uint32_t kind;  /* enum fr_vma_kind */
	uint64_t pgoff; /* byte offset into the file */
	char *path;     /* file-backed kinds only */
};

enum fr_file_kind {
	FILE_REG = 1, /* regular file */
	FILE_DIR,     /* directory */
	FILE_PATH,    /* O_PATH fd */
	FILE_CHR,     /* character device reopened by path (/dev/null, ...) */
	FILE_TTY,     /* a terminal: reattached to ferry's own with --shell-job */
	FILE_EVENTFD, /* eventfd(2): its counter and semaphore mode travel, not a path */
};
#define FR_EVENTFD_MAX 0xfffffffffffffffeull /* the largest value an eventfd counter holds */

struct fr_file {
	int32_t fd;
	uint32_t kind;   /* enum fr_file_kind */
	uint32_t flags;  /* open flags from fdinfo (O_ACCMODE, O_APPEND, O_NONBLOCK, ...) */
	bool cloexec;
	int32_t share_of; /* fd that owns the same open file description, or -1 */
	int64_t pos;
	char *path;
	uint64_t value;      /* FILE_EVENTFD: the counter; 0 for other kinds */
	uint32_t kind_flags; /* FILE_EVENTFD: EFD_SEMAPHORE; 0 for other kinds */
};

/* Everything but memory contents: what a dump captures while frozen. */
struct fr_image {
	struct fr_process proc;
	uint32_t nthreads, nvmas, nfiles;
	struct fr_thread *threads; /* threads[0] is the thread-group leader */
	struct fr_vma *vmas;       /* sorted by address */
	struct fr_file *files;     /* sorted by fd */
};

/* Does the image carry this mapping's contents as PAGES records? (Shared
 * file mappings live in their file; vDSO/vvar are moved, not copied.) */
/* Post-copy moves these after the switch, on demand: private anonymous
 * writable memory (the destination registers it with userfaultfd). */
static inline bool fr_vma_lazy(const struct fr_vma *v)
{
	return v->kind == VMA_ANON && (v->prot & PROT_WRITE);
}

static inline bool fr_vma_has_pages(const struct fr_vma *v)
{
	return v->kind == VMA_ANON || v->kind == VMA_FILE_PRIVATE || v->kind == VMA_SHARED_ANON;
}

void fr_image_free(struct fr_image *img);
const char *fr_vma_kind_name(uint32_t kind);
const char *fr_file_kind_name(uint32_t kind);

#endif

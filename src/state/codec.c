/* codec.c — see codec.h. Field order is the wire order; changing it means
 * bumping FR_STREAM_VERSION. */
#include "codec.h"
#include "codec_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define USER_ADDR_LIMIT 0x00007ffffffff000ull /* TASK_SIZE_MAX with 4-level paging */
#define VMA_ALIGN 4096ull /* x86_64 base page: every VMA boundary and file offset is a multiple */
#define XSTATE_MAX (64u << 10) /* the XSAVE area is ~2.7 KiB with AVX-512, ~11 KiB with AMX */
#define VMA_MAP_FLAGS (MAP_SHARED | MAP_PRIVATE | MAP_GROWSDOWN) /* the only bits a dump writes */
#define SHARE_NONE (-1) /* fr_file.share_of of an fd that owns its open file description */

/* The field the last failed decode of this thread refused (pages workers
 * decode in parallel, hence per thread). */
static __thread const char *decode_why = "";

const char *codec_why(void) { return decode_why; }

/* Refuses a payload, naming the field (or rule) that is wrong. */
static int refuse(const char *field)
{
	decode_why = field;
	return -EBADMSG;
}

int codec_refuse(const char *field) { return refuse(field); }

static int finish(struct buf_reader *r)
{
	if (buf_reader_done(r))
		return 0;
	return refuse(r->bad ? "payload too short or a length field invalid" : "trailing bytes after the payload");
}

int codec_finish(struct buf_reader *r) { return finish(r); }

static void put_pending(struct buf *b, uint32_t n, const uint8_t *si)
{
	buf_put_u32(b, n);
	buf_put(b, si, (size_t)n * FR_SIGINFO_SIZE);
}

static void get_pending(struct buf_reader *r, uint32_t *n, uint8_t **si)
{
	*n = buf_get_u32(r);
	*si = NULL;
	if (*n == 0 || r->bad)
		return;
	if (*n > FR_MAX_PENDING || (size_t)*n * FR_SIGINFO_SIZE > r->left || !(*si = malloc((size_t)*n * FR_SIGINFO_SIZE))) {
		r->bad = true;
		*n = 0;
		return;
	}
	buf_get(r, *si, (size_t)*n * FR_SIGINFO_SIZE);
}

void encode_hello(struct buf *b, const struct fr_hello *h)
{
	buf_put_u32(b, h->page_size);
	buf_put_str(b, h->arch);
	buf_put_str(b, h->kernel);
	buf_put_str(b, h->host);
}

int decode_hello(const uint8_t *p, uint32_t len, struct fr_hello *h)
{
	struct buf_reader r = buf_reader(p, len);
	h->page_size = buf_get_u32(&r);
	h->arch = buf_get_str(&r);
	h->kernel = buf_get_str(&r);
	h->host = buf_get_str(&r);
	int ret = finish(&r);
	if (ret == 0 && !h->arch)
		ret = refuse("arch (absent)");
	if (ret < 0)
		fr_hello_free(h);
	return ret;
	return 0;
}

void fr_hello_free(struct fr_hello *h)
{
	free(h->arch);
	free(h->kernel);
	free(h->host);
	*h = (struct fr_hello){0};
}

void encode_process(struct buf *b, const struct fr_process *p)
{
	buf_put_u32(b, (uint32_t)p->pid);
	buf_put_u32(b, (uint32_t)p->pgid);
	buf_put_u32(b, (uint32_t)p->sid);
	buf_put(b, p->uid, sizeof(p->uid));
	buf_put(b, p->gid, sizeof(p->gid));
	buf_put_u32(b, p->ngroups);
	buf_put(b, p->groups, sizeof(*p->groups) * p->ngroups);
	buf_put_u32(b, p->umask);
	buf_put_u32(b, p->personality);
	buf_put_str(b, p->cwd);
	for (int i = 0; i < FR_NLIMITS; i++) {
		buf_put_u64(b, p->rlim[i].rlim_cur);
		buf_put_u64(b, p->rlim[i].rlim_max);
	}
	const struct fr_mm *m = &p->mm;
	const uint64_t mmf[] = {m->start_code, m->end_code, m->start_data, m->end_data, m->start_brk, m->brk,
				m->start_stack, m->arg_start, m->arg_end, m->env_start, m->env_end};
	buf_put(b, mmf, sizeof(mmf));
	buf_put_u32(b, m->auxv_words);
	buf_put(b, m->auxv, sizeof(m->auxv[0]) * m->auxv_words);
	buf_put_str(b, m->exe);
	buf_put(b, p->sigact, sizeof(p->sigact));
	const int32_t misc[] = {p->dumpable, p->no_new_privs, p->child_subreaper, p->thp_disable, p->oom_score_adj};
	buf_put(b, misc, sizeof(misc));
	buf_put_u32(b, p->nthreads);
	buf_put(b, p->itimer, sizeof(p->itimer));
	buf_put_u32(b, p->membarrier);
	put_pending(b, p->npending, p->pending);
	buf_put_u32(b, (uint32_t)p->pdeathsig);
	buf_put_u32(b, p->cwd_deleted);
}

int decode_process(const uint8_t *data, uint32_t len, struct fr_process *p)
{
	struct buf_reader r = buf_reader(data, len);
	*p = (struct fr_process){0};
	p->pid = (int32_t)buf_get_u32(&r);
	p->pgid = (int32_t)buf_get_u32(&r);
	p->sid = (int32_t)buf_get_u32(&r);
	buf_get(&r, p->uid, sizeof(p->uid));
	buf_get(&r, p->gid, sizeof(p->gid));
	p->ngroups = buf_get_u32(&r);
	if (p->ngroups > FR_MAX_GROUPS || (size_t)p->ngroups * sizeof(*p->groups) > r.left)
		return refuse("ngroups");
	p->groups = calloc(p->ngroups + 1, sizeof(*p->groups));
	if (!p->groups)
		return -ENOMEM;
	buf_get(&r, p->groups, sizeof(*p->groups) * p->ngroups);
	p->umask = buf_get_u32(&r);
	p->personality = buf_get_u32(&r);
	p->cwd = buf_get_str(&r);
	for (int i = 0; i < FR_NLIMITS; i++) {
		p->rlim[i].rlim_cur = buf_get_u64(&r);
		p->rlim[i].rlim_max = buf_get_u64(&r);
	}
	struct fr_mm *m = &p->mm;
	uint64_t mmf[11];
	buf_get(&r, mmf, sizeof(mmf));
	m->start_code = mmf[0], m->end_code = mmf[1], m->start_data = mmf[2], m->end_data = mmf[3];
	m->start_brk = mmf[4], m->brk = mmf[5], m->start_stack = mmf[6];
	m->arg_start = mmf[7], m->arg_end = mmf[8], m->env_start = mmf[9], m->env_end = mmf[10];
	m->auxv_words = buf_get_u32(&r);
	if (m->auxv_words > FR_MAX_AUXV)
		r.bad = true;
	else
		buf_get(&r, m->auxv, sizeof(m->auxv[0]) * m->auxv_words);
	m->exe = buf_get_str(&r);
	buf_get(&r, p->sigact, sizeof(p->sigact));
	int32_t misc[5];
	buf_get(&r, misc, sizeof(misc));
	p->dumpable = misc[0], p->no_new_privs = misc[1], p->child_subreaper = misc[2];
	p->thp_disable = misc[3], p->oom_score_adj = misc[4];
	p->nthreads = buf_get_u32(&r);
	buf_get(&r, p->itimer, sizeof(p->itimer));
	p->membarrier = buf_get_u32(&r);
	get_pending(&r, &p->npending, &p->pending);
	p->pdeathsig = (int32_t)buf_get_u32(&r);
	p->cwd_deleted = buf_get_u32(&r);
	if (finish(&r) < 0)
		return -EBADMSG;
	if (p->cwd_deleted && ((p->cwd_deleted & S_IFMT) != S_IFDIR || (p->cwd_deleted & ~(uint32_t)(S_IFMT | 07777))))
		return refuse("cwd_deleted (not a directory's mode)");
	if (p->pdeathsig < 0 || p->pdeathsig > FR_NSIG)
		return refuse("pdeathsig");
	if (p->membarrier & ~FR_MEMBARRIER_REGISTRATIONS)
		return refuse("membarrier (unknown registrations)");
	if (p->pid <= 0)
		return refuse("pid");
	if (!p->cwd)
		return refuse("cwd (absent)");
	if (p->nthreads == 0)
		return refuse("nthreads (zero)");
	return 0;
}

void encode_thread(struct buf *b, const struct fr_thread *t)
{
	buf_put_u32(b, (uint32_t)t->tid);
	buf_put(b, &t->regs, sizeof(t->regs));
	buf_put_u32(b, t->xstate_len);
	buf_put(b, t->xstate, t->xstate_len);
	const uint64_t w[] = {t->sigmask, t->ss_sp, t->ss_size, t->clear_child_tid, t->robust_head,
			      t->robust_len, t->rseq_addr, t->rseq_sig};
	buf_put(b, w, sizeof(w));
	const int32_t i32[] = {t->ss_flags, (int32_t)t->rseq_len, t->sched_policy, t->sched_priority, t->nice};
	buf_put(b, i32, sizeof(i32));
	buf_put(b, t->comm, sizeof(t->comm));
	put_pending(b, t->npending, t->pending);
}

int decode_thread(const uint8_t *data, uint32_t len, struct fr_thread *t)
{
	struct buf_reader r = buf_reader(data, len);
	*t = (struct fr_thread){0};
	t->tid = (int32_t)buf_get_u32(&r);
	buf_get(&r, &t->regs, sizeof(t->regs));
	t->xstate_len = buf_get_u32(&r);
	if (t->xstate_len > XSTATE_MAX || t->xstate_len > r.left)
		return refuse("xstate_len");
	if (t->xstate_len) {
		t->xstate = malloc(t->xstate_len);
		if (!t->xstate)
			return -ENOMEM;
		buf_get(&r, t->xstate, t->xstate_len);
	}
	uint64_t w[8];
	buf_get(&r, w, sizeof(w));
	t->sigmask = w[0], t->ss_sp = w[1], t->ss_size = w[2], t->clear_child_tid = w[3];
	t->robust_head = w[4], t->robust_len = w[5], t->rseq_addr = w[6], t->rseq_sig = w[7];
	int32_t i32[5];
	buf_get(&r, i32, sizeof(i32));
	t->ss_flags = i32[0], t->rseq_len = (uint32_t)i32[1], t->sched_policy = i32[2];
	t->sched_priority = i32[3], t->nice = i32[4];
	buf_get(&r, t->comm, sizeof(t->comm));
	t->comm[sizeof(t->comm) - 1] = '\0';
	get_pending(&r, &t->npending, &t->pending);
	int ret = finish(&r);
	if (ret == 0 && t->tid <= 0)
		ret = refuse("tid");
	if (ret < 0) {
		free(t->xstate);
		free(t->pending);
		t->xstate = NULL;
		t->pending = NULL;
	}
	return ret;
}

void encode_vma(struct buf *b, const struct fr_vma *v)
{
	buf_put_u64(b, v->start);
	buf_put_u64(b, v->end);
	buf_put_u32(b, v->prot);
	buf_put_u32(b, v->flags);
	buf_put_u32(b, v->kind);
	buf_put_u64(b, v->pgoff);
	buf_put_str(b, v->path);
	buf_put_u32(b, v->attrs);
	buf_put_u32(b, v->object);
}

static int check_vma(const struct fr_vma *v)
{
	const uint64_t page_mask = VMA_ALIGN - 1;
	bool file_backed = v->kind == VMA_FILE_PRIVATE || v->kind == VMA_FILE_SHARED;
	bool shared = v->kind == VMA_FILE_SHARED || fr_vma_is_shmem(v);
	uint64_t file_end;
	if (v->start >= v->end)
		return refuse("start/end (empty or inverted)");
	if ((v->start & page_mask) || (v->end & page_mask))
		return refuse("start/end (not page-aligned)");
	if (v->end > USER_ADDR_LIMIT)
		return refuse("end (beyond user space)");
	if (v->kind < VMA_ANON || v->kind > VMA_VVAR_VCLOCK)
		return refuse("kind");
	if (v->prot & ~(uint32_t)(PROT_READ | PROT_WRITE | PROT_EXEC))
		return refuse("prot (reserved bits set)");
	if (v->flags & ~(uint32_t)VMA_MAP_FLAGS)
		return refuse("flags (reserved bits set)");
	if ((v->flags & (MAP_SHARED | MAP_PRIVATE)) != (shared ? MAP_SHARED : MAP_PRIVATE) &&
	    v->kind <= VMA_SYSV_SHM)
		return refuse("flags (sharing does not match the kind)");
	if ((v->pgoff & page_mask) || __builtin_add_overflow(v->pgoff, v->end - v->start, &file_end) ||
	    file_end > (uint64_t)INT64_MAX)
		return refuse("pgoff");
	if (file_backed && !v->path)
		return refuse("path (absent for a file mapping)");
	if ((v->attrs & ~FR_VMA_ATTRS_ALL) || (v->attrs && v->kind >= VMA_VDSO) ||
	    ((v->attrs & FR_VMA_LOCKONFAULT) && !(v->attrs & FR_VMA_LOCKED)) ||
	    (v->attrs & (FR_VMA_HUGEPAGE | FR_VMA_NOHUGEPAGE)) == (FR_VMA_HUGEPAGE | FR_VMA_NOHUGEPAGE) ||
	    (v->attrs & (FR_VMA_SEQUENTIAL | FR_VMA_RANDOM)) == (FR_VMA_SEQUENTIAL | FR_VMA_RANDOM))
		return refuse("attrs (unknown or contradictory, or on a special mapping)");
	if (v->object ? (!file_backed && v->kind != VMA_SYSV_SHM) || v->object > (uint32_t)INT32_MAX
		      : v->kind == VMA_SYSV_SHM)
		return refuse("object (not a file mapping or System V segment, or not an fd or id)");
	if (v->kind == VMA_SYSV_SHM && v->pgoff)
		return refuse("pgoff (a System V segment is attached whole)");
	return 0;
}

int decode_vma(const uint8_t *data, uint32_t len, struct fr_vma *v)
{
	struct buf_reader r = buf_reader(data, len);
	*v = (struct fr_vma){0};
	v->start = buf_get_u64(&r);
	v->end = buf_get_u64(&r);
	v->prot = buf_get_u32(&r);
	v->flags = buf_get_u32(&r);
	v->kind = buf_get_u32(&r);
	v->pgoff = buf_get_u64(&r);
	v->path = buf_get_str(&r);
	v->attrs = buf_get_u32(&r);
	v->object = buf_get_u32(&r);
	int ret = finish(&r);
	if (ret == 0)
		ret = check_vma(v);
	if (ret < 0) {
		free(v->path);
		v->path = NULL;
	}
	return ret;
}

void encode_file(struct buf *b, const struct fr_file *f)
{
	buf_put_u32(b, (uint32_t)f->fd);
	buf_put_u32(b, f->kind);
	buf_put_u32(b, f->flags);
	buf_put_u32(b, f->cloexec);
	buf_put_u32(b, (uint32_t)f->share_of);
	buf_put_u64(b, (uint64_t)f->pos);
	buf_put_str(b, f->path);
	buf_put_u64(b, f->value);
	buf_put_u32(b, f->kind_flags);
	buf_put_u32(b, f->mapping_only);
	if (codec_file_has_tail(f->kind))
		encode_file_tail(b, f);
	if (fr_file_has_obj(f->kind))
		encode_fdobj(b, f->obj);
}

int decode_file(const uint8_t *data, uint32_t len, struct fr_file *f)
{
	struct buf_reader r = buf_reader(data, len);
	*f = (struct fr_file){0};
	f->fd = (int32_t)buf_get_u32(&r);
	f->kind = buf_get_u32(&r);
	f->flags = buf_get_u32(&r);
	uint32_t cloexec = buf_get_u32(&r);
	f->cloexec = cloexec != 0;
	f->share_of = (int32_t)buf_get_u32(&r);
	f->pos = (int64_t)buf_get_u64(&r);
	f->path = buf_get_str(&r);
	f->value = buf_get_u64(&r);
	f->kind_flags = buf_get_u32(&r);
	uint32_t mapping_only = buf_get_u32(&r);
	f->mapping_only = mapping_only == 1;
	if (!r.bad && codec_file_has_tail(f->kind))
		decode_file_tail(&r, f);
	const char *obj_why = NULL;
	int ret = fr_file_has_obj(f->kind) ? decode_fdobj(&r, f->kind, &f->obj, &obj_why) : 0;
	if (ret == -EBADMSG && obj_why)
		ret = refuse(obj_why);
	if (ret == 0)
		ret = finish(&r);
	if (ret == 0 && cloexec > 1)
		ret = refuse("cloexec (not 0 or 1)");
	if (ret == 0 && (mapping_only > 1 || (mapping_only && ((f->kind != FILE_MEMFD && f->kind != FILE_GHOST) ||
							       f->share_of != SHARE_NONE))))
		ret = refuse("mapping_only (not 0 or 1, or not an unshared memfd or deleted file)");
	if (ret == 0 && f->fd < 0)
		ret = refuse("fd (negative)");
	if (ret == 0 && (f->kind < FILE_REG || f->kind > FILE_KIND_LAST))
		ret = refuse("kind");
	if (ret == 0)
		ret = check_file_state(f);
	if (ret == 0 && (f->share_of < SHARE_NONE || f->share_of >= f->fd))
		ret = refuse("share_of (must be -1 or a lower fd)");
	if (ret == 0 && f->pos < 0)
		ret = refuse("pos (negative)");
	if (ret == 0 && !f->path && f->kind != FILE_TTY)
		ret = refuse("path (absent)");
	if (ret < 0)
		fr_file_free(f);
	return ret;
}

void encode_done(struct buf *b, const struct fr_done *d)
{
	buf_put_u64(b, d->page_records);
	buf_put_u64(b, d->pages);
}

int decode_done(const uint8_t *data, uint32_t len, struct fr_done *d)
{
	struct buf_reader r = buf_reader(data, len);
	d->page_records = buf_get_u64(&r);
	d->pages = buf_get_u64(&r);
	return finish(&r);
}

void encode_discard(struct buf *b, const struct fr_discard *d)
{
	buf_put_u64(b, d->addr);
	buf_put_u32(b, d->npages);
}

int decode_discard(const uint8_t *data, uint32_t len, uint32_t page_size, struct fr_discard *d)
{
	struct buf_reader r = buf_reader(data, len);
	d->addr = buf_get_u64(&r);
	d->npages = buf_get_u32(&r);
	int ret = finish(&r);
	uint64_t end;
	if (ret < 0)
		return ret;
	if (d->npages == 0)
		return refuse("npages (zero)");
	if (page_size == 0 || (page_size & (page_size - 1)) || (d->addr & (page_size - 1)))
		return refuse("addr (not page-aligned)");
	if (__builtin_add_overflow(d->addr, (uint64_t)d->npages * page_size, &end) || end > USER_ADDR_LIMIT)
		return refuse("addr (range wraps or leaves user space)");
	return 0;
}

int decode_pages_hdr(const uint8_t *data, uint32_t len, uint32_t page_size, struct fr_pages_hdr *h)
{
	struct buf_reader r = buf_reader(data, len);
	h->addr = buf_get_u64(&r);
	h->npages = buf_get_u32(&r);
	h->flags = buf_get_u32(&r);
	uint64_t bytes, end;
	if (r.bad)
		return refuse("pages header (short)");
	if (h->flags != 0)
		return refuse("pages flags (reserved, must be 0)");
	if (h->npages == 0)
		return refuse("npages (zero)");
	if (page_size == 0 || (page_size & (page_size - 1)) || (h->addr & (page_size - 1)))
		return refuse("addr (not page-aligned)");
	if (__builtin_mul_overflow((uint64_t)h->npages, (uint64_t)page_size, &bytes) || bytes != r.left)
		return refuse("npages (does not match the data that follows)");
	if (__builtin_add_overflow(h->addr, bytes, &end) || end > USER_ADDR_LIMIT)
		return refuse("addr (range wraps or leaves user space)");
	return 0;
}

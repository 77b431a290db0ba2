/* codec.c — see codec.h. Field order is the wire order; changing it means
 * bumping FR_STREAM_VERSION. */
#include "codec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define USER_ADDR_LIMIT 0x00007ffffffff000ull /* TASK_SIZE_MAX with 4-level paging */
#define XSTATE_MAX (64u << 10)

static int finish(struct buf_reader *r) { return buf_reader_done(r) ? 0 : -EBADMSG; }

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
	if (finish(&r) < 0 || !h->arch) {
		fr_hello_free(h);
		return -EBADMSG;
	}
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
	put_pending(b, p->npending, p->pending);
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
	if (p->ngroups > FR_MAX_GROUPS)
		return -EBADMSG;
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
	get_pending(&r, &p->npending, &p->pending);
	if (finish(&r) < 0 || p->pid <= 0 || !p->cwd || p->nthreads == 0)
		return -EBADMSG;
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
		return -EBADMSG;
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
	if (finish(&r) < 0 || t->tid <= 0) {
		free(t->xstate);
		free(t->pending);
		t->xstate = NULL;
		t->pending = NULL;
		return -EBADMSG;
	}
	return 0;
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
	bool file_backed = v->kind == VMA_FILE_PRIVATE || v->kind == VMA_FILE_SHARED;
	if (finish(&r) < 0 || v->start >= v->end || v->end > USER_ADDR_LIMIT || (v->start & 0xfff) ||
	    (v->end & 0xfff) || v->kind < VMA_ANON || v->kind > VMA_VVAR_VCLOCK ||
	    (v->prot & ~(uint32_t)(PROT_READ | PROT_WRITE | PROT_EXEC)) || (file_backed && !v->path)) {
		free(v->path);
		v->path = NULL;
		return -EBADMSG;
	}
	return 0;
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
}

int decode_file(const uint8_t *data, uint32_t len, struct fr_file *f)
{
	struct buf_reader r = buf_reader(data, len);
	*f = (struct fr_file){0};
	f->fd = (int32_t)buf_get_u32(&r);
	f->kind = buf_get_u32(&r);
	f->flags = buf_get_u32(&r);
	f->cloexec = buf_get_u32(&r) != 0;
	f->share_of = (int32_t)buf_get_u32(&r);
	f->pos = (int64_t)buf_get_u64(&r);
	f->path = buf_get_str(&r);
	if (finish(&r) < 0 || f->fd < 0 || f->kind < FILE_REG || f->kind > FILE_TTY || f->share_of >= f->fd ||
	    f->pos < 0 || (!f->path && f->kind != FILE_TTY)) {
		free(f->path);
		f->path = NULL;
		return -EBADMSG;
	}
	return 0;
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

int decode_pages_hdr(const uint8_t *data, uint32_t len, uint32_t page_size, struct fr_pages_hdr *h)
{
	struct buf_reader r = buf_reader(data, len);
	h->addr = buf_get_u64(&r);
	h->npages = buf_get_u32(&r);
	h->flags = buf_get_u32(&r);
	if (r.bad || h->npages == 0 || (h->addr & (page_size - 1)) ||
	    (uint64_t)h->npages * page_size != r.left || h->addr + (uint64_t)h->npages * page_size > USER_ADDR_LIMIT)
		return -EBADMSG;
	return 0;
}

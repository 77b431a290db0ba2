/* pages.h — page contents: choosing which pages of a process to send,
 * reading them while the process may still run (process_vm_readv, or
 * /proc/PID/mem for mappings without read permission), and writing pages
 * into a process being restored. Zero pages of anonymous memory are elided:
 * a fresh anonymous mapping is already zero. */
#ifndef FERRY_PAGES_H
#define FERRY_PAGES_H

#include <stdint.h>
#include <sys/types.h>

#include "../state/codec.h"
#include "../state/layout.h"
#include "../state/model.h"
#include "../state/stream.h"

struct page_stats {
	uint64_t pages_present; /* pages found that belong in the image */
	uint64_t pages_sent;    /* pages written to the stream */
	uint64_t pages_zero;    /* present but all-zero anonymous pages, elided */
	uint64_t pages_discarded; /* pre-copy: sent before, now absent or zero: a DISCARD record */
	uint64_t pages_lazy;      /* post-copy: left at the source, named in LAZY records */
	uint64_t records;
	uint64_t bytes;         /* page bytes sent */
};

typedef void (*page_progress_fn)(uint64_t done_bytes, uint64_t total_bytes, void *arg);

/* Streams the pages of every VMA that carries memory as REC_PAGES records. */
int dump_pages(pid_t pid, const struct fr_image *img, struct fr_stream *s, struct page_stats *st,
	       page_progress_fn progress, void *progress_arg, char *err, size_t errlen);

/* A pre-copy round's pages (ranges sorted and page-aligned; parts outside
 * the VMAs given are ignored): */
struct page_select {
	const struct range_list *whole; /* every present page (a first round, a fresh range) */
	const struct range_list *dirty; /* written since the last round, sent again as they are now:
					 * data, or DISCARD where absent or all-zero anonymous */
	struct range_list *unread;      /* not NULL: the process runs, and what vanishes before it is
					 * read is added here instead of failing the round */
	struct range_list *data;        /* not NULL: gets the private-memory ranges sent as data
					 * (unsorted; zero pages among them may have been elided) */
};
/* The same for the pages sel chooses (sel NULL: every VMA whole). */
int dump_pages_select(pid_t pid, const struct fr_vma *vmas, uint32_t nvmas, const struct page_select *sel,
		      struct fr_stream *s, struct page_stats *st, page_progress_fn progress, void *progress_arg,
		      char *err, size_t errlen);

/* Post-copy: every page of sel-less dump_pages except those of lazy
 * mappings (fr_vma_lazy), whose pages with data are named in REC_LAZY
 * records instead and appended to lazy (sorted). */
int dump_pages_lazy(pid_t pid, const struct fr_image *img, struct fr_stream *s, struct page_stats *st,
		    struct range_list *lazy, page_progress_fn progress, void *progress_arg, char *err, size_t errlen);

/* Writes pages into a process being restored. */
struct page_writer {
	pid_t pid;
	int mem_fd; /* /proc/PID/mem: writes even read-only private mappings */
	const struct fr_vma *vmas;
	uint32_t nvmas;
	uint32_t page_size;
	uint64_t pages;
	/* how the pages landed (atomic; they sum to pages): UFFDIO_COPY into a
	 * registered range, process_vm_writev into a writable mapping (or onto
	 * a page already present in a registered one), pwrite on /proc/PID/mem
	 * for what process_vm_writev cannot write (read-only, shared) */
	uint64_t pages_uffdio_copy, pages_process_vm_writev, pages_proc_mem;
	int uffd; /* userfaultfd of the process with its writable anonymous VMAs
		   * registered (MISSING), or -1: pages then land with UFFDIO_COPY,
		   * which skips the zeroing a normal fault does */
};

int page_writer_open(struct page_writer *pw, pid_t pid, const struct fr_vma *vmas, uint32_t nvmas);
/* Post-copy: page_writer_close leaves the uffd open and registered and
 * hands it over (returns it; -1 if there is none). */
int page_writer_keep_uffd(struct page_writer *pw);
/* Places one REC_PAGES payload; -EBADMSG if it falls outside the restored
 * memory (a corrupted or hostile stream). */
int page_writer_apply(struct page_writer *pw, const struct fr_pages_hdr *h, const uint8_t *data); /* thread-safe */
void page_writer_close(struct page_writer *pw);
/* Registers the writable anonymous VMAs on uffd (a userfaultfd of pw->pid
 * after UFFDIO_API); the writer owns uffd from then on, and unregisters and
 * closes it in page_writer_close. Returns 0, or a negative errno and leaves
 * the writer as it was. */
int page_writer_use_uffd(struct page_writer *pw, int uffd);

#endif

/* dump.h — stop-and-copy checkpoint: precheck (refuse what cannot be
 * restored while the process still runs), freeze, capture, stream everything
 * to an fd, then kill the process or let it run on. If anything fails, the
 * process is thawed exactly as it was. */
#ifndef FERRY_DUMP_H
#define FERRY_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../mem/pages.h"
#include "precopy.h"
#include "../state/stream.h"

struct dump_opts {
	pid_t pid;
	bool leave_running;
	bool shell_job;
	uint64_t ghost_limit; /* --ghost-limit: largest deleted file carried */
	const int *external; /* --external fd:N (capture_opts) */
	size_t nexternal;
	bool header_written; /* the caller sent the preamble and HELLO (a migration) */
	bool attrs_before_freeze; /* read smaps while the process runs; dump_confirm proves it held */
	struct precopy_session *precopy; /* pre-copy rounds ran: send only what changed since */
	struct range_list *lazy; /* post-copy: lazy mappings' pages stay here, listed in it (pages.h) */
	page_progress_fn progress;
	void *progress_arg;
};

struct dump_stats {
	double t_precheck_ms;                                     /* before the freeze: the process runs */
	double t_freeze_ms, t_capture_ms, t_pages_ms, t_total_ms; /* frozen time = t_total_ms */
	uint32_t threads, vmas, files;
	struct page_stats pages;
	uint64_t stream_bytes;
};

/* Writes the whole stream to s. The caller commits the output (rename)
 * before calling dump_finish(), so a process is only killed once its image
 * is safe. */
struct dump_session;
int dump_to_stream(const struct dump_opts *o, struct fr_stream *s, struct dump_stats *st,
		   struct dump_session **session, char *err, size_t errlen);
/* success: kill the process (or let it run with leave_running); failure: thaw. */
void dump_finish(struct dump_session *session, bool success);
/* The VMA records of img's layout (a dump's, or a pre-copy round's). */
int dump_write_layout(struct fr_stream *s, const struct fr_image *img);
/* A DONE or ROUND_END record: the PAGES records and pages p counts. */
int dump_write_counts(struct fr_stream *s, uint16_t type, const struct page_stats *p);
/* The preamble and HELLO record that start every stream. */
int dump_write_header(struct fr_stream *s);
/* Before the commit point, with attrs_before_freeze: waits until the
 * mappings' attributes read before the freeze are proved to still hold in
 * the frozen process. -ESTALE (err says why) if they changed: the stream
 * sent is wrong, the migration must not go on. */
int dump_confirm(struct dump_session *session, char *err, size_t errlen);
/* The commit point of a migration: queue a SIGSTOP, so that the process
 * stays stopped whenever it is let go, even by a dying ferry. */
void dump_hold(struct dump_session *session);
/* Lets go of a held process (it stops at once) and frees the session. */
void dump_detach_held(struct dump_session *session);

#endif

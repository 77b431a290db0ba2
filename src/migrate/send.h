/* send.h — `ferry send`: moving a running process to a `ferry receive` over
 * one channel (TLS with a pre-shared key, or plain TCP). The source process
 * is only ever paused until the destination says READY; any failure before
 * that thaws it as it was. See control.h for the conversation. */
#ifndef FERRY_SEND_H
#define FERRY_SEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../net/channel.h"
#include "../state/compress.h"
#include "../state/control.h"
#include "dump.h"
#include "postcopy.h"
#include "precopy.h"

struct send_opts {
	pid_t pid;
	const char *to;                /* HOST:PORT */
	const struct channel_key *key; /* NULL = --insecure */
	enum fr_mode mode;
	struct precopy_opts precopy; /* convergence rules (pre-copy) */
	bool shell_job;
	uint64_t ghost_limit; /* --ghost-limit: largest deleted file carried */
	const int *external; /* --external fd:N (capture_opts) */
	size_t nexternal;
	int timeout_ms; /* longest wait for the peer at any step */
	uint64_t max_bps; /* --bandwidth in bytes/s, 0 = as fast as the link goes */
	enum fr_compress compress; /* --compress */
	uint32_t postcopy_flags;   /* FR_PC_*: --no-urgent-channel, --no-read-ahead, --no-push */
	uint32_t retry_for_s;      /* --retry-for: post-copy connects again after a break for this long */
	page_progress_fn progress;
	void *progress_arg;
};

struct send_stats {
	double t_total_ms;    /* connect → source gone */
	double t_setup_ms;    /* connect + handshake + offer answered */
	double t_downtime_ms; /* source frozen → destination running */
	double t_build_ms;    /* destination's own time from the last record to READY */
	struct dump_stats dump; /* the frozen part */
	struct precopy_stats precopy;
	struct postcopy_stats postcopy; /* post-copy: after the start on B */
	uint64_t wire_bytes; /* stream bytes sent */
	uint64_t compress_saved; /* page bytes compression kept off the wire */
	pid_t dest_pid;
	char peer[80];
	const char *channel; /* channel_kind() */
};

/* Returns 0 once the process runs at the destination and the source copy is
 * gone. On failure err has one line; *where says what became of the source:
 * "absent" (no such process), "untouched" (never stopped), "resumed"
 * (thawed as it was), or "held" (it
 * is stopped with SIGSTOP and may be running at the destination: the line
 * says how to resolve it). */
int send_process(const struct send_opts *o, struct send_stats *st, const char **where, char *err, size_t errlen);

#endif

/* receive.h — `ferry receive`: the destination of live migrations. Listens,
 * and for each connection (one child process each, so several migrations
 * run at once and one failing cannot take the listener down): handshake,
 * check the offer (the pid is free here, every file the process uses is here
 * and the same), rebuild the process from the stream while it arrives, keep
 * it stopped and answer READY, start it on GO and answer RUNNING. If the
 * source goes away before GO, the half-built process is discarded. */
#ifndef FERRY_RECEIVE_H
#define FERRY_RECEIVE_H

#include <stdbool.h>
#include <stddef.h>

#include "../net/channel.h"
#include "../restore/restore.h"
#include "postcopy_progress.h"

struct receive_opts {
	const char *listen;            /* ADDR:PORT */
	const struct channel_key *key; /* NULL = --insecure */
	bool once;                     /* serve one migration, exit with its result */
	int timeout_ms;
	const char *stats_path;        /* JSON line per migration, or NULL */
	struct restore_opts restore;   /* --inherit-fd, --map-addr: for every process received */
	postcopy_sample_fn postcopy_progress; /* post-copy: each sample of the series, or NULL */
	void *postcopy_progress_arg;
};

/* Serves until interrupted (SIGINT/SIGTERM), or one migration with once.
 * Returns 0, or a negative errno with err filled. */
int receive_serve(const struct receive_opts *o, char *err, size_t errlen);

#endif

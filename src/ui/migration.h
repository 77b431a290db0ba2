/* migration.h — migrations started from the page or the API. Each runs
 * `ferry send`'s own code (send_process, src/migrate/send.c) in a thread of
 * its own, with send's progress hooks feeding its events: "start", each
 * pre-copy round as it begins ("round_start": pages written before it,
 * dirty rate, the predicted pause) and ends ("round": the --stats-json round
 * fields), "bytes" (pages sent over time, at most every
 * MIGRATION_BYTES_EVERY_MS), "frozen" (the switch: rule and predicted
 * pause), in post-copy "postcopy" (every POSTCOPY_SAMPLE_MS from the start
 * at the peer: pages sent so far, by kind, faults served, the rates of the
 * last interval; "final" on the last), then "done" (the full --stats-json
 * object, the measured pause among it) or "failed" (send's error line and
 * where the process is). The events are kept for the history and replayed to every reader (SSE). */
#ifndef FERRY_UI_MIGRATION_H
#define FERRY_UI_MIGRATION_H

#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "../state/control.h"
#include "ui.h"

#define MIGRATIONS_RUNNING_MAX 4   /* at once: each holds a process and a link */
#define MIGRATIONS_KEPT_MAX 1000   /* history entries (the oldest finished go first) */
#define MIGRATION_BYTES_EVERY_MS 50
#define MIGRATION_KEEPALIVE_MS 15000 /* an SSE comment line when nothing happened */

struct migration_request {
	pid_t pid;
	const struct ui_peer *peer;
	enum fr_mode mode;
	double downtime_limit_ms; /* pre-copy knobs, as send's --downtime-limit, */
	uint32_t max_iterations;  /* --max-iterations */
	int timeout_ms;
	double t_received_ms;     /* now_ms() when the request arrived */
};

/* Starts one: 0 and *id, or -EBUSY (that pid is being moved already),
 * -EAGAIN (MIGRATIONS_RUNNING_MAX running), -ENOMEM, with err set. */
int migration_start(const struct migration_request *req, unsigned *id, char *err, size_t errlen);
/* The migration as GET /api/migrations/ID serves it (NULL: no such id). */
json_t *migration_get(unsigned id);
/* Every migration, oldest first, without the events (the history). */
json_t *migration_list(void);

/* A reader of one migration's events: every event from the first on, then
 * live ones until it ends. */
struct migration_reader;
struct migration_reader *migration_reader_open(unsigned id);
/* Up to max bytes of the text/event-stream; blocks until there is
 * something to say; -1 once the migration ended and all was said, or the
 * server stops. */
ssize_t migration_reader_read(struct migration_reader *r, char *buf, size_t max);
void migration_reader_close(struct migration_reader *r);

/* Readers end; running migrations are sent sig (the caller has made
 * interrupted() true with it: they stop as `ferry send` stops on Ctrl-C,
 * their process resumed at the source) and waited for. */
void migrations_stop(int sig);
/* Frees them all, once no reader is left (the HTTP server has stopped). */
void migrations_free(void);

const char *migration_mode_name(enum fr_mode m);

#endif

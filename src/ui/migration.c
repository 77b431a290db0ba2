/* migration.c — see migration.h. One lock guards every migration and its
 * events; a condition variable wakes the event readers when one is added.
 * A migration's thread calls send_process() exactly as `ferry send` does;
 * send's hooks (round_begin, page progress) become events. Migrations stay
 * in memory for the history until ferry ui exits. */
#include "migration.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "../cli/cli.h"
#include "../common/util.h"
#include "../migrate/send.h"
#include "json.h"

struct migration {
	unsigned id;
	struct migration_request req;
	char name[64];        /* the process's name when it was asked for */
	double started_at_ms; /* wall clock, ms since the epoch */
	double t0_ms;         /* now_ms() at the start, for the events' t_ms */
	double ui_start_ms;   /* request received -> send_process() called */
	const char *state;    /* "running", "done", "failed" */
	pthread_t thread;     /* alive while state is "running" (it says otherwise under the lock, last) */
	char error[1024];
	const char *where;    /* send's word for where the process is */
	json_t *events;       /* every event, in order */
	json_t *rounds;       /* the finished pre-copy rounds, --stats-json fields */
	json_t *stats;        /* the --stats-json object once done */
	/* progress, updated by the hooks */
	uint32_t rounds_reported;
	bool frozen;
	double expected_downtime_ms; /* < 0: none yet */
	const char *rule;
	uint64_t bytes_before_phase, bytes_in_phase;
	double last_bytes_ms;
	json_t *postcopy; /* the last "postcopy" event's numbers, or NULL */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static struct migration *all[MIGRATIONS_KEPT_MAX];
static unsigned count, running;
static bool stopping;

const char *migration_mode_name(enum fr_mode m)
{
	static const char *const names[] = {[FR_MODE_STOP_AND_COPY] = "stop-and-copy", [FR_MODE_PRECOPY] = "precopy",
					     [FR_MODE_POSTCOPY] = "postcopy", [FR_MODE_HYBRID] = "hybrid"};
	return names[m];
}

static double wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Adds an event (takes data's reference); with the lock held. */
static void push_event(struct migration *m, const char *type, json_t *data)
{
	if (!data)
		return;
	json_object_set_new(data, "seq", json_integer((json_int_t)json_array_size(m->events)));
	json_object_set_new(data, "type", json_string(type));
	json_object_set_new(data, "t_ms", json_real(now_ms() - m->t0_ms));
	json_array_append_new(m->events, data);
	pthread_cond_broadcast(&changed);
}

static void write_round(FILE *f, const void *round) { cli_send_round_write(f, round); }

/* Rounds [rounds_reported, upto) of st have ended: their "round" events. */
static void report_rounds(struct migration *m, const struct precopy_stats *st, uint32_t upto)
{
	for (; m->rounds_reported < upto; m->rounds_reported++) {
		json_t *rd = ui_json_from_writer(write_round, &st->rounds[m->rounds_reported]);
		if (rd) {
			push_event(m, "round", json_deep_copy(rd)); /* the event gets seq, type, t_ms: not the stats' round */
			json_array_append_new(m->rounds, rd);
		}
	}
}

/* send's round_begin hook: a round starts (rd) or the rounds end (NULL). */
static void on_round(const struct precopy_round *rd, const struct precopy_stats *st, void *arg)
{
	struct migration *m = arg;
	pthread_mutex_lock(&lock);
	report_rounds(m, st, rd ? st->nrounds - 1 : st->nrounds);
	m->bytes_before_phase += m->bytes_in_phase, m->bytes_in_phase = 0;
	if (rd) {
		m->expected_downtime_ms = rd->round > 1 ? rd->expected_downtime_ms : -1;
		push_event(m, "round_start",
			   json_pack("{s:i, s:I, s:f, s:o}", "round", (int)rd->round, "dirty_pages",
				     (json_int_t)rd->dirty_pages, "dirty_rate_pps", rd->dirty_rate,
				     "expected_downtime_ms", rd->round > 1 ? json_real(rd->expected_downtime_ms) : json_null()));
	} else {
		m->frozen = true;
		m->expected_downtime_ms = st->expected_downtime_ms;
		m->rule = precopy_rule_name(st->rule);
		push_event(m, "frozen",
			   json_pack("{s:s, s:f, s:b, s:I}", "rule", m->rule, "expected_downtime_ms",
				     st->expected_downtime_ms, "downtime_fits", st->downtime_fits, "final_dirty_pages",
				     (json_int_t)st->final_dirty_pages));
	}
	pthread_mutex_unlock(&lock);
}

/* send's page progress hook: bytes of pages done in this round (or in the
 * frozen part), at most one event every MIGRATION_BYTES_EVERY_MS. */
static void on_bytes(uint64_t done, uint64_t total, void *arg)
{
	struct migration *m = arg;
	pthread_mutex_lock(&lock);
	if (!m->frozen && m->req.mode != FR_MODE_PRECOPY) {
		m->frozen = true; /* no rounds: the pages (post-copy: all but the lazy ones) are read frozen */
		push_event(m, "frozen", json_pack("{s:n, s:n}", "rule", "expected_downtime_ms"));
	}
	m->bytes_in_phase = done;
	double t = now_ms();
	if (t - m->last_bytes_ms >= MIGRATION_BYTES_EVERY_MS || done == total) {
		m->last_bytes_ms = t;
		push_event(m, "bytes",
			   json_pack("{s:I, s:I, s:I, s:s}", "bytes", (json_int_t)(m->bytes_before_phase + done), "done",
				     (json_int_t)done, "total", (json_int_t)total, "phase", m->frozen ? "frozen" : "round"));
	}
	pthread_mutex_unlock(&lock);
}

/* send's post-copy hook: each sample of its series (every
 * POSTCOPY_SAMPLE_MS, and the last) becomes a "postcopy" event: totals so
 * far (pages sent by kind, faults served: each page request is a fault at
 * the peer) and the rates of the last interval. */
static void on_postcopy(const struct postcopy_series *s, bool final, void *arg)
{
	struct migration *m = arg;
	if (!s->pages_total)
		return; /* hybrid whose pause fit: no post-copy phase */
	const struct postcopy_sample *p = &s->v[s->n - 1];
	double pages_ps, faults_ps, bytes_ps;
	postcopy_series_rates(s, &pages_ps, &faults_ps, &bytes_ps);
	json_t *ev = json_pack("{s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:b}", "postcopy_ms", p->t_ms,
			       "pages", (json_int_t)postcopy_sample_pages(p), "pages_total", (json_int_t)s->pages_total,
			       "urgent", (json_int_t)p->urgent, "readahead", (json_int_t)p->readahead, "bulk",
			       (json_int_t)p->bulk, "faults", (json_int_t)p->faults, "bytes", (json_int_t)p->bytes,
			       "pages_ps", pages_ps, "faults_ps", faults_ps, "bytes_ps", bytes_ps, "final", final);
	pthread_mutex_lock(&lock);
	json_decref(m->postcopy);
	m->postcopy = ev ? json_deep_copy(ev) : NULL;
	push_event(m, "postcopy", ev);
	pthread_mutex_unlock(&lock);
}

struct stats_args {
	const struct send_opts *o;
	const struct send_stats *st;
};

static void write_stats(FILE *f, const void *arg)
{
	const struct stats_args *a = arg;
	cli_send_stats_write(f, a->o, a->st);
}

static void *run(void *arg)
{
	struct migration *m = arg;
	const struct ui_peer *p = m->req.peer;
	struct send_opts o = {
		.pid = m->req.pid, .to = p->address, .key = p->insecure ? NULL : &p->key, .mode = m->req.mode,
		.timeout_ms = m->req.timeout_ms, .progress = on_bytes, .progress_arg = m,
		.postcopy_progress = on_postcopy, .postcopy_progress_arg = m,
		.precopy = {.downtime_limit_ms = m->req.downtime_limit_ms, .max_iterations = m->req.max_iterations,
			    .goal_pct = -1, .round_begin = on_round, .progress = on_bytes, .progress_arg = m}};
	struct send_stats st;
	const char *where;
	char err[1024] = "";
	pthread_mutex_lock(&lock);
	m->ui_start_ms = now_ms() - m->req.t_received_ms;
	pthread_mutex_unlock(&lock);
	int r = send_process(&o, &st, &where, err, sizeof(err));
	struct stats_args sa = {&o, &st};
	json_t *stats = r == 0 ? ui_json_from_writer(write_stats, &sa) : NULL;

	pthread_mutex_lock(&lock);
	report_rounds(m, &st.precopy, st.precopy.nrounds);
	m->where = where;
	if (r == 0 && stats) {
		m->stats = stats;
		m->state = "done";
		push_event(m, "done", json_pack("{s:O}", "stats", stats));
	} else {
		snprintf(m->error, sizeof(m->error), "%s", r == 0 ? "out of memory for the statistics"
						   : err[0]    ? err
							       : strerror(-r));
		m->state = "failed";
		push_event(m, "failed", json_pack("{s:o, s:s}", "error", ui_json_text(m->error), "where", where));
	}
	running--;
	pthread_cond_broadcast(&changed);
	pthread_mutex_unlock(&lock);
	precopy_stats_free(&st.precopy);
	postcopy_stats_free(&st.postcopy);
	return NULL;
}

static void read_comm(pid_t pid, char *out, size_t len)
{
	char path[64], *text = NULL;
	size_t n;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	out[0] = '\0';
	if (read_small_file(path, &text, &n) == 0) {
		snprintf(out, len, "%.*s", (int)strcspn(text, "\n"), text);
		free(text);
	}
}

int migration_start(const struct migration_request *req, unsigned *id, char *err, size_t errlen)
{
	struct migration *m = calloc(1, sizeof(*m));
	if (!m || !(m->events = json_array()) || !(m->rounds = json_array())) {
		if (m)
			json_decref(m->events);
		free(m);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	m->req = *req;
	m->state = "running";
	m->where = "untouched";
	m->expected_downtime_ms = -1;
	m->started_at_ms = wall_ms();
	m->t0_ms = now_ms();
	read_comm(req->pid, m->name, sizeof(m->name));
	int r = 0;
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < count && r == 0; i++)
		if (all[i]->req.pid == req->pid && strcmp(all[i]->state, "running") == 0) {
			snprintf(err, errlen, "pid %d is being migrated already (migration %u)", req->pid, all[i]->id);
			r = -EBUSY;
		}
	if (r == 0 && running >= MIGRATIONS_RUNNING_MAX) {
		snprintf(err, errlen, "%u migrations are running already; wait for one to end", running);
		r = -EAGAIN;
	} else if (r == 0 && count == MIGRATIONS_KEPT_MAX) {
		snprintf(err, errlen, "this ferry ui has run %u migrations, as many as it keeps; restart it", count);
		r = -ENOSPC;
	}
	if (r == 0) {
		m->id = count + 1;
		push_event(m, "start",
			   json_pack("{s:i, s:i, s:o, s:s, s:s, s:f, s:i}", "id", (int)m->id, "pid", (int)req->pid, "name",
				     ui_json_text(m->name), "peer", req->peer->name, "mode", migration_mode_name(req->mode),
				     "downtime_limit_ms", req->downtime_limit_ms, "max_iterations", (int)req->max_iterations));
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if ((r = -pthread_create(&m->thread, &attr, run, m)) < 0)
			snprintf(err, errlen, "cannot start a thread: %s", strerror(-r));
		pthread_attr_destroy(&attr);
	}
	if (r == 0) {
		all[count++] = m;
		running++;
		*id = m->id;
	}
	pthread_mutex_unlock(&lock);
	if (r < 0) {
		json_decref(m->events);
		json_decref(m->rounds);
		free(m);
	}
	return r;
}

static struct migration *find(unsigned id) { return id >= 1 && id <= count ? all[id - 1] : NULL; }

static json_t *num_or_null(double v) { return v >= 0 ? json_real(v) : json_null(); }

/* The fields known so far, named as --stats-json names them. */
static json_t *live_stats(const struct migration *m)
{
	json_t *j = json_pack("{s:s, s:s, s:i, s:s, s:O, s:o, s:o, s:I}", "command", "send", "mode",
			      migration_mode_name(m->req.mode), "pid", (int)m->req.pid, "peer", m->req.peer->address,
			      "rounds", m->rounds, "expected_downtime_ms", num_or_null(m->expected_downtime_ms), "rule",
			      m->rule ? json_string(m->rule) : json_null(), "page_bytes",
			      (json_int_t)(m->bytes_before_phase + m->bytes_in_phase));
	if (j && m->postcopy) /* so far: the last "postcopy" event's numbers */
		json_object_set(j, "postcopy", m->postcopy);
	return j;
}

/* With the lock held. */
static json_t *summary(const struct migration *m)
{
	json_t *j = json_pack("{s:i, s:i, s:o, s:s, s:s, s:s, s:f, s:f, s:i, s:o, s:o, s:s}", "id", (int)m->id, "pid",
			      (int)m->req.pid, "name", ui_json_text(m->name), "peer", m->req.peer->name, "mode",
			      migration_mode_name(m->req.mode), "state", m->state, "started_at_ms", m->started_at_ms,
			      "downtime_limit_ms", m->req.downtime_limit_ms, "max_iterations", (int)m->req.max_iterations,
			      "ui_start_ms", json_real(m->ui_start_ms), "error",
			      m->error[0] ? ui_json_text(m->error) : json_null(), "where", m->where);
	if (!j)
		return NULL;
	json_object_set_new(j, "rounds", json_integer((json_int_t)json_array_size(m->rounds)));
	static const char *const copied[] = {"downtime_ms", "expected_downtime_ms", "total_ms", "wire_bytes", "rule",
					     "dest_pid"};
	for (size_t i = 0; m->stats && i < ARRAY_SIZE(copied); i++)
		json_object_set(j, copied[i], json_object_get(m->stats, copied[i]));
	return j;
}

json_t *migration_get(unsigned id)
{
	pthread_mutex_lock(&lock);
	struct migration *m = find(id);
	json_t *j = m ? summary(m) : NULL;
	if (j) {
		json_object_set_new(j, "stats", m->stats ? json_incref(m->stats) : live_stats(m));
		json_object_set_new(j, "events", json_integer((json_int_t)json_array_size(m->events)));
	}
	pthread_mutex_unlock(&lock);
	return j;
}

json_t *migration_list(void)
{
	json_t *list = json_array();
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; list && i < count; i++)
		json_array_append_new(list, summary(all[i]));
	pthread_mutex_unlock(&lock);
	return list ? json_pack("{s:o}", "migrations", list) : NULL;
}

struct migration_reader {
	struct migration *m;
	size_t next;   /* the next event to send */
	char *pending; /* text not yet handed out */
	size_t len, off;
};

struct migration_reader *migration_reader_open(unsigned id)
{
	pthread_mutex_lock(&lock);
	struct migration *m = find(id);
	pthread_mutex_unlock(&lock);
	struct migration_reader *r = m ? calloc(1, sizeof(*r)) : NULL;
	if (r)
		r->m = m;
	return r;
}

/* The next piece of the stream, with the lock held; false at its end. */
static bool next_piece(struct migration_reader *r)
{
	struct migration *m = r->m;
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += MIGRATION_KEEPALIVE_MS / 1000;
	int w = 0;
	while (r->next >= json_array_size(m->events) && strcmp(m->state, "running") == 0 && !stopping && w != ETIMEDOUT)
		w = pthread_cond_timedwait(&changed, &lock, &deadline);
	if (r->next < json_array_size(m->events)) {
		json_t *ev = json_array_get(m->events, r->next);
		char *data = json_dumps(ev, JSON_COMPACT);
		int n = data ? asprintf(&r->pending, "id: %zu\nevent: %s\ndata: %s\n\n", r->next,
					json_string_value(json_object_get(ev, "type")), data)
			     : -1;
		free(data);
		r->next++;
		r->len = n > 0 ? (size_t)n : 0;
	} else if (w == ETIMEDOUT && !stopping) {
		r->pending = strdup(": keepalive\n\n");
		r->len = r->pending ? strlen(r->pending) : 0;
	} else {
		return false;
	}
	r->off = 0;
	return true;
}

ssize_t migration_reader_read(struct migration_reader *r, char *buf, size_t max)
{
	if (r->off >= r->len) {
		free(r->pending);
		r->pending = NULL, r->len = r->off = 0;
		pthread_mutex_lock(&lock);
		bool more = next_piece(r);
		pthread_mutex_unlock(&lock);
		if (!more)
			return -1;
	}
	size_t n = MIN(max, r->len - r->off);
	memcpy(buf, r->pending + r->off, n);
	r->off += n;
	return (ssize_t)n;
}

void migration_reader_close(struct migration_reader *r)
{
	if (r)
		free(r->pending);
	free(r);
}

void migrations_stop(int sig)
{
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_broadcast(&changed);
	/* the signal may have reached another thread: a migration waiting for
	 * its peer gets it too, so that its wait ends now (EINTR) as send's does */
	for (unsigned i = 0; i < count; i++)
		if (strcmp(all[i]->state, "running") == 0)
			pthread_kill(all[i]->thread, sig);
	while (running)
		pthread_cond_wait(&changed, &lock);
	pthread_mutex_unlock(&lock);
}

void migrations_free(void)
{
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < count; i++) {
		json_decref(all[i]->events);
		json_decref(all[i]->rounds);
		json_decref(all[i]->stats);
		json_decref(all[i]->postcopy);
		free(all[i]);
	}
	count = 0;
	pthread_mutex_unlock(&lock);
}

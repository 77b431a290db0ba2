/* server.c — the HTTP side of `ferry ui` (see ui.h): a libmicrohttpd daemon
 * with a thread per connection (an event stream may wait for long), the
 * access checks (access.c) on every request, and the routes:
 *   GET  /, /app.js, /charts.js, /style.css   the page (assets.c)
 *   GET  /api/processes                       the process trees
 *   GET  /api/processes/PID                   one process, and whether ferry can move it
 *   GET  /api/peers                           the peers, modes and knobs' defaults
 *   GET  /api/migrations                      the history
 *   POST /api/migrations                      {"pid":N,"peer":"NAME","mode":...} -> {"id":N}
 *   GET  /api/migrations/ID                   one migration, live
 *   GET  /api/migrations/ID/events            its events (text/event-stream)
 * Replies are JSON; an error is {"error":"one line"} with its status. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "../common/interrupt.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../mem/dirty.h"
#include "../migrate/precopy.h"
#include "../net/tcp.h"
#include "access.h"
#include "assets.h"
#include "json.h"
#include "migration.h"
#include "proctable.h"
#include "ui.h"

#define BODY_MAX (64 * 1024)      /* a migration request is a few dozen bytes */
#define CONNECTIONS_MAX 128
#define IDLE_TIMEOUT_S 120        /* an event stream says something every MIGRATION_KEEPALIVE_MS */
#define SSE_BLOCK 4096
#define SHUTDOWN_POLL_MS 100

extern volatile sig_atomic_t ferry_interrupt_signal; /* interrupt.c: the stop signal caught */

struct server {
	struct ui_opts *o;
	struct ui_access access;
};

struct request {
	double t_received_ms;
	char *body;
	size_t len;
	bool too_big;
};

/* Queues r with status and the headers every reply gets, and lets it go. */
static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r, const char *mime)
{
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, mime);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Sends j (its reference is taken) with status. */
static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text) {
		text = strdup("{\"error\":\"out of memory\"}");
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		if (!text)
			return MHD_NO;
	}
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	return queue(c, status, r, "application/json");
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
	char msg[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return reply_json(c, status, json_pack("{s:o}", "error", ui_json_text(msg)));
}

static enum MHD_Result reply_asset(struct server *s, struct MHD_Connection *c, const struct ui_asset *a)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	if (ui_access_token_in_query(&s->access, c)) { /* the page's own requests carry it from now on */
		char cookie[UI_TOKEN_MAX + 64];
		snprintf(cookie, sizeof(cookie), UI_TOKEN_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict", s->access.token);
		MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, cookie);
	}
	return queue(c, MHD_HTTP_OK, r, a->mime);
}

/* "123" or "123/rest": the number and *rest (NULL if none); -1 if none. */
static long leading_number(const char *s, const char **rest)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	long v = strtol(s, &end, 10);
	if (v <= 0 || v > INT32_MAX || (*end && *end != '/'))
		return -1;
	*rest = *end ? end : NULL;
	return v;
}

static enum MHD_Result get_processes(struct MHD_Connection *c, const char *rest)
{
	char err[1024];
	if (!*rest) {
		json_t *t = proctable_tree(err, sizeof(err));
		return t ? reply_json(c, MHD_HTTP_OK, t) : reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", err);
	}
	const char *after;
	long pid = leading_number(rest + 1, &after);
	if (rest[0] != '/' || pid < 0 || after)
		return reply_error(c, MHD_HTTP_NOT_FOUND, "no such resource: /api/processes%s", rest);
	json_t *d;
	int r = proctable_details((pid_t)pid, &d, err, sizeof(err));
	if (r < 0)
		return reply_error(c, r == -ESRCH ? MHD_HTTP_NOT_FOUND : MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", err);
	return reply_json(c, MHD_HTTP_OK, d);
}

static bool precopy_available(void) { return dirty_backend_best() != DIRTY_NONE; }

static enum MHD_Result get_peers(struct server *s, struct MHD_Connection *c)
{
	json_t *peers = json_array(), *modes = json_array();
	for (int i = 0; peers && i < s->o->npeers; i++)
		json_array_append_new(peers, json_pack("{s:s, s:s, s:s}", "name", s->o->peers[i].name, "address",
						       s->o->peers[i].address, "channel",
						       s->o->peers[i].insecure ? "plain TCP" : "TLS 1.3 (pre-shared key)"));
	if (modes && precopy_available())
		json_array_append_new(modes, json_string(migration_mode_name(FR_MODE_PRECOPY)));
	if (modes) {
		json_array_append_new(modes, json_string(migration_mode_name(FR_MODE_STOP_AND_COPY)));
		json_array_append_new(modes, json_string(migration_mode_name(FR_MODE_POSTCOPY)));
		if (precopy_available())
			json_array_append_new(modes, json_string(migration_mode_name(FR_MODE_HYBRID)));
	}
	char host[256] = "?";
	gethostname(host, sizeof(host) - 1);
	return reply_json(c, MHD_HTTP_OK,
			  json_pack("{s:o, s:o, s:o, s:f, s:i, s:i}", "host", ui_json_text(host), "peers", peers, "modes",
				    modes, "downtime_limit_ms", (double)PRECOPY_DOWNTIME_LIMIT_MS_DEFAULT, "max_iterations",
				    PRECOPY_MAX_ITERATIONS_DEFAULT, "max_iterations_max", PRECOPY_MAX_ITERATIONS_MAX));
}

/* The body of POST /api/migrations into *m; 0, or -1 with err set. */
static int parse_migration(struct server *s, const struct request *rq, struct migration_request *m, char *err,
			   size_t errlen)
{
	json_error_t je;
	json_t *b = rq->too_big ? NULL : json_loadb(rq->body ? rq->body : "", rq->len, 0, &je);
	int r = -1;
	*m = (struct migration_request){.mode = precopy_available() ? FR_MODE_PRECOPY : FR_MODE_STOP_AND_COPY,
					.downtime_limit_ms = PRECOPY_DOWNTIME_LIMIT_MS_DEFAULT,
					.max_iterations = PRECOPY_MAX_ITERATIONS_DEFAULT, .timeout_ms = s->o->timeout_ms,
					.t_received_ms = rq->t_received_ms};
	const char *key;
	json_t *v;
	if (rq->too_big)
		snprintf(err, errlen, "the request body is larger than %d bytes", BODY_MAX);
	else if (!json_is_object(b))
		snprintf(err, errlen, "the body must be a JSON object like {\"pid\":N,\"peer\":\"NAME\"}%s%s",
			 b ? "" : ": ", b ? "" : je.text);
	else
		r = 0;
	json_object_foreach(b, key, v) {
		if (r < 0)
			break;
		r = -1;
		if (strcmp(key, "pid") == 0) {
			if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) <= INT32_MAX)
				m->pid = (pid_t)json_integer_value(v), r = 0;
			else
				snprintf(err, errlen, "\"pid\" takes a positive whole number");
		} else if (strcmp(key, "peer") == 0) {
			for (int i = 0; json_is_string(v) && i < s->o->npeers; i++)
				if (strcmp(json_string_value(v), s->o->peers[i].name) == 0)
					m->peer = &s->o->peers[i], r = 0;
			if (r < 0)
				snprintf(err, errlen, "\"peer\" must name one of the peers given with --peer (GET /api/peers)");
		} else if (strcmp(key, "mode") == 0) {
			const char *mode = json_is_string(v) ? json_string_value(v) : "";
			if (strcmp(mode, "stop-and-copy") == 0)
				m->mode = FR_MODE_STOP_AND_COPY, r = 0;
			else if ((strcmp(mode, "precopy") == 0 || strcmp(mode, "pre-copy") == 0) && precopy_available())
				m->mode = FR_MODE_PRECOPY, r = 0;
			else if (strcmp(mode, "postcopy") == 0 || strcmp(mode, "post-copy") == 0)
				m->mode = FR_MODE_POSTCOPY, r = 0;
			else if (strcmp(mode, "hybrid") == 0 && precopy_available())
				m->mode = FR_MODE_HYBRID, r = 0;
			else
				snprintf(err, errlen, "mode '%s' is not available here (%s)", mode,
					 precopy_available() ? "precopy, stop-and-copy, postcopy, hybrid" : "stop-and-copy, postcopy");
		} else if (strcmp(key, "downtime_limit_ms") == 0) {
			double ms = json_number_value(v);
			if (json_is_number(v) && ms >= 0 && ms <= 3600e3)
				m->downtime_limit_ms = ms, r = 0;
			else
				snprintf(err, errlen, "\"downtime_limit_ms\" takes milliseconds from 0 to 3600000");
		} else if (strcmp(key, "max_iterations") == 0) {
			json_int_t n = json_integer_value(v);
			if (json_is_integer(v) && n >= 1 && n <= PRECOPY_MAX_ITERATIONS_MAX)
				m->max_iterations = (uint32_t)n, r = 0;
			else
				snprintf(err, errlen, "\"max_iterations\" takes a whole number from 1 to %d",
					 PRECOPY_MAX_ITERATIONS_MAX);
		} else {
			snprintf(err, errlen, "unknown field \"%s\" (pid, peer, mode, downtime_limit_ms, max_iterations)",
				 key);
		}
	}
	if (r == 0 && (!m->pid || !m->peer)) {
		snprintf(err, errlen, "\"pid\" and \"peer\" are required");
		r = -1;
	}
	json_decref(b);
	return r;
}

static enum MHD_Result post_migration(struct server *s, struct MHD_Connection *c, const struct request *rq)
{
	const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!type || strncasecmp(type, "application/json", 16) != 0)
		return reply_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "the body must be sent as application/json");
	struct migration_request m;
	char err[1024];
	if (parse_migration(s, rq, &m, err, sizeof(err)) < 0)
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "%s", err);
	if (kill(m.pid, 0) < 0 && errno == ESRCH)
		return reply_error(c, MHD_HTTP_NOT_FOUND, "no process with pid %d", m.pid);
	unsigned id;
	int r = migration_start(&m, &id, err, sizeof(err));
	if (r < 0)
		return reply_error(c, r == -EBUSY ? MHD_HTTP_CONFLICT : MHD_HTTP_SERVICE_UNAVAILABLE, "%s", err);
	char url[64];
	snprintf(url, sizeof(url), "/api/migrations/%u", id);
	return reply_json(c, MHD_HTTP_CREATED, json_pack("{s:i, s:s}", "id", (int)id, "url", url));
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	ssize_t n = migration_reader_read(cls, buf, max);
	return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void sse_free(void *cls) { migration_reader_close(cls); }

static enum MHD_Result get_events(struct MHD_Connection *c, unsigned id)
{
	struct migration_reader *rd = migration_reader_open(id);
	if (!rd)
		return reply_error(c, MHD_HTTP_NOT_FOUND, "no migration %u", id);
	struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, sse_read, rd, sse_free);
	if (!r) {
		migration_reader_close(rd);
		return MHD_NO;
	}
	return queue(c, MHD_HTTP_OK, r, "text/event-stream");
}

static enum MHD_Result route_migrations(struct server *s, struct MHD_Connection *c, const char *method,
					const char *rest, const struct request *rq)
{
	if (!*rest) {
		if (strcmp(method, "POST") == 0)
			return post_migration(s, c, rq);
		json_t *l = migration_list();
		return l ? reply_json(c, MHD_HTTP_OK, l) : reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	}
	const char *after;
	long id = rest[0] == '/' ? leading_number(rest + 1, &after) : -1;
	if (id < 0 || (after && strcmp(after, "/events") != 0))
		return reply_error(c, MHD_HTTP_NOT_FOUND, "no such resource: /api/migrations%s", rest);
	if (after)
		return get_events(c, (unsigned)id);
	json_t *m = migration_get((unsigned)id);
	return m ? reply_json(c, MHD_HTTP_OK, m) : reply_error(c, MHD_HTTP_NOT_FOUND, "no migration %ld", id);
}

static enum MHD_Result route(struct server *s, struct MHD_Connection *c, const char *url, const char *method,
			     const struct request *rq)
{
	bool get = strcmp(method, "GET") == 0;
	if (strncmp(url, "/api/migrations", 15) == 0 && (url[15] == '\0' || url[15] == '/')) {
		if (!get && !(strcmp(method, "POST") == 0 && url[15] == '\0'))
			return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "%s is not allowed on %s", method, url);
		return route_migrations(s, c, method, url + 15, rq);
	}
	if (!get)
		return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "%s is not allowed on %s", method, url);
	if (strncmp(url, "/api/processes", 14) == 0 && (url[14] == '\0' || url[14] == '/'))
		return get_processes(c, url + 14);
	if (strcmp(url, "/api/peers") == 0)
		return get_peers(s, c);
	struct ui_asset a;
	if (ui_asset_find(strcmp(url, "/index.html") == 0 ? "/" : url, &a) == 0)
		return reply_asset(s, c, &a);
	return reply_error(c, MHD_HTTP_NOT_FOUND, "no such resource: %s", url);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct server *s = cls;
	struct request *rq = *con_cls;
	if (!rq) { /* the headers are in: check access before reading any body */
		const char *why;
		unsigned status = ui_access_check(&s->access, c, method, &why);
		if (status)
			return reply_error(c, status, "%s", why);
		if (!(rq = calloc(1, sizeof(*rq))))
			return MHD_NO;
		rq->t_received_ms = now_ms();
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_size) {
		if (rq->len + *upload_size > BODY_MAX) {
			rq->too_big = true;
		} else {
			char *nb = realloc(rq->body, rq->len + *upload_size + 1);
			if (!nb)
				return MHD_NO;
			memcpy(nb + rq->len, upload, *upload_size);
			rq->body = nb;
			rq->len += *upload_size;
			rq->body[rq->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	return route(s, c, url, method, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *con_cls;
	if (rq)
		free(rq->body);
	free(rq);
	*con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	pr_info("http: %s", line);
}

int ui_serve(struct ui_opts *o, char *err, size_t errlen)
{
	struct net_addr a;
	int r = net_parse_addr(o->listen, true, &a, err, errlen);
	if (r < 0)
		return r;
	bool loopback = ui_addr_is_loopback((const struct sockaddr *)&a.ss);
	if (!loopback && !o->token[0] && (r = ui_token_make(o->token, sizeof(o->token))) < 0) {
		snprintf(err, errlen, "cannot make an access token: %s", strerror(-r));
		return r;
	}
	int fd = net_listen(&a, err, errlen);
	if (fd < 0)
		return fd;
	struct server s = {.o = o, .access = {.token = o->token}};
	interrupt_catch(); /* as ferry send: a stop signal resumes the processes being moved */
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
		on_request, &s, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)IDLE_TIMEOUT_S, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_END);
	if (!d) {
		close(fd);
		snprintf(err, errlen, "cannot start the HTTP server on %s", a.text);
		return -EIO;
	}
	char where[400];
	snprintf(where, sizeof(where), "http://%s/", a.text[0] == ':' ? "0.0.0.0" : a.text);
	if (o->token_given)
		fprintf(stderr, "ferry ui: listening on %s (the token of --token-file is needed on every request)\n",
			where);
	else if (o->token[0])
		fprintf(stderr, "ferry ui: listening on %s?token=%s (the access token is needed on every request)\n",
			where, o->token);
	else
		fprintf(stderr, "ferry ui: listening on %s\n", where);
	while (!interrupted()) {
		struct timespec ts = {0, SHUTDOWN_POLL_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "ferry ui: stopping; waiting for the migrations still running\n");
	migrations_stop((int)ferry_interrupt_signal);
	MHD_stop_daemon(d); /* closes the listening socket too */
	migrations_free();
	return 0;
}

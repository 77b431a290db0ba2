/* ui.h — `ferry ui`: one web page and a JSON API over HTTP (libmicrohttpd,
 * JSON by jansson) to see this host's process trees, ask ferry whether a
 * process can move, migrate it to a configured peer with `ferry send`'s own
 * code (src/migrate/send.c) and follow the migration live (server-sent
 * events). The layer's files: server.c (the daemon and the routes),
 * access.c (token, origin and host checks), proctable.c (the processes),
 * migration.c (migrations, their events and history), assets.c (the page,
 * embedded in the binary). */
#ifndef FERRY_UI_H
#define FERRY_UI_H

#include <stdbool.h>
#include <stddef.h>

#include "../net/channel.h"

#define UI_PEERS_MAX 16
#define UI_TOKEN_MAX 128

struct ui_peer {
	char name[64];
	char address[300];      /* HOST:PORT of its `ferry receive` */
	struct channel_key key; /* unused when insecure */
	bool insecure;          /* plain TCP (its receive runs --insecure) */
};

struct ui_opts {
	const char *listen;            /* ADDR:PORT */
	struct ui_peer peers[UI_PEERS_MAX];
	int npeers;
	char token[UI_TOKEN_MAX + 1];  /* "" = no token (loopback only) */
	bool token_given;              /* from --token-file */
	int timeout_ms;                /* send's --timeout for every migration */
};

/* Serves until SIGINT/SIGTERM/SIGHUP; migrations still running then are
 * interrupted as `ferry send` is (the process resumes at the source) and
 * waited for. On a bind other than loopback a token is required: made here
 * (and printed) unless one was given. 0, or a negative errno with err set. */
int ui_serve(struct ui_opts *o, char *err, size_t errlen);

#endif

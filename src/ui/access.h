/* access.h — who may use `ferry ui`: on a loopback bind anyone on this host
 * (and the Host header must name loopback, against DNS rebinding); on any
 * other bind, only requests carrying the access token (Authorization:
 * Bearer, ?token= or the ferry_token cookie the page gets). State-changing
 * requests must also come from the page itself: a cross-site Origin or
 * Sec-Fetch-Site is refused. */
#ifndef FERRY_UI_ACCESS_H
#define FERRY_UI_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <microhttpd.h>

#define UI_TOKEN_BYTES 16 /* 128 random bits, 32 hex digits */
#define UI_TOKEN_COOKIE "ferry_token"

struct ui_access {
	const char *token; /* NULL or "": no token needed (loopback bind) */
};

bool ui_addr_is_loopback(const struct sockaddr *sa);
/* 32 hex digits from getrandom into out (>= 2 * UI_TOKEN_BYTES + 1). */
int ui_token_make(char *out, size_t len);
/* 0 if the request may go on; else the HTTP status (401, 403) and *why. */
unsigned ui_access_check(const struct ui_access *a, struct MHD_Connection *c, const char *method,
			 const char **why);
/* The request carried the token in its query string (?token=): the page
 * then sets the cookie so that its own requests carry it. */
bool ui_access_token_in_query(const struct ui_access *a, struct MHD_Connection *c);

#endif

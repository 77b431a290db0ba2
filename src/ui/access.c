/* access.c — see access.h. */
#include "access.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "../common/util.h"

bool ui_addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

int ui_token_make(char *out, size_t len)
{
	uint8_t raw[UI_TOKEN_BYTES];
	if (len < 2 * sizeof(raw) + 1)
		return -EINVAL;
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return neg_errno();
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

/* Compares without stopping at the first difference. */
static bool token_equal(const char *given, const char *token)
{
	size_t n = strlen(token);
	if (!given || strlen(given) != n)
		return false;
	unsigned char diff = 0;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(given[i] ^ token[i]);
	return diff == 0;
}

static bool has_token(const struct ui_access *a, struct MHD_Connection *c)
{
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (auth && strncasecmp(auth, "Bearer ", 7) == 0 && token_equal(auth + 7, a->token))
		return true;
	return ui_access_token_in_query(a, c) ||
	       token_equal(MHD_lookup_connection_value(c, MHD_COOKIE_KIND, UI_TOKEN_COOKIE), a->token);
}

bool ui_access_token_in_query(const struct ui_access *a, struct MHD_Connection *c)
{
	return a->token && a->token[0] &&
	       token_equal(MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token"), a->token);
}

/* "127.0.0.1:8080", "localhost", "[::1]:8080" */
static bool host_is_loopback(const char *host)
{
	if (!host)
		return false;
	char name[256];
	snprintf(name, sizeof(name), "%s", host);
	char *end = name[0] == '[' ? strchr(name, ']') : strrchr(name, ':');
	if (name[0] == '[') {
		if (!end)
			return false;
		*end = '\0';
		return strcmp(name + 1, "::1") == 0;
	}
	if (end)
		*end = '\0';
	struct in_addr v4;
	if (strcasecmp(name, "localhost") == 0)
		return true;
	return inet_pton(AF_INET, name, &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

/* A state-changing request must not come from another site: the Origin,
 * when the browser sends one, names this very host, and Sec-Fetch-Site (sent
 * by current browsers) is not cross-site or same-site. */
static bool same_origin(struct MHD_Connection *c)
{
	const char *site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
	if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
		return false;
	const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	if (!origin)
		return true; /* not a browser (curl), or a same-origin GET */
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	const char *rest = strncmp(origin, "http://", 7) == 0 ? origin + 7 : NULL;
	return rest && host && strcasecmp(rest, host) == 0;
}

unsigned ui_access_check(const struct ui_access *a, struct MHD_Connection *c, const char *method, const char **why)
{
	if (a->token && a->token[0]) {
		if (!has_token(a, c)) {
			*why = "this ferry ui needs its access token (Authorization: Bearer TOKEN, or ?token=TOKEN)";
			return MHD_HTTP_UNAUTHORIZED;
		}
	} else if (!host_is_loopback(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST))) {
		*why = "this ferry ui listens on loopback only: the Host header must name it (127.0.0.1, localhost)";
		return MHD_HTTP_FORBIDDEN;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 && !same_origin(c)) {
		*why = "cross-site requests may not change anything here";
		return MHD_HTTP_FORBIDDEN;
	}
	return 0;
}

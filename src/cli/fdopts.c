/* fdopts.c — the options that declare fds and addresses across a move:
 * `--external fd:N` (dump, send), `--inherit-fd N:FD` and `--map-addr
 * OLD=NEW` (restore, receive). Each adds one entry to a growing list the
 * caller frees. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"
#include "fdopts.h"

#define FD_NUMBER_MAX (1 << 30) /* fs.nr_open's ceiling */

static int fd_number(const char *s, const char *end)
{
	double v;
	char num[16];
	size_t len = (size_t)(end - s);
	if (len == 0 || len >= sizeof(num))
		return -1;
	memcpy(num, s, len);
	num[len] = '\0';
	if (strspn(num, "0123456789") != len || cli_parse_number(num, 0, FD_NUMBER_MAX, &v) < 0)
		return -1;
	return (int)v;
}

/* Appends the element `item` of size `size` to *list (n elements); 0, or
 * -1 with the error printed. */
static int append(const char *cmd, void *list, size_t *n, size_t size, const void *item)
{
	char **lp = list, *nl = realloc(*lp, (*n + 1) * size);
	if (!nl) {
		cli_error(cmd, "out of memory");
		return -1;
	}
	*lp = nl;
	memcpy(nl + *n * size, item, size);
	(*n)++;
	return 0;
}

int cli_add_external(const char *cmd, const char *arg, int **list, size_t *n)
{
	int fd = strncmp(arg, "fd:", 3) == 0 ? fd_number(arg + 3, arg + strlen(arg)) : -1;
	if (fd < 0) {
		cli_error(cmd, "--external '%s': expected fd:N (an fd number of the process)", arg);
		return -1;
	}
	return append(cmd, list, n, sizeof(fd), &fd);
}

int cli_add_inherit(const char *cmd, const char *arg, struct restore_inherit **list, size_t *n)
{
	const char *colon = strchr(arg, ':');
	int fd = colon ? fd_number(arg, colon) : -1, from = colon ? fd_number(colon + 1, arg + strlen(arg)) : -1;
	if (fd < 0 || from < 0) {
		cli_error(cmd, "--inherit-fd '%s': expected N:FD (the process's fd N gets ferry's fd FD)", arg);
		return -1;
	}
	struct restore_inherit e = {.fd = fd, .from = from};
	return append(cmd, list, n, sizeof(e), &e);
}

int cli_add_map_addr(const char *cmd, const char *arg, struct restore_addr_map **list, size_t *n)
{
	char old[INET6_ADDRSTRLEN + 1] = "", new[INET6_ADDRSTRLEN + 1] = "";
	const char *eq = strchr(arg, '=');
	struct restore_addr_map m = {0};
	if (eq && (size_t)(eq - arg) < sizeof(old) && strlen(eq + 1) < sizeof(new)) {
		memcpy(old, arg, (size_t)(eq - arg));
		strcpy(new, eq + 1);
		m.family = strchr(old, ':') ? AF_INET6 : AF_INET;
	}
	if (!m.family || inet_pton(m.family, old, m.from) != 1 || inet_pton(m.family, new, m.to) != 1) {
		cli_error(cmd, "--map-addr '%s': expected OLD=NEW, two IPv4 or two IPv6 addresses", arg);
		return -1;
	}
	return append(cmd, list, n, sizeof(m), &m);
}

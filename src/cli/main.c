/* main.c — `ferry` entry point: global options and subcommand dispatch. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../migrate/postcopy_progress.h"
#include "../net/channel.h"
#include "../state/model.h"
#include "cli.h"

static const char usage[] =
	"Usage: ferry [-v|-vv] COMMAND [OPTIONS]\n"
	"\n"
	"ferry checkpoints, restores and live-migrates running Linux processes.\n"
	"\n"
	"Commands:\n"
	"  check     report which kernel features ferry can use on this machine\n"
	"  dump      checkpoint a running process into an image directory\n"
	"  restore   recreate a process from an image directory, with its pid\n"
	"  send      live-migrate a running process to a `ferry receive`\n"
	"  receive   accept live migrations from `ferry send`\n"
	"  ui        a web page and JSON API: process trees, migrations, live charts\n"
	"\n"
	"Global options:\n"
	"  -v, -vv   more detail on stderr (info, debug), with timestamps\n"
	"  -h, --help  this text; `ferry COMMAND --help` explains a command\n"
	"  --version   print the version\n"
	"\n"
	"Exit status: 0 on success, 1 on failure (one line `ferry: ...` on stderr);\n"
	"`ferry restore` without --detach exits with the restored process's status.\n";

void cli_error(const char *cmd, const char *fmt, ...)
{
	cli_progress_end();
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "ferry: %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static bool progress_shown;
static double progress_t0; /* first call of this operation */
static double progress_last; /* last line drawn */

#define PROGRESS_REDRAW_MS 100 /* at most ten lines a second */
#define PROGRESS_WIDTH 30

/* Whether to draw now (a terminal, and a redraw's time has come or end);
 * fills bar with done/total of it. */
static bool progress_bar(uint64_t done, uint64_t total, bool end, double *now, char bar[PROGRESS_WIDTH + 1])
{
	if (!isatty(STDERR_FILENO) || total == 0)
		return false;
	*now = now_ms();
	if (!progress_shown)
		progress_t0 = *now;
	if (progress_shown && !end && *now - progress_last < PROGRESS_REDRAW_MS)
		return false;
	progress_last = *now;
	int fill = (int)((double)MIN(done, total) / (double)total * PROGRESS_WIDTH);
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, '.', (size_t)(PROGRESS_WIDTH - fill));
	bar[PROGRESS_WIDTH] = '\0';
	progress_shown = true;
	return true;
}

void cli_progress(uint64_t done, uint64_t total, void *label)
{
	char bar[PROGRESS_WIDTH + 1];
	double now;
	if (!progress_bar(done, total, done >= total, &now, bar))
		return;
	double secs = (now - progress_t0) / 1e3;
	double rate = secs > 0 ? (double)done / secs : 0; /* bytes/s */
	double eta = rate > 0 ? (double)(total - done) / rate : 0;
	fprintf(stderr, "\r%s [%s] %5.1f%% of %llu MiB, %.0f MiB/s, %.1f s left  ", (const char *)label, bar,
		100.0 * (double)done / (double)total, (unsigned long long)(total >> 20), rate / (1 << 20), eta);
}

void cli_postcopy_progress(const struct postcopy_series *s, bool final, void *label)
{
	if (s->n == 1)
		cli_progress_end(); /* the line of the frozen part (or the rounds) */
	const struct postcopy_sample *p = &s->v[s->n - 1];
	uint64_t done = postcopy_sample_pages(p);
	char bar[PROGRESS_WIDTH + 1];
	double now;
	if (!progress_bar(done, s->pages_total, final, &now, bar))
		return;
	double pages_ps, faults_ps, bytes_ps;
	postcopy_series_rates(s, &pages_ps, &faults_ps, &bytes_ps);
	fprintf(stderr, "\r%s [%s] %llu/%llu pages (%.1f%%), %.0f faults/s, %.1f MiB/s  ", (const char *)label, bar,
		(unsigned long long)done, (unsigned long long)s->pages_total,
		100.0 * (double)done / (double)s->pages_total, faults_ps, bytes_ps / (1 << 20));
	if (final)
		cli_progress_end();
}

void cli_progress_end(void)
{
	if (progress_shown)
		fputc('\n', stderr);
	progress_shown = false;
}

FILE *cli_open_stats(const char *cmd, const char *path)
{
	if (!path)
		return NULL;
	if (strcmp(path, "-") == 0)
		return stdout;
	FILE *f = fopen(path, "we");
	if (!f)
		cli_error(cmd, "cannot write stats to %s: %m", path);
	return f;
}

void cli_close_stats(FILE *f)
{
	if (f && f != stdout)
		fclose(f);
	else if (f)
		fflush(f);
}

int cli_parse_pid(const char *s)
{
	char *e;
	long v = strtol(s, &e, 10);
	return (*s && !*e && v > 0 && v < (1 << 22)) ? (int)v : -1;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	char *end;
	double v = strtod(s, &end);
	double mult = 1;
	if (*end == 'K' || *end == 'k')
		mult = 1024, end++;
	else if (*end == 'M' || *end == 'm')
		mult = 1024 * 1024, end++;
	else if (*end == 'G' || *end == 'g')
		mult = 1024.0 * 1024 * 1024, end++;
	if (end == s || *end || v <= 0 || v * mult < 1 || v * mult > 1e15)
		return -1;
	*out = (uint64_t)(v * mult);
	return 0;
}

int cli_parse_ghost_limit(const char *cmd, const char *arg, uint64_t *out)
{
	if (cli_parse_size(arg, out) < 0 || *out > FR_CONTENTS_MAX) {
		cli_error(cmd, "--ghost-limit takes a size up to %uM (K, M: powers of 1024), not '%s'",
			  FR_CONTENTS_MAX >> 20, arg);
		return -1;
	}
	return 0;
}

int cli_parse_number(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (!*s || *end || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

int cli_parse_timeout(const char *cmd, const char *arg, int *ms)
{
	char *end;
	long s = strtol(arg, &end, 10);
	if (!*arg || *end || s < 1 || s > CLI_TIMEOUT_MAX_S) {
		cli_error(cmd, "--timeout takes 1 to %d seconds, not '%s'", CLI_TIMEOUT_MAX_S, arg);
		return -1;
	}
	*ms = (int)s * 1000;
	return 0;
}

int cli_channel_key(const char *cmd, const char *key_path, bool insecure, struct channel_key *key,
		    const struct channel_key **out)
{
	*out = NULL;
	if (!key_path == !insecure) {
		cli_error(cmd, "give --key-file FILE, or --insecure for plain TCP (see ferry %s --help)", cmd);
		return -1;
	}
	if (!key_path)
		return 0;
	char err[512];
	if (channel_key_load(key_path, key, err, sizeof(err)) < 0) {
		cli_error(cmd, "%s", err);
		return -1;
	}
	*out = key;
	return 0;
}

int main(int argc, char **argv)
{
	log_init();
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-v") == 0)
			log_verbosity = LOG_INFO;
		else if (strcmp(argv[i], "-vv") == 0)
			log_verbosity = LOG_DEBUG;
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("ferry %s (stream format %d)\n", FERRY_VERSION, 1);
			return 0;
		} else {
			fprintf(stderr, "ferry: unknown option %s\n%s", argv[i], usage);
			return 1;
		}
	}
	if (i >= argc) {
		fputs(usage, stderr);
		return 1;
	}
	const char *cmd = argv[i];
	int sub_argc = argc - i;
	char **sub_argv = argv + i;
	if (strcmp(cmd, "check") == 0)
		return cmd_check(sub_argc, sub_argv);
	if (strcmp(cmd, "dump") == 0)
		return cmd_dump(sub_argc, sub_argv);
	if (strcmp(cmd, "restore") == 0)
		return cmd_restore(sub_argc, sub_argv);
	if (strcmp(cmd, "send") == 0)
		return cmd_send(sub_argc, sub_argv);
	if (strcmp(cmd, "receive") == 0)
		return cmd_receive(sub_argc, sub_argv);
	if (strcmp(cmd, "ui") == 0)
		return cmd_ui(sub_argc, sub_argv);
	fprintf(stderr, "ferry: unknown command '%s' (try ferry --help)\n", cmd);
	return 1;
}

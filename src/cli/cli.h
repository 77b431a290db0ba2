/* cli.h — the `ferry` command: subcommands, their --help, the progress bar
 * and JSON statistics. Only the CLI prints to stdout or exits. */
#ifndef FERRY_CLI_H
#define FERRY_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

int cmd_check(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_receive(int argc, char **argv);
int cmd_ui(int argc, char **argv);

/* Prints "ferry: <cmd>: <msg>" on stderr. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A progress bar on stderr when it is a terminal (arg: the label). */
void cli_progress(uint64_t done, uint64_t total, void *label);
/* The post-copy line (pages moved / total, faults/s, MiB/s), the same way:
 * the hook of struct postcopy_series (label: its text). */
struct postcopy_series;
void cli_postcopy_progress(const struct postcopy_series *s, bool final, void *label);
void cli_progress_end(void);
/* Opens the --stats file ("-" = stdout); NULL with an error printed on failure. */
FILE *cli_open_stats(const char *cmd, const char *path);
void cli_close_stats(FILE *f);
/* Parses a positive pid; returns -1 if invalid. */
int cli_parse_pid(const char *s);
/* --timeout SECONDS into *ms; -1 with the error printed if invalid. */
#define CLI_TIMEOUT_MAX_S 3600
#define CLI_TIMEOUT_DEFAULT_S 30
/* A decimal number in [lo, hi]: 0, or -1 if s is not one. */
int cli_parse_number(const char *s, double lo, double hi, double *out);
/* A positive byte count with an optional K, M or G (powers of 1024): 0, or
 * -1 if s is not one. */
int cli_parse_size(const char *s, uint64_t *out);
/* --ghost-limit SIZE (at most FR_CONTENTS_MAX); -1 with the error printed. */
int cli_parse_ghost_limit(const char *cmd, const char *arg, uint64_t *out);
int cli_parse_timeout(const char *cmd, const char *arg, int *ms);
/* Exactly one of --key-file and --insecure: loads the key into *key and sets
 * *out to it (NULL for --insecure); -1 with the error printed otherwise. */
struct channel_key;
int cli_channel_key(const char *cmd, const char *key_path, bool insecure, struct channel_key *key,
		    const struct channel_key **out);

/* --stats-json of `ferry send` (send_stats.c): one pre-copy round as a JSON
 * object, and the whole run as one line ending in a newline. */
struct precopy_round;
struct send_opts;
struct send_stats;
void cli_send_round_write(FILE *f, const struct precopy_round *r);
void cli_send_stats_write(FILE *f, const struct send_opts *o, const struct send_stats *st);

#define IMAGE_FILE "image.ferry"

#endif

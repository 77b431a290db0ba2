/* proctable.h — this host's processes for the page and the API, read from
 * /proc: the trees as `ps -H` shows them (name, pid, threads, RSS, state,
 * user, children), and one process in detail (command line, user, open
 * fds, mappings) with ferry's own verdict on moving it: precheck.c's, the
 * check `ferry send` runs first, so the reason shown is the one send gives. */
#ifndef FERRY_UI_PROCTABLE_H
#define FERRY_UI_PROCTABLE_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#define PROCTABLE_FDS_MAX 1024  /* fds listed in a process's details; more are counted */
#define PROCTABLE_MAPS_MAX 2048 /* mappings likewise */

/* {"host":..., "count":N, "processes":[root, ...]}, each process
 * {"pid","ppid","name","state","threads","rss_kb","user","children":[...]},
 * children in pid order. NULL with err set on failure. */
json_t *proctable_tree(char *err, size_t errlen);
/* The details of pid: 0, -ESRCH (no such process) or another negative
 * errno, with err set. */
int proctable_details(pid_t pid, json_t **out, char *err, size_t errlen);

#endif

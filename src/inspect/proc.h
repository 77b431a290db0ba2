/* proc.h — parsing /proc/PID/{maps,stat,status,limits,task,cmdline}, and one
 * pass over /proc to find the processes related to a pid (proc_find_kin).
 * Pure parsers (parse_*) take text so they can be unit-tested without a
 * process. */
#ifndef FERRY_PROC_H
#define FERRY_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

struct proc_map {
	uint64_t start, end, pgoff;
	uint32_t prot; /* PROT_* */
	bool shared;
	uint32_t dev_major, dev_minor;
	uint64_t ino;
	char name[4096]; /* path, [heap], [stack], [vdso], ... or "" */
};

struct proc_stat {
	char state;
	int ppid, pgrp, session;
	int nice, rt_priority, policy;
	uint64_t start_code, end_code, start_stack;
	uint64_t start_data, end_data, start_brk, arg_start, arg_end, env_start, env_end;
};

struct proc_status {
	char state;
	int tracer_pid;
	uint32_t uid[4], gid[4];
	uint32_t ngroups;
	uint32_t groups[256]; /* more are truncated and reported as ngroups > 256 */
	uint32_t umask;
	int no_new_privs;
	int thp_enabled;
	int threads;
	uint64_t sig_caught, sig_ignored; /* SigCgt, SigIgn */
};

int parse_maps_line(const char *line, struct proc_map *m);
int parse_stat(const char *text, struct proc_stat *st);
int parse_status(const char *text, struct proc_status *st);
int parse_limits(const char *text, struct rlimit *rlim, int nlimits);

/* Reads all mappings; *maps is malloc'd. */
int proc_read_maps(pid_t pid, struct proc_map **maps, size_t *n);
int proc_read_stat(pid_t pid, pid_t tid, struct proc_stat *st);
int proc_read_status(pid_t pid, struct proc_status *st);
int proc_read_limits(pid_t pid, struct rlimit *rlim, int nlimits);
/* Thread ids of pid, ascending; *tids is malloc'd. */
int proc_list_tasks(pid_t pid, pid_t **tids, size_t *n);
bool proc_exists(pid_t pid);
/* "PID (command line)" for messages: argv[0] without its directory, then the
 * arguments, cut to a readable length; "PID ([comm])" for a process without
 * a command line. */
void proc_describe(pid_t pid, char *out, size_t len);

/* Processes tied to one pid, found in one pass over /proc: its children,
 * the other processes whose process group or session id it is, and (with
 * want_mm) the processes sharing its address space (vfork, CLONE_VM; asked
 * with kcmp). Counts are complete; the first PROC_KIN_NAMED of each are kept
 * so messages can name them. */
#define PROC_KIN_NAMED 2
struct proc_kin_list {
	size_t n;
	pid_t pid[PROC_KIN_NAMED];
};
struct proc_kin {
	struct proc_kin_list children, group, session, shares_mm;
};
int proc_find_kin(pid_t pid, bool want_mm, struct proc_kin *kin);
/* The descendants of pid (children, theirs, ...), in one pass over /proc;
 * *out is malloc'd. */
int proc_descendants(pid_t pid, pid_t **out, size_t *n);
/* Is pid a zombie (or gone)? Used to wait for a dumped pid to be reaped. */
bool proc_is_zombie_or_gone(pid_t pid);

#endif

/* stall.h — named points where a test can stop ferry on purpose (as CRIU's
 * fault injection): with FERRY_STALL_AT=NAME in the environment, ferry
 * prints "ferry: stalled at NAME" on stderr when it reaches that point and
 * waits there until a signal arrives. Tests use it to kill ferry (SIGKILL
 * included) at an exact phase and check what the target is left with, or
 * to change the target at that phase: SIGUSR1 lets ferry go on.
 * Without the variable a stall point costs one getenv at the first call. */
#ifndef FERRY_STALL_H
#define FERRY_STALL_H

void stall_point(const char *name);

#endif

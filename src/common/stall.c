/* stall.c — see stall.h. */
#include "stall.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "interrupt.h"

static volatile sig_atomic_t go_on;

static void on_go_on(int sig) { go_on = sig; }

void stall_point(const char *name)
{
	static const char *want;
	static int looked;
	if (!looked) {
		want = getenv("FERRY_STALL_AT");
		looked = 1;
	}
	if (!want || strcmp(want, name) != 0)
		return;
	struct sigaction sa = {.sa_handler = on_go_on}, old_sa;
	sigset_t usr1, old_mask;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &old_mask); /* it can only arrive in sigsuspend: none is missed */
	sigaction(SIGUSR1, &sa, &old_sa);
	go_on = 0;
	fprintf(stderr, "ferry: stalled at %s\n", name);
	fflush(stderr);
	sigset_t wait_mask = old_mask;
	sigdelset(&wait_mask, SIGUSR1);
	while (!interrupted() && !go_on) /* SIGINT/SIGTERM end the stall through ferry's own safe path */
		sigsuspend(&wait_mask);
	sigaction(SIGUSR1, &old_sa, NULL);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
}

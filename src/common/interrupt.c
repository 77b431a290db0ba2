/* interrupt.c — see interrupt.h. */
#include "interrupt.h"

#include <string.h>

volatile sig_atomic_t ferry_interrupt_signal;

static void on_signal(int sig) { ferry_interrupt_signal = sig; }

void interrupt_catch(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: blocking calls return EINTR and are retried or end */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a closed output is an error return, not a death */
}

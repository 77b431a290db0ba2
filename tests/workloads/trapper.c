/* trapper: raises SIGTRAP at itself as fast as it can, with a handler that
 * counts, and checks after every raise that the handler ran: a SIGTRAP that
 * is pending while ferry freezes the process must be delivered afterwards,
 * never taken for ferry's own stop and swallowed (as a tracer that treats any
 * SIGTRAP stop as its own does). Also checks the handler stays installed.
 * Output: OK trapper raised=N lost=0
 * usage: trapper CTL */
#include "common.h"

static volatile sig_atomic_t traps;

static void on_trap(int sig)
{
	if (sig == SIGTRAP)
		traps++;
}

int main(int argc, char **argv)
{
	wl_init("trapper", argc, argv);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_trap;
	if (sigaction(SIGTRAP, &sa, NULL) < 0)
		wl_fail("sigaction: %s", strerror(errno));
	wl_ready();
	long raised = 0, lost = 0;
	while (!wl_stop_requested()) {
		for (int i = 0; i < 1000; i++) {
			sig_atomic_t before = traps;
			raise(SIGTRAP);
			raised++;
			if (traps != before + 1)
				lost++;
		}
		if (sigaction(SIGTRAP, NULL, &sa) < 0 || sa.sa_handler != on_trap)
			wl_fail("the SIGTRAP handler was changed");
	}
	if (lost)
		wl_fail("%ld of %ld raised SIGTRAPs never reached the handler", lost, raised);
	wl_ok("raised=%ld lost=%ld", raised, lost);
}

/* interrupt.h — turning SIGINT/SIGTERM/SIGHUP into a flag while ferry holds
 * a process frozen, so the work stops at a safe point and the process is
 * put back as it was instead of being left stopped by a dying ferry. */
#ifndef FERRY_INTERRUPT_H
#define FERRY_INTERRUPT_H

#include <signal.h>
#include <stdbool.h>

void interrupt_catch(void);
static inline bool interrupted(void)
{
	extern volatile sig_atomic_t ferry_interrupt_signal;
	return ferry_interrupt_signal != 0;
}

#endif

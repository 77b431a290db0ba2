/* signals: a SIGUSR1 handler (SA_RESTART|SA_SIGINFO, sa_mask = {SIGWINCH})
 * counting deliveries, SIGUSR2 blocked (with a handler that must never run).
 * Every iteration checks the handlers, flags and mask are unchanged; every
 * ~100 ms raise(SIGUSR1) and check the count moved.  SIGUSR1 sent from outside
 * (si_code SI_USER) is counted separately (ext=).  SIGUSR2 sent from outside
 * must stay pending.
 * A SIGTRAP handler is checked the same way and SIGTRAP raised with SIGUSR1.
 * Output: OK signals usr1=N usr2pending=0|1 ext=M self=K traps=K
 * usage: signals CTL
 */
#include "common.h"

static volatile sig_atomic_t usr1_count, usr1_ext, usr2_delivered, usr1_badmask, trap_count;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (sig != SIGUSR1)
		return;
	usr1_count++;
	if (si->si_code == SI_USER && si->si_pid != getpid())
		usr1_ext++;
	/* sa_mask (SIGWINCH) and the signal itself must be blocked inside the handler */
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	if (!sigismember(&cur, SIGWINCH) || !sigismember(&cur, SIGUSR1) || !sigismember(&cur, SIGUSR2))
		usr1_badmask = 1;
}

static void on_usr2(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	usr2_delivered = 1;
}

/* A SIGTRAP handler, as debuggers-in-process and some runtimes have: ferry's
 * own tracing must neither reset it nor swallow a SIGTRAP raised meanwhile. */
static void on_trap(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	if (sig == SIGTRAP)
		trap_count++;
}

static void check_state(void)
{
	struct sigaction sa;
	if (sigaction(SIGUSR1, NULL, &sa) < 0)
		wl_fail("sigaction query: %s", strerror(errno));
	if (sa.sa_sigaction != on_usr1)
		wl_fail("SIGUSR1 handler is %p, expected %p", (void *)sa.sa_sigaction, (void *)on_usr1);
	if ((sa.sa_flags & (SA_RESTART | SA_SIGINFO)) != (SA_RESTART | SA_SIGINFO) ||
	    (sa.sa_flags & (SA_RESETHAND | SA_NODEFER | SA_ONSTACK)))
		wl_fail("SIGUSR1 flags 0x%x", (unsigned)sa.sa_flags);
	if (!sigismember(&sa.sa_mask, SIGWINCH) || sigismember(&sa.sa_mask, SIGHUP))
		wl_fail("SIGUSR1 sa_mask changed");
	if (sigaction(SIGUSR2, NULL, &sa) < 0 || sa.sa_sigaction != on_usr2 || !(sa.sa_flags & SA_SIGINFO))
		wl_fail("SIGUSR2 handler changed");
	if (sigaction(SIGTRAP, NULL, &sa) < 0 || sa.sa_sigaction != on_trap || !(sa.sa_flags & SA_SIGINFO))
		wl_fail("SIGTRAP handler changed (%p)", (void *)sa.sa_sigaction);
	if (sigaction(SIGTERM, NULL, &sa) < 0 || sa.sa_handler != SIG_DFL)
		wl_fail("SIGTERM disposition changed");
	if (sigaction(SIGPIPE, NULL, &sa) < 0 || sa.sa_handler != SIG_IGN)
		wl_fail("SIGPIPE not ignored any more");
	sigset_t cur;
	if (sigprocmask(SIG_BLOCK, NULL, &cur) < 0)
		wl_fail("sigprocmask query");
	if (!sigismember(&cur, SIGUSR2))
		wl_fail("SIGUSR2 no longer blocked");
	if (sigismember(&cur, SIGUSR1) || sigismember(&cur, SIGWINCH) || sigismember(&cur, SIGTERM))
		wl_fail("unexpected signals blocked");
	if (usr2_delivered)
		wl_fail("SIGUSR2 was delivered although blocked");
	if (usr1_badmask)
		wl_fail("handler ran without its sa_mask");
}

int main(int argc, char **argv)
{
	wl_init("signals", argc, argv);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_RESTART | SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGWINCH);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		wl_fail("sigaction: %s", strerror(errno));
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_usr2;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR2, &sa, NULL) < 0)
		wl_fail("sigaction2: %s", strerror(errno));
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_trap;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTRAP, &sa, NULL) < 0)
		wl_fail("sigaction trap: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	sigset_t b;
	sigemptyset(&b);
	sigaddset(&b, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &b, NULL) < 0)
		wl_fail("sigprocmask: %s", strerror(errno));
	check_state();
	wl_ready();

	long self = 0;
	uint64_t last_raise = 0;
	for (;;) {
		check_state();
		if (wl_stop_requested())
			break;
		uint64_t now = wl_now_ms();
		if (now - last_raise >= 100) {
			last_raise = now;
			sig_atomic_t before = usr1_count;
			if (raise(SIGUSR1) != 0)
				wl_fail("raise: %s", strerror(errno));
			self++;
			/* a raised, unblocked signal is delivered before raise() returns */
			if (usr1_count == before)
				wl_fail("raise(SIGUSR1) #%ld not delivered (count %d)", self, (int)usr1_count);
			sig_atomic_t traps = trap_count;
			if (raise(SIGTRAP) != 0)
				wl_fail("raise(SIGTRAP): %s", strerror(errno));
			if (trap_count != traps + 1)
				wl_fail("raise(SIGTRAP) #%ld not delivered to its handler (count %d)", self, (int)trap_count);
		}
		wl_sleep_us(5000);
	}
	check_state();
	sigset_t pend;
	if (sigpending(&pend) < 0)
		wl_fail("sigpending");
	int usr2p = sigismember(&pend, SIGUSR2) == 1;
	if (sigismember(&pend, SIGUSR1))
		wl_fail("SIGUSR1 pending although unblocked");
	if ((long)usr1_count != self + (long)usr1_ext)
		wl_fail("usr1 count %d != self %ld + external %d", (int)usr1_count, self, (int)usr1_ext);
	if ((long)trap_count != self)
		wl_fail("SIGTRAP count %d != raised %ld", (int)trap_count, self);
	wl_ok("usr1=%d usr2pending=%d ext=%d self=%ld traps=%d", (int)usr1_count, usr2p, (int)usr1_ext, self,
	      (int)trap_count);
}

/* hostinit: minimal pid 1 for a test host (a pid namespace made by
 * tests/integration/hosts.sh).  Not a checkpoint workload.
 * Reaps every child as soon as it exits; on SIGTERM/SIGINT kills everything
 * in the namespace and exits.  Optional argv[1]: a file to create once running.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	/* detach from the caller's stdio so nothing keeps the harness' pipes open */
	int fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (argc > 1) {
		int r = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (r >= 0) {
			char b[32];
			int n = snprintf(b, sizeof b, "%d\n", (int)getpid());
			if (write(r, b, (size_t)n) < 0) {
				/* ignore */
			}
			close(r);
		}
	}
	for (;;) {
		siginfo_t si;
		struct timespec ts = { 1, 0 };
		int sig = sigtimedwait(&set, &si, &ts);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
			kill(-1, SIGKILL);
			while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
				;
			return 0;
		}
	}
}

/* tree: a process ferry must refuse (or, for the restore test, one whose pid
 * outlives it as a session id) because of the processes around it.  Started
 * by lib.sh's start_wl, so it leads its own session and process group.
 * MODE is one of
 *   group    a member of its process group that is not its child (a
 *            grandchild whose parent exited), kept until CTL/stop
 *   session  the same member, but in a process group of its own (setpgid)
 *   vfork    the process vforks; the child (sharing its memory) writes
 *            CTL/ready with the parent's pid and CTL/child with its own, and
 *            _exits at CTL/stop; the parent, stuck in vfork meanwhile, then
 *            checks its memory
 *   orphan   nothing at first; once CTL/fork exists it forks a child that
 *            leaves the process group (stays in the session) and lives on
 *            after the parent until CTL/member-stop
 * The member's pid goes to CTL/member.  Except in vfork mode a counter loop
 * updates a 4 MiB buffer with a running checksum until CTL/stop, then
 * verifies it.  A stop detector (stopcheck.h) counts ptrace stops.
 * Output: OK tree mode=MODE iters=N stops=S
 * usage: tree CTL MODE
 */
#include "common.h"
#include "stopcheck.h"

#include <stdbool.h>
#include <sys/wait.h>

#define BUF_WORDS (4u * 1024 * 1024 / 8)
#define MEMBER_POLL_US 20000
#define MEMBER_LIFE_MAX_MS (10u * 60 * 1000) /* a member never outlives a forgotten test */

static void write_ctl(const char *name, long value)
{
	if (wl_write_value(name, value) < 0)
		_exit(3); /* may run in a vfork child: no stdio */
}

static bool ctl_exists(const char *name)
{
	char p[4300];
	snprintf(p, sizeof p, "%s/%s", wl_ctl, name);
	return access(p, F_OK) == 0;
}

/* The member: waits for its stop file, never prints. */
static void member_main(const char *stop_name)
{
	write_ctl("member", getpid());
	uint64_t t0 = wl_now_ms();
	while (!ctl_exists(stop_name) && wl_now_ms() - t0 < MEMBER_LIFE_MAX_MS)
		wl_sleep_us(MEMBER_POLL_US);
	_exit(0);
}

/* A member of our group (own_group: of our session only) that is not our child. */
static void spawn_grandchild(bool own_group)
{
	pid_t c = fork();
	if (c < 0)
		wl_fail("fork: %s", strerror(errno));
	if (c == 0) {
		if (fork() == 0) {
			if (own_group && setpgid(0, 0) < 0)
				_exit(2);
			member_main("stop");
		}
		_exit(0);
	}
	int st;
	if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		wl_fail("intermediate child failed (status 0x%x)", st);
	uint64_t t0 = wl_now_ms();
	while (!ctl_exists("member")) {
		if (wl_now_ms() - t0 > 10000)
			wl_fail("the member did not start");
		wl_sleep_us(1000);
	}
}

static void vfork_main(void)
{
	static volatile uint64_t marker = 0x7E57ull; /* the child writes it: proves the memory is shared */
	pid_t parent = getpid();
	pid_t c = vfork();
	if (c < 0)
		wl_fail("vfork: %s", strerror(errno));
	if (c == 0) {
		marker = 0xC41Dull;
		write_ctl("child", getpid());
		write_ctl("ready", parent);
		uint64_t t0 = wl_now_ms();
		while (!ctl_exists("stop") && wl_now_ms() - t0 < MEMBER_LIFE_MAX_MS)
			wl_sleep_us(MEMBER_POLL_US);
		_exit(0);
	}
	int st;
	if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		wl_fail("vfork child failed (status 0x%x)", st);
	if (marker != 0xC41Dull)
		wl_fail("vfork child's write not seen: 0x%llx", (unsigned long long)marker);
	wl_ok("mode=vfork iters=0 stops=%ld", wl_stops());
}

int main(int argc, char **argv)
{
	wl_init("tree", argc, argv);
	if (argc < 3)
		wl_fail("usage: tree CTL group|session|vfork|orphan");
	const char *mode = argv[2];
	wl_stopcheck_start();
	if (strcmp(mode, "vfork") == 0)
		vfork_main();
	else if (strcmp(mode, "group") == 0)
		spawn_grandchild(false);
	else if (strcmp(mode, "session") == 0)
		spawn_grandchild(true);
	else if (strcmp(mode, "orphan") != 0)
		wl_fail("unknown mode '%s'", mode);
	bool orphan = strcmp(mode, "orphan") == 0, forked = false;

	uint64_t *buf = malloc(BUF_WORDS * 8);
	if (!buf)
		wl_fail("malloc");
	uint64_t sum = 0;
	for (uint32_t i = 0; i < BUF_WORDS; i++) {
		buf[i] = wl_mix(i);
		sum += buf[i];
	}
	wl_ready();

	long iters = 0;
	for (;;) {
		for (int k = 0; k < 2000; k++) { /* about 1 ms of work, then 1 ms of sleep */
			uint32_t i = (uint32_t)(wl_mix((uint64_t)iters * 2000 + (uint64_t)k) % BUF_WORDS);
			uint64_t nv = wl_mix(buf[i] ^ (uint64_t)iters);
			sum += nv - buf[i];
			buf[i] = nv;
		}
		iters++;
		if (orphan && !forked && ctl_exists("fork")) {
			pid_t c = fork();
			if (c < 0)
				wl_fail("fork: %s", strerror(errno));
			if (c == 0) {
				setpgid(0, 0);
				member_main("member-stop");
			}
			forked = true;
		}
		if (wl_stop_poll(5))
			break;
		wl_sleep_us(1000);
	}
	uint64_t check = 0;
	for (uint32_t i = 0; i < BUF_WORDS; i++)
		check += buf[i];
	if (check != sum)
		wl_fail("buffer checksum 0x%llx, expected 0x%llx after %ld iterations", (unsigned long long)check,
			(unsigned long long)sum, iters);
	wl_ok("mode=%s iters=%ld stops=%ld", mode, iters, wl_stops());
}

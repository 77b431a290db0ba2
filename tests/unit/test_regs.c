/* test_regs.c — how a thread stopped inside a syscall is saved: the kernel
 * leaves -ERESTART* in rax and the syscall number in orig_rax; the image
 * must instead re-run the same syscall (rip back over the 2-byte `syscall`,
 * rax = the number) and never let the restore's own stop rewind it again
 * (orig_rax = -1). Anything else is saved as it is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>

#include <cmocka.h>

#include "inspect/capture.h"

static struct user_regs_struct in_syscall(long nr, long rax)
{
	struct user_regs_struct r = {0};
	r.rip = 0x401002; /* just after the syscall instruction at 0x401000 */
	r.orig_rax = (uint64_t)nr;
	r.rax = (uint64_t)rax;
	r.rdi = 11, r.rsi = 22, r.rdx = 33, r.r10 = 44;
	return r;
}

static void test_every_restart_code_reruns_the_syscall(void **state)
{
	(void)state;
	const long codes[] = {-512 /* ERESTARTSYS */, -513 /* ERESTARTNOINTR */, -514 /* ERESTARTNOHAND */,
			      -516 /* ERESTART_RESTARTBLOCK */};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		struct user_regs_struct r = in_syscall(SYS_futex, codes[i]);
		regs_prepare_for_restore(&r);
		assert_int_equal(r.rip, 0x401000);
		assert_int_equal(r.rax, SYS_futex);
		assert_int_equal((long)r.orig_rax, -1);
		/* arguments untouched: the syscall runs again with them */
		assert_int_equal(r.rdi, 11);
		assert_int_equal(r.r10, 44);
	}
}

static void test_finished_or_failed_syscalls_are_kept(void **state)
{
	(void)state;
	const long results[] = {0, 5, -4 /* EINTR: the program sees it */, -11 /* EAGAIN */, -515 /* not a restart code */};
	for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++) {
		struct user_regs_struct r = in_syscall(SYS_read, results[i]);
		regs_prepare_for_restore(&r);
		assert_int_equal(r.rip, 0x401002);
		assert_int_equal((long)r.rax, results[i]);
		assert_int_equal((long)r.orig_rax, -1);
	}
}

static void test_user_code_is_kept(void **state)
{
	(void)state;
	struct user_regs_struct r = {0};
	r.rip = 0x401234;
	r.orig_rax = (uint64_t)-1; /* not in a syscall */
	r.rax = (uint64_t)-512;    /* a value that merely looks like a restart code */
	regs_prepare_for_restore(&r);
	assert_int_equal(r.rip, 0x401234);
	assert_int_equal((long)r.rax, -512);
	assert_int_equal((long)r.orig_rax, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_restart_code_reruns_the_syscall),
		cmocka_unit_test(test_finished_or_failed_syscalls_are_kept),
		cmocka_unit_test(test_user_code_is_kept),
	};
	return cmocka_run_group_tests_name("regs", tests, NULL, NULL);
}

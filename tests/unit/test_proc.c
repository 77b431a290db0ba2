/* test_proc.c — /proc parsers on recorded text from this kernel (6.18). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "inspect/proc.h"

static void test_maps_lines(void **state)
{
	(void)state;
	struct proc_map m;
	assert_int_equal(parse_maps_line("55d0c8a00000-55d0c8a02000 r-xp 00002000 fe:00 1835302  "
					 "                 /usr/bin/cat\n", &m), 0);
	assert_int_equal(m.start, 0x55d0c8a00000);
	assert_int_equal(m.end, 0x55d0c8a02000);
	assert_int_equal(m.prot, PROT_READ | PROT_EXEC);
	assert_false(m.shared);
	assert_int_equal(m.pgoff, 0x2000);
	assert_int_equal(m.dev_major, 0xfe);
	assert_int_equal(m.ino, 1835302);
	assert_string_equal(m.name, "/usr/bin/cat");

	assert_int_equal(parse_maps_line("7ffd1c3f0000-7ffd1c3f4000 r--p 00000000 00:00 0    [vvar]\n", &m), 0);
	assert_string_equal(m.name, "[vvar]");
	assert_int_equal(parse_maps_line("7f00aa000000-7f00aa100000 rw-s 00000000 00:01 2050 /dev/zero (deleted)\n",
					 &m), 0);
	assert_true(m.shared);
	assert_string_equal(m.name, "/dev/zero (deleted)");
	assert_int_equal(parse_maps_line("7f00aa000000-7f00aa100000 ---p 00000000 00:00 0 \n", &m), 0);
	assert_int_equal(m.prot, 0);
	assert_string_equal(m.name, "");
	assert_int_equal(parse_maps_line("7f00aa000000-7f00aa100000 rw-p 00000000 00:00 0 /a path/with spaces\n", &m),
			 0);
	assert_string_equal(m.name, "/a path/with spaces");
	assert_int_equal(parse_maps_line("garbage\n", &m), -EINVAL);
}

static void test_stat_with_hostile_comm(void **state)
{
	(void)state;
	/* comm may contain spaces and ')' — fields are counted after the last ')'. */
	const char *text = "4242 (my) (prog) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 9 0 1234 "
			   "10000000 300 18446744073709551615 93824992231424 93824992235000 140737488346112 0 0 0 "
			   "0 0 0 0 0 0 17 1 0 0 0 0 0 93824992247000 93824992248000 93824994000000 "
			   "140737488347000 140737488347100 140737488347100 140737488347200 0\n";
	struct proc_stat st;
	assert_int_equal(parse_stat(text, &st), 0);
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.ppid, 1);
	assert_int_equal(st.pgrp, 4242);
	assert_int_equal(st.session, 4242);
	assert_int_equal(st.nice, 0);
	assert_int_equal(st.start_code, 93824992231424ull);
	assert_int_equal(st.start_stack, 140737488346112ull);
	assert_int_equal(st.start_brk, 93824994000000ull);
	assert_int_equal(st.env_end, 140737488347200ull);
	assert_int_equal(parse_stat("4242 (truncated", &st), -EINVAL);
}

static void test_status(void **state)
{
	(void)state;
	const char *text = "Name:\tapp\nUmask:\t0027\nState:\tS (sleeping)\nTgid:\t4242\nTracerPid:\t0\n"
			   "Uid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\t100\t100\nGroups:\t4 24 27 \n"
			   "Threads:\t9\nSigIgn:\t0000000000001000\nSigCgt:\t0000000180000200\nNoNewPrivs:\t1\n"
			   "THP_enabled:\t0\n";
	struct proc_status st;
	assert_int_equal(parse_status(text, &st), 0);
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.umask, 027);
	assert_int_equal(st.uid[0], 1000);
	assert_int_equal(st.gid[3], 100);
	assert_int_equal(st.ngroups, 3);
	assert_int_equal(st.groups[2], 27);
	assert_int_equal(st.threads, 9);
	assert_int_equal(st.sig_caught, 0x180000200ull);
	assert_int_equal(st.sig_ignored, 0x1000ull);
	assert_int_equal(st.no_new_privs, 1);
	assert_int_equal(st.thp_enabled, 0);
	assert_int_equal(parse_status("Name:\tx\n", &st), -EINVAL);
}

static void test_limits(void **state)
{
	(void)state;
	const char *text =
		"Limit                     Soft Limit           Hard Limit           Units     \n"
		"Max cpu time              unlimited            unlimited            seconds   \n"
		"Max file size             unlimited            unlimited            bytes     \n"
		"Max data size             unlimited            unlimited            bytes     \n"
		"Max stack size            8388608              unlimited            bytes     \n"
		"Max core file size        0                    unlimited            bytes     \n"
		"Max resident set          unlimited            unlimited            bytes     \n"
		"Max processes             95584                95584                processes \n"
		"Max open files            1024                 524288               files     \n"
		"Max locked memory         8388608              8388608              bytes     \n"
		"Max address space         unlimited            unlimited            bytes     \n"
		"Max file locks            unlimited            unlimited            locks     \n"
		"Max pending signals       95584                95584                signals   \n"
		"Max msgqueue size         819200               819200               bytes     \n"
		"Max nice priority         0                    0                    \n"
		"Max realtime priority     0                    0                    \n"
		"Max realtime timeout      unlimited            unlimited            us        \n";
	struct rlimit r[16];
	assert_int_equal(parse_limits(text, r, 16), 0);
	assert_int_equal(r[RLIMIT_STACK].rlim_cur, 8388608);
	assert_int_equal(r[RLIMIT_STACK].rlim_max, RLIM_INFINITY);
	assert_int_equal(r[RLIMIT_NOFILE].rlim_cur, 1024);
	assert_int_equal(r[RLIMIT_NOFILE].rlim_max, 524288);
	assert_int_equal(r[RLIMIT_CORE].rlim_cur, 0);
	assert_int_equal(r[RLIMIT_RTTIME].rlim_max, RLIM_INFINITY);
	assert_int_equal(parse_limits("Max cpu time  unlimited\n", r, 16), -EINVAL);
}

static void test_live_self(void **state)
{
	(void)state;
	struct proc_map *maps;
	size_t n;
	assert_int_equal(proc_read_maps(getpid(), &maps, &n), 0);
	int have_vdso = 0, have_stack = 0;
	for (size_t i = 0; i < n; i++) {
		have_vdso |= strcmp(maps[i].name, "[vdso]") == 0;
		have_stack |= strcmp(maps[i].name, "[stack]") == 0;
		assert_true(maps[i].start < maps[i].end);
	}
	free(maps);
	assert_true(have_vdso && have_stack);
	struct rlimit mine, parsed[16];
	getrlimit(RLIMIT_NOFILE, &mine);
	assert_int_equal(proc_read_limits(getpid(), parsed, 16), 0);
	assert_int_equal(parsed[RLIMIT_NOFILE].rlim_cur, mine.rlim_cur);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maps_lines),
		cmocka_unit_test(test_stat_with_hostile_comm),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_live_self),
	};
	return cmocka_run_group_tests_name("proc", tests, NULL, NULL);
}

/* cmd_check.c — `ferry check [--feature NAME]`. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../inspect/features.h"
#include "../mem/dirty.h"
#include "cli.h"

static const char help[] =
	"Usage: ferry check [--feature NAME]\n"
	"\n"
	"Probes each kernel feature ferry uses by exercising it, and prints one line\n"
	"per feature: its name, yes/no, and what was found. Exits 1 if a feature that\n"
	"restore needs is missing (marked 'required').\n"
	"\n"
	"  -f, --feature NAME   check only NAME; exit 0 if available, 1 if not\n"
	"  -h, --help           this text\n"
	"\n"
	"Features: ptrace, clone3_set_tid, process_vm, pidfd_getfd, userfaultfd,\n"
	"uffd_wp_async, pagemap_scan, soft_dirty, timer_restore_ids, sysv_shm_ids.\n"
	"\n"
	"The full listing ends with the dirty-page tracking that pre-copy uses here:\n"
	"uffd_wp_async + pagemap_scan (best), soft_dirty, or none (full resends).\n"
	"\n"
	"Exit status: 0 when every required feature works (with --feature: when NAME\n"
	"does); 1 otherwise, or for an unknown NAME (one line `ferry: check: ...`).\n";

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {{"feature", required_argument, 0, 'f'}, {"help", no_argument, 0, 'h'}, {0}};
	const char *only = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		if (c == 'f')
			only = optarg;
		else if (c == 'h') {
			fputs(help, stdout);
			return 0;
		} else {
			fputs(help, stderr);
			return 1;
		}
	}
	char detail[256];
	if (only) {
		const struct feature *f = feature_find(only);
		if (!f) {
			cli_error("check", "unknown feature '%s' (see ferry check --help)", only);
			return 1;
		}
		int r = f->probe(detail, sizeof(detail));
		printf("%s is %ssupported: %s\n", f->name, r == 0 ? "" : "not ", detail);
		return r == 0 ? 0 : 1;
	}
	int missing_required = 0;
	for (size_t i = 0; i < ferry_nfeatures; i++) {
		const struct feature *f = &ferry_features[i];
		int r = f->probe(detail, sizeof(detail));
		printf("%-17s %-3s %s%s  -- %s\n", f->name, r == 0 ? "yes" : "no", f->required_for_restore ? "(required) " : "",
		       detail, f->what);
		if (r != 0 && f->required_for_restore)
			missing_required++;
	}
	printf("dirty tracking for pre-copy: %s\n", dirty_backend_name(dirty_backend_best()));
	if (missing_required) {
		cli_error("check", "%d required feature(s) missing: restore is impossible here", missing_required);
		return 1;
	}
	printf("Looks good: dump and restore work here.\n");
	return 0;
}

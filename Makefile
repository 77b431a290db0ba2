# ferry — build, tests, demo, benchmarks. `make help` lists the targets.
CC ?= gcc
VERSION := 0.1.0
# CFLAGS is the user's (optimisation, debug info, sanitizers); FERRY_CFLAGS
# is what the code needs and is always used, so `make CFLAGS=...` still builds.
CFLAGS ?= -O2 -g
# GnuTLS: the TLS channel of send / receive; lz4, zstd: --compress;
# libmicrohttpd, jansson: ferry ui's HTTP server and its JSON
LIBS := -lgnutls -llz4 -lzstd -lmicrohttpd -ljansson -pthread
FERRY_CFLAGS := -pthread -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wno-format-truncation \
	  -D_GNU_SOURCE -DFERRY_VERSION=\"$(VERSION)\" -fno-strict-aliasing
ALL_CFLAGS = $(FERRY_CFLAGS) $(CFLAGS)
B := build

SRC_DIRS := common inspect state mem restore net migrate ui cli
LIB_SRC := $(filter-out src/cli/main.c,$(foreach d,$(SRC_DIRS),$(wildcard src/$(d)/*.c)))
LIB_OBJ := $(LIB_SRC:src/%.c=$(B)/obj/%.o)
MAIN_OBJ := $(B)/obj/cli/main.o

WORKLOAD_SRC := $(wildcard tests/workloads/*.c)
WORKLOADS := $(WORKLOAD_SRC:tests/workloads/%.c=$(B)/workloads/%)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNITS := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOLS := $(TOOL_SRC:tests/tools/%.c=$(B)/tools/%)
MAN_PAGES := $(patsubst man/%.extra,$(B)/man/%,$(wildcard man/*.1.extra))

.PHONY: all test unit integration sanitize fuzz demo bench bench-migrate clean help man install uninstall
all: $(B)/ferry $(WORKLOADS) $(TOOLS) $(MAN_PAGES)

help:
	@echo "make            build build/ferry, its man pages and the test workloads"
	@echo "make test       unit tests (cmocka) + fuzz run + integration tests + make sanitize (needs root)"
	@echo "make sanitize   unit tests and some integration tests with ASan + UBSan (build-san/)"
	@echo "make fuzz       libFuzzer on the stream decoders for FUZZ_SECONDS (default 60)"
	@echo "make demo       migrate a running program between two local test hosts"
	@echo "make bench      dump/restore benchmark table (bench/results/)"
	@echo "make bench-migrate  live migration between the test hosts, unshaped and 1 Gbit/s (bench/results/)"
	@echo "make man        the man pages, from ferry's --help ($(B)/man/)"
	@echo "make install    ferry, man pages, bash completion, ferry-receive.service (PREFIX=$(PREFIX), DESTDIR)"
	@echo "make uninstall  remove what make install installed (same PREFIX and DESTDIR)"

$(B)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# the page's files are built into assets.o (.incbin)
$(B)/obj/ui/assets.o: $(wildcard src/ui/assets/*)

$(B)/libferry.a: $(LIB_OBJ)
	ar rcs $@ $^

$(B)/ferry: $(MAIN_OBJ) $(B)/libferry.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/workloads/%: tests/workloads/%.c $(wildcard tests/workloads/*.h)
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra -Werror -pthread $(if $(filter avx,$*),-mavx2) $< -o $@ -lm

$(B)/tests/%: tests/unit/%.c $(B)/libferry.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc $< -o $@ $(B)/libferry.a -lcmocka $(LIBS)

$(B)/tools/%: tests/tools/%.c $(B)/libferry.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc $< -o $@ $(B)/libferry.a $(LIBS)

unit: $(UNITS)
	@set -e; for t in $(UNITS); do echo "== $$t"; $$t; done

integration: all
	bash tests/integration/run.sh

# libFuzzer (clang) on the record decoders and the restore's metadata reader,
# with ASan + UBSan, for a bounded time; fails on a crash, leak or timeout.
# New inputs go to $(B)/fuzz/corpus, the committed seeds stay as they are.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_SRC := tests/fuzz/fuzz_records.c $(wildcard src/state/*.c) src/common/util.c src/common/log.c src/restore/image.c
FUZZ_PER_INPUT_TIMEOUT_S := 10 # one input is a few KiB: anything slower is a hang
$(B)/fuzz/fuzz_records: $(FUZZ_SRC) $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Isrc \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $(FUZZ_SRC) -o $@ -llz4 -lzstd

fuzz: $(B)/fuzz/fuzz_records
	@mkdir -p $(B)/fuzz/corpus
	$(B)/fuzz/fuzz_records -max_total_time=$(FUZZ_SECONDS) -timeout=$(FUZZ_PER_INPUT_TIMEOUT_S) \
		-print_final_stats=1 -artifact_prefix=$(B)/fuzz/ $(B)/fuzz/corpus tests/fuzz/corpus

test: all unit fuzz
	bash tests/integration/run.sh
	$(MAKE) sanitize

# ferry built with ASan + UBSan into build-san/ (workloads stay normal): all
# unit tests, then every integration test but the three long real-program
# runs (t_multi, t_real_*: no code path the others miss). Restores work under
# ASan: the stub runs ferry's code only until its address space (shadow
# memory included) is replaced by remote syscalls.
SAN_B := build-san
SAN_CFLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
SAN_TESTS := ^t_(avx|ui_api|migrate_fds|pipeline|pipes|sockets|postcopy|postcopy_fork|postcopy_progress|postcopy_retry|splitmap|badpid|check|corrupt|duplicate_pages|eventfd|evloop|fifo_swap|filewriter|ghosts|hosts|identity|interrupt|leave_running|locks|manyfds|mem256|memattrs|migrate|migrate_fail|missing_file|pages_fallback|pid_held|ptimers|refuse|shelljob|sigkill|signals|sigtrap|threads8|tree|vdso|vfork)$$
sanitize: all
	$(MAKE) B=$(SAN_B) CFLAGS="$(SAN_CFLAGS)" $(SAN_B)/ferry unit
	FERRY=$(SAN_B)/ferry bash tests/integration/run.sh '$(SAN_TESTS)'

demo: all
	bash tests/demo.sh

bench: all
	bash bench/run.sh

$(B)/bench/dirtycost: bench/dirtycost.c $(B)/libferry.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc $< -o $@ $(B)/libferry.a $(LIBS)

bench-migrate: all $(B)/bench/dirtycost
	bash bench/migrate.sh

# Man pages: man/genman.pl turns `ferry [COMMAND] --help` into roff, adding
# what --help does not hold from man/PAGE.1.extra (one per page: a command
# without one has no page, and t_man fails).
man: $(MAN_PAGES)
$(B)/man/%.1: man/%.1.extra man/genman.pl $(B)/ferry
	@mkdir -p $(dir $@)
	perl man/genman.pl $(B)/ferry $(patsubst ferry-%,%,$*) $< >$@.tmp && mv $@.tmp $@

# make install / uninstall: everything under $(DESTDIR)$(PREFIX) (the config
# file under $(DESTDIR)$(SYSCONFDIR), $(PREFIX)/etc unless given; the Debian
# package sets PREFIX=/usr SYSCONFDIR=/etc SYSTEMDUNITDIR=/lib/systemd/system).
# The unit and the config file get the paths they name from these variables.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= $(PREFIX)/etc
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SUBST_PATHS = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'
CONF := $(DESTDIR)$(SYSCONFDIR)/ferry/receive.conf
install: $(B)/ferry man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSCONFDIR)/ferry
	install -m 0755 $(B)/ferry $(DESTDIR)$(BINDIR)/ferry
	install -m 0644 $(MAN_PAGES) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 contrib/bash-completion/ferry $(DESTDIR)$(BASHCOMPDIR)/ferry
	$(SUBST_PATHS) contrib/systemd/ferry-receive.service.in >$(DESTDIR)$(SYSTEMDUNITDIR)/ferry-receive.service
	@# an administrator's settings are never overwritten
	if [ -e $(CONF) ]; then echo "make install: keeping $(CONF)"; \
	else $(SUBST_PATHS) contrib/systemd/receive.conf.in >$(CONF) && chmod 0644 $(CONF); fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ferry $(MAN_PAGES:$(B)/man/%=$(DESTDIR)$(MANDIR)/man1/%) \
		$(DESTDIR)$(BASHCOMPDIR)/ferry $(DESTDIR)$(SYSTEMDUNITDIR)/ferry-receive.service
	@# the config file goes only as installed; the directory only when empty (not if it holds the key)
	if [ -e $(CONF) ]; then if $(SUBST_PATHS) contrib/systemd/receive.conf.in | cmp -s - $(CONF); \
		then rm -f $(CONF); else echo "make uninstall: keeping $(CONF) (changed)"; fi; fi
	rmdir $(DESTDIR)$(SYSCONFDIR)/ferry 2>/dev/null || true

clean:
	rm -rf $(B) $(SAN_B)

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)

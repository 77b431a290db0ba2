/* receive.c — see receive.h. */
#include "receive.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/interrupt.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../net/join.h"
#include "../net/tcp.h"
#include "../restore/restore.h"
#include "../state/codec.h"
#include "../state/control.h"
#include "link.h"
#include "postcopy.h"

#define ACCEPT_POLL_MS 200 /* how often the listener looks at signals and finished children */

/* Why this host cannot take the offer, or "" if it can. */
static void check_offer(const struct fr_offer *o, char *why, size_t len)
{
	why[0] = '\0';
	char held[256];
	if (restore_pid_taken(o->pid, held, sizeof(held))) {
		snprintf(why, len, "%s", held);
		return;
	}
	for (uint32_t i = 0; i < o->nfiles; i++) {
		const struct fr_offer_file *f = &o->files[i];
		struct stat st;
		if (stat(f->path, &st) < 0) {
			snprintf(why, len, "%s is missing here: %s", f->path, strerror(errno));
			return;
		}
		int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		bool exact = f->flags & FR_OFFER_FILE_EXACT;
		if (!S_ISREG(st.st_mode) || (exact && ((uint64_t)st.st_size != f->size || mtime != f->mtime_ns))) {
			snprintf(why, len, "%s differs here (%s): copy it with its mtime (e.g. rsync -t)", f->path,
				 !S_ISREG(st.st_mode)		 ? "not a regular file"
				 : (uint64_t)st.st_size != f->size ? "size"
								   : "mtime");
			return;
		}
	}
}

/* Preamble and HELLO: a ferry stream from a machine like this one. */
static int read_hello(struct link *l, char *err, size_t errlen)
{
	int r = stream_read_preamble(&l->in);
	if (r < 0) {
		snprintf(err, errlen, "%s: %s%s", l->peer, l->in.err[0] ? l->in.err : strerror(-r),
			 r == -EPROTO && !l->ch.tls ? " (a TLS sender? give both sides the same --key-file)" : "");
		return r;
	}
	uint16_t type;
	const uint8_t *p;
	uint32_t len;
	if ((r = stream_read_record(&l->in, &type, &p, &len)) < 0) {
		link_io_error(l, r, "waiting for hello", err, errlen);
		return r;
	}
	struct fr_hello h = {0};
	if (type != REC_HELLO || decode_hello(p, len, &h) < 0) {
		snprintf(err, errlen, "%s: the stream does not start with a valid hello record", l->peer);
		return -EBADMSG;
	}
	struct utsname u;
	uname(&u);
	r = 0;
	if (strcmp(h.arch, u.machine) != 0 || h.page_size != (uint32_t)sysconf(_SC_PAGESIZE)) {
		snprintf(err, errlen, "%s runs %s with %u-byte pages; this host is %s with %ld", l->peer, h.arch,
			 h.page_size, u.machine, sysconf(_SC_PAGESIZE));
		r = -EOPNOTSUPP;
	}
	fr_hello_free(&h);
	return r;
}

static int read_offer(struct link *l, struct fr_offer *o, char *err, size_t errlen)
{
	uint16_t type;
	const uint8_t *p;
	uint32_t len;
	int r = stream_read_record(&l->in, &type, &p, &len);
	if (r < 0) {
		link_io_error(l, r, "waiting for the offer", err, errlen);
		return r;
	}
	if (type != REC_OFFER || decode_offer(p, len, o) < 0) {
		snprintf(err, errlen, "%s: expected a valid offer, got a %s record", l->peer, fr_record_name(type));
		return -EBADMSG;
	}
	return 0;
}

static void write_stats(const struct receive_opts *o, const char *peer, pid_t pid, const struct restore_stats *st,
			const struct postcopy_stats *pst, uint32_t rounds, double total_ms)
{
	if (!o->stats_path)
		return;
	FILE *f = fopen(o->stats_path, "ae");
	if (!f) {
		pr_warn("cannot write stats to %s: %s", o->stats_path, strerror(errno));
		return;
	}
	fprintf(f, "{\"command\":\"receive\",\"peer\":\"%s\",\"pid\":%d,\"precopy_rounds\":%u,\"migration_ms\":%.3f,",
		peer, pid, rounds, total_ms);
	restore_stats_json(f, st);
	if (pst) {
		fputc(',', f);
		postcopy_stats_json(f, pst);
	}
	fputs("}\n", f);
	fclose(f);
}

/* Pre-copy: the stub takes its layout and pages round by round while the
 * process still runs at the source, then the frozen state completes it. */
static int receive_rounds(struct link *l, pid_t pid, const struct restore_opts *ro, struct restore_prepared **prep,
			  struct restore_stats *st, uint32_t *rounds, char *err, size_t errlen)
{
	struct buf b = {0};
	int r = restore_live_begin(pid, ro, prep, st, err, errlen);
	while (r == 0) {
		r = restore_live_round(*prep, &l->in, st, err, errlen);
		if (r == 0) {
			encode_u64_record(&b, ++*rounds);
			if ((r = link_put(l, REC_ROUND_END, &b)) < 0)
				link_io_error(l, r, "acknowledging a pre-copy round", err, errlen);
		}
	}
	buf_free(&b);
	if (r == 1)
		r = restore_live_finish(*prep, &l->in, st, err, errlen);
	if (r < 0) {
		restore_abort(*prep);
		*prep = NULL;
	} else {
		pr_info("pid %d: %u pre-copy round(s), then the frozen state", pid, *rounds);
	}
	return r;
}

/* A connection that joins a migration another child runs (net/join.h):
 * handed over to it. Returns 1 if fd was one (and is closed), 0 if not. */
static int route_join(int fd, int timeout_ms, char *err, size_t errlen)
{
	uint8_t token[JOIN_TOKEN_LEN];
	enum join_kind kind;
	char peer[80];
	net_peer_name(fd, peer, sizeof(peer));
	int r = join_peek(fd, token, &kind, timeout_ms);
	if (r == 0)
		return 0;
	if (r < 0) {
		close(fd);
		snprintf(err, errlen, "%s: %s", peer,
			 r == -ETIMEDOUT ? "sent nothing after connecting" : r == -ECONNRESET ? "closed the connection at once"
											 : strerror(-r));
		return r;
	}
	r = join_hand_over(token, kind, fd);
	close(fd);
	if (r < 0) {
		snprintf(err, errlen, "%s joins %s", peer,
			 r == -ESRCH ? "no migration running here (it ended, or the token is wrong)" : strerror(-r));
		return r;
	}
	pr_info("%s joined a migration running here", peer);
	return 1;
}

/* After RUNNING: the token of a join point for post-copy's urgent
 * connection and for the main one made again (--retry-for), all zeros if
 * this host cannot open one (A then keeps to one connection). */
static void offer_session(struct link *l, struct join_point *jp, struct buf *b)
{
	int r = join_open(jp);
	if (r < 0) {
		pr_warn("no second connection for post-copy: %s", strerror(-r));
		memset(jp->token, 0, sizeof(jp->token));
	}
	encode_session(b, jp->token);
	if (link_put(l, REC_SESSION, b) < 0)
		pr_warn("%s did not hear the session token", l->peer);
}

/* One migration on an accepted socket; runs in its own child process. */
static int receive_one(int fd, const struct receive_opts *o, char *err, size_t errlen)
{
	double t0 = now_ms();
	int r = route_join(fd, o->timeout_ms, err, errlen);
	if (r != 0)
		return r < 0 ? r : 0;
	struct link l;
	r = link_accept(&l, fd, o->key, o->timeout_ms, err, errlen);
	if (r < 0)
		return r;
	struct fr_offer offer = {0};
	struct buf b = {0};
	char why[512];
	if ((r = read_hello(&l, err, errlen)) < 0 || (r = read_offer(&l, &offer, err, errlen)) < 0) {
		link_refuse(&l, err);
		goto out;
	}
	check_offer(&offer, why, sizeof(why));
	if (why[0]) {
		link_refuse(&l, why);
		snprintf(err, errlen, "refused pid %d from %s: %s", offer.pid, l.peer, why);
		r = -EEXIST;
		goto out;
	}
	if (offer.compress)
		l.in.accept_compress = (uint8_t)(1u << offer.compress);
	if ((r = link_put(&l, REC_ACCEPT, &b)) < 0) {
		link_io_error(&l, r, "answering the offer", err, errlen);
		goto out;
	}

	struct restore_opts ropts = o->restore;
	ropts.header_read = true;
	ropts.lazy = offer.mode == FR_MODE_POSTCOPY || offer.mode == FR_MODE_HYBRID;
	struct restore_stats rst;
	struct restore_prepared *prep = NULL;
	char rerr[512] = "";
	uint32_t rounds = 0;
	if (offer.mode == FR_MODE_PRECOPY || offer.mode == FR_MODE_HYBRID)
		r = receive_rounds(&l, offer.pid, &ropts, &prep, &rst, &rounds, rerr, sizeof(rerr));
	else
		r = restore_prepare(&l.in, &ropts, &prep, &rst, rerr, sizeof(rerr));
	if (r < 0) {
		link_refuse(&l, rerr[0] ? rerr : strerror(-r));
		snprintf(err, errlen, "pid %d from %s: %s; the half-built process was discarded here", offer.pid,
			 l.peer, rerr[0] ? rerr : strerror(-r));
		goto out;
	}
	encode_u64_record(&b, (uint64_t)(rst.t_threads_ms * 1e3));
	if ((r = link_put(&l, REC_READY, &b)) == 0)
		r = link_expect(&l, REC_GO, NULL, "the rebuilt process", err, errlen);
	else
		link_io_error(&l, r, "sending READY", err, errlen);
	if (r < 0) {
		restore_abort(prep);
		size_t n = strlen(err);
		snprintf(err + n, errlen - n, "; pid %d was discarded here (it runs on at the source)", offer.pid);
		goto out;
	}
	pid_t pid;
	struct restore_lazy lazy;
	restore_take_lazy(prep, &lazy);
	if ((r = restore_commit(prep, &pid, rerr, sizeof(rerr))) < 0) {
		restore_lazy_free(&lazy);
		link_refuse(&l, rerr);
		snprintf(err, errlen, "pid %d from %s: %s", offer.pid, l.peer, rerr);
		goto out;
	}
	encode_u64_record(&b, (uint64_t)pid);
	if (link_put(&l, REC_RUNNING, &b) < 0)
		pr_warn("pid %d runs here, but %s did not hear RUNNING: it keeps its copy stopped", pid, l.peer);
	struct postcopy_stats pst = {0};
	struct join_point jp = {.fd = -1};
	/* a join point for the urgent connection and for the main one made again */
	bool joins = ropts.lazy && (!(offer.postcopy_flags & FR_PC_NO_URGENT) || offer.retry_for_s);
	if (joins)
		offer_session(&l, &jp, &b);
	struct postcopy_fill_opts fo = {.flags = offer.postcopy_flags, .retry_for_ms = offer.retry_for_s * 1000,
					.join = joins && jp.fd >= 0 ? &jp : NULL};
	if (ropts.lazy)
		r = postcopy_fill(&l, pid, &lazy, &fo, &pst, rerr, sizeof(rerr));
	join_close(&jp);
	if (r < 0) {
		/* its faults wait (it holds its userfaultfd): never zeros where data belongs */
		snprintf(err, errlen, "pid %d from %s: %s; it runs here without all of its memory and waits for the "
			 "missing pages (the source keeps its copy stopped: kill this one and resume that one)",
			 offer.pid, l.peer, rerr);
		goto out;
	}
	double total = now_ms() - t0;
	printf("ferry receive: pid %d from %s is running here (%.1f ms, %.1f MiB of pages)\n", pid, l.peer, total,
	       (double)rst.page_bytes / (1 << 20));
	fflush(stdout);
	write_stats(o, l.peer, pid, &rst, ropts.lazy ? &pst : NULL, rounds, total);
out:
	fr_offer_free(&offer);
	buf_free(&b);
	link_close(&l, r == 0);
	return r;
}

/* The result of a finished connection child, as the listener logs it. */
static int reap_children(bool block)
{
	int last = 0, st;
	pid_t w;
	while ((w = waitpid(-1, &st, block ? 0 : WNOHANG)) > 0) {
		last = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (WIFSIGNALED(st))
			fprintf(stderr, "ferry: receive: the migration in process %d was killed by signal %d (%s)\n", w,
				WTERMSIG(st), strsignal(WTERMSIG(st)));
		if (block)
			break;
	}
	return last;
}

int receive_serve(const struct receive_opts *o, char *err, size_t errlen)
{
	struct net_addr a;
	int r = net_parse_addr(o->listen, true, &a, err, errlen);
	if (r < 0)
		return r;
	int lfd = net_listen(&a, err, errlen);
	if (lfd < 0)
		return lfd;
	pr_info("listening on %s (%s)", o->listen, o->key ? "TLS 1.3, pre-shared key" : "plain TCP, --insecure");
	fprintf(stderr, "ferry receive: listening on %s\n", o->listen);
	int result = 0;
	while (!interrupted()) {
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		int n = poll(&p, 1, ACCEPT_POLL_MS);
		reap_children(false);
		if (n <= 0)
			continue;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		fflush(NULL);
		pid_t child = fork();
		if (child == 0) {
			close(lfd);
			char why[1024] = "";
			int e = receive_one(fd, o, why, sizeof(why));
			if (e < 0)
				fprintf(stderr, "ferry: receive: %s\n", why[0] ? why : strerror(-e));
			fflush(NULL);
			_exit(e < 0 ? 1 : 0);
		}
		close(fd);
		if (child < 0) {
			pr_warn("cannot fork for a connection: %s", strerror(errno));
			continue;
		}
		if (o->once) {
			int st;
			while (waitpid(child, &st, 0) < 0 && errno == EINTR)
				;
			result = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
			break;
		}
	}
	close(lfd);
	if (o->once && result) {
		err[0] = '\0'; /* the connection's child has said why */
		return -EIO;
	}
	return 0;
}

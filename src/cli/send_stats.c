/* send_stats.c — the JSON statistics of one `ferry send` (--stats-json),
 * written by the CLI and, object by object, by `ferry ui` (its migrations
 * API serves the same fields): one round of pre-copy, and the whole run. */
#include <stdio.h>
#include <unistd.h>

#include "../migrate/send.h"
#include "cli.h"

void cli_send_round_write(FILE *f, const struct precopy_round *r)
{
	fprintf(f,
		"{\"round\":%u,\"dirty_pages\":%llu,\"dirty_rate_pps\":%.0f,\"fresh_bytes\":%llu,"
		"\"pages_sent\":%llu,\"pages_discarded\":%llu,\"pages_zero\":%llu,\"wire_bytes\":%llu,"
		"\"ms\":%.3f,\"expected_downtime_ms\":%.3f}",
		r->round, (unsigned long long)r->dirty_pages, r->dirty_rate, (unsigned long long)r->fresh_bytes,
		(unsigned long long)r->pages.pages_sent, (unsigned long long)r->pages.pages_discarded,
		(unsigned long long)r->pages.pages_zero, (unsigned long long)r->wire_bytes, r->ms,
		r->expected_downtime_ms);
}

static void write_rounds(FILE *f, const struct precopy_stats *p)
{
	fprintf(f, "\"rounds\":[");
	for (uint32_t i = 0; i < p->nrounds; i++) {
		if (i)
			fputc(',', f);
		cli_send_round_write(f, &p->rounds[i]);
	}
	fprintf(f, "],");
}

void cli_send_stats_write(FILE *f, const struct send_opts *o, const struct send_stats *st)
{
	const struct precopy_stats *p = &st->precopy;
	struct page_stats all = st->dump.pages;
	double pages_ms = st->dump.t_pages_ms;
	for (uint32_t i = 0; i < p->nrounds; i++) {
		all.pages_present += p->rounds[i].pages.pages_present;
		all.pages_sent += p->rounds[i].pages.pages_sent;
		all.pages_zero += p->rounds[i].pages.pages_zero;
		all.pages_discarded += p->rounds[i].pages.pages_discarded;
		all.bytes += p->rounds[i].pages.bytes;
		pages_ms += p->rounds[i].ms;
	}
	bool pre = o->mode == FR_MODE_PRECOPY || o->mode == FR_MODE_HYBRID;
	static const char *const modes[] = {[FR_MODE_STOP_AND_COPY] = "stop-and-copy", [FR_MODE_PRECOPY] = "precopy",
					     [FR_MODE_POSTCOPY] = "postcopy", [FR_MODE_HYBRID] = "hybrid"};
	fprintf(f, "{\"command\":\"send\",\"mode\":\"%s\",\"pid\":%d,\"dest_pid\":%d,\"peer\":\"%s\","
		   "\"channel\":\"%s\",\"total_ms\":%.3f,\"setup_ms\":%.3f,\"downtime_ms\":%.3f,",
		modes[o->mode], o->pid, st->dest_pid, st->peer, st->channel ? st->channel : "",
		st->t_total_ms, st->t_setup_ms, st->t_downtime_ms);
	if (pre)
		fprintf(f, "\"expected_downtime_ms\":%.3f,\"downtime_limit_ms\":%.3f,\"downtime_fits\":%s,"
			   "\"rule\":\"%s\",\"dirty_backend\":\"%s\",\"track_setup_ms\":%.3f,\"switchover_cost_ms\":%.3f,"
			   "\"rate_mbps\":%.1f,\"final_dirty_pages\":%llu,",
			p->expected_downtime_ms, o->precopy.downtime_limit_ms, p->downtime_fits ? "true" : "false",
			precopy_rule_name(p->rule), dirty_backend_name(p->backend), p->t_track_ms, p->switchover_ms,
			p->rate_bps * 8 / 1e6, (unsigned long long)p->final_dirty_pages);
	else
		fprintf(f, "\"rule\":null,");
	if (o->mode == FR_MODE_POSTCOPY || o->mode == FR_MODE_HYBRID) {
		fprintf(f, "\"pages_lazy\":%llu,", (unsigned long long)st->dump.pages.pages_lazy);
		postcopy_stats_json(f, &st->postcopy);
		fputc(',', f);
	}
	write_rounds(f, p);
	fprintf(f,
		"\"precheck_ms\":%.3f,\"freeze_ms\":%.3f,\"capture_ms\":%.3f,\"pages_ms\":%.3f,\"final_pages_ms\":%.3f,"
		"\"final_pages\":%llu,\"dest_build_ms\":%.3f,\"threads\":%u,\"vmas\":%u,\"files\":%u,"
		"\"pages_present\":%llu,\"pages_sent\":%llu,\"pages_discarded\":%llu,\"pages_zero\":%llu,"
		"\"zero_bytes_saved\":%llu,\"compress\":\"%s\",\"compress_bytes_saved\":%llu,"
		"\"page_bytes\":%llu,\"wire_bytes\":%llu,\"mbps\":%.1f}\n",
		st->dump.t_precheck_ms, st->dump.t_freeze_ms, st->dump.t_capture_ms, pages_ms, st->dump.t_pages_ms,
		(unsigned long long)st->dump.pages.pages_sent, st->t_build_ms, st->dump.threads, st->dump.vmas,
		st->dump.files, (unsigned long long)all.pages_present, (unsigned long long)all.pages_sent,
		(unsigned long long)all.pages_discarded, (unsigned long long)all.pages_zero,
		(unsigned long long)all.pages_zero * (unsigned long long)sysconf(_SC_PAGESIZE),
		fr_compress_name(o->compress), (unsigned long long)st->compress_saved, (unsigned long long)all.bytes,
		(unsigned long long)st->wire_bytes, pages_ms > 0 ? (double)all.bytes * 8 / (pages_ms / 1e3) / 1e6 : 0.0);
}

/* log.c — timestamped leveled logging to stderr (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

#include "util.h"

int log_verbosity = LOG_WARN;
static double log_t0;

void log_init(void) { log_t0 = now_ms(); }

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	if ((int)lvl > log_verbosity)
		return;
	static const char *const tag[] = {"error", "warn", "info", "debug"};
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "(%8.3f) %s: %s\n", (now_ms() - log_t0) / 1e3, tag[lvl], line);
}

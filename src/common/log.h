/* log.h — ferry's one logger. Levels: error (always), info (-v), debug (-vv).
 * Every line carries ms since start. Layers log through these macros only;
 * the CLI prints the final one-line error itself. */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

enum log_level { LOG_ERR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

extern int log_verbosity; /* messages with level <= this are printed */

void log_init(void);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define pr_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif

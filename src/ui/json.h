/* json.h — jansson helpers of the ui layer: text from /proc or from error
 * lines that may not be UTF-8, and JSON that ferry's CLI writes to a FILE
 * (the --stats-json writers) turned into jansson values. */
#ifndef FERRY_UI_JSON_H
#define FERRY_UI_JSON_H

#include <stdio.h>

#include <jansson.h>

/* A JSON string of s, with every byte that is not valid UTF-8 shown as '?'
 * (process names and paths are bytes). Never NULL for a non-NULL s unless
 * memory runs out; NULL s gives JSON null. */
json_t *ui_json_text(const char *s);
/* Runs write(f, arg) on a memory stream and parses what it wrote; NULL if
 * that is not JSON (or memory runs out). */
json_t *ui_json_from_writer(void (*write)(FILE *f, const void *arg), const void *arg);

#endif

/* json.c — see json.h. */
#include "json.h"

#include <stdlib.h>
#include <string.h>

json_t *ui_json_text(const char *s)
{
	if (!s)
		return json_null();
	json_t *j = json_string(s);
	if (j)
		return j;
	char *copy = strdup(s);
	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

json_t *ui_json_from_writer(void (*write)(FILE *f, const void *arg), const void *arg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	write(f, arg);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	json_t *j = json_loadb(text, len, 0, NULL);
	free(text);
	return j;
}

/* assets.c — see assets.h. Each file is included whole by the assembler
 * (.incbin, path relative to the top of the tree, where make runs); the
 * Makefile makes this object depend on src/ui/assets/. */
#include "assets.h"

#include <errno.h>
#include <string.h>

#include "../common/util.h"

#define EMBED(sym, file)                                                                                       \
	__asm__(".pushsection .rodata\n.balign 16\n" #sym ":\n.incbin \"" file "\"\n" #sym "_end:\n.byte 0\n"  \
		".popsection\n");                                                                              \
	extern const char sym[], sym##_end[]

EMBED(asset_index_html, "src/ui/assets/index.html");
EMBED(asset_app_js, "src/ui/assets/app.js");
EMBED(asset_charts_js, "src/ui/assets/charts.js");
EMBED(asset_style_css, "src/ui/assets/style.css");

static const struct embedded {
	const char *path, *mime, *start, *end;
} embedded[] = {
	{"/", "text/html; charset=utf-8", asset_index_html, asset_index_html_end},
	{"/app.js", "text/javascript; charset=utf-8", asset_app_js, asset_app_js_end},
	{"/charts.js", "text/javascript; charset=utf-8", asset_charts_js, asset_charts_js_end},
	{"/style.css", "text/css; charset=utf-8", asset_style_css, asset_style_css_end},
};

int ui_asset_find(const char *path, struct ui_asset *a)
{
	for (size_t i = 0; i < ARRAY_SIZE(embedded); i++)
		if (strcmp(path, embedded[i].path) == 0) {
			*a = (struct ui_asset){embedded[i].path, embedded[i].mime, embedded[i].start,
					       (size_t)(embedded[i].end - embedded[i].start)};
			return 0;
		}
	return -ENOENT;
}

/* assets.h — the page's files (src/ui/assets/), built into the binary so
 * that ferry ui works without internet access or installed files. */
#ifndef FERRY_UI_ASSETS_H
#define FERRY_UI_ASSETS_H

#include <stddef.h>

struct ui_asset {
	const char *path; /* as requested: "/", "/app.js" */
	const char *mime;
	const char *data;
	size_t len;
};

/* Fills *a: 0, or -ENOENT if path names no asset. */
int ui_asset_find(const char *path, struct ui_asset *a);

#endif

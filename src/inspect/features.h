/* features.h — probing which kernel features ferry can use on this machine
 * (`ferry check`). Each probe exercises the feature for real on a throwaway
 * object; it does not trust version numbers. */
#ifndef FERRY_FEATURES_H
#define FERRY_FEATURES_H

#include <stdbool.h>
#include <stddef.h>

struct feature {
	const char *name;
	const char *what;
	bool required_for_restore;
	int (*probe)(char *detail, size_t len); /* 0 = available */
};

extern const struct feature ferry_features[];
extern const size_t ferry_nfeatures;
const struct feature *feature_find(const char *name);

#endif

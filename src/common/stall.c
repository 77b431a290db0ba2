/* stall.c — see stall.h. */
#include "stall.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "interrupt.h"

void stall_point(const char *name)
{
	static const char *want;
	static int looked;
	if (!looked) {
		want = getenv("FERRY_STALL_AT");
		looked = 1;
	}
	if (!want || strcmp(want, name) != 0)
		return;
	fprintf(stderr, "ferry: stalled at %s\n", name);
	fflush(stderr);
	while (!interrupted()) /* SIGINT/SIGTERM end the stall through ferry's own safe path */
		pause();
}

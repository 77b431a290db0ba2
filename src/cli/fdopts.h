/* fdopts.h — parsing --external, --inherit-fd and --map-addr (fdopts.c).
 * Each returns 0, or -1 with the error printed. */
#ifndef FERRY_CLI_FDOPTS_H
#define FERRY_CLI_FDOPTS_H

#include <stddef.h>

#include "../restore/restore.h"

int cli_add_external(const char *cmd, const char *arg, int **list, size_t *n);
int cli_add_inherit(const char *cmd, const char *arg, struct restore_inherit **list, size_t *n);
int cli_add_map_addr(const char *cmd, const char *arg, struct restore_addr_map **list, size_t *n);

#endif

/* codec_internal.h — what the codec's files share among themselves (state/
 * only): refusing a field, and the kind-specific tail of FILE records
 * (codec_fdstate.c). */
#ifndef FERRY_CODEC_INTERNAL_H
#define FERRY_CODEC_INTERNAL_H

#include <stdbool.h>

#include "buf.h"
#include "codec.h"

/* Records why a decode failed (codec_why) and returns -EBADMSG. */
int codec_refuse(const char *field);
/* 0 if every get of r succeeded and consumed the payload exactly, else
 * refuses it as short or as having trailing bytes. */
int codec_finish(struct buf_reader *r);
/* Does a FILE record of this kind carry a tail after kind_flags? */
bool codec_file_has_tail(uint32_t kind);
void encode_file_tail(struct buf *b, const struct fr_file *f);
/* Reads the tail into f (watches allocated in f); a short or oversized one
 * marks r bad. */
void decode_file_tail(struct buf_reader *r, struct fr_file *f);
/* The per-kind rules for value, kind_flags, pos and the tail. */
int check_file_state(const struct fr_file *f);

#endif

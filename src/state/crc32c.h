/* crc32c.h — CRC-32C (Castagnoli) for stream records; SSE4.2 when the CPU
 * has it (~8 GB/s), a table otherwise. crc32c(0, ...) starts a new sum;
 * feeding the result back continues it. */
#ifndef FERRY_CRC32C_H
#define FERRY_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
/* CRC of A followed by B, from crc(A), crc(B) and the length of B. */
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, size_t len_b);

#endif

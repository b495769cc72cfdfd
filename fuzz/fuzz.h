/* fuzz.h — shared by the fuzz targets and their corpus-replay driver: the
 * libFuzzer entry point and the attributes of the targets' fail(). */
#ifndef WV_FUZZ_H
#define WV_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Runs one input; aborts (with a message) when a check fails. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#if defined(__GNUC__)
#define NORETURN __attribute__((noreturn))
#define PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define NORETURN
#define PRINTF(a, b)
#endif

#endif /* WV_FUZZ_H */

/* utf8.h — strict UTF-8 codec (RFC 3629: no overlongs, no surrogates, nothing
 * above U+10FFFF). Internal: included by weave/ modules and tools only. */
#ifndef WV_UTF8_H
#define WV_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the code point at s[*i], advancing *i. Returns 0, or -1 (and leaves
 * *i) when the bytes there are not valid UTF-8. Requires *i < len. */
int _wv_utf8_next(const char *s, size_t len, size_t *i, uint32_t *cp);
/* Validates all of s and counts its code points. Returns 0 or -1. */
int _wv_utf8_count(const char *s, size_t len, size_t *count);
/* Encodes cp (a valid scalar value) into out; returns 1 to 4 bytes. */
size_t _wv_utf8_put(uint32_t cp, char out[4]);

#endif /* WV_UTF8_H */

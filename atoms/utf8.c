/* utf8.c — strict UTF-8 decoding and encoding (see utf8.h). */
#include "utf8.h"

int _wv_utf8_next(const char *s, size_t len, size_t *i, uint32_t *cp) {
    const unsigned char *p = (const unsigned char *)s + *i;
    size_t left = len - *i;
    uint32_t c = p[0], min;
    size_t n;
    if (c < 0x80) { *cp = c; *i += 1; return 0; }
    if (c >= 0xc2 && c <= 0xdf) n = 2, c &= 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef) n = 3, c &= 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4) n = 4, c &= 0x07, min = 0x10000;
    else return -1;
    if (left < n) return -1;
    for (size_t k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80) return -1;
        c = c << 6 | (p[k] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return -1;
    *cp = c;
    *i += n;
    return 0;
}

int _wv_utf8_count(const char *s, size_t len, size_t *count) {
    size_t i = 0, n = 0;
    uint32_t cp;
    while (i < len) {
        if ((unsigned char)s[i] < 0x80) { i++, n++; continue; }
        if (_wv_utf8_next(s, len, &i, &cp)) return -1;
        n++;
    }
    *count = n;
    return 0;
}

size_t _wv_utf8_put(uint32_t cp, char out[4]) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12), out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18), out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f)), out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

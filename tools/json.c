/* json.c — escaped JSON output and a strict pull parser (see json.h). */
#include <string.h>
#include "json.h"
#include "utf8.h"

static void put_cp(strbuf *b, uint32_t cp) {
    char u[4];
    static const char hex[] = "0123456789abcdef";
    if (cp == '"') sb_put(b, "\\\"", 2);
    else if (cp == '\\') sb_put(b, "\\\\", 2);
    else if (cp == '\n') sb_put(b, "\\n", 2);
    else if (cp == '\t') sb_put(b, "\\t", 2);
    else if (cp == '\r') sb_put(b, "\\r", 2);
    else if (cp < 0x20 || cp == 0x7f) {
        char e[6] = {'\\', 'u', '0', '0', hex[cp >> 4], hex[cp & 15]};
        sb_put(b, e, 6);
    } else {
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
        sb_put(b, u, _wv_utf8_put(cp, u));
    }
}

void json_str(strbuf *b, const char *s, size_t n) {
    size_t i = 0;
    uint32_t cp;
    sb_put(b, "\"", 1);
    while (i < n) {
        if (_wv_utf8_next(s, n, &i, &cp)) cp = 0xfffd, i++; /* callers pass valid UTF-8 */
        put_cp(b, cp);
    }
    sb_put(b, "\"", 1);
}

void json_cps(strbuf *b, const uint32_t *cps, size_t n) {
    sb_put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) put_cp(b, cps[i]);
    sb_put(b, "\"", 1);
}

/* ---- parser ---------------------------------------------------------------- */

static void blanks(json_in *in) {
    while (in->p < in->end && (*in->p == ' ' || *in->p == '\t' || *in->p == '\n' || *in->p == '\r'))
        in->p++;
}

static int take(json_in *in, char c) {
    blanks(in);
    if (in->p >= in->end || *in->p != c) return -1;
    in->p++;
    return 0;
}

static void reset(strbuf *b) {
    b->len = 0;
    if (b->s) b->s[0] = 0;
}

int json_object(json_in *in) {
    in->first = 1;
    return take(in, '{');
}

int json_key(json_in *in, strbuf *key) {
    blanks(in);
    if (in->p < in->end && *in->p == '}') {
        in->p++;
        return 0;
    }
    if (!in->first && take(in, ',')) return -1;
    in->first = 0;
    if (json_string(in, key, 64) || take(in, ':')) return -1;
    return 1;
}

static int hex4(json_in *in, uint32_t *out) {
    uint32_t v = 0;
    if (in->end - in->p < 4) return -1;
    for (int k = 0; k < 4; k++) {
        char c = *in->p++;
        uint32_t d = c >= '0' && c <= '9'   ? (uint32_t)(c - '0')
                     : c >= 'a' && c <= 'f' ? (uint32_t)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (uint32_t)(c - 'A' + 10)
                                            : 16;
        if (d == 16) return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

int json_string(json_in *in, strbuf *out, size_t max) {
    reset(out);
    sb_put(out, "", 0);
    if (take(in, '"')) return -1;
    const char *s = in->p;
    size_t len = (size_t)(in->end - in->p);
    size_t i = 0;
    for (;;) {
        uint32_t cp;
        char u[4];
        if (i >= len) return -1;
        unsigned char c = (unsigned char)s[i];
        if (c == '"') {
            in->p = s + i + 1;
            return 0;
        }
        if (c < 0x20) return -1;
        if (c == '\\') {
            if (++i >= len) return -1;
            char e = s[i++];
            switch (e) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u': {
                json_in h = {s + i, in->end, 0};
                if (hex4(&h, &cp)) return -1;
                i += 4;
                if (cp >= 0xdc00 && cp <= 0xdfff) return -1; /* lone low surrogate */
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    uint32_t lo;
                    if (len - i < 6 || s[i] != '\\' || s[i + 1] != 'u') return -1;
                    h.p = s + i + 2;
                    if (hex4(&h, &lo) || lo < 0xdc00 || lo > 0xdfff) return -1;
                    i += 6;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                break;
            }
            default: return -1;
            }
        } else if (_wv_utf8_next(s, len, &i, &cp)) return -1;
        size_t k = _wv_utf8_put(cp, u);
        if (out->len + k > max) return -1;
        sb_put(out, u, k);
    }
}

int json_uint(json_in *in, uint64_t max, uint64_t *out) {
    uint64_t v = 0;
    blanks(in);
    const char *start = in->p;
    while (in->p < in->end && *in->p >= '0' && *in->p <= '9') {
        uint64_t d = (uint64_t)(*in->p - '0');
        if (v > (max - d) / 10) return -1;
        v = v * 10 + d;
        in->p++;
    }
    if (in->p == start || (*start == '0' && in->p - start > 1)) return -1;
    if (in->p < in->end && (*in->p == '.' || *in->p == 'e' || *in->p == 'E')) return -1;
    *out = v;
    return 0;
}

int json_bool(json_in *in, int *out) {
    blanks(in);
    size_t left = (size_t)(in->end - in->p);
    if (left >= 4 && !memcmp(in->p, "true", 4)) *out = 1, in->p += 4;
    else if (left >= 5 && !memcmp(in->p, "false", 5)) *out = 0, in->p += 5;
    else return -1;
    return 0;
}

int json_uints(json_in *in, size_t n, uint64_t max, uint64_t *out) {
    if (take(in, '[')) return -1;
    for (size_t k = 0; k < n; k++)
        if ((k && take(in, ',')) || json_uint(in, max, &out[k])) return -1;
    return take(in, ']');
}

int json_end(json_in *in) {
    blanks(in);
    return in->p == in->end ? 0 : -1;
}

/* trace.c — loading editing traces (see trace.h) from .json or .json.gz.
 *
 * The whole file is read through zlib (gzread reads plain files too) into
 * one NUL-terminated buffer, which a small strict recursive-descent JSON
 * parser, specialised for the trace format, walks once:
 * - known fields are checked and converted where they stand; unknown ones
 *   are checked and skipped by a generic skipper with a nesting limit;
 * - every string is checked (escapes, surrogate pairs, UTF-8, control
 *   characters); inserted texts are decoded into one pool, NUL after each;
 * - transactions, patches and parent links go into arrays that grow by
 *   doubling; their pointers into each other are set once nothing moves.
 * The buffer is freed before returning, so a loaded trace costs only its
 * arrays, the text pool and endContent.
 *
 * Object members may come in any order. Agents and parents are checked only
 * in concurrent traces, which takes "kind" and "numAgents": if "txns" comes
 * before either, it is parsed without those checks and, should the trace
 * turn out concurrent, parsed again from its remembered position.
 *
 * Errors are reported where they are found, so of several problems the
 * first met in the text wins; a value with the wrong type is first checked
 * to be valid JSON, so that a syntax error inside it is reported as such.
 */
#include "trace.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#if defined(__GNUC__)
#define WVT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define WVT_PRINTF(f, a)
#endif

/* Deepest nesting accepted; the top-level object is level 1, a patch 5. */
#define MAX_DEPTH 64

/* Where error messages go, and the path they are prefixed with. */
typedef struct loader {
    const char *path;
    char *err;
    size_t errcap;
} loader;

/* A growable byte buffer. */
typedef struct bytes {
    char *data;
    size_t len, cap;
} bytes;

/* Owned storage behind wvt_trace.priv_. Each array has at least one slot so
 * that pointers into it are never derived from NULL. */
typedef struct storage {
    wvt_txn *txns;
    wvt_patch *patches;
    size_t *parents;
    char *text; /* every ins, in patch order, each followed by a NUL */
    char *end;  /* endContent and a NUL */
} storage;

/* A decoded string: a slice of the input if it has no escapes, else a
 * NUL-terminated copy at keys.data + keys.len (scratch set), valid until the
 * scratch is next written. */
typedef struct view {
    const char *s;
    size_t n;
    int scratch;
} view;

/* An unknown key kept for its object's duplicate check: n bytes at off in
 * the keys buffer (s once that stops moving), read at source position at. */
typedef struct keyspan {
    const char *s;
    size_t off, n;
    const unsigned char *at;
} keyspan;

/* Where one object's kept keys start. */
typedef struct scope {
    size_t spans, keys;
} scope;

/* A JSON number without fraction or exponent. big: mag overflowed. */
typedef struct inttok {
    unsigned long long mag;
    int neg, big;
} inttok;

typedef struct parser {
    const loader *ld;
    const unsigned char *buf, *end; /* the text; *end is a NUL sentinel */
    const unsigned char *p;         /* next byte to read */

    /* Top-level fields. */
    int concurrent;
    int num_agents; /* 0: absent; -1: present but not a positive int */
    int have_end, have_txns;
    int causal; /* the current parse of txns checks agents and parents */
    const unsigned char *txns_at;

    /* The trace under construction. Txn pointers stay NULL until finish(). */
    wvt_txn *txns;
    size_t ntxns, cap_txns;
    wvt_patch *patches;
    size_t npatches, cap_patches;
    size_t *parents;
    size_t nparents, cap_parents;
    bytes text; /* every ins, each followed by a NUL */
    bytes endc; /* endContent and a NUL, once read */

    /* Scratch: escaped keys and short strings, and unknown keys kept for the
     * duplicate checks of the objects being read. */
    bytes keys;
    keyspan *spans;
    size_t nspans, cap_spans;
} parser;

/* 1 for the bytes a string holds literally: printable ASCII but " and \. */
static const unsigned char PLAIN[256] = {
    /* 0x00 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x10 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x20 */ 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x30 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x40 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x50 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    /* 0x60 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x70 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x80 .. 0xFF: 0 */
};

/* ---- errors ------------------------------------------------------------- */

/* Writes "path: <message>" into ld->err (if any) and returns -1. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 0)))
#endif
static int vfail(const loader *ld, const char *fmt, va_list ap)
{
    if (ld->err == NULL || ld->errcap == 0)
        return -1;
    int n = snprintf(ld->err, ld->errcap, "%s: ", ld->path);
    if (n >= 0 && (size_t)n < ld->errcap)
        vsnprintf(ld->err + n, ld->errcap - (size_t)n, fmt, ap);
    /* One line: a path or key with a line break must not split it. */
    for (char *p = ld->err; *p != '\0'; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return -1;
}

WVT_PRINTF(2, 3)
static int fail(const loader *ld, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(ld, fmt, ap);
    va_end(ap);
    return -1;
}

static int oom(const parser *ps)
{
    return fail(ps->ld, "out of memory");
}

/* Reports a syntax error at source position at, with its line and column
 * (both 1-based; the column counts bytes). Returns -1. */
WVT_PRINTF(3, 4)
static int syntax(const parser *ps, const unsigned char *at, const char *fmt, ...)
{
    size_t line = 1;
    const unsigned char *bol = ps->buf;
    for (const unsigned char *q = ps->buf; q < at; q++)
        if (*q == '\n') {
            line++;
            bol = q + 1;
        }
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fail(ps->ld, "invalid JSON at line %zu, column %zu: %s", line,
                (size_t)(at - bol) + 1, msg);
}

/* Reports the byte at ps->p as a syntax error: "expected <what>". */
static int unexpected(const parser *ps, const char *what)
{
    const unsigned char *at = ps->p;
    if (at >= ps->end)
        return syntax(ps, at, "unexpected end of input, expected %s", what);
    if (*at >= 0x20 && *at < 0x7F)
        return syntax(ps, at, "unexpected '%c', expected %s", *at, what);
    return syntax(ps, at, "unexpected byte 0x%02X, expected %s", *at, what);
}

/* ---- buffers ------------------------------------------------------------ */

/* Returns data (capacity *cap elements of size bytes) reallocated to hold at
 * least need elements, doubling, and updates *cap; NULL if out of memory,
 * and then data and *cap are unchanged. */
static void *grow(void *data, size_t *cap, size_t need, size_t size)
{
    size_t n = *cap != 0 ? *cap : 16;
    while (n < need)
        n = n <= SIZE_MAX / 2 ? n * 2 : need;
    if (n > SIZE_MAX / size)
        return NULL;
    void *q = realloc(data, n * size);
    if (q != NULL)
        *cap = n;
    return q;
}

/* Makes room for extra more bytes after b->len. Returns 0 or -1. */
static int bytes_reserve(bytes *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    if (extra > SIZE_MAX - b->len)
        return -1;
    char *q = grow(b->data, &b->cap, b->len + extra, 1);
    if (q == NULL)
        return -1;
    b->data = q;
    return 0;
}

/* realloc to exactly n elements (at least one); keeps data if that fails. */
static void *shrink(void *data, size_t n, size_t size)
{
    void *q = realloc(data, (n != 0 ? n : 1) * size);
    return q != NULL ? q : data;
}

/* ---- reading ------------------------------------------------------------ */

/* zlib prefixes its messages with the path it was given; drop that. */
static const char *strip_path(const char *msg, const char *path)
{
    size_t n = strlen(path);
    if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        return msg + n + 2;
    return msg;
}

/* Reads the whole (decompressed) file into *in, NUL-terminated; in->len does
 * not count the NUL. Returns 0, or -1 after reporting with *in empty. */
static int read_file(const loader *ld, bytes *in)
{
    errno = 0;
    gzFile gz = gzopen(ld->path, "rb");
    if (gz == NULL)
        return fail(ld, "cannot open: %s", errno != 0 ? strerror(errno) : "out of memory");
    gzbuffer(gz, 1u << 17);

    int rc = 0;
    char *first = grow(NULL, &in->cap, (size_t)1 << 20, 1);
    if (first == NULL)
        rc = fail(ld, "out of memory");
    in->data = first;
    while (rc == 0) {
        if (in->cap - in->len < 2 && bytes_reserve(in, 2) != 0) {
            rc = fail(ld, "out of memory");
            break;
        }
        size_t room = in->cap - in->len - 1; /* one byte stays for the NUL */
        unsigned want = room > (size_t)INT_MAX ? (unsigned)INT_MAX : (unsigned)room;
        int n = gzread(gz, in->data + in->len, want);
        if (n <= 0)
            break;
        in->len += (size_t)n;
    }
    if (rc == 0) {
        /* A read error, or a corrupt or truncated stream (the trailer can
         * be missing after complete JSON). */
        int zerr = Z_OK;
        const char *zmsg = gzerror(gz, &zerr);
        if (zerr != Z_OK)
            rc = fail(ld, "cannot read%s: %s", zerr == Z_BUF_ERROR ? " (truncated gzip?)" : "",
                      strip_path(zmsg, ld->path));
    }
    gzclose_r(gz);
    if (rc != 0) {
        free(in->data);
        memset(in, 0, sizeof *in);
        return -1;
    }
    in->data[in->len] = '\0';
    return 0;
}

/* ---- lexical helpers ---------------------------------------------------- */

static void skip_ws(parser *ps)
{
    const unsigned char *q = ps->p;
    while (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t')
        q++;
    ps->p = q;
}

/* Value of a hex digit, or -1. */
static int hex_digit(unsigned c)
{
    if (c - '0' < 10u)
        return (int)(c - '0');
    c |= 0x20u;
    if (c - 'a' < 6u)
        return (int)(c - 'a') + 10;
    return -1;
}

/* The 4 hex digits at q, or -1. Reads no further than a non-digit. */
static long hex4(const unsigned char *q)
{
    long v = 0;
    for (int k = 0; k < 4; k++) {
        int d = hex_digit(q[k]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Length of the well-formed UTF-8 sequence of 2 to 4 bytes at q (no
 * overlong forms, surrogates or values above U+10FFFF), or 0. Reads no
 * further than the first byte that does not fit, so stops at the NUL. */
static size_t utf8_seq(const unsigned char *q)
{
    unsigned c = q[0];
    if (c >= 0xC2 && c <= 0xDF)
        return (q[1] & 0xC0u) == 0x80u ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        return q[1] >= lo && q[1] <= hi && (q[2] & 0xC0u) == 0x80u ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        return q[1] >= lo && q[1] <= hi && (q[2] & 0xC0u) == 0x80u &&
                       (q[3] & 0xC0u) == 0x80u
                   ? 4
                   : 0;
    }
    return 0;
}

/* Writes code point cp (not a surrogate, <= 0x10FFFF) as UTF-8 at w and
 * returns the position after it. */
static unsigned char *put_utf8(unsigned char *w, unsigned long cp)
{
    if (cp < 0x80) {
        *w++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *w++ = (unsigned char)(0xC0 | (cp >> 6));
        *w++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *w++ = (unsigned char)(0xE0 | (cp >> 12));
        *w++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        *w++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else {
        *w++ = (unsigned char)(0xF0 | (cp >> 18));
        *w++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        *w++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        *w++ = (unsigned char)(0x80 | (cp & 0x3F));
    }
    return w;
}

/* Code points in n bytes of valid UTF-8: every byte but continuation bytes. */
static size_t utf8_chars(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += ((unsigned char)s[i] & 0xC0u) != 0x80u;
    return count;
}

/* Decodes the escape at *qp (its backslash) into *cp and moves *qp past it;
 * a \u escape of a high surrogate must be followed by one of a low
 * surrogate. Returns 0 or -1 after reporting. */
static int decode_escape(const parser *ps, const unsigned char **qp, unsigned long *cp)
{
    const unsigned char *q = *qp;
    switch (q[1]) {
    case '"':
    case '\\':
    case '/': *cp = q[1]; break;
    case 'b': *cp = '\b'; break;
    case 'f': *cp = '\f'; break;
    case 'n': *cp = '\n'; break;
    case 'r': *cp = '\r'; break;
    case 't': *cp = '\t'; break;
    case 'u': {
        long hi = hex4(q + 2);
        if (hi < 0)
            return syntax(ps, q, "invalid \\u escape (4 hex digits expected)");
        if (hi == 0)
            return syntax(ps, q, "\\u0000 is not allowed in strings");
        if (hi >= 0xDC00 && hi <= 0xDFFF)
            return syntax(ps, q, "lone low surrogate \\u%04lX", hi);
        if (hi >= 0xD800 && hi <= 0xDBFF) {
            /* q[2..5] are hex digits, so q[6] is at most the final NUL. */
            long lo = q[6] == '\\' && q[7] == 'u' ? hex4(q + 8) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF)
                return syntax(ps, q, "lone high surrogate \\u%04lX", hi);
            *cp = 0x10000ul + ((unsigned long)(hi - 0xD800) << 10) + (unsigned long)(lo - 0xDC00);
            *qp = q + 12;
            return 0;
        }
        *cp = (unsigned long)hi;
        *qp = q + 6;
        return 0;
    }
    default:
        return syntax(ps, q, "invalid escape");
    }
    *qp = q + 2;
    return 0;
}

/* Reads the string at ps->p (its opening quote), checking it strictly. With
 * dst, writes the decoded text and a NUL at dst->data + dst->len without
 * taking them (dst->len is unchanged) and stores the decoded length in *len.
 * Returns 0 with ps->p past the closing quote, or -1 after reporting. */
static int read_string(parser *ps, bytes *dst, size_t *len)
{
    const unsigned char *open = ps->p, *s = open + 1, *q = s;
    while (PLAIN[*q])
        q++;
    size_t run = (size_t)(q - s);
    if (*q == '"') { /* the common case: nothing to decode */
        if (dst != NULL) {
            if (bytes_reserve(dst, run + 1) != 0)
                return oom(ps);
            memcpy(dst->data + dst->len, s, run);
            dst->data[dst->len + run] = '\0';
            *len = run;
        }
        ps->p = q + 1;
        return 0;
    }

    unsigned char *w = NULL, *w0 = NULL;
    if (dst != NULL) {
        /* Decoding never lengthens: the raw length bounds the output. */
        const unsigned char *e = q;
        while (e < ps->end && *e != '"')
            e += *e == '\\' ? 2 : 1;
        if (bytes_reserve(dst, (size_t)(e - s) + 1) != 0)
            return oom(ps);
        w0 = (unsigned char *)dst->data + dst->len;
        memcpy(w0, s, run);
        w = w0 + run;
    }
    for (;;) {
        const unsigned char *r = q;
        while (PLAIN[*q])
            q++;
        if (w != NULL) {
            memcpy(w, r, (size_t)(q - r));
            w += q - r;
        }
        unsigned c = *q;
        if (c == '"')
            break;
        if (c == '\\') {
            unsigned long cp = 0;
            if (decode_escape(ps, &q, &cp) != 0)
                return -1;
            if (w != NULL)
                w = put_utf8(w, cp);
        } else if (c >= 0x80) {
            size_t n = utf8_seq(q);
            if (n == 0)
                return syntax(ps, q, "invalid UTF-8 in string");
            if (w != NULL) {
                memcpy(w, q, n);
                w += n;
            }
            q += n;
        } else if (q >= ps->end) {
            return syntax(ps, open, "unterminated string");
        } else {
            return syntax(ps, q, "control character 0x%02X in string", c);
        }
    }
    if (w != NULL) {
        *w = '\0';
        *len = (size_t)(w - w0);
    }
    ps->p = q + 1;
    return 0;
}

/* Reads the string at ps->p into *v (see view). Returns 0 or -1. */
static int read_view(parser *ps, view *v)
{
    const unsigned char *s = ps->p + 1, *q = s;
    while (PLAIN[*q])
        q++;
    if (*q == '"') {
        v->s = (const char *)s;
        v->n = (size_t)(q - s);
        v->scratch = 0;
        ps->p = q + 1;
        return 0;
    }
    if (read_string(ps, &ps->keys, &v->n) != 0)
        return -1;
    v->s = ps->keys.data + ps->keys.len;
    v->scratch = 1;
    return 0;
}

static int view_is(const view *v, const char *lit)
{
    size_t n = strlen(lit);
    return v->n == n && memcmp(v->s, lit, n) == 0;
}

/* Reads a number at ps->p if it has neither fraction nor exponent. Returns
 * 1 with ps->p past it, else 0 with ps->p unchanged (not a number, another
 * number, or invalid: the caller checks the value to tell). */
static int read_integer(parser *ps, inttok *t)
{
    const unsigned char *q = ps->p;
    t->neg = *q == '-';
    q += t->neg;
    unsigned d = (unsigned)*q - '0';
    if (d > 9)
        return 0;
    unsigned long long m = 0;
    t->big = 0;
    if (d == 0) {
        q++;
    } else {
        while ((d = (unsigned)*q - '0') <= 9) {
            if (m > (ULLONG_MAX - d) / 10)
                t->big = 1;
            else
                m = m * 10 + d;
            q++;
        }
    }
    if (*q == '.' || *q == 'e' || *q == 'E')
        return 0;
    t->mag = m;
    ps->p = q;
    return 1;
}

/* Reads an integer 0 .. SIZE_MAX into *v. Returns 1, or 0 (see read_integer;
 * ps->p may have moved past an integer out of range). */
static int read_size(parser *ps, size_t *v)
{
    inttok t;
    if (!read_integer(ps, &t) || t.big || (t.neg && t.mag != 0) || t.mag > SIZE_MAX)
        return 0;
    *v = (size_t)t.mag;
    return 1;
}

/* ---- generic values ----------------------------------------------------- */

static int skip_value(parser *ps, int depth);

/* Steps through an object whose '{' has been consumed: *started is 0 before
 * the first call. Returns 1 with the next key in *key (read at *at) and
 * ps->p at its value, 0 past the closing '}', or -1 after reporting. */
static int next_key(parser *ps, int *started, view *key, const unsigned char **at)
{
    skip_ws(ps);
    if (*ps->p == '}') {
        ps->p++;
        return 0;
    }
    if (*started) {
        if (*ps->p != ',')
            return unexpected(ps, "',' or '}'");
        ps->p++;
        skip_ws(ps);
    }
    if (*ps->p != '"')
        return unexpected(ps, *started ? "a string key" : "a string key or '}'");
    *started = 1;
    *at = ps->p;
    if (read_view(ps, key) != 0)
        return -1;
    skip_ws(ps);
    if (*ps->p != ':')
        return unexpected(ps, "':'");
    ps->p++;
    skip_ws(ps);
    return 1;
}

/* Steps through an array whose '[' has been consumed, like next_key:
 * returns 1 with ps->p at the next element, 0 past the ']', or -1. */
static int next_elem(parser *ps, int *started)
{
    skip_ws(ps);
    if (*ps->p == ']') {
        ps->p++;
        return 0;
    }
    if (*started) {
        if (*ps->p != ',')
            return unexpected(ps, "',' or ']'");
        ps->p++;
        skip_ws(ps);
    }
    *started = 1;
    return 1;
}

static int skip_literal(parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return unexpected(ps, "a value");
    ps->p += n;
    return 0;
}

static int skip_number(parser *ps)
{
    const unsigned char *q = ps->p;
    q += *q == '-';
    if (*q == '0') {
        q++;
    } else if (*q >= '1' && *q <= '9') {
        while (*q >= '0' && *q <= '9')
            q++;
    } else {
        ps->p = q;
        return unexpected(ps, "a digit");
    }
    if (*q == '.') {
        q++;
        if (*q < '0' || *q > '9') {
            ps->p = q;
            return unexpected(ps, "a digit");
        }
        while (*q >= '0' && *q <= '9')
            q++;
    }
    if (*q == 'e' || *q == 'E') {
        q++;
        q += *q == '+' || *q == '-';
        if (*q < '0' || *q > '9') {
            ps->p = q;
            return unexpected(ps, "a digit");
        }
        while (*q >= '0' && *q <= '9')
            q++;
    }
    ps->p = q;
    return 0;
}

/* Checks and skips the value at ps->p, which is at nesting level depth if it
 * is an array or object. Duplicate keys are not looked for here. Returns 0
 * or -1 after reporting. */
static int skip_value(parser *ps, int depth)
{
    int started = 0, r;
    switch (*ps->p) {
    case '"':
        return read_string(ps, NULL, NULL);
    case '{': {
        if (depth > MAX_DEPTH)
            return syntax(ps, ps->p, "nested deeper than %d levels", MAX_DEPTH);
        ps->p++;
        view key;
        const unsigned char *at;
        while ((r = next_key(ps, &started, &key, &at)) == 1)
            if (skip_value(ps, depth + 1) != 0)
                return -1;
        return r;
    }
    case '[':
        if (depth > MAX_DEPTH)
            return syntax(ps, ps->p, "nested deeper than %d levels", MAX_DEPTH);
        ps->p++;
        while ((r = next_elem(ps, &started)) == 1)
            if (skip_value(ps, depth + 1) != 0)
                return -1;
        return r;
    case 't':
        return skip_literal(ps, "true");
    case 'f':
        return skip_literal(ps, "false");
    case 'n':
        return skip_literal(ps, "null");
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return skip_number(ps);
        return unexpected(ps, "a value");
    }
}

/* Reports that the value at at (level depth) has the wrong shape, unless it
 * is not even valid JSON: then that is reported. Returns -1. */
WVT_PRINTF(4, 5)
static int shape(parser *ps, const unsigned char *at, int depth, const char *fmt, ...)
{
    ps->p = at;
    if (skip_value(ps, depth) != 0)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vfail(ps->ld, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- duplicate keys ----------------------------------------------------- */

static scope open_scope(const parser *ps)
{
    scope sc = {ps->nspans, ps->keys.len};
    return sc;
}

/* Keeps unknown key k, read at at, for the duplicate check of its object. */
static int keep_key(parser *ps, const view *k, const unsigned char *at)
{
    if (ps->nspans == ps->cap_spans) {
        keyspan *q = grow(ps->spans, &ps->cap_spans, ps->nspans + 1, sizeof *q);
        if (q == NULL)
            return oom(ps);
        ps->spans = q;
    }
    if (!k->scratch) { /* a slice of the input: copy it */
        if (bytes_reserve(&ps->keys, k->n) != 0)
            return oom(ps);
        memcpy(ps->keys.data + ps->keys.len, k->s, k->n);
    }
    keyspan *sp = &ps->spans[ps->nspans++];
    sp->s = NULL;
    sp->off = ps->keys.len;
    sp->n = k->n;
    sp->at = at;
    ps->keys.len += k->n;
    return 0;
}

static int cmp_span(const void *a, const void *b)
{
    const keyspan *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    int c = memcmp(x->s, y->s, x->n);
    if (c != 0)
        return c;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* Ends the object opened at sc: reports its first repeated unknown key, if
 * any (known keys are checked as they come), and drops its kept keys. */
static int close_scope(parser *ps, scope sc)
{
    keyspan *v = ps->spans + sc.spans;
    size_t n = ps->nspans - sc.spans;
    const unsigned char *dup = NULL;
    if (n > 1) {
        for (size_t k = 0; k < n; k++)
            v[k].s = ps->keys.data + v[k].off;
        qsort(v, n, sizeof *v, cmp_span);
        for (size_t k = 1; k < n; k++)
            if (v[k].n == v[k - 1].n && memcmp(v[k].s, v[k - 1].s, v[k].n) == 0 &&
                (dup == NULL || v[k].at < dup))
                dup = v[k].at;
    }
    ps->nspans = sc.spans;
    ps->keys.len = sc.keys;
    return dup != NULL ? syntax(ps, dup, "duplicate object key") : 0;
}

/* ---- transactions ------------------------------------------------------- */

/* Explains why the valid-looking patch at start was refused: a syntax error
 * inside it, else the first of wrong length, [0], [1], [2]. Returns -1. */
static int patch_error(parser *ps, const unsigned char *start, size_t i, size_t j)
{
    ps->p = start;
    if (skip_value(ps, 5) != 0)
        return -1;
    size_t count = 0;
    int started = 0, r = 0;
    if (*start == '[') {
        ps->p = start + 1;
        while ((r = next_elem(ps, &started)) == 1 && skip_value(ps, 6) == 0)
            count++;
    }
    if (count == 3 && r == 0) {
        ps->p = start + 1;
        started = 0;
        for (int k = 0; k < 3 && next_elem(ps, &started) == 1; k++) {
            const unsigned char *at = ps->p;
            size_t v;
            if (k < 2 && !read_size(ps, &v))
                return fail(ps->ld, "txns[%zu].patches[%zu][%d] is not a non-negative integer",
                            i, j, k);
            if (k == 2 && *at != '"')
                return fail(ps->ld, "txns[%zu].patches[%zu][2] is not a string", i, j);
            ps->p = at;
            if (skip_value(ps, 6) != 0)
                return -1;
        }
    }
    return fail(ps->ld, "txns[%zu].patches[%zu] is not an array [pos, del, ins]", i, j);
}

/* Reads patch j of transaction i, [pos, del, "ins"], and appends it. */
static int parse_patch(parser *ps, size_t i, size_t j)
{
    const unsigned char *start = ps->p;
    size_t v[2], len;
    if (*ps->p != '[')
        return patch_error(ps, start, i, j);
    ps->p++;
    for (int k = 0; k < 2; k++) {
        skip_ws(ps);
        if (!read_size(ps, &v[k]))
            return patch_error(ps, start, i, j);
        skip_ws(ps);
        if (*ps->p != ',')
            return patch_error(ps, start, i, j);
        ps->p++;
    }
    skip_ws(ps);
    if (*ps->p != '"')
        return patch_error(ps, start, i, j);
    if (read_string(ps, &ps->text, &len) != 0)
        return -1;
    skip_ws(ps);
    if (*ps->p != ']')
        return patch_error(ps, start, i, j);
    ps->p++;

    if (ps->npatches == ps->cap_patches) {
        wvt_patch *q = grow(ps->patches, &ps->cap_patches, ps->npatches + 1, sizeof *q);
        if (q == NULL)
            return oom(ps);
        ps->patches = q;
    }
    wvt_patch *out = &ps->patches[ps->npatches++];
    out->pos = v[0];
    out->del = v[1];
    out->ins = NULL; /* set by finish(): the texts lie in patch order */
    out->ins_len = len;
    out->ins_chars = utf8_chars(ps->text.data + ps->text.len, len);
    ps->text.len += len + 1;
    return 0;
}

static int parse_patches(parser *ps, size_t i)
{
    if (*ps->p != '[')
        return shape(ps, ps->p, 4, "txns[%zu].patches is not an array", i);
    ps->p++;
    int started = 0, r;
    size_t j = 0;
    while ((r = next_elem(ps, &started)) == 1)
        if (parse_patch(ps, i, j++) != 0)
            return -1;
    return r;
}

/* Reads the agent of concurrent transaction i into *agent. */
static int parse_agent(parser *ps, size_t i, int *agent)
{
    const unsigned char *at = ps->p;
    inttok t;
    if (!read_integer(ps, &t))
        return shape(ps, at, 4, "txns[%zu].agent is not an integer", i);
    if (t.big || (t.neg && t.mag != 0) || t.mag >= (unsigned long long)ps->num_agents) {
        int n = ps->p - at > 40 ? 40 : (int)(ps->p - at);
        return fail(ps->ld, "txns[%zu].agent is %.*s, out of range 0..%d", i, n,
                    (const char *)at, ps->num_agents - 1);
    }
    *agent = (int)t.mag;
    return 0;
}

/* Reads the parents of concurrent transaction i. */
static int parse_parents(parser *ps, size_t i)
{
    if (*ps->p != '[')
        return shape(ps, ps->p, 4, "txns[%zu].parents is not an array", i);
    ps->p++;
    int started = 0, r;
    for (size_t k = 0; (r = next_elem(ps, &started)) == 1; k++) {
        const unsigned char *at = ps->p;
        size_t v;
        if (!read_size(ps, &v))
            return shape(ps, at, 5, "txns[%zu].parents[%zu] is not a non-negative integer", i,
                         k);
        if (v >= i)
            return fail(ps->ld, "txns[%zu].parents[%zu] is %zu, not earlier than its txn", i, k,
                        v);
        if (ps->nparents == ps->cap_parents) {
            size_t *q = grow(ps->parents, &ps->cap_parents, ps->nparents + 1, sizeof *q);
            if (q == NULL)
                return oom(ps);
            ps->parents = q;
        }
        ps->parents[ps->nparents++] = v;
    }
    return r;
}

/* Transaction keys, as bits. */
enum {
    TX_PATCHES = 1,
    TX_AGENT = 2,
    TX_PARENTS = 4,
    TX_TIME = 8,
    TX_TIMESTAMP = 16,
    TX_NUMCHILDREN = 32
};

static unsigned txn_key(const view *k)
{
    if (view_is(k, "patches"))
        return TX_PATCHES;
    if (view_is(k, "time"))
        return TX_TIME;
    if (view_is(k, "agent"))
        return TX_AGENT;
    if (view_is(k, "parents"))
        return TX_PARENTS;
    if (view_is(k, "timestamp"))
        return TX_TIMESTAMP;
    if (view_is(k, "numChildren"))
        return TX_NUMCHILDREN;
    return 0;
}

/* Reads transaction i (at level 3) and appends it. */
static int parse_txn(parser *ps, size_t i)
{
    if (*ps->p != '{')
        return shape(ps, ps->p, 3, "txns[%zu] is not an object", i);
    ps->p++;
    size_t np0 = ps->npatches, nq0 = ps->nparents;
    int agent = 0;
    unsigned seen = 0;
    scope sc = open_scope(ps);
    int started = 0, r;
    view k;
    const unsigned char *at;
    while ((r = next_key(ps, &started, &k, &at)) == 1) {
        unsigned bit = txn_key(&k);
        if (seen & bit)
            return syntax(ps, at, "duplicate object key");
        seen |= bit;
        if (bit == TX_PATCHES)
            r = parse_patches(ps, i);
        else if (bit == TX_AGENT && ps->causal)
            r = parse_agent(ps, i, &agent);
        else if (bit == TX_PARENTS && ps->causal)
            r = parse_parents(ps, i);
        else if (bit == 0 && keep_key(ps, &k, at) != 0)
            r = -1;
        else
            r = skip_value(ps, 4);
        if (r != 0)
            return -1;
    }
    if (r != 0 || close_scope(ps, sc) != 0)
        return -1;
    if (ps->causal && !(seen & TX_AGENT))
        return fail(ps->ld, "txns[%zu].agent is missing", i);
    if (ps->causal && !(seen & TX_PARENTS))
        return fail(ps->ld, "txns[%zu].parents is missing", i);
    if (!(seen & TX_PATCHES))
        return fail(ps->ld, "txns[%zu].patches is missing", i);

    if (ps->ntxns == ps->cap_txns) {
        wvt_txn *q = grow(ps->txns, &ps->cap_txns, ps->ntxns + 1, sizeof *q);
        if (q == NULL)
            return oom(ps);
        ps->txns = q;
    }
    wvt_txn *tx = &ps->txns[ps->ntxns++];
    tx->agent = agent;
    tx->parents = NULL; /* set by finish() */
    tx->nparents = ps->nparents - nq0;
    tx->patches = NULL;
    tx->npatches = ps->npatches - np0;
    return 0;
}

/* Reads the txns array at ps->p (level 2), checking agents and parents if
 * ps->causal. */
static int parse_txns(parser *ps)
{
    if (*ps->p != '[')
        return shape(ps, ps->p, 2, "txns is not an array");
    ps->p++;
    int started = 0, r;
    size_t i = 0;
    while ((r = next_elem(ps, &started)) == 1)
        if (parse_txn(ps, i++) != 0)
            return -1;
    return r;
}

/* ---- the top level ------------------------------------------------------ */

/* Top-level keys, as bits. */
enum { TOP_KIND = 1, TOP_NUMAGENTS = 2, TOP_START = 4, TOP_END = 8, TOP_TXNS = 16 };

static unsigned top_key(const view *k)
{
    if (view_is(k, "kind"))
        return TOP_KIND;
    if (view_is(k, "numAgents"))
        return TOP_NUMAGENTS;
    if (view_is(k, "startContent"))
        return TOP_START;
    if (view_is(k, "endContent"))
        return TOP_END;
    if (view_is(k, "txns"))
        return TOP_TXNS;
    return 0;
}

/* Reads the value of top-level key bit at ps->p (level 2). */
static int parse_field(parser *ps, unsigned bit)
{
    const unsigned char *at = ps->p;
    view v;
    inttok t;
    switch (bit) {
    case TOP_KIND:
        if (*at != '"')
            return shape(ps, at, 2, "kind is not a string");
        if (read_view(ps, &v) != 0)
            return -1;
        if (!view_is(&v, "concurrent"))
            return fail(ps->ld, "kind is not \"concurrent\" (the only kind supported)");
        ps->concurrent = 1;
        return 0;
    case TOP_NUMAGENTS:
        /* Only concurrent traces need it, so it is judged at the end. */
        if (!read_integer(ps, &t))
            ps->num_agents = -1;
        else if (t.big || t.neg || t.mag == 0 || t.mag > INT_MAX)
            ps->num_agents = -1;
        else
            ps->num_agents = (int)t.mag;
        return ps->p == at ? skip_value(ps, 2) : 0;
    case TOP_START:
        /* The API has no start text, so only the empty one can be honoured. */
        if (*at != '"')
            return shape(ps, at, 2, "startContent is not a string");
        if (read_view(ps, &v) != 0)
            return -1;
        return v.n != 0 ? fail(ps->ld, "startContent is not empty (unsupported)") : 0;
    case TOP_END: {
        size_t n;
        if (*at != '"')
            return shape(ps, at, 2, "endContent is not a string");
        if (read_string(ps, &ps->endc, &n) != 0)
            return -1;
        ps->endc.len = n;
        ps->have_end = 1;
        return 0;
    }
    case TOP_TXNS:
        ps->have_txns = 1;
        ps->txns_at = at;
        ps->causal = ps->concurrent && ps->num_agents > 0;
        return parse_txns(ps);
    default:
        return skip_value(ps, 2);
    }
}

static int expect_end(parser *ps)
{
    skip_ws(ps);
    return ps->p == ps->end ? 0 : unexpected(ps, "end of input");
}

/* Parses the whole text into ps. Returns 0 or -1 after reporting. */
static int parse_document(parser *ps)
{
    skip_ws(ps);
    if (*ps->p != '{') {
        if (skip_value(ps, 1) != 0 || expect_end(ps) != 0)
            return -1;
        return fail(ps->ld, "top level is not a JSON object");
    }
    ps->p++;
    unsigned seen = 0;
    scope sc = open_scope(ps);
    int started = 0, r;
    view k;
    const unsigned char *at;
    while ((r = next_key(ps, &started, &k, &at)) == 1) {
        unsigned bit = top_key(&k);
        if (seen & bit)
            return syntax(ps, at, "duplicate object key");
        seen |= bit;
        if (bit == 0 && keep_key(ps, &k, at) != 0)
            return -1;
        if (parse_field(ps, bit) != 0)
            return -1;
    }
    if (r != 0 || close_scope(ps, sc) != 0 || expect_end(ps) != 0)
        return -1;

    if (ps->concurrent && ps->num_agents == 0)
        return fail(ps->ld, "numAgents is missing");
    if (ps->concurrent && ps->num_agents < 0)
        return fail(ps->ld, "numAgents is not a positive integer");
    if (!ps->have_end)
        return fail(ps->ld, "endContent is missing");
    if (!ps->have_txns)
        return fail(ps->ld, "txns is missing");

    if (ps->concurrent && !ps->causal) {
        /* "txns" came before "kind" or "numAgents": read it again, now
         * checking agents and parents. */
        ps->ntxns = ps->npatches = ps->nparents = 0;
        ps->text.len = 0;
        ps->causal = 1;
        ps->p = ps->txns_at;
        if (parse_txns(ps) != 0)
            return -1;
    }
    return 0;
}

/* ---- storage ------------------------------------------------------------ */

static void storage_free(storage *st)
{
    if (st == NULL)
        return;
    free(st->txns);
    free(st->patches);
    free(st->parents);
    free(st->text);
    free(st->end);
    free(st);
}

static void parser_free(parser *ps)
{
    free(ps->txns);
    free(ps->patches);
    free(ps->parents);
    free(ps->text.data);
    free(ps->endc.data);
    free(ps->keys.data);
    free(ps->spans);
}

/* Moves the parsed trace into *out: trims the arrays, which takes them from
 * ps, and sets the pointers into them. Returns 0 or -1 (out of memory). */
static int finish(parser *ps, wvt_trace *out)
{
    storage *st = calloc(1, sizeof *st);
    if (st == NULL || bytes_reserve(&ps->text, 1) != 0 || bytes_reserve(&ps->endc, 1) != 0) {
        free(st);
        return oom(ps);
    }
    ps->endc.data[ps->endc.len] = '\0';
    st->txns = shrink(ps->txns, ps->ntxns, sizeof *st->txns);
    st->patches = shrink(ps->patches, ps->npatches, sizeof *st->patches);
    st->parents = shrink(ps->parents, ps->nparents, sizeof *st->parents);
    st->text = shrink(ps->text.data, ps->text.len, 1);
    st->end = shrink(ps->endc.data, ps->endc.len + 1, 1);
    ps->txns = NULL;
    ps->patches = NULL;
    ps->parents = NULL;
    ps->text.data = NULL;
    ps->endc.data = NULL;
    if (st->txns == NULL || st->patches == NULL || st->parents == NULL) {
        /* Nothing was ever pushed: give each at least one slot. */
        storage_free(st);
        return oom(ps);
    }

    size_t pi = 0, qi = 0, off = 0;
    for (size_t i = 0; i < ps->ntxns; i++) {
        wvt_txn *tx = &st->txns[i];
        tx->patches = tx->npatches != 0 ? st->patches + pi : NULL;
        tx->parents = tx->nparents != 0 ? st->parents + qi : NULL;
        pi += tx->npatches;
        qi += tx->nparents;
    }
    for (size_t k = 0; k < ps->npatches; k++) {
        st->patches[k].ins = st->text + off;
        off += st->patches[k].ins_len + 1;
    }

    out->concurrent = ps->concurrent;
    out->num_agents = ps->concurrent ? ps->num_agents : 1;
    out->end_content = st->end;
    out->end_len = ps->endc.len;
    out->txns = st->txns;
    out->ntxns = ps->ntxns;
    out->npatches = ps->npatches;
    out->priv_ = st;
    return 0;
}

/* ---- API ---------------------------------------------------------------- */

int wvt_load(const char *path, wvt_trace *out, char *err, size_t errcap)
{
    loader ld = {path != NULL ? path : "(null)", err, errcap};
    if (err != NULL && errcap > 0)
        err[0] = '\0';
    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (path == NULL || out == NULL)
        return fail(&ld, "invalid argument (NULL %s)", path == NULL ? "path" : "out");

    bytes in = {NULL, 0, 0};
    if (read_file(&ld, &in) != 0)
        return -1;

    parser ps;
    memset(&ps, 0, sizeof ps);
    ps.ld = &ld;
    ps.buf = (const unsigned char *)in.data;
    ps.end = ps.buf + in.len;
    ps.p = ps.buf;
    int rc = parse_document(&ps);
    free(in.data);
    if (rc == 0)
        rc = finish(&ps, out);
    parser_free(&ps);
    return rc;
}

void wvt_free(wvt_trace *t)
{
    if (t == NULL)
        return;
    storage_free(t->priv_);
    memset(t, 0, sizeof *t);
}

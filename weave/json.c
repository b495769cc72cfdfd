/* json.c — reading whole structures: the JSON materialiser and wv_each.
 *
 * Output is a function of the weave alone: maps list their keys in byte
 * order with each key's winner (its first live entry in weave order), sets
 * their distinct members in the byte order of their JSON text. Floats print
 * in the fewest of 15-17 significant digits that read back exactly, with a
 * ".0" when that reads like an integer, so
 * a float and an int never print alike (set members differ by that text).
 * Text is escaped as RFC 8259 requires; bytes of a STRING that are not
 * UTF-8 (only a hand-made weave has them) print as U+FFFD.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "utf8.h"

/* Deepest nesting printed; deeper documents give WV_E_LIMIT. */
#define JSON_DEPTH 256

/* A growable output buffer. */
typedef struct jw {
    const wv_alloc *al;
    char *s;
    size_t n, cap;
    int err;
} jw;

static void jw_put(jw *w, const char *s, size_t n) {
    if (w->err) return;
    if (w->n + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->n + n + 1) cap *= 2;
        char *p = wv_realloc(w->al, w->s, w->cap, cap);
        if (!p) {
            w->err = WV_E_NOMEM;
            return;
        }
        w->s = p, w->cap = cap;
    }
    memcpy(w->s + w->n, s, n);
    w->n += n;
    w->s[w->n] = 0;
}

static void jw_str(jw *w, const char *s) { jw_put(w, s, strlen(s)); }
static void jw_free(jw *w) { wv_free(w->al, w->s, w->cap), w->s = NULL, w->n = w->cap = 0; }

/* A JSON string from bytes (invalid UTF-8 as U+FFFD). */
static void jw_quote(jw *w, const char *s, size_t len) {
    jw_put(w, "\"", 1);
    size_t i = 0, run = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        jw_put(w, s + run, i - run);
        uint32_t cp;
        size_t j = i;
        char esc[8];
        if (c >= 0x80) {
            if (_wv_utf8_next(s, len, &j, &cp)) jw_str(w, "\\ufffd"), j = i + 1;
            else jw_put(w, s + i, j - i);
        } else {
            j = i + 1;
            const char *e = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\t' ? "\\t"
                          : c == '\r' ? "\\r" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
            if (!e) snprintf(esc, sizeof esc, "\\u%04x", c), e = esc;
            jw_str(w, e);
        }
        i = run = j;
    }
    jw_put(w, s + run, len - run);
    jw_put(w, "\"", 1);
}

/* The shortest of %.15g, %.16g, %.17g that reads back as x (%.17g always
 * does). A locale's decimal comma is written as a point. */
static void jw_float(jw *w, double x) {
    char b[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, x);
        if (strtod(b, NULL) == x) break;
    }
    for (char *c = b; *c; c++)
        if (*c == ',') *c = '.';
    jw_str(w, b);
    if (!strpbrk(b, ".eEn")) jw_str(w, ".0"); /* no "inf"/"nan": refused when written */
}

/* ---- sorted views ------------------------------------------------------------ */

/* A map's live entries with their keys, sorted by key (stable: per key, the
 * winner first). keys holds them back to back. */
typedef struct keyed {
    wv_pos value;
    size_t key, klen, order;
} keyed;

typedef struct sorted {
    keyed *v;
    size_t n, cap; /* cap: entries allocated */
    jw keys;
} sorted;

static int keyed_cmp(const keyed *x, const keyed *y, const char *base) {
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(base + x->key, base + y->key, n);
    if (c) return c;
    if (x->klen != y->klen) return x->klen < y->klen ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Bottom-up merge sort of v[0..n) by keyed_cmp, tmp: n scratch entries.
 * (qsort takes no context, and the library keeps no global state.) */
static void keyed_sort(keyed *v, keyed *tmp, size_t n, const char *base) {
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) tmp[k++] = keyed_cmp(&v[j], &v[i], base) < 0 ? v[j++] : v[i++];
            while (i < mid) tmp[k++] = v[i++];
            while (j < hi) tmp[k++] = v[j++];
        }
        memcpy(v, tmp, n * sizeof *v);
    }
}

static int same_key(const sorted *s, size_t i, size_t j) {
    return s->v[i].klen == s->v[j].klen && !memcmp(s->keys.s + s->v[i].key, s->keys.s + s->v[j].key, s->v[i].klen);
}

/* Sorts s->v (s->n entries, room for 2n: the second half is scratch). */
static void sort_keyed(sorted *s) {
    if (s->n > 1) keyed_sort(s->v, s->v + s->n, s->n, s->keys.s);
}

static void sorted_free(const wv_doc *d, sorted *s) {
    wv_free(&d->alloc, s->v, s->cap * sizeof *s->v);
    jw_free(&s->keys);
}

/* Sorts by key; then keeps only the first of equal keys. */
static void sort_dedupe(sorted *s) {
    sort_keyed(s);
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++)
        if (!m || !same_key(s, i, m - 1)) s->v[m++] = s->v[i];
    s->n = m;
}

static int map_sorted(const wv_doc *d, wv_pos map, sorted *s) {
    wv_nodes e = {0};
    memset(s, 0, sizeof *s);
    s->keys.al = &d->alloc;
    int rc = _wv_map_entries(d, map, NULL, &e);
    if (!rc && e.n && !(s->v = wv_malloc(&d->alloc, wv_mul(2 * e.n, sizeof *s->v)))) rc = WV_E_NOMEM;
    if (s->v) s->cap = 2 * e.n;
    for (size_t i = 0; !rc && i < e.n; i++) {
        uint8_t buf[WV_KEY_MAX];
        uint32_t len;
        (void)_wv_entry_key(d, e.v[i].holder, buf, &len); /* read once already */
        s->v[i] = (keyed){e.v[i].value, s->keys.n, len, i};
        jw_put(&s->keys, (const char *)buf, len);
        rc = s->keys.err;
    }
    s->n = rc ? 0 : e.n;
    if (!rc) sort_dedupe(s);
    _wv_nodes_free(&d->alloc, &e);
    return rc;
}

static int value_json(const wv_doc *d, wv_pos p, jw *w, int depth);

/* A set's distinct members, keyed by their JSON text, sorted. */
static int set_sorted(const wv_doc *d, wv_pos set, sorted *s) {
    wv_nodes in = {0}, out = {0};
    memset(s, 0, sizeof *s);
    s->keys.al = &d->alloc;
    int rc = _wv_set_members(d, set, WV_KIND_ELEM, &in);
    if (!rc && wv_atom_value(*_wv_at(d, set)) == 1) rc = _wv_set_members(d, set, WV_KIND_MARK, &out);
    size_t n = in.n + out.n;
    if (!rc && n && !(s->v = wv_malloc(&d->alloc, wv_mul(2 * n, sizeof *s->v)))) rc = WV_E_NOMEM;
    if (s->v) s->cap = 2 * n;
    for (size_t i = 0; !rc && i < n; i++) {
        wv_pos v = i < in.n ? in.v[i].value : out.v[i - in.n].value;
        size_t at = s->keys.n;
        rc = value_json(d, v, &s->keys, 1);
        s->v[i] = (keyed){v, at, s->keys.n - at, i};
    }
    if (!rc && n) {
        /* remove-wins: a member with a live mark of the same text is out */
        s->n = n;
        sort_keyed(s);
        size_t m = 0;
        for (size_t i = 0; i < n;) {
            size_t j = i, marked = 0;
            for (; j < n && same_key(s, j, i); j++) marked += s->v[j].order >= in.n;
            if (!marked) s->v[m++] = s->v[i];
            i = j;
        }
        s->n = m;
    }
    _wv_nodes_free(&d->alloc, &in);
    _wv_nodes_free(&d->alloc, &out);
    return rc;
}

int _wv_map_count(const wv_doc *d, wv_pos map, size_t *n) {
    sorted s;
    int rc = map_sorted(d, map, &s);
    *n = s.n;
    sorted_free(d, &s);
    return rc;
}

int _wv_set_count(const wv_doc *d, wv_pos set, size_t *n) {
    sorted s;
    int rc = set_sorted(d, set, &s);
    *n = s.n;
    sorted_free(d, &s);
    return rc;
}

/* ---- JSON --------------------------------------------------------------------- */

static int value_json(const wv_doc *d, wv_pos p, jw *w, int depth) {
    if (depth > JSON_DEPTH) return WV_E_LIMIT;
    wv_atom a = *_wv_at(d, p);
    unsigned kind = wv_atom_kind(a);
    char num[32];
    int rc = WV_OK;
    switch (kind) {
    case WV_KIND_NULL: jw_str(w, "null"); break;
    case WV_KIND_BOOL: jw_str(w, wv_atom_value(a) ? "true" : "false"); break;
    case WV_KIND_INT: case WV_KIND_FLOAT: case WV_KIND_COUNTER: {
        wv_value v;
        if ((rc = _wv_value_at(d, p, &v))) break;
        if (kind == WV_KIND_FLOAT) jw_float(w, v.number);
        else snprintf(num, sizeof num, "%lld", (long long)v.integer), jw_str(w, num);
        break;
    }
    case WV_KIND_STRING: case WV_KIND_STR: {
        size_t len;
        if ((rc = _wv_text_at(d, p, NULL, 0, &len))) break;
        char *t = wv_malloc(&d->alloc, len + 1);
        if (!t) return WV_E_NOMEM;
        if (!(rc = _wv_text_at(d, p, t, len + 1, &len))) jw_quote(w, t, len);
        wv_free(&d->alloc, t, len + 1);
        break;
    }
    case WV_KIND_LIST: {
        wv_nodes e = {0};
        rc = _wv_list_elems(d, p, &e);
        jw_put(w, "[", 1);
        for (size_t i = 0; !rc && i < e.n; i++) {
            if (i) jw_put(w, ",", 1);
            rc = value_json(d, e.v[i].value, w, depth + 1);
        }
        jw_put(w, "]", 1);
        _wv_nodes_free(&d->alloc, &e);
        break;
    }
    case WV_KIND_ROOT: case WV_KIND_MAP: {
        sorted s;
        rc = map_sorted(d, p, &s);
        jw_put(w, "{", 1);
        for (size_t i = 0; !rc && i < s.n; i++) {
            if (i) jw_put(w, ",", 1);
            jw_quote(w, s.keys.s + s.v[i].key, s.v[i].klen);
            jw_put(w, ":", 1);
            rc = value_json(d, s.v[i].value, w, depth + 1);
        }
        jw_put(w, "}", 1);
        sorted_free(d, &s);
        break;
    }
    case WV_KIND_SET: {
        sorted s;
        rc = set_sorted(d, p, &s);
        jw_put(w, "[", 1);
        for (size_t i = 0; !rc && i < s.n; i++) {
            if (i) jw_put(w, ",", 1);
            jw_put(w, s.keys.s + s.v[i].key, s.v[i].klen);
        }
        jw_put(w, "]", 1);
        sorted_free(d, &s);
        break;
    }
    default: rc = WV_E_TYPE;
    }
    return rc ? rc : w->err;
}

int wv_json(const wv_doc *d, wv_ref ref, char *dst, size_t cap, size_t *len) {
    if (!d || !len || (!dst && cap)) return WV_E_ARG;
    wv_pos p;
    int rc = _wv_locate(d, ref, &p);
    if (rc) return rc;
    jw w = {&d->alloc, NULL, 0, 0, 0};
    if (!(rc = value_json(d, p, &w, 0))) {
        if (cap) {
            size_t n = w.n < cap ? w.n : cap - 1;
            if (n) memcpy(dst, w.s, n);
            dst[n] = 0;
        }
        *len = w.n;
    }
    jw_free(&w);
    return rc;
}

int wv_each(const wv_doc *d, wv_ref ref, wv_each_fn fn, void *ctx) {
    if (!d || !fn) return WV_E_ARG;
    wv_pos p;
    int rc = _wv_locate(d, ref, &p);
    if (rc) return rc;
    unsigned kind = wv_atom_kind(*_wv_at(d, p));
    wv_value v;
    if (kind == WV_KIND_LIST) {
        wv_nodes e = {0};
        rc = _wv_list_elems(d, p, &e);
        for (size_t i = 0; !rc && i < e.n; i++)
            if (!(rc = _wv_value_at(d, e.v[i].value, &v))) rc = fn(ctx, NULL, &v);
        _wv_nodes_free(&d->alloc, &e);
    } else if (kind == WV_KIND_ROOT || kind == WV_KIND_MAP || kind == WV_KIND_SET) {
        sorted s;
        rc = kind == WV_KIND_SET ? set_sorted(d, p, &s) : map_sorted(d, p, &s);
        char key[WV_KEY_MAX + 1];
        for (size_t i = 0; !rc && i < s.n; i++) {
            if (kind != WV_KIND_SET) memcpy(key, s.keys.s + s.v[i].key, s.v[i].klen), key[s.v[i].klen] = 0;
            if (!(rc = _wv_value_at(d, s.v[i].value, &v))) rc = fn(ctx, kind == WV_KIND_SET ? NULL : key, &v);
        }
        sorted_free(d, &s);
    } else {
        rc = WV_E_TYPE;
    }
    return rc;
}

/* fuzz_decode.c — libFuzzer target: untrusted bytes into every reader of the
 * binary format (weave/format.c).
 *
 * The input, as is, goes to:
 *   wv_bytes_kind_of  a kind (1..3) or a negative code
 *   wv_decode         on success: a document (kind 1), wv_check passes, and
 *                     its encoding decodes to the same weave, site and clock
 *                     and re-encodes byte for byte; on error: *out untouched,
 *                     and wv_bytes_kind_of's code when the header is bad
 *   wv_apply_bytes    onto clones of three fixed replicas: R of
 *                     tests/format/MANIFEST, a multi-site replica and a new
 *                     one. On error the clone is unchanged (hash, clock, site,
 *                     atoms), and a document wv_decode refuses gives its
 *                     code; on success it passes wv_check, and a document
 *                     gives exactly wv_merge's code, weave and clock
 *   wv_weft_decode    on success: weft bytes, sites ascending, clocks > 0
 * Every replica decoded or applied to is also read: the oracle
 * (fuzz/oracle.c) must rebuild its weave from its atoms, and wv_json must
 * print the oracle's JSON, with no number JSON lacks (nan, inf).
 * No allocation may exceed ALLOC_FACTOR x the input (+ slack): counts in
 * the bytes are bounded by the bytes before anything is allocated; in
 * version 3 by the streams' decompressed bytes, which are at most 2^15
 * times their compressed bytes. The slack covers zstd's contexts (the
 * re-encoding uses level 1, which keeps them small and the fuzzer fast).
 * A delta's runs of deletes cost a few bytes however long, so a delta may
 * also hold, per site in its table, a delete of every atom it carries or
 * its receiver holds (format.c's delta_atoms_max). Every
 * input runs twice: as is, and with its XXH3 trailer recomputed (so that
 * libFuzzer's mutations of the body reach the body's decoder). Any
 * violation abort()s with a message. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "fuzz.h"
#include "oracle.h"
#include "tests/snap.h"
#include "weave.h"

#define ALLOC_FACTOR 128
#define ALLOC_SLACK (1u << 22)
#define ZSTD_RATIO_LOG 15 /* weave/format.c */

static NORETURN PRINTF(1, 2) void fail(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "fuzz_decode: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* ---- an allocator that remembers its largest request ------------------------ */

static size_t max_request;

static void *t_malloc(void *ctx, size_t n) {
    (void)ctx;
    if (n > max_request) max_request = n;
    return malloc(n ? n : 1);
}
static void *t_realloc(void *ctx, void *p, size_t old, size_t n) {
    (void)ctx, (void)old;
    if (n > max_request) max_request = n;
    return realloc(p, n ? n : 1);
}
static void t_free(void *ctx, void *p, size_t n) {
    (void)ctx, (void)n;
    free(p);
}
static const wv_alloc tracking = {t_malloc, t_realloc, t_free, NULL};

/* ---- fixed replicas ------------------------------------------------------------ */

#define NREP 3
static wv_doc *fixed[NREP];

static void must(int rc, const char *what) {
    if (rc) fail("setup: %s: %s", what, wv_error_name(rc));
}

static void setup(void) {
    wv_options opt;
    wv_options_default(&opt);
    opt.alloc = &tracking;
    wv_doc *r, *e, *s;
    /* R: "abc" at site 1, forked onto 2 (dropped), b deleted */
    must(wv_doc_new(&r, 1, &opt), "new R");
    must(wv_text_insert(r, 0, "abc", 3), "insert");
    must(wv_doc_fork(r, 2, &e), "fork");
    wv_doc_free(e);
    must(wv_text_delete(r, 1, 1), "delete");
    /* S: R's history, then sites 2 and 1000 type concurrently and merge */
    must(wv_doc_clone(r, &s), "clone");
    must(wv_doc_fork(s, 1000, &e), "fork");
    must(wv_text_insert(e, 1, "h\xc3\xa9llo \xe2\x82\xac", 10), "insert");
    must(wv_text_delete(e, 0, 2), "delete");
    must(wv_text_insert(s, 2, "\xf0\x9f\x98\x80z", 5), "insert");
    must(wv_merge(s, e), "merge");
    wv_doc_free(e);
    fixed[0] = r, fixed[1] = s;
    must(wv_doc_new(&fixed[2], 5, &opt), "new");
}


static void check(const wv_doc *d, const char *what) {
    char msg[256];
    int rc = wv_check(d, msg, sizeof msg);
    if (rc) fail("%s: wv_check: %s: %s", what, wv_error_name(rc), msg);
}

/* Outside JSON strings, letters only in true, false, null and exponents:
 * no "nan" or "inf", which JSON does not have. */
static int json_numbers_ok(const char *s) {
    for (; *s; s++) {
        if (*s == '"') {
            for (s++; *s && *s != '"'; s++)
                if (*s == '\\' && s[1]) s++;
            if (!*s) return 0;
        } else if (!strncmp(s, "true", 4) || !strncmp(s, "null", 4)) {
            s += 3;
        } else if (!strncmp(s, "false", 5)) {
            s += 4;
        } else if ((*s == 'e' || *s == 'E') && s[-1] >= '0' && s[-1] <= '9') {
            continue;
        } else if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')) {
            return 0;
        }
    }
    return 1;
}

/* The reads of any document that decodes, however it was made, follow
 * weave.h's rules: the oracle (fuzz/oracle.c) rebuilds the same weave from
 * its atoms, and wv_json equals the oracle's JSON (or both find the nesting
 * too deep), which is valid JSON. */
static void reads_match_oracle(const wv_doc *d, const char *what) {
    size_t cap = wv_doc_atoms(d), n = 0, nw, len = 0, olen;
    wv_atom_info *a = malloc(cap * sizeof *a), *w;
    if (!a) fail("out of memory");
    wv_iter it;
    wv_iter_begin(&it, d);
    while (n < cap && wv_iter_next(&it, &a[n]) == 1) n++;
    if (n != cap) fail("%s: iterated %zu atoms of %zu", what, n, cap);
    char why[300];
    if (wvo_weave(a, n, &w, &nw)) fail("%s: the oracle builds no tree from its atoms", what);
    if (!wvo_equal_doc(w, nw, d, why, sizeof why)) fail("%s: the oracle's weave differs: %s", what, why);
    char *oj = NULL, *j = NULL;
    int orc = wvo_json(w, nw, &oj, &olen), rc = wv_json(d, (wv_ref){0, 0}, NULL, 0, &len);
    if (!rc) {
        j = malloc(len + 1);
        if (!j) fail("out of memory");
        rc = wv_json(d, (wv_ref){0, 0}, j, len + 1, &len);
    }
    if (orc == -1) fail("%s: the oracle cannot read its structures", what);
    if (orc == -2 ? rc != WV_E_LIMIT : rc || strcmp(j, oj))
        fail("%s: wv_json (%s) differs from the oracle's:\n  %.300s\noracle\n  %.300s", what, wv_error_name(rc),
             j ? j : "-", oj ? oj : "(too deep)");
    if (j && !json_numbers_ok(j)) fail("%s: wv_json wrote what JSON does not have: %.300s", what, j);
    free(j), free(oj), free(w), free(a);
}

/* Encodes a document into a fresh buffer. */
static uint8_t *encode(const wv_doc *d, size_t *n) {
    size_t cap = wv_encode_bound(d);
    uint8_t *p = malloc(cap);
    if (!p) fail("out of memory");
    int rc = wv_encode(d, 0, NULL, 0, p, cap, n);
    if (rc) fail("wv_encode of a decoded document: %s", wv_error_name(rc));
    return p;
}

static void one(const uint8_t *data, size_t size) {
    wv_options opt;
    wv_options_default(&opt);
    opt.alloc = &tracking;
    opt.level = 1;
    max_request = 0;

    int kind = wv_bytes_kind_of(data, size);
    if (kind == 0 || kind > WV_BYTES_WEFT) fail("wv_bytes_kind_of: %d", kind);

    /* wv_decode */
    wv_doc *d = (wv_doc *)&opt; /* a sentinel: must stay as is on error */
    int rc = wv_decode(&d, data, size, &opt), drc = rc;
    if (rc == WV_OK) {
        if (kind != WV_BYTES_DOCUMENT) fail("wv_decode accepted bytes of kind %d", kind);
        check(d, "decoded document");
        reads_match_oracle(d, "decoded document");
        size_t n1, n2;
        uint8_t *b1 = encode(d, &n1);
        wv_doc *e = NULL;
        rc = wv_decode(&e, b1, n1, &opt);
        if (rc) fail("re-encoded document does not decode: %s", wv_error_name(rc));
        if (!same_snap(snap_of(d), snap_of(e))) fail("re-encoded document decodes to another replica");
        uint8_t *b2 = encode(e, &n2);
        if (n1 != n2 || memcmp(b1, b2, n1)) fail("re-encoding is not stable");
        free(b1), free(b2);
        wv_doc_free(e);
    } else {
        if (d != (wv_doc *)&opt) fail("wv_decode wrote *out on error %s", wv_error_name(rc));
        if (kind < 0 && rc != kind) fail("wv_decode: %s, the header says %s", wv_error_name(rc), wv_error_name(kind));
        d = NULL;
    }

    /* wv_apply_bytes onto each fixed replica */
    for (int i = 0; i < NREP; i++) {
        wv_doc *c;
        if (wv_doc_clone(fixed[i], &c)) fail("clone failed");
        snap s = snap_of(c);
        rc = wv_apply_bytes(c, data, size);
        if (rc) {
            if (!same_snap(s, snap_of(c)))
                fail("wv_apply_bytes failed (%s) but changed replica %d", wv_error_name(rc), i);
            if (kind < 0 && rc != kind) fail("wv_apply_bytes: %s, the header says %s", wv_error_name(rc), wv_error_name(kind));
            if (kind == WV_BYTES_DOCUMENT && !d && rc != drc)
                fail("wv_apply_bytes: %s, wv_decode %s", wv_error_name(rc), wv_error_name(drc));
        } else {
            if (kind != WV_BYTES_DOCUMENT && kind != WV_BYTES_DELTA)
                fail("wv_apply_bytes accepted bytes of kind %d", kind);
            check(c, "replica after wv_apply_bytes");
            reads_match_oracle(c, "replica after wv_apply_bytes");
            if (kind == WV_BYTES_DOCUMENT && !d) fail("wv_apply_bytes merged a document wv_decode refuses");
        }
        if (kind == WV_BYTES_DOCUMENT && d) { /* a document: wv_apply_bytes is wv_merge */
            wv_doc *m;
            if (wv_doc_clone(fixed[i], &m)) fail("clone failed");
            int mrc = wv_merge(m, d);
            if (mrc != rc) fail("wv_apply_bytes gave %s, wv_merge %s", wv_error_name(rc), wv_error_name(mrc));
            if (!mrc && !same_snap(snap_of(m), snap_of(c))) fail("wv_apply_bytes differs from wv_merge");
            wv_doc_free(m);
        }
        wv_doc_free(c);
    }
    wv_doc_free(d);

    /* wv_weft_decode */
    wv_weft_entry w[64];
    size_t n = 0;
    rc = wv_weft_decode(data, size, w, 64, &n);
    if (rc == WV_OK) {
        if (kind != WV_BYTES_WEFT) fail("wv_weft_decode accepted bytes of kind %d", kind);
        for (size_t i = 0; i < n && i < 64; i++)
            if (w[i].clock == 0 || w[i].site == 0 || (i && w[i].site <= w[i - 1].site))
                fail("wv_weft_decode: entry %zu invalid", i);
    } else if (kind < 0 && rc != kind) {
        fail("wv_weft_decode: %s, the header says %s", wv_error_name(rc), wv_error_name(kind));
    }

    size_t expands = size > 4 && data[4] == 2 ? (size_t)1 << ZSTD_RATIO_LOG : 1, limit = ALLOC_FACTOR * size * expands + ALLOC_SLACK;
    if (kind == WV_BYTES_DELTA) { /* runs of deletes: each site may delete each atom carried or held */
        size_t held = 0, carried = 2 * size * expands;
        for (int i = 0; i < NREP; i++) held = wv_doc_atoms(fixed[i]) > held ? wv_doc_atoms(fixed[i]) : held;
        limit += ALLOC_FACTOR * size * (carried + held); /* per site (at most size), per atom */
    }
    if (max_request > limit)
        fail("an allocation of %zu bytes for %zu bytes of input", max_request, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!fixed[0]) setup();
    one(data, size);
    /* again with the trailer recomputed, so that mutations of the body reach
     * the body's decoder instead of stopping at the checksum */
    if (size >= 14 && size <= 1 << 16) {
        uint8_t *p = malloc(size);
        if (!p) fail("out of memory");
        memcpy(p, data, size);
        uint64_t h = XXH3_64bits(p, size - 8);
        for (int i = 0; i < 8; i++) p[size - 8 + i] = (uint8_t)(h >> (8 * i));
        if (memcmp(p, data, size)) one(p, size);
        free(p);
    }
    return 0;
}

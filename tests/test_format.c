/* test_format.c — the binary format (weave/format.c): documents, deltas and
 * wefts.
 *
 * Without arguments (test 'format'):
 * - wv_apply_bytes on document bytes wv_decode refuses, on a stack painted
 *   with junk (it once freed its never-set decoded replica), in a child;
 * - round trips on random multi-site histories (forks, multi-byte inserts,
 *   deletes, merges): decode(encode(d)) has d's weave hash, site, clock, text
 *   and weft, passes wv_check, and re-encodes to the same bytes; encoding is
 *   deterministic; wv_encode_bound is enough and every smaller cap gives
 *   WV_E_BUFFER; wv_encode_alloc gives the same bytes; deltas past a
 *   peer's weft applied with wv_apply_bytes give wv_merge's weave (an
 *   empty delta changes nothing, a full delta rebuilds the replica); a
 *   document applied with wv_apply_bytes merges; weft bytes
 *   round trip (also into a dst smaller than the count); wv_bytes_kind_of;
 * - damage: every truncation, every single bit flip, and (with the checksum
 *   recomputed, so the body is what gets judged) every truncated body, every
 *   byte value at every body position and random multi-byte mutations of a
 *   small document, a delta (typing runs, deleted ranges), a delta of
 *   delete runs and a weft. Damaged bytes never crash; unless the checksum
 *   is recomputed they never decode; a trailing byte is WV_E_FORMAT;
 *   whatever decodes passes wv_check and re-encodes stably; wv_apply_bytes
 *   leaves its target byte-identical (hash, clock, site) on every error;
 * - failed allocations (every one in turn) in wv_decode, wv_apply_bytes
 *   (document and delta), wv_encode and wv_encode_alloc (whose output is a
 *   block of exactly its size, also when it outgrows its first guess):
 *   WV_E_NOMEM, nothing leaked, the target unchanged.
 *
 * With a folder argument (test 'format-corpus'): checks every file listed in
 * FOLDER/MANIFEST (written by tests/gen_format_corpus.c) gives exactly its
 * expected code, that wv_apply_bytes leaves the replica R unchanged on it,
 * and that no allocation bigger than ALLOC_FACTOR x the input (+ slack) is
 * made on the way: impossible counts are refused before allocating. Each
 * file runs in a child process: a crash is reported against its file. */
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>
#include "test.h"
#include "snap.h"
#include "failalloc.h"
#include "internal.h" /* chunk size: the allocation slack */

#define MAXR 5
#define ALLOC_FACTOR 128 /* validation keeps 40 bytes an atom; 2 atoms a byte at most */
#define ALLOC_SLACK (WV_CHUNK_CAP * sizeof(wv_atom)) /* one full chunk */
#define ZSTD_SLACK ((size_t)1 << 17)                   /* zstd's decoder context, about 96 KB */

/* ---- support -------------------------------------------------------------------- */

typedef struct bytes {
    uint8_t *p;
    size_t n;
} bytes;

static bytes copy_bytes(const void *p, size_t n, size_t extra) {
    bytes b = {malloc(n + extra + 1), n};
    REQUIRE(b.p);
    if (n) memcpy(b.p, p, n);
    return b;
}

static size_t weft_of(const wv_doc *d, wv_weft_entry *w, size_t cap) {
    size_t n = d ? wv_doc_weft_all(d, w, cap) : 0;
    REQUIRE(n <= cap);
    return n;
}

/* Document (since NULL, delta 0) or delta bytes of d past since's weft. */
static bytes encode(const wv_doc *d, int delta, const wv_doc *since) {
    wv_weft_entry w[64];
    size_t nw = weft_of(since, w, 64), bound = wv_encode_bound(d), n = 0;
    bytes b = {malloc(bound), 0};
    REQUIRE(b.p);
    REQUIRE_OK(wv_encode(d, delta, w, nw, b.p, bound, &n));
    CHECK(n <= bound && n >= 14);
    b.n = n;
    void *p = NULL; /* wv_encode_alloc writes the same bytes, into malloc's memory */
    REQUIRE_OK(wv_encode_alloc(d, delta, w, nw, NULL, &p, &n));
    CHECK(n == b.n && !memcmp(p, b.p, n));
    free(p);
    return b;
}

static bytes encode_weft(const wv_doc *d) {
    size_t cap = 6 + 8 + 10 + 15 * (wv_doc_weft_all(d, NULL, 0) + 1), n = 0;
    bytes b = {malloc(cap), 0};
    REQUIRE(b.p);
    REQUIRE_OK(wv_weft_encode(d, b.p, cap, &n));
    b.n = n;
    return b;
}

static int same_bytes(bytes a, bytes b) { return a.n == b.n && !memcmp(a.p, b.p, a.n); }

/* Recomputes the trailer: XXH3-64 of all but the last 8 bytes, LE. */
static void reseal(uint8_t *p, size_t n) {
    if (n < 8) return;
    uint64_t h = XXH3_64bits(p, n - 8);
    for (int i = 0; i < 8; i++) p[n - 8 + i] = (uint8_t)(h >> (8 * i));
}

static int unchanged(const wv_doc *d, snap s) { return same_snap(snap_of(d), s); }

static int same_weft(const wv_doc *a, const wv_doc *b) {
    wv_weft_entry x[64], y[64];
    size_t nx = weft_of(a, x, 64), ny = weft_of(b, y, 64);
    if (nx != ny) return 0;
    for (size_t i = 0; i < nx; i++)
        if (x[i].site != y[i].site || x[i].clock != y[i].clock) return 0;
    return 1;
}

/* A counting allocator that also records the largest single request. */
typedef struct track {
    failalloc fa; /* first: fa_* take the same pointer */
    size_t max;
} track;

static void *tr_malloc(void *ctx, size_t n) {
    track *t = ctx;
    if (n > t->max) t->max = n;
    return fa_malloc(&t->fa, n);
}
static void *tr_realloc(void *ctx, void *p, size_t old, size_t n) {
    track *t = ctx;
    if (n > t->max) t->max = n;
    return fa_realloc(&t->fa, p, old, n);
}
static void tr_free(void *ctx, void *p, size_t n) { fa_free(&((track *)ctx)->fa, p, n); }
static wv_alloc tr_hook(track *t) {
    (void)fa_hook(&t->fa);
    t->max = 0;
    return (wv_alloc){tr_malloc, tr_realloc, tr_free, t};
}

/* The replica R of tests/format/MANIFEST: "abc" at site 1, forked onto
 * site 2 (fork dropped), b deleted. Text "ac", weft {1: 5}, clock 5. */
static wv_doc *replica_r(const wv_options *opt) {
    wv_doc *r, *e;
    REQUIRE_OK(wv_doc_new(&r, 1, opt));
    REQUIRE_OK(wv_text_insert(r, 0, "abc", 3));
    REQUIRE_OK(wv_doc_fork(r, 2, &e));
    wv_doc_free(e);
    REQUIRE_OK(wv_text_delete(r, 1, 1));
    return r;
}

static wv_doc *clone_of(const wv_doc *d) {
    wv_doc *c;
    REQUIRE_OK(wv_doc_clone(d, &c));
    return c;
}

/* ---- random histories ------------------------------------------------------------ */

static size_t history(wv_doc **r) {
    size_t nr = 1;
    REQUIRE_OK(wv_doc_new(&r[0], 1 + rng_below(3) * 1000, NULL));
    for (size_t s = 0, steps = 3 + rng_below(40); s < steps; s++) {
        size_t i = rng_below(nr), j = rng_below(nr);
        int op = (int)rng_below(8);
        if (op == 0 && nr < MAXR) {
            /* sites far apart too: multi-byte site ids and steps */
            uint64_t site = rng_below(2) ? 10 + nr : (uint64_t)1 << (20 + 8 * nr);
            REQUIRE_OK(wv_doc_fork(r[i], site, &r[nr]));
            nr++;
        } else if (op == 1) {
            REQUIRE_OK(wv_merge(r[i], r[j]));
        } else {
            test_random_edit(r[i]);
        }
    }
    return nr;
}

static void check_document(const wv_doc *d) {
    bytes b = encode(d, 0, NULL), b2 = encode(d, 0, NULL);
    CHECK(same_bytes(b, b2)); /* deterministic */
    CHECK(wv_bytes_kind_of(b.p, b.n) == WV_BYTES_DOCUMENT);
    wv_doc *e = NULL;
    REQUIRE_OK(wv_decode(&e, b.p, b.n, NULL));
    CHECK(wv_weave_hash(e) == wv_weave_hash(d));
    CHECK(wv_doc_site(e) == wv_doc_site(d));
    CHECK(wv_doc_clock(e) == wv_doc_clock(d));
    CHECK(wv_doc_atoms(e) == wv_doc_atoms(d));
    CHECK(wv_text_len(e) == wv_text_len(d));
    CHECK(same_weft(e, d));
    char *t1 = test_text(d), *t2 = test_text(e);
    CHECK(wv_text_read(d, NULL, 0) == wv_text_read(e, NULL, 0) &&
          !memcmp(t1, t2, wv_text_read(d, NULL, 0)));
    free(t1), free(t2);
    CHECK_DOC(e);
    bytes b3 = encode(e, 0, NULL);
    CHECK(same_bytes(b, b3)); /* encode(decode(x)) == x */
    /* buffer sizes: every cap below the size fails, any cap from it works */
    size_t n;
    uint8_t *small = malloc(b.n + 16);
    REQUIRE(small);
    CHECK_RC(wv_encode(d, 0, NULL, 0, NULL, 0, &n), WV_E_BUFFER);
    CHECK_RC(wv_encode(d, 0, NULL, 0, small, b.n - 1, &n), WV_E_BUFFER);
    CHECK_RC(wv_encode(d, 0, NULL, 0, small, rng_below(b.n), &n), WV_E_BUFFER);
    n = 0;
    CHECK_RC(wv_encode(d, 0, NULL, 0, small, b.n + rng_below(17), &n), WV_OK);
    CHECK(n == b.n && !memcmp(small, b.p, n));
    free(small);
    wv_doc_free(e);
    free(b.p), free(b2.p), free(b3.p);
}

static void check_weft_bytes(const wv_doc *d) {
    bytes b = encode_weft(d);
    CHECK(wv_bytes_kind_of(b.p, b.n) == WV_BYTES_WEFT);
    wv_weft_entry want[64], got[64];
    size_t nw = weft_of(d, want, 64), n = 12345;
    CHECK_RC(wv_weft_decode(b.p, b.n, got, 64, &n), WV_OK);
    CHECK(n == nw);
    for (size_t i = 0; i < nw && i < n; i++) CHECK(got[i].site == want[i].site && got[i].clock == want[i].clock);
    if (nw) { /* a dst smaller than the count: the first cap entries, and the count */
        memset(got, 0, sizeof got);
        n = 0;
        CHECK_RC(wv_weft_decode(b.p, b.n, got, nw - 1, &n), WV_OK);
        CHECK(n == nw);
        for (size_t i = 0; i + 1 < nw; i++) CHECK(got[i].site == want[i].site && got[i].clock == want[i].clock);
        CHECK(got[nw - 1].site == 0 && got[nw - 1].clock == 0); /* nothing past cap */
        CHECK_RC(wv_weft_decode(b.p, b.n, NULL, 0, &n), WV_OK);
        CHECK(n == nw);
    }
    size_t w;
    CHECK_RC(wv_weft_encode(d, b.p, b.n - 1, &w), WV_E_BUFFER);
    w = 0;
    CHECK_RC(wv_weft_encode(d, b.p, b.n, &w), WV_OK);
    CHECK(w == b.n);
    /* weft bytes are neither a document nor a delta */
    wv_doc *e = NULL;
    CHECK_RC(wv_decode(&e, b.p, b.n, NULL), WV_E_FORMAT);
    CHECK(e == NULL);
    free(b.p);
}

/* a and b from one history: b's delta past a, applied to a, is merge(a, b). */
static void check_pair(const wv_doc *a, const wv_doc *b) {
    wv_doc *m = clone_of(a), *x = clone_of(a), *y = clone_of(a);
    REQUIRE_OK(wv_merge(m, b));
    bytes dl = encode(b, 1, a), dl2 = encode(b, 1, a);
    CHECK(same_bytes(dl, dl2));
    CHECK(wv_bytes_kind_of(dl.p, dl.n) == WV_BYTES_DELTA);
    CHECK_RC(wv_apply_bytes(x, dl.p, dl.n), WV_OK);
    CHECK(wv_weave_hash(x) == wv_weave_hash(m));
    CHECK_DOC(x);
    uint64_t h = wv_weave_hash(x);
    CHECK_RC(wv_apply_bytes(x, dl.p, dl.n), WV_OK); /* again: idempotent */
    CHECK(wv_weave_hash(x) == h);
    /* a delta is not a document */
    wv_doc *e = NULL;
    CHECK_RC(wv_decode(&e, dl.p, dl.n, NULL), WV_E_FORMAT);
    CHECK(e == NULL);
    /* the document applied: a merge, clock included */
    bytes doc = encode(b, 0, NULL);
    CHECK_RC(wv_apply_bytes(y, doc.p, doc.n), WV_OK);
    CHECK(wv_weave_hash(y) == wv_weave_hash(m));
    CHECK(wv_doc_clock(y) == wv_doc_clock(m));
    CHECK(same_weft(y, m));
    CHECK_DOC(y);
    /* the bound holds for deltas too */
    CHECK(dl.n <= wv_encode_bound(b));
    size_t n;
    CHECK_RC(wv_encode(b, 1, NULL, 0, dl.p, 14, &n), WV_E_BUFFER); /* a full delta is longer */
    free(dl.p), free(dl2.p), free(doc.p);
    wv_doc_free(m), wv_doc_free(x), wv_doc_free(y);
}

static void check_empty_and_full_delta(const wv_doc *b) {
    /* past its own weft: no atoms; applying it changes nothing but the clock */
    bytes e = encode(b, 1, b);
    wv_doc *x = clone_of(b);
    snap s = snap_of(x);
    CHECK_RC(wv_apply_bytes(x, e.p, e.n), WV_OK);
    CHECK(wv_weave_hash(x) == s.hash && wv_doc_atoms(x) == s.atoms);
    CHECK_DOC(x);
    wv_doc_free(x);
    /* every atom (since empty): a new replica rebuilds b's weave */
    bytes f = encode(b, 1, NULL);
    wv_doc *y;
    REQUIRE_OK(wv_doc_new(&y, 999999, NULL));
    CHECK_RC(wv_apply_bytes(y, f.p, f.n), WV_OK);
    CHECK(wv_weave_hash(y) == wv_weave_hash(b));
    CHECK(wv_doc_site(y) == 999999);
    CHECK_DOC(y);
    wv_doc_free(y);
    free(e.p), free(f.p);
}

static void test_roundtrip(void) {
    for (int round = 0; round < 300; round++) {
        wv_doc *r[MAXR];
        size_t nr = history(r);
        for (size_t i = 0; i < nr; i++) {
            check_document(r[i]);
            check_weft_bytes(r[i]);
        }
        for (int k = 0; k < 3; k++) check_pair(r[rng_below(nr)], r[rng_below(nr)]);
        check_empty_and_full_delta(r[rng_below(nr)]);
        for (size_t i = 0; i < nr; i++) wv_doc_free(r[i]);
    }
}

/* Runs longer than a loaded chunk holds, deleted as a range (a pattern run
 * of char, delete pairs) or key by key from the end, behind 0..3 atoms: the
 * run reader's blocks end on both parities of a chunk's free slots, so some
 * pair straddles two chunks. Mixed ASCII and multi-byte chars. */
static void test_long_runs(void) {
    for (int lead = 0; lead < 4; lead++)
        for (int how = 0; how < 3; how++) {
            wv_doc *d;
            REQUIRE_OK(wv_doc_new(&d, 7, NULL));
            for (int i = 0; i < lead; i++) REQUIRE_OK(wv_text_insert(d, 0, "a", 1));
            char s[3 * 700];
            size_t n = 0;
            for (int i = 0; i < 700; i++)
                if (i % 5 == 3) s[n++] = (char)0xc3, s[n++] = (char)0xa9; /* é */
                else s[n++] = (char)('a' + i % 26);
            REQUIRE_OK(wv_text_insert(d, (size_t)lead, s, n));
            if (how == 0) REQUIRE_OK(wv_text_delete(d, (size_t)lead + 50, 600));
            for (int i = 0; how == 1 && i < 600; i++) REQUIRE_OK(wv_text_delete(d, (size_t)lead + 649 - (size_t)i, 1));
            CHECK(wv_text_len(d) == (how == 2 ? 700 : 100) + (size_t)lead);
            check_document(d);
            wv_doc_free(d);
        }
}

/* Version 3 (streams) at every level, against version 1 below 64 atoms. */
static void test_levels(void) {
    wv_options opt;
    wv_options_default(&opt);
    wv_doc *x = NULL;
    opt.level = -2;
    CHECK(wv_doc_new(&x, 1, &opt) == WV_E_ARG && !x);
    opt.level = 23;
    CHECK(wv_doc_new(&x, 1, &opt) == WV_E_ARG && !x);

    static const int levels[] = {0, -1, 1, 3, 19, 22};
    size_t stored = 0, best = SIZE_MAX;
    uint64_t hash = 0;
    for (size_t l = 0; l < sizeof levels / sizeof *levels; l++) {
        opt.level = levels[l];
        wv_doc *a = test_doc(1, 3000, &opt), *small = test_doc(1, 20, &opt), *b, *c;
        REQUIRE_OK(wv_doc_fork(a, 2, &b));
        REQUIRE_OK(wv_text_insert(b, 10, "twenty-four characters..", 24));
        REQUIRE_OK(wv_text_delete(b, 100, 80));
        REQUIRE_OK(wv_doc_clone(b, &c));
        bytes db = encode(b, 0, NULL), dc = encode(c, 0, NULL), dl = encode(b, 1, a), ds = encode(small, 0, NULL);
        CHECK(db.p[4] == 3 && dl.p[4] == 3 && ds.p[4] == 1);
        CHECK(same_bytes(db, dc)); /* a clone keeps the level */
        if (l == 0) hash = wv_weave_hash(b);
        CHECK(wv_weave_hash(b) == hash); /* test_doc is seeded: the same history at every level */
        if (levels[l] == -1) stored = db.n;
        if (db.n < best) best = db.n;
        wv_doc *e;
        REQUIRE_OK(wv_decode(&e, db.p, db.n, NULL));
        CHECK(wv_weave_hash(e) == hash);
        wv_doc_free(e);
        wv_doc *f = clone_of(a);
        REQUIRE_OK(wv_apply_bytes(f, dl.p, dl.n));
        CHECK(wv_weave_hash(f) == hash);
        wv_doc_free(f);
        free(db.p), free(dc.p), free(dl.p), free(ds.p);
        wv_doc_free(a), wv_doc_free(small), wv_doc_free(b), wv_doc_free(c);
    }
    CHECK(best < stored / 2);

    /* a delta deleting a range: 60 deletes in a few bytes (version 1) */
    wv_doc *a = test_doc(1, 300, NULL), *b;
    REQUIRE_OK(wv_doc_fork(a, 2, &b));
    REQUIRE_OK(wv_text_delete(b, 10, 60));
    bytes dl = encode(b, 1, a);
    CHECK(dl.p[4] == 1 && dl.n < 40);
    REQUIRE_OK(wv_apply_bytes(a, dl.p, dl.n));
    CHECK(wv_weave_hash(a) == wv_weave_hash(b));
    free(dl.p), wv_doc_free(a), wv_doc_free(b); /* the text compresses; stored streams do not */
}

/* A delta lists each site's atoms in clock order: random edits at three
 * forks, gathered by one of them, cost 2.6 bytes an atom, where weave order
 * scatters the clocks, which then do not compress (4.3 bytes). Applied, the
 * delta is the merge, although site order puts some effects before their
 * causes. */
static void test_delta_order(void) {
    wv_options opt;
    wv_options_default(&opt);
    opt.level = 3; /* the deltas' default */
    wv_doc *base = test_doc(1, 4000, &opt), *f[3];
    for (int i = 0; i < 3; i++) REQUIRE_OK(wv_doc_fork(base, (uint64_t)(10 + 10 * i), &f[i]));
    for (int i = 0; i < 3; i++)
        for (int e = 0; e < 600; e++) {
            size_t len = wv_text_len(f[i]);
            if (rng_below(4) == 0) REQUIRE_OK(wv_text_delete(f[i], rng_below(len), 1));
            else REQUIRE_OK(wv_text_insert(f[i], rng_below(len + 1), &"xyz"[rng_below(3)], 1));
        }
    REQUIRE_OK(wv_merge(f[0], f[1]));
    REQUIRE_OK(wv_merge(f[0], f[2]));
    for (int e = 0; e < 300; e++) /* site 10 builds on 20's and 30's atoms */
        REQUIRE_OK(wv_text_insert(f[0], rng_below(wv_text_len(f[0]) + 1), "w", 1));
    bytes dl = encode(f[0], 1, base);
    size_t fresh = wv_doc_atoms(f[0]) - wv_doc_atoms(base);
    CHECK(dl.p[4] == 3 && fresh == 2100);
    CHECK(dl.n < fresh * 7 / 2);
    wv_doc *x = clone_of(base);
    REQUIRE_OK(wv_apply_bytes(x, dl.p, dl.n));
    CHECK(wv_weave_hash(x) == wv_weave_hash(f[0]));
    CHECK_DOC(x);
    free(dl.p), wv_doc_free(x), wv_doc_free(base);
    for (int i = 0; i < 3; i++) wv_doc_free(f[i]);
}

static void test_api_edges(void) {
    wv_doc *d = replica_r(NULL), *e = NULL;
    bytes b = encode(d, 0, NULL);
    size_t n;
    wv_weft_entry w[2];
    CHECK_RC(wv_bytes_kind_of(NULL, 0), WV_E_TRUNCATED);
    CHECK_RC(wv_bytes_kind_of(NULL, 5), WV_E_ARG);
    CHECK_RC(wv_decode(NULL, b.p, b.n, NULL), WV_E_ARG);
    CHECK_RC(wv_decode(&e, NULL, 3, NULL), WV_E_ARG);
    CHECK_RC(wv_decode(&e, NULL, 0, NULL), WV_E_TRUNCATED);
    CHECK(e == NULL);
    CHECK_RC(wv_apply_bytes(NULL, b.p, b.n), WV_E_ARG);
    CHECK_RC(wv_apply_bytes(d, NULL, 3), WV_E_ARG);
    CHECK_RC(wv_encode(NULL, 0, NULL, 0, b.p, b.n, &n), WV_E_ARG);
    CHECK_RC(wv_encode(d, 0, NULL, 0, b.p, b.n, NULL), WV_E_ARG);
    CHECK_RC(wv_encode(d, 0, NULL, 0, NULL, 5, &n), WV_E_ARG);
    CHECK_RC(wv_encode(d, 1, NULL, 1, b.p, b.n, &n), WV_E_ARG);
    CHECK_RC(wv_encode(d, 0, w, 1, b.p, b.n, &n), WV_E_ARG); /* a weft with a document */
    CHECK_RC(wv_weft_encode(NULL, b.p, b.n, &n), WV_E_ARG);
    CHECK_RC(wv_weft_encode(d, NULL, 3, &n), WV_E_ARG);
    CHECK_RC(wv_weft_decode(b.p, b.n, NULL, 1, &n), WV_E_ARG);
    CHECK_RC(wv_weft_decode(b.p, b.n, w, 2, NULL), WV_E_ARG);
    CHECK_RC(wv_weft_decode(b.p, b.n, w, 2, &n), WV_E_FORMAT); /* a document */
    CHECK(wv_encode_bound(NULL) == 0);
    void *p = &n;
    CHECK_RC(wv_encode_alloc(d, 0, NULL, 0, NULL, NULL, &n), WV_E_ARG);
    CHECK_RC(wv_encode_alloc(NULL, 0, NULL, 0, NULL, &p, &n), WV_E_ARG);
    CHECK(p == NULL); /* *out is NULL on every error */
    p = &n;
    CHECK_RC(wv_encode_alloc(d, 0, NULL, 0, NULL, &p, NULL), WV_E_ARG);
    CHECK(p == NULL);
    p = &n;
    CHECK_RC(wv_encode_alloc(d, 1, NULL, 1, NULL, &p, &n), WV_E_ARG);
    CHECK(p == NULL);
    p = &n;
    CHECK_RC(wv_encode_alloc(d, 0, w, 1, NULL, &p, &n), WV_E_ARG);
    CHECK(p == NULL);
    /* a new replica: no atoms, and weft bytes of no entries */
    wv_doc *f;
    REQUIRE_OK(wv_doc_new(&f, 42, NULL));
    check_document(f);
    check_weft_bytes(f);
    check_empty_and_full_delta(f);
    /* the largest site id and a clock near the top survive a round trip */
    wv_doc *g;
    REQUIRE_OK(wv_doc_new(&g, UINT64_MAX, NULL));
    REQUIRE_OK(wv_text_insert(g, 0, "\xf4\x8f\xbf\xbf\xee\x80\x80", 7)); /* U+10FFFF U+E000 */
    check_document(g);
    check_weft_bytes(g);
    check_pair(d, g);
    wv_doc_free(d), wv_doc_free(f), wv_doc_free(g);
    free(b.p);
}

/* ---- damage ------------------------------------------------------------------------ */

/* A small multi-site document: concurrent multi-byte inserts, deletes. */
static void small_history(wv_doc **base, wv_doc **doc) {
    wv_doc *a, *b;
    REQUIRE_OK(wv_doc_new(&a, 1, NULL));
    REQUIRE_OK(wv_text_insert(a, 0, "h\xc3\xa9llo w\xc3\xb6rld", 13));
    REQUIRE_OK(wv_doc_fork(a, 300, &b));
    *base = clone_of(a);
    REQUIRE_OK(wv_text_insert(b, 5, "\xe2\x82\xac!", 4));
    REQUIRE_OK(wv_text_delete(b, 0, 2));
    REQUIRE_OK(wv_text_delete(a, 7, 3));
    REQUIRE_OK(wv_text_insert(a, 1, "\xf0\x9f\x98\x80", 4));
    REQUIRE_OK(wv_merge(a, b));
    REQUIRE_OK(wv_text_delete(a, 4, 2));
    REQUIRE_OK(wv_text_insert(a, 0, "xy", 2));
    *doc = a;
    wv_doc_free(b);
}

/* Feeds bytes to every reader. want_error: they must all fail. Anything that
 * decodes must be valid and re-encode stably; wv_apply_bytes on target must
 * leave it unchanged on error and valid on success. */
enum { MAY_DECODE = 0, MUST_FAIL = 1, BAD_HEADER = 3 /* implies MUST_FAIL */ };

static void feed(const uint8_t *p, size_t n, const wv_doc *target, int how) {
    int kind = wv_bytes_kind_of(p, n), want_error = how & MUST_FAIL;
    if (how == BAD_HEADER) CHECK(kind < 0);
    wv_doc *e = NULL;
    int rc = wv_decode(&e, p, n, NULL);
    if (want_error) CHECK(rc != WV_OK);
    if (kind < 0) CHECK(rc == kind);
    if (rc == WV_OK) {
        CHECK(kind == WV_BYTES_DOCUMENT);
        CHECK_DOC(e);
        bytes b = encode(e, 0, NULL);
        wv_doc *f = NULL;
        CHECK_RC(wv_decode(&f, b.p, b.n, NULL), WV_OK);
        if (f) {
            CHECK(wv_weave_hash(f) == wv_weave_hash(e) && wv_doc_clock(f) == wv_doc_clock(e));
            bytes c = encode(f, 0, NULL);
            CHECK(same_bytes(b, c));
            free(c.p);
        }
        wv_doc_free(f), wv_doc_free(e);
        free(b.p);
    } else {
        CHECK(e == NULL);
    }
    wv_doc *t = clone_of(target);
    snap s = snap_of(t);
    rc = wv_apply_bytes(t, p, n);
    if (want_error) CHECK(rc != WV_OK);
    if (kind < 0) CHECK(rc == kind);
    if (rc) CHECK(unchanged(t, s));
    else CHECK_DOC(t);
    wv_doc_free(t);
    wv_weft_entry w[8];
    size_t nw = 0;
    rc = wv_weft_decode(p, n, w, 8, &nw);
    if (want_error) CHECK(rc != WV_OK);
    if (rc == WV_OK) CHECK(kind == WV_BYTES_WEFT);
}

static void damage(bytes b, const wv_doc *target, int kind) {
    /* the undamaged bytes are fine */
    CHECK(wv_bytes_kind_of(b.p, b.n) == kind);
    if (b.n < 14) return;
    bytes c = copy_bytes(b.p, b.n, 64);
    /* every truncation: an error, never success */
    for (size_t len = 0; len < b.n; len++) {
        memcpy(c.p, b.p, len);
        feed(c.p, len, target, BAD_HEADER);
    }
    /* every truncated body, resealed: still an error (the counts say more) */
    for (size_t len = 6; len + 8 < b.n; len++) {
        memcpy(c.p, b.p, len);
        reseal(c.p, len + 8);
        feed(c.p, len + 8, target, MUST_FAIL);
        CHECK(wv_bytes_kind_of(c.p, len + 8) == kind);
    }
    /* every single bit flip: detected (header: its own code; else checksum) */
    for (size_t bit = 0; bit < 8 * b.n; bit++) {
        memcpy(c.p, b.p, b.n);
        c.p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (bit >= 6 * 8) CHECK(wv_bytes_kind_of(c.p, b.n) == WV_E_CHECKSUM);
        feed(c.p, b.n, target, BAD_HEADER);
    }
    /* a byte past the body, resealed: trailing bytes are refused */
    memcpy(c.p, b.p, b.n - 8);
    c.p[b.n - 8] = 0;
    reseal(c.p, b.n + 1);
    feed(c.p, b.n + 1, target, MUST_FAIL);
    if (kind == WV_BYTES_WEFT) {
        size_t nw;
        wv_weft_entry w[4];
        CHECK_RC(wv_weft_decode(c.p, b.n + 1, w, 4, &nw), WV_E_FORMAT);
    } else {
        wv_doc *t = clone_of(target);
        CHECK_RC(wv_apply_bytes(t, c.p, b.n + 1), WV_E_FORMAT);
        wv_doc_free(t);
    }
    /* the body judged alone: every byte value at every body position, resealed */
    for (size_t i = 6; i + 8 < b.n; i++)
        for (unsigned v = 0; v < 256; v++) {
            if (v == b.p[i]) continue;
            memcpy(c.p, b.p, b.n);
            c.p[i] = (uint8_t)v;
            reseal(c.p, b.n);
            feed(c.p, b.n, target, MAY_DECODE);
        }
    /* random multi-byte mutations, resealed: insertions, deletions, overwrites */
    for (int round = 0; round < 3000; round++) {
        memcpy(c.p, b.p, b.n);
        size_t n = b.n - 8; /* without the trailer */
        for (int k = 0, muts = 1 + (int)rng_below(4); k < muts; k++) {
            size_t at = 6 + rng_below(n - 6 + 1);
            switch (rng_below(5)) {
            case 0: /* insert */
                if (n + 8 < b.n + 60) {
                    memmove(c.p + at + 1, c.p + at, n - at);
                    c.p[at] = (uint8_t)(rng_below(3) ? rng() : 0x80);
                    n++;
                }
                break;
            case 1: /* delete */
                if (at < n) memmove(c.p + at, c.p + at + 1, n - at - 1), n--;
                break;
            case 2: /* a bit */
                if (at < n) c.p[at] ^= (uint8_t)(1u << rng_below(8));
                break;
            case 3: /* a varint-ish extreme */
                if (at < n) c.p[at] = (uint8_t)(rng_below(2) ? 0xff : 0x00);
                break;
            default: /* a byte */
                if (at < n) c.p[at] = (uint8_t)rng();
                break;
            }
        }
        reseal(c.p, n + 8);
        feed(c.p, n + 8, target, MAY_DECODE);
    }
    free(c.p);
}

static void test_damage(void) {
    wv_doc *base, *doc;
    small_history(&base, &doc);
    bytes d = encode(doc, 0, NULL), dl = encode(doc, 1, base), w = encode_weft(doc);
    /* the target: base, onto which the delta and the document apply cleanly */
    wv_doc *t = clone_of(base);
    CHECK_RC(wv_apply_bytes(t, dl.p, dl.n), WV_OK);
    CHECK(wv_weave_hash(t) == wv_weave_hash(doc));
    wv_doc_free(t);
    damage(d, base, WV_BYTES_DOCUMENT);
    damage(dl, base, WV_BYTES_DELTA);
    damage(w, base, WV_BYTES_WEFT);
    /* a delta of deleted ranges: delete-run segments (consecutive targets) */
    wv_doc *ranges = clone_of(doc);
    REQUIRE_OK(wv_text_delete(ranges, 2, 5));
    REQUIRE_OK(wv_text_delete(ranges, 0, 1));
    bytes dr = encode(ranges, 1, doc);
    damage(dr, doc, WV_BYTES_DELTA);
    free(d.p), free(dl.p), free(w.p), free(dr.p);
    wv_doc_free(base), wv_doc_free(doc), wv_doc_free(ranges);
}

/* Fills the stack below the caller with junk, so that a callee reading an
 * uninitialised local sees junk, not a lucky zero. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void paint_stack(void) {
    volatile unsigned char junk[1 << 14];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = 0xa5;
}

/* wv_apply_bytes given document bytes that wv_decode refuses (here: a
 * trailing byte, resealed) must return wv_decode's code and change nothing,
 * whatever is on the stack. In a child process, so that a crash is reported
 * as such and the other tests still run. */
static void test_apply_refused_document(void) {
    wv_doc *r = replica_r(NULL);
    bytes b = encode(r, 0, NULL);
    bytes c = copy_bytes(b.p, b.n - 8, 9);
    c.p[c.n++] = 0; /* a trailing byte */
    c.n += 8;
    reseal(c.p, c.n);
    wv_doc *e = NULL;
    CHECK_RC(wv_decode(&e, c.p, c.n, NULL), WV_E_FORMAT);
    fflush(stdout), fflush(stderr);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        snap s = snap_of(r);
        paint_stack();
        int rc = wv_apply_bytes(r, c.p, c.n);
        _exit(rc == WV_E_FORMAT && unchanged(r, s) ? 0 : 1);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (WIFSIGNALED(status))
        fprintf(stderr, "  wv_apply_bytes on a document wv_decode refuses crashed (signal %d): it frees\n"
                        "  its decoded replica even when wv_decode failed and never set it; the\n"
                        "  checks below that do the same may crash too\n", WTERMSIG(status));
    else if (!WIFEXITED(status) || WEXITSTATUS(status))
        fprintf(stderr, "  wv_apply_bytes on a document wv_decode refuses: wrong code or replica changed\n");
    free(b.p), free(c.p);
    wv_doc_free(r);
}

/* ---- failed allocations ----------------------------------------------------------- */

/* wv_encode_alloc with every allocation failing in turn, the replica's and
 * the output's (one failalloc behind both): WV_E_NOMEM, *out NULL, nothing
 * leaked, the replica unchanged; else wv_encode's bytes in a block of
 * exactly their size. Replicas: document bytes doc, and one whose output
 * outgrows the first guess (4096 bytes and one an atom): incompressible
 * 4-byte chars, streams stored. */
static void encode_alloc_oom(const bytes *doc) {
    failalloc fa;
    wv_alloc hook;
    wv_options opt = fa_options(&fa, &hook), stored = opt;
    stored.level = -1;
    wv_doc *t[2];
    REQUIRE_OK(wv_decode(&t[0], doc->p, doc->n, &opt));
    REQUIRE_OK(wv_doc_new(&t[1], 7, &stored));
    for (int i = 0; i < 3000; i++) {
        char c[4] = {(char)0xf0, (char)(0x90 + rng_below(0x30)), (char)(0x80 + rng_below(0x40)),
                     (char)(0x80 + rng_below(0x40))};
        REQUIRE_OK(wv_text_insert(t[i % 2], rng_below(wv_text_len(t[i % 2]) + 1), c, 4));
    }
    for (int j = 0; j < 2; j++) {
        bytes ref = encode(t[j], 0, NULL);
        if (j) CHECK(ref.n > 4096 + wv_doc_atoms(t[j])); /* so the output grew */
        int done = 0;
        for (long k = 0; k < 1000 && !done; k++) {
            size_t live = fa.live_bytes, n = 7;
            long blocks = fa.live_blocks;
            snap s = snap_of(t[j]);
            void *p = &n;
            fa.countdown = k;
            int rc = wv_encode_alloc(t[j], 0, NULL, 0, &hook, &p, &n);
            fa.countdown = -1;
            if (rc == WV_OK) {
                done = 1;
                CHECK(n == ref.n && !memcmp(p, ref.p, n));
                CHECK(fa.live_bytes == live + n && fa.live_blocks == blocks + 1); /* exactly n bytes */
                fa_free(&fa, p, n);
            } else {
                CHECK(rc == WV_E_NOMEM && p == NULL && n == 7);
            }
            CHECK(fa.live_bytes == live && fa.live_blocks == blocks && unchanged(t[j], s));
        }
        CHECK(done);
        free(ref.p);
        wv_doc_free(t[j]);
    }
    CHECK(fa.live_bytes == 0 && fa.live_blocks == 0);
}

static void test_oom(void) {
    failalloc fa;
    wv_alloc hook;
    wv_options opt = fa_options(&fa, &hook);
    /* a bigger history: several chunks, two sites, deletes */
    wv_doc *a = test_doc(1, 700, NULL), *b;
    REQUIRE_OK(wv_doc_fork(a, 2, &b));
    REQUIRE_OK(wv_text_insert(b, 100, "concurr\xc3\xa9nt", 11));
    REQUIRE_OK(wv_text_delete(b, 10, 30));
    REQUIRE_OK(wv_text_delete(a, 500, 20));
    bytes da = encode(a, 0, NULL), db = encode(b, 0, NULL), dl = encode(b, 1, a);
    wv_doc *want_doc = clone_of(a), *want_delta = clone_of(a);
    REQUIRE_OK(wv_merge(want_doc, b));
    REQUIRE_OK(wv_apply_bytes(want_delta, dl.p, dl.n));

    /* wv_decode */
    int done = 0;
    for (long k = 0; k < 10000 && !done; k++) {
        wv_doc *e = NULL;
        fa.countdown = k;
        int rc = wv_decode(&e, da.p, da.n, &opt);
        fa.countdown = -1;
        if (rc == WV_OK) {
            done = 1;
            CHECK(wv_weave_hash(e) == wv_weave_hash(a));
            CHECK_DOC(e);
            wv_doc_free(e);
        } else {
            CHECK(rc == WV_E_NOMEM && e == NULL);
        }
        CHECK(fa.live_bytes == 0 && fa.live_blocks == 0);
    }
    CHECK(done);

    /* wv_encode: a document and a delta, from a replica on the failing allocator */
    wv_doc *t;
    REQUIRE_OK(wv_decode(&t, db.p, db.n, &opt));
    wv_weft_entry wf[8];
    size_t nw = weft_of(a, wf, 8);
    for (int delta = 0; delta < 2; delta++) {
        bytes ref = delta ? dl : db;
        size_t cap = wv_encode_bound(t);
        uint8_t *buf = malloc(cap);
        REQUIRE(buf);
        done = 0;
        for (long k = 0; k < 1000 && !done; k++) {
            size_t live = fa.live_bytes, n = 0;
            snap s = snap_of(t);
            fa.countdown = k;
            int rc = wv_encode(t, delta, wf, delta ? nw : 0, buf, cap, &n);
            fa.countdown = -1;
            if (rc == WV_OK) {
                done = 1;
                CHECK(n == ref.n && !memcmp(buf, ref.p, n));
            } else {
                CHECK(rc == WV_E_NOMEM);
            }
            CHECK(fa.live_bytes == live && unchanged(t, s));
        }
        CHECK(done);
        free(buf);
    }
    wv_doc_free(t);
    CHECK(fa.live_bytes == 0 && fa.live_blocks == 0);
    encode_alloc_oom(&db);

    /* wv_apply_bytes: a delta, and a document (a merge), onto a replica of a */
    const bytes *in[2] = {&dl, &db};
    const wv_doc *want[2] = {want_delta, want_doc};
    for (int w = 0; w < 2; w++) {
        wv_doc *tg;
        REQUIRE_OK(wv_decode(&tg, da.p, da.n, &opt));
        done = 0;
        for (long k = 0; k < 10000 && !done; k++) {
            snap s = snap_of(tg);
            size_t live = fa.live_bytes;
            long blocks = fa.live_blocks;
            fa.countdown = k;
            int rc = wv_apply_bytes(tg, in[w]->p, in[w]->n);
            fa.countdown = -1;
            if (rc == WV_OK) {
                done = 1;
                CHECK(wv_weave_hash(tg) == wv_weave_hash(want[w]));
                CHECK(wv_doc_clock(tg) == wv_doc_clock(want[w]));
            } else {
                CHECK(rc == WV_E_NOMEM);
                CHECK(unchanged(tg, s));
                CHECK(fa.live_bytes == live && fa.live_blocks == blocks);
            }
            CHECK_DOC(tg);
        }
        CHECK(done);
        wv_doc_free(tg);
        CHECK(fa.live_bytes == 0 && fa.live_blocks == 0);
    }

    free(da.p), free(db.p), free(dl.p);
    wv_doc_free(a), wv_doc_free(b), wv_doc_free(want_doc), wv_doc_free(want_delta);
}

/* ---- the corpus of tests/format ------------------------------------------------------ */

static int code_of(const char *name) {
    for (int c = 0; c >= -64; c--)
        if (!strcmp(wv_error_name(c), name)) return c;
    return 1; /* no such code */
}

static bytes read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    bytes b = {NULL, 0};
    if (!f) return b;
    size_t cap = 1 << 16;
    b.p = malloc(cap);
    REQUIRE(b.p);
    b.n = fread(b.p, 1, cap, f);
    REQUIRE(b.n < cap);
    fclose(f);
    return b;
}

/* One corpus file: the reader its kind names gives exactly `want`;
 * wv_apply_bytes leaves R unchanged on error; no outsized allocation. */
static int corpus_file(const char *name, bytes b, int want, const char *kind) {
    int fails = test_failures;
    track tr;
    wv_alloc hook = tr_hook(&tr);
    wv_options opt;
    wv_options_default(&opt);
    opt.alloc = &hook;
    int header = wv_bytes_kind_of(b.p, b.n), rc;
    if (!strcmp(kind, "document")) {
        wv_doc *e = NULL;
        rc = wv_decode(&e, b.p, b.n, &opt);
        if (rc == WV_OK) {
            CHECK_DOC(e);
            bytes again = encode(e, 0, NULL);
            if (b.p[4] == 1) CHECK(same_bytes(again, b)); /* the valid ones are canonical */
            wv_doc *f = NULL;                             /* version 3 below 64 atoms: written as 1 */
            REQUIRE_OK(wv_decode(&f, again.p, again.n, NULL));
            CHECK(wv_weave_hash(f) == wv_weave_hash(e));
            wv_doc_free(f);
            free(again.p);
        } else {
            CHECK(e == NULL);
        }
        wv_doc_free(e);
    } else if (!strcmp(kind, "delta")) {
        wv_doc *r = replica_r(&opt);
        snap s = snap_of(r);
        tr.max = 0; /* the call under test only */
        rc = wv_apply_bytes(r, b.p, b.n);
        if (rc) CHECK(unchanged(r, s));
        else CHECK_DOC(r);
        wv_doc_free(r);
    } else if (!strcmp(kind, "weft")) {
        wv_weft_entry w[16];
        size_t n = 0;
        rc = wv_weft_decode(b.p, b.n, w, 16, &n);
        if (rc == WV_OK) {
            CHECK(n <= 16);
            for (size_t i = 1; i < n && i < 16; i++) CHECK(w[i].site > w[i - 1].site && w[i].clock);
        }
    } else {
        fprintf(stderr, "%s: unknown kind %s\n", name, kind);
        CHECK(0);
        return 1;
    }
    CHECK(rc == want);
    if (rc != want) fprintf(stderr, "  %s: got %s, MANIFEST says %s\n", name, wv_error_name(rc), wv_error_name(want));
    if (header < 0) CHECK(rc == header); /* header-level damage: wv_bytes_kind_of's code */

    /* every file applied to R: unchanged on error; a damaged document body
     * gives wv_decode's code through wv_apply_bytes too */
    size_t max = tr.max;
    wv_doc *r = replica_r(&opt);
    snap s = snap_of(r);
    tr.max = 0;
    int arc = wv_apply_bytes(r, b.p, b.n);
    if (tr.max > max) max = tr.max;
    if (arc) {
        CHECK(unchanged(r, s));
        if (!unchanged(r, s)) fprintf(stderr, "  %s: wv_apply_bytes changed R (%s)\n", name, wv_error_name(arc));
    } else {
        CHECK_DOC(r);
    }
    if (!strcmp(kind, "document") && header == WV_BYTES_DOCUMENT && want != WV_OK) {
        CHECK(arc == want);
        if (arc != want) fprintf(stderr, "  %s: wv_apply_bytes gave %s\n", name, wv_error_name(arc));
    }
    wv_doc_free(r);
    CHECK(tr.fa.live_bytes == 0 && tr.fa.live_blocks == 0);
    /* version 3: streams expand at most 2^15 times; zstd's decoder context */
    int v3 = b.n > 4 && b.p[4] == 3;
    size_t limit = ALLOC_FACTOR * b.n * (v3 ? (size_t)1 << 15 : 1) + ALLOC_SLACK + (v3 ? ZSTD_SLACK : 0);
    CHECK(max <= limit);
    if (max > limit)
        fprintf(stderr, "  %s: an allocation of %zu bytes for %zu bytes of input\n", name, max, b.n);
    return test_failures != fails;
}

static int listed(char **names, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], name)) return 1;
    return 0;
}

static void test_corpus(const char *dir) {
    char path[4096], line[512];
    snprintf(path, sizeof path, "%s/MANIFEST", dir);
    FILE *m = fopen(path, "r");
    if (!m) perror(path);
    REQUIRE(m);
    char *names[512];
    size_t n = 0, bad = 0;
    while (fgets(line, sizeof line, m)) {
        char name[256], code[64], kind[32];
        if (line[0] == '#' || line[0] == '\n') continue;
        if (sscanf(line, "%255s %63s %31s", name, code, kind) != 3) {
            fprintf(stderr, "MANIFEST: bad line: %s", line);
            CHECK(0);
            continue;
        }
        int want = code_of(code);
        CHECK(want <= 0);
        if (want > 0) {
            fprintf(stderr, "MANIFEST: %s: unknown code %s\n", name, code);
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, name);
        bytes b = read_file(path);
        if (!b.p) perror(path);
        REQUIRE(b.p);
        /* each file in a child process, so that a crash (or a sanitizer's
         * abort) is reported against its file and the others still run */
        fflush(stdout), fflush(stderr);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            int failed = corpus_file(name, b, want, kind);
            fflush(stdout), fflush(stderr);
            _exit(failed); /* leaks: counted by the allocator hook */
        }
        int status = 0;
        REQUIRE(waitpid(pid, &status, 0) == pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status)) {
            bad++;
            CHECK(0);
            if (WIFSIGNALED(status)) fprintf(stderr, "  %s: crashed (signal %d)\n", name, WTERMSIG(status));
            else fprintf(stderr, "  %s: failed (exit %d)\n", name, WEXITSTATUS(status));
        }
        free(b.p);
        REQUIRE(n < 512);
        names[n] = malloc(strlen(name) + 1);
        REQUIRE(names[n]);
        strcpy(names[n++], name);
    }
    fclose(m);
    CHECK(n >= 40);
    /* every .bin in the folder is listed */
    DIR *dd = opendir(dir);
    REQUIRE(dd);
    struct dirent *ent;
    while ((ent = readdir(dd))) {
        size_t len = strlen(ent->d_name);
        if (len > 4 && !strcmp(ent->d_name + len - 4, ".bin") && !listed(names, n, ent->d_name)) {
            fprintf(stderr, "%s: not in MANIFEST\n", ent->d_name);
            CHECK(0);
        }
    }
    closedir(dd);
    for (size_t i = 0; i < n; i++) free(names[i]);
    printf("format corpus: %zu files, %zu failing\n", n, bad);
}

int main(int argc, char **argv) {
    test_init();
    if (argc > 1) {
        test_corpus(argv[1]);
        return test_done("test_format_corpus");
    }
    test_apply_refused_document();
    test_api_edges();
    test_levels();
    test_delta_order();
    test_long_runs();
    test_roundtrip();
    test_damage();
    test_oom();
    return test_done("test_format");
}

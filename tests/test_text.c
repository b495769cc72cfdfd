/* test_text.c — local text editing (weave/text.c) against a naive model: an
 * array of code points edited like Array.splice. Also: clocks and causes of
 * created atoms, rejected edits leave the replica unchanged, and failed
 * allocations at every step leave it unchanged without leaking. */
#include "test.h"
#include "model.h"
#include "failalloc.h"
#include "internal.h"
#include "utf8.h"


static int model_equals(const model *m, const wv_doc *d) {
    char *t = test_text(d), buf[4];
    size_t off = 0, tl = strlen(t);
    int same = wv_text_len(d) == m->n;
    for (size_t i = 0; same && i < m->n; i++) {
        size_t w = _wv_utf8_put(m->cp[i], buf);
        same = off + w <= tl && !memcmp(t + off, buf, w);
        off += w;
    }
    same = same && off == tl;
    free(t);
    return same;
}

/* Random string of k code points from a mixed alphabet, as UTF-8. */
static size_t random_text(char *out, uint32_t *cps, size_t k) {
    static const uint32_t alphabet[] = {'a', 'b', 'z', ' ', '\n', 0xe9, 0x3b1, 0x20ac, 0x4e2d, 0x1f600};
    size_t len = 0;
    for (size_t i = 0; i < k; i++) {
        cps[i] = alphabet[rng_below(sizeof alphabet / sizeof *alphabet)];
        len += _wv_utf8_put(cps[i], out + len);
    }
    return len;
}

/* wv_text_read at every cap: the longest prefix of whole chars that leaves
 * room for the NUL, and not a byte written past cap. */
static void check_caps(const wv_doc *d) {
    char *full = test_text(d);
    size_t n = strlen(full), bad = 0;
    char *t = malloc(n + 2);
    REQUIRE(t);
    for (size_t cap = 0; cap <= n + 1; cap++) {
        size_t want = cap ? cap - 1 : 0;
        if (want > n) want = n;
        while (want < n && (full[want] & 0xc0) == 0x80) want--; /* not inside a char */
        memset(t, 'x', n + 2);
        bad += wv_text_read(d, cap ? t : NULL, cap) != n ||
               (cap && (memcmp(t, full, want) || t[want] || (cap <= n && t[cap] != 'x')));
    }
    CHECK(bad == 0);
    free(t), free(full);
}

static void test_random_edits(void) {
    wv_doc *d;
    model m = {0};
    REQUIRE_OK(wv_doc_new(&d, 7, NULL));
    char buf[4 * 700];
    uint32_t cps[700];
    for (int step = 0; step < 3000; step++) {
        size_t len = m.n;
        int r = (int)rng_below(10);
        if (r < 6 || len == 0) {
            /* mostly short typing, sometimes long pastes that span chunks */
            size_t k = rng_below(20) == 0 ? 1 + rng_below(600) : 1 + rng_below(4);
            size_t pos = rng_below(4) == 0 ? len : rng_below(len + 1);
            size_t bytes = random_text(buf, cps, k);
            REQUIRE_OK(wv_text_insert(d, pos, buf, bytes));
            model_insert(&m, pos, cps, k);
        } else {
            size_t pos = rng_below(len);
            size_t k = 1 + (rng_below(10) == 0 ? rng_below(len - pos) : rng_below(3));
            if (k > len - pos) k = len - pos;
            REQUIRE_OK(wv_text_delete(d, pos, k));
            model_delete(&m, pos, k);
        }
        CHECK(model_equals(&m, d));
        if (step % 100 == 0) CHECK_DOC(d);
    }
    CHECK_DOC(d);
    CHECK(d->nchunks > 4);
    check_caps(d);
    free(m.cp);
    wv_doc_free(d);
}

/* Inserting "xyz" at clock c creates x (c+1), y (c+2), z (c+3), each caused by
 * the one before; the first by the char at pos - 1. Deletes run left to right. */
static void test_clocks_and_causes(void) {
    wv_doc *d;
    REQUIRE_OK(wv_doc_new(&d, 3, NULL));
    REQUIRE_OK(wv_text_insert(d, 0, "ab", 2));
    CHECK(wv_doc_clock(d) == 2);
    REQUIRE_OK(wv_text_insert(d, 1, "xyz", 3)); /* after 'a' (clock 1) */
    CHECK(wv_doc_clock(d) == 5);
    CHECK(wv_doc_weft(d, 3) == 5);
    REQUIRE_OK(wv_text_delete(d, 1, 2)); /* x (3), y (4) */
    CHECK(wv_doc_clock(d) == 7);
    char *t = test_text(d);
    CHECK(!strcmp(t, "azb"));
    free(t);
    /* expected weave: root a x #x y #y z b, with #x clock 6 and #y clock 7 */
    static const struct { uint32_t clock, cause; wv_kind kind; char c; } want[] = {
        {0, 0, WV_KIND_ROOT, 0}, {1, 0, WV_KIND_CHAR, 'a'}, {3, 1, WV_KIND_CHAR, 'x'},
        {6, 3, WV_KIND_DELETE, 0}, {4, 3, WV_KIND_CHAR, 'y'}, {7, 4, WV_KIND_DELETE, 0},
        {5, 4, WV_KIND_CHAR, 'z'}, {2, 1, WV_KIND_CHAR, 'b'}};
    wv_iter it;
    wv_atom_info a;
    size_t i = 0;
    wv_iter_begin(&it, d);
    while (wv_iter_next(&it, &a) == 1 && i < 8) {
        CHECK(a.clock == want[i].clock);
        CHECK(a.cause_clock == want[i].cause);
        CHECK(a.kind == want[i].kind);
        if (a.kind == WV_KIND_CHAR) CHECK(a.value == (uint32_t)want[i].c);
        CHECK(a.deleted == (want[i].c == 'x' || want[i].c == 'y'));
        i++;
    }
    CHECK(i == 8);
    CHECK_DOC(d);
    wv_doc_free(d);
}

/* Rejected edits change nothing. */
static void test_rejected(void) {
    wv_doc *d;
    REQUIRE_OK(wv_doc_new(&d, 1, NULL));
    REQUIRE_OK(wv_text_insert(d, 0, "hello", 5));
    uint64_t h = wv_weave_hash(d);
    uint32_t c = wv_doc_clock(d);
    CHECK_RC(wv_text_insert(d, 6, "x", 1), WV_E_RANGE);
    CHECK_RC(wv_text_insert(d, SIZE_MAX, "x", 1), WV_E_RANGE);
    CHECK_RC(wv_text_delete(d, 5, 1), WV_E_RANGE);
    CHECK_RC(wv_text_delete(d, 2, 4), WV_E_RANGE);
    CHECK_RC(wv_text_delete(d, 1, SIZE_MAX), WV_E_RANGE);
    CHECK_RC(wv_text_insert(d, 0, "ok\xff", 3), WV_E_UTF8);
    CHECK_RC(wv_text_insert(d, 0, "\xed\xa0\x80", 3), WV_E_UTF8); /* surrogate */
    CHECK_RC(wv_text_insert(d, 0, "\xc0\x80", 2), WV_E_UTF8);     /* overlong NUL */
    CHECK_RC(wv_text_insert(d, 0, "\xe2\x82", 2), WV_E_UTF8);     /* truncated */
    CHECK_RC(wv_text_insert(d, 0, NULL, 1), WV_E_ARG);
    CHECK_RC(wv_text_insert(NULL, 0, "x", 1), WV_E_ARG);
    CHECK_RC(wv_text_delete(NULL, 0, 1), WV_E_ARG);
    CHECK_RC(wv_text_insert(d, 0, NULL, 0), WV_OK); /* empty edits are no-ops */
    CHECK_RC(wv_text_delete(d, 5, 0), WV_OK);
    CHECK(wv_weave_hash(d) == h && wv_doc_clock(d) == c && wv_text_len(d) == 5);
    /* an embedded NUL is a character like any other */
    REQUIRE_OK(wv_text_insert(d, 5, "\0!", 2));
    CHECK(wv_text_len(d) == 7);
    CHECK_DOC(d);
    wv_doc_free(d);
}

/* wv_text_read behaves like snprintf and never splits a character. */
static void test_read(void) {
    wv_doc *d;
    char buf[8];
    REQUIRE_OK(wv_doc_new(&d, 1, NULL));
    CHECK(wv_text_read(d, NULL, 0) == 0);
    CHECK(wv_text_read(d, buf, sizeof buf) == 0 && buf[0] == 0);
    REQUIRE_OK(wv_text_insert(d, 0, "ab\xe2\x82\xac" "cd", 7)); /* ab€cd */
    CHECK(wv_text_read(d, NULL, 0) == 7);
    memset(buf, 'x', sizeof buf);
    CHECK(wv_text_read(d, buf, 8) == 7 && !strcmp(buf, "ab\xe2\x82\xac" "cd"));
    CHECK(wv_text_read(d, buf, 4) == 7 && !strcmp(buf, "ab"));
    CHECK(wv_text_read(d, buf, 6) == 7 && !strcmp(buf, "ab\xe2\x82\xac"));
    CHECK(wv_text_read(d, buf, 1) == 7 && buf[0] == 0);
    wv_doc_free(d);
    /* chunks of four-byte chars only: the most a chunk can need */
    static char emoji[4 * 1000];
    for (size_t i = 0; i < 1000; i++) memcpy(emoji + 4 * i, "\xf0\x9f\x98\x80", 4);
    REQUIRE_OK(wv_doc_new(&d, 1, NULL));
    REQUIRE_OK(wv_text_insert(d, 0, emoji, sizeof emoji));
    CHECK(d->nchunks > 3);
    check_caps(d);
    wv_doc_free(d);
    /* chunks of visible chars only (read a byte each while all are ASCII),
     * one with a char just past ASCII among them, one with a delete */
    static char mixed[3000];
    for (size_t i = 0; i < sizeof mixed; i++) mixed[i] = (char)('a' + i % 26);
    memcpy(mixed + 1500, "\xc3\xa9", 2); /* é, U+00E9: two bytes */
    REQUIRE_OK(wv_doc_new(&d, 1, NULL));
    REQUIRE_OK(wv_text_insert(d, 0, mixed, sizeof mixed));
    CHECK(d->nchunks > 3);
    char *t = test_text(d);
    CHECK(strlen(t) == sizeof mixed && !memcmp(t, mixed, sizeof mixed));
    free(t);
    REQUIRE_OK(wv_text_delete(d, 2499, 1)); /* char 2499: byte 2500, past é */
    t = test_text(d);
    CHECK(strlen(t) == sizeof mixed - 1 && !memcmp(t, mixed, 2500) && !memcmp(t + 2500, mixed + 2501, 499));
    free(t);
    check_caps(d);
    wv_doc_free(d);
}

/* Every allocation an edit makes, failed in turn: the edit reports
 * WV_E_NOMEM and the replica is exactly as before, with nothing leaked. */
typedef int (*edit_fn)(wv_doc *d);
static int ed_type(wv_doc *d) { return wv_text_insert(d, 10, "x", 1); }
static int ed_paste(wv_doc *d) {
    char big[2000];
    memset(big, 'p', sizeof big);
    return wv_text_insert(d, 77, big, sizeof big);
}
static int ed_delete_one(wv_doc *d) { return wv_text_delete(d, 5, 1); }
static int ed_delete_many(wv_doc *d) { return wv_text_delete(d, 3, 900); }

static void test_oom(void) {
    static const edit_fn edits[] = {ed_type, ed_paste, ed_delete_one, ed_delete_many};
    failalloc fa;
    wv_alloc hook;
    wv_options opt = fa_options(&fa, &hook);
    wv_doc *base;
    REQUIRE_OK(wv_doc_new(&base, 9, &opt));
    char line[64];
    for (int i = 0; i < 60; i++) { /* full chunks, so edits must split */
        snprintf(line, sizeof line, "line %02d of the base text\n", i);
        REQUIRE_OK(wv_text_insert(base, wv_text_len(base), line, strlen(line)));
    }
    for (size_t e = 0; e < sizeof edits / sizeof *edits; e++) {
        int ok = 0;
        for (long n = 0; !ok && n < 1000; n++) {
            wv_doc *d;
            REQUIRE_OK(wv_doc_clone(base, &d));
            uint64_t h = wv_weave_hash(d);
            uint32_t clock = wv_doc_clock(d);
            size_t live = fa.live_bytes, atoms = wv_doc_atoms(d);
            fa.countdown = n;
            int rc = edits[e](d);
            fa.countdown = -1;
            if (rc == WV_OK) {
                ok = 1;
                CHECK(wv_doc_atoms(d) > atoms);
            } else {
                CHECK(rc == WV_E_NOMEM);
                CHECK(wv_weave_hash(d) == h && wv_doc_clock(d) == clock);
                CHECK(fa.live_bytes == live);
            }
            CHECK_DOC(d);
            wv_doc_free(d);
        }
        CHECK(ok);
    }
    wv_doc_free(base);
    CHECK(fa.live_bytes == 0 && fa.live_blocks == 0);
}

int main(void) {
    test_init();
    test_clocks_and_causes();
    test_rejected();
    test_read();
    test_random_edits();
    test_oom();
    return test_done("test_text");
}

/* test_merge.c — the linear merge (weave/merge.c), fork and the clock rules.
 * Merge laws on many random multi-site histories: commutative, associative,
 * idempotent, byte for byte (wv_weave_hash over global ids), invariants after
 * every step; concurrent kinds under one parent; disagreeing weaves are
 * refused without change; failed allocations change nothing. */
#include "test.h"
#include "failalloc.h"

#define MAXR 6

static wv_doc *merged(const wv_doc *a, const wv_doc *b) {
    wv_doc *m;
    REQUIRE_OK(wv_doc_clone(a, &m));
    REQUIRE_OK(wv_merge(m, b));
    return m;
}

/* One random history: forks, edits and merges among up to MAXR replicas. */
static void random_history(wv_doc **r, size_t *nr) {
    uint64_t next_site = 1;
    REQUIRE_OK(wv_doc_new(&r[0], next_site++, NULL));
    *nr = 1;
    size_t steps = 5 + rng_below(40);
    for (size_t s = 0; s < steps; s++) {
        size_t i = rng_below(*nr), j = rng_below(*nr);
        int op = (int)rng_below(10);
        if (op == 0 && *nr < MAXR) {
            uint32_t before = wv_doc_clock(r[i]);
            REQUIRE_OK(wv_doc_fork(r[i], next_site++, &r[*nr]));
            CHECK(wv_doc_clock(r[i]) == before + 1);
            CHECK(wv_doc_clock(r[*nr]) == before + 1);
            CHECK(wv_weave_hash(r[*nr]) == wv_weave_hash(r[i]));
            (*nr)++;
        } else if (op <= 2) {
            uint32_t want = wv_doc_clock(r[i]);
            for (size_t k = 0; k < MAXR; k++) /* highest clock in what it receives */
                if (wv_doc_weft(r[j], k + 1) > want) want = wv_doc_weft(r[j], k + 1);
            REQUIRE_OK(wv_merge(r[i], r[j]));
            CHECK(wv_doc_clock(r[i]) == want + 1);
            CHECK_DOC(r[i]);
        } else {
            test_random_edit(r[i]);
        }
    }
}

static void test_laws(void) {
    for (int round = 0; round < 300; round++) {
        wv_doc *r[MAXR];
        size_t nr;
        random_history(r, &nr);
        for (size_t i = 0; i < nr; i++) CHECK_DOC(r[i]);
        wv_doc *a = r[rng_below(nr)], *b = r[rng_below(nr)], *c = r[rng_below(nr)];

        wv_doc *ab = merged(a, b), *ba = merged(b, a);
        CHECK(wv_weave_hash(ab) == wv_weave_hash(ba)); /* commutative */
        char *t1 = test_text(ab), *t2 = test_text(ba);
        CHECK(!strcmp(t1, t2));
        free(t1), free(t2);

        wv_doc *ab_c = merged(ab, c), *bc = merged(b, c), *a_bc = merged(a, bc);
        CHECK(wv_weave_hash(ab_c) == wv_weave_hash(a_bc)); /* associative */

        wv_doc *aa = merged(a, a), *ab_b = merged(ab, b);
        CHECK(wv_weave_hash(aa) == wv_weave_hash(a)); /* idempotent */
        CHECK(wv_weave_hash(ab_b) == wv_weave_hash(ab));
        CHECK_DOC(ab); CHECK_DOC(ba); CHECK_DOC(ab_c); CHECK_DOC(a_bc); CHECK_DOC(aa);

        /* Everyone into r[0], then back: all converge. */
        for (size_t i = 1; i < nr; i++) REQUIRE_OK(wv_merge(r[0], r[i]));
        for (size_t i = 1; i < nr; i++) REQUIRE_OK(wv_merge(r[i], r[0]));
        for (size_t i = 1; i < nr; i++) CHECK(wv_weave_hash(r[i]) == wv_weave_hash(r[0]));
        CHECK_DOC(r[0]);
        wv_doc *all[] = {ab, ba, ab_c, bc, a_bc, aa, ab_b};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) wv_doc_free(all[i]);
        for (size_t i = 0; i < nr; i++) wv_doc_free(r[i]);
    }
}

static char *weave_line(const wv_doc *d) {
    static char buf[4096];
    size_t n = 0;
    wv_iter it;
    wv_atom_info a;
    wv_iter_begin(&it, d);
    while (wv_iter_next(&it, &a) == 1) {
        if (a.kind == WV_KIND_ROOT) continue;
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s[%llu|%c %u]", n ? " " : "",
                              (unsigned long long)a.site,
                              a.kind == WV_KIND_DELETE ? '#' : (char)a.value, a.clock);
    }
    buf[n] = 0;
    return buf;
}

/* A delete and a concurrent char under one parent: the delete hugs its
 * target (priority), the char follows; merged both ways, same weave. */
static void test_priorities(void) {
    wv_doc *s1, *s2;
    REQUIRE_OK(wv_doc_new(&s1, 1, NULL));
    REQUIRE_OK(wv_text_insert(s1, 0, "ab", 2));  /* a1 b2 */
    REQUIRE_OK(wv_doc_fork(s1, 2, &s2));         /* clock 3 */
    REQUIRE_OK(wv_text_insert(s2, 1, "X", 1));   /* X4 after a */
    REQUIRE_OK(wv_text_delete(s1, 0, 1));        /* #4 on a */
    wv_doc *m1 = merged(s1, s2), *m2 = merged(s2, s1);
    CHECK(!strcmp(weave_line(m1), "[1|a 1] [1|# 4] [2|X 4] [1|b 2]"));
    CHECK(!strcmp(weave_line(m2), "[1|a 1] [1|# 4] [2|X 4] [1|b 2]"));
    char *t = test_text(m1);
    CHECK(!strcmp(t, "Xb"));
    free(t);
    CHECK_DOC(m1); CHECK_DOC(m2);
    wv_doc_free(m1), wv_doc_free(m2), wv_doc_free(s1), wv_doc_free(s2);
}

/* Two replicas that reuse a site id disagree about an atom: refused. */
static void test_disagreement(void) {
    wv_doc *a, *b;
    REQUIRE_OK(wv_doc_new(&a, 1, NULL));
    REQUIRE_OK(wv_doc_new(&b, 1, NULL));
    REQUIRE_OK(wv_text_insert(a, 0, "abc", 3));
    REQUIRE_OK(wv_text_insert(b, 0, "xyz", 3));
    uint64_t h = wv_weave_hash(a);
    uint32_t c = wv_doc_clock(a);
    CHECK_RC(wv_merge(a, b), WV_E_CORRUPT);
    CHECK(wv_weave_hash(a) == h && wv_doc_clock(a) == c);
    CHECK_RC(wv_merge(a, NULL), WV_E_ARG);
    CHECK_RC(wv_merge(NULL, a), WV_E_ARG);
    CHECK_DOC(a);
    wv_doc_free(a), wv_doc_free(b);
}

/* Sites learned in different orders still give byte-identical weaves. */
static void test_site_order(void) {
    wv_doc *x, *y, *z;
    REQUIRE_OK(wv_doc_new(&x, 50, NULL));
    REQUIRE_OK(wv_text_insert(x, 0, "base", 4));
    REQUIRE_OK(wv_doc_fork(x, 10, &y)); /* lower id than x */
    REQUIRE_OK(wv_doc_fork(x, 90, &z));
    REQUIRE_OK(wv_text_insert(y, 4, "Y", 1));
    REQUIRE_OK(wv_text_insert(z, 4, "Z", 1));
    REQUIRE_OK(wv_text_insert(x, 4, "X", 1));
    wv_doc *xy = merged(x, y), *xyz = merged(xy, z), *zy = merged(z, y), *zyx = merged(zy, x);
    CHECK(wv_weave_hash(xyz) == wv_weave_hash(zyx));
    char *t = test_text(xyz);
    /* after 'e' (4): Y (10|6), X (50|7), Z (90|7): newest first, then lower site */
    CHECK(!strcmp(t, "baseXZY"));
    free(t);
    CHECK_DOC(xyz); CHECK_DOC(zyx);
    wv_doc *all[] = {x, y, z, xy, xyz, zy, zyx};
    for (size_t i = 0; i < 7; i++) wv_doc_free(all[i]);
}

/* Every allocation of fork, clone and merge failed in turn. */
static void test_oom(void) {
    failalloc fa;
    wv_alloc hook;
    wv_options opt = fa_options(&fa, &hook);
    wv_doc *a = test_doc(1, 3000, &opt), *b;
    REQUIRE_OK(wv_doc_fork(a, 2, &b));
    REQUIRE_OK(wv_text_insert(b, 100, "concurrent", 10));
    REQUIRE_OK(wv_text_insert(a, 200, "edits", 5));
    int merged_ok = 0, forked_ok = 0;
    for (long n = 0; n < 200 && !(merged_ok && forked_ok); n++) {
        uint64_t ha = wv_weave_hash(a);
        uint32_t ca = wv_doc_clock(a);
        size_t live = fa.live_bytes;
        wv_doc *f = NULL;
        fa.countdown = n;
        int rc = wv_doc_fork(a, 3, &f);
        fa.countdown = -1;
        if (rc) {
            CHECK(rc == WV_E_NOMEM && f == NULL && fa.live_bytes == live);
            CHECK(wv_doc_clock(a) == ca);
        } else {
            forked_ok = 1;
            wv_doc_free(f);
        }
        REQUIRE_OK(wv_doc_clone(a, &f));
        ca = wv_doc_clock(f);
        live = fa.live_bytes;
        fa.countdown = n;
        rc = wv_merge(f, b);
        fa.countdown = -1;
        if (rc) {
            CHECK(rc == WV_E_NOMEM && wv_weave_hash(f) == ha && wv_doc_clock(f) == ca);
            CHECK(fa.live_bytes == live);
        } else {
            merged_ok = 1;
        }
        CHECK_DOC(f);
        wv_doc_free(f);
    }
    CHECK(merged_ok && forked_ok);
    wv_doc_free(a), wv_doc_free(b);
    CHECK(fa.live_bytes == 0 && fa.live_blocks == 0);
}

int main(void) {
    test_init();
    test_priorities();
    test_disagreement();
    test_site_order();
    test_laws();
    test_oom();
    return test_done("test_merge");
}

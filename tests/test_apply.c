/* test_apply.c — deltas (weave/apply.c): wv_delta + wv_apply give the same
 * weave as wv_merge on random histories, in any delivery order, idempotently;
 * every malformed atom is refused with its own code and no change; failed
 * allocations change nothing. */
#include "test.h"
#include "failalloc.h"
#include "../weave/internal.h"

#define MAXR 5

static size_t history(wv_doc **r) {
    size_t nr = 1;
    REQUIRE_OK(wv_doc_new(&r[0], 1, NULL));
    for (size_t s = 0, steps = 5 + rng_below(40); s < steps; s++) {
        size_t i = rng_below(nr), j = rng_below(nr);
        int op = (int)rng_below(8);
        if (op == 0 && nr < MAXR) {
            REQUIRE_OK(wv_doc_fork(r[i], nr + 1, &r[nr]));
            nr++;
        }
        else if (op == 1) REQUIRE_OK(wv_merge(r[i], r[j]));
        else test_random_edit(r[i]);
    }
    return nr;
}

/* All atoms of d past since (malloc'd). */
static wv_atom_info *delta(const wv_doc *d, const wv_doc *since, size_t *n) {
    wv_weft_entry w[MAXR + 2];
    size_t nw = since ? wv_doc_weft_all(since, w, MAXR + 2) : 0;
    REQUIRE(nw <= MAXR + 2);
    REQUIRE_OK(wv_delta(d, w, nw, NULL, 0, n));
    wv_atom_info *x = malloc((*n + 1) * sizeof *x);
    size_t again;
    REQUIRE(x);
    REQUIRE_OK(wv_delta(d, w, nw, x, *n, &again));
    CHECK(again == *n);
    return x;
}

static void shuffle(wv_atom_info *x, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = rng_below(i);
        wv_atom_info t = x[i - 1];
        x[i - 1] = x[j], x[j] = t;
    }
}

static void test_equals_merge(void) {
    for (int round = 0; round < 300; round++) {
        wv_doc *r[MAXR];
        size_t nr = history(r);
        wv_doc *a = r[rng_below(nr)], *b = r[rng_below(nr)], *m, *x, *y;
        REQUIRE_OK(wv_doc_clone(a, &m));
        REQUIRE_OK(wv_merge(m, b));

        size_t n;
        wv_atom_info *dl = delta(b, a, &n); /* what a lacks, in weave order */
        REQUIRE_OK(wv_doc_clone(a, &x));
        uint32_t top = wv_doc_clock(x);
        for (size_t i = 0; i < n; i++)
            if (dl[i].clock > top) top = dl[i].clock;
        REQUIRE_OK(wv_apply(x, dl, n));
        CHECK(wv_weave_hash(x) == wv_weave_hash(m));
        CHECK(wv_doc_clock(x) == top + 1);
        CHECK_DOC(x);
        uint64_t h = wv_weave_hash(x);
        REQUIRE_OK(wv_apply(x, dl, n)); /* idempotent */
        CHECK(wv_weave_hash(x) == h);
        free(dl);

        dl = delta(b, NULL, &n); /* everything b holds, shuffled, some twice */
        size_t dup = n ? rng_below(n) : 0;
        dl = realloc(dl, (n + dup + 1) * sizeof *dl);
        REQUIRE(dl);
        for (size_t i = 0; i < dup; i++) dl[n + i] = dl[rng_below(n)];
        shuffle(dl, n + dup);
        REQUIRE_OK(wv_doc_clone(a, &y));
        REQUIRE_OK(wv_apply(y, dl, n + dup));
        CHECK(wv_weave_hash(y) == wv_weave_hash(m));
        CHECK_DOC(y);
        free(dl);
        wv_doc_free(m), wv_doc_free(x), wv_doc_free(y);
        for (size_t i = 0; i < nr; i++) wv_doc_free(r[i]);
    }
}

/* Each malformed delivery: its code, and no change at all. */
static void test_refused(void) {
    wv_doc *d, *e;
    REQUIRE_OK(wv_doc_new(&d, 1, NULL));
    REQUIRE_OK(wv_text_insert(d, 0, "abc", 3));      /* a1 b2 c3 */
    REQUIRE_OK(wv_doc_fork(d, 2, &e));               /* d clock 4 */
    REQUIRE_OK(wv_text_delete(d, 1, 1));             /* #5 on b */
    REQUIRE_OK(wv_text_insert(d, 2, "z", 1));        /* z6 after c */
    const wv_atom_info ok = {2, 9, 1, 3, WV_KIND_CHAR, 'q', 0}; /* fresh, after c */
    struct { wv_atom_info x[2]; size_t n; int want; } cases[] = {
        {{{2, 9, 1, 3, (wv_kind)7, 'q', 0}}, 1, WV_E_ATOM},           /* unknown kind */
        {{{2, 9, 1, 3, WV_KIND_ROOT, 0, 0}}, 1, WV_E_ATOM},           /* a second root */
        {{{0, 9, 1, 3, WV_KIND_CHAR, 'q', 0}}, 1, WV_E_ATOM},         /* site 0 */
        {{{2, 0, 0, 0, WV_KIND_CHAR, 'q', 0}}, 1, WV_E_ATOM},         /* clock 0 */
        {{{2, 9, 1, 3, WV_KIND_CHAR, 0xd800, 0}}, 1, WV_E_ATOM},      /* surrogate */
        {{{2, 9, 1, 3, WV_KIND_CHAR, 0x110000, 0}}, 1, WV_E_ATOM},    /* not Unicode */
        {{{2, 9, 0, 0, WV_KIND_DELETE, 0, 0}}, 1, WV_E_ATOM},         /* deletes the root */
        {{{2, 9, 1, 3, WV_KIND_DELETE, 5, 0}}, 1, WV_E_ATOM},         /* delete with a value */
        {{{2, 9, 1, 5, WV_KIND_DELETE, 0, 0}}, 1, WV_E_ATOM},         /* deletes a delete */
        {{{2, 9, 1, 5, WV_KIND_CHAR, 'q', 0}}, 1, WV_E_ATOM},         /* typed after a delete */
        {{{2, 9, 2, 8, WV_KIND_DELETE, 0, 0}, {2, 8, 1, 3, WV_KIND_DELETE, 0, 0}}, 2, WV_E_ATOM},
        {{{2, 3, 1, 3, WV_KIND_CHAR, 'q', 0}}, 1, WV_E_CLOCK},        /* not above its cause */
        {{{2, 9, 1, 7, WV_KIND_CHAR, 'q', 0}}, 1, WV_E_CAUSE},        /* cause past the weft */
        {{{2, 9, 3, 1, WV_KIND_CHAR, 'q', 0}}, 1, WV_E_CAUSE},        /* cause at an unknown site */
        {{{2, 9, 0, 4, WV_KIND_CHAR, 'q', 0}}, 1, WV_E_CAUSE},        /* "root" with a clock */
        {{{1, 4, 1, 3, WV_KIND_CHAR, 'q', 0}}, 1, WV_E_DUPLICATE},    /* below the weft, absent */
        {{{1, 2, 1, 1, WV_KIND_CHAR, 'X', 0}}, 1, WV_E_DUPLICATE},    /* held, other value */
        {{{1, 2, 0, 0, WV_KIND_CHAR, 'b', 0}}, 1, WV_E_DUPLICATE},    /* held, other cause */
        {{ok, {2, 9, 1, 3, WV_KIND_CHAR, 'r', 0}}, 2, WV_E_DUPLICATE}, /* twice, differing */
    };
    uint64_t h = wv_weave_hash(d);
    uint32_t clock = wv_doc_clock(d);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int rc = wv_apply(d, cases[i].x, cases[i].n);
        CHECK(rc == cases[i].want);
        if (rc != cases[i].want) fprintf(stderr, "  case %zu: got %s\n", i, wv_error_name(rc));
        CHECK(wv_weave_hash(d) == h && wv_doc_clock(d) == clock);
    }
    CHECK_RC(wv_apply(d, NULL, 1), WV_E_ARG);
    CHECK_RC(wv_apply(NULL, &ok, 1), WV_E_ARG);
    size_t n;
    CHECK_RC(wv_delta(d, NULL, 1, NULL, 0, &n), WV_E_ARG);
    CHECK_RC(wv_delta(d, NULL, 0, NULL, 1, &n), WV_E_ARG);
    CHECK_RC(wv_delta(d, NULL, 0, NULL, 0, NULL), WV_E_ARG);
    CHECK_DOC(d);
    /* the valid one goes in under c, before z (z has the lower clock) */
    REQUIRE_OK(wv_apply(d, &ok, 1));
    char *t = test_text(d);
    CHECK(!strcmp(t, "acqz"));
    free(t);
    CHECK_DOC(d);
    wv_doc_free(d), wv_doc_free(e);
}

static void test_weft_all(void) {
    wv_doc *d, *e;
    wv_weft_entry w[4];
    REQUIRE_OK(wv_doc_new(&d, 30, NULL));
    CHECK(wv_doc_weft_all(d, w, 4) == 0); /* no atoms yet */
    REQUIRE_OK(wv_text_insert(d, 0, "ab", 2));
    REQUIRE_OK(wv_doc_fork(d, 10, &e));
    REQUIRE_OK(wv_text_insert(e, 0, "x", 1));
    REQUIRE_OK(wv_merge(d, e));
    CHECK(wv_doc_weft_all(d, w, 1) == 2);
    CHECK(wv_doc_weft_all(d, w, 4) == 2);
    CHECK(w[0].site == 10 && w[0].clock == 4 && w[1].site == 30 && w[1].clock == 2);
    size_t n;
    REQUIRE_OK(wv_delta(d, w, 2, NULL, 0, &n));
    CHECK(n == 0);
    w[0].clock = 0;
    REQUIRE_OK(wv_delta(d, w, 2, NULL, 0, &n));
    CHECK(n == 1);
    wv_doc_free(d), wv_doc_free(e);
}

/* Every allocation of wv_apply failed in turn. */
static void test_oom(void) {
    failalloc fa;
    wv_alloc hook;
    wv_options opt = fa_options(&fa, &hook);
    wv_doc *a = test_doc(1, 1500, &opt), *b;
    REQUIRE_OK(wv_doc_fork(a, 2, &b));
    REQUIRE_OK(wv_text_insert(b, 100, "concurrent", 10));
    REQUIRE_OK(wv_text_delete(b, 10, 30));
    size_t n;
    wv_atom_info *dl = delta(b, a, &n);
    int done = 0;
    for (long k = 0; k < 100 && !done; k++) {
        uint64_t h = wv_weave_hash(a);
        uint32_t c = wv_doc_clock(a);
        size_t live = fa.live_bytes;
        fa.countdown = k;
        int rc = wv_apply(a, dl, n);
        fa.countdown = -1;
        if (rc == WV_OK) done = 1;
        else CHECK(rc == WV_E_NOMEM && wv_weave_hash(a) == h && wv_doc_clock(a) == c && fa.live_bytes == live);
        CHECK_DOC(a);
    }
    CHECK(done);
    free(dl);
    wv_doc_free(a), wv_doc_free(b);
    CHECK(fa.live_bytes == 0 && fa.live_blocks == 0);
}

/* Reference order for test_sort_ids: by id, then by place (cclock), which a
 * stable sort keeps among equal ids. */
static int id_then_place(const void *x, const void *y) {
    const wv_atom *a = x, *b = y;
    int c = wv_id_cmp(*a, *b);
    return c ? c : (a->cclock > b->cclock) - (a->cclock < b->cclock);
}

/* _wv_sort_ids (the radix sort of apply and of version 3's ids) against
 * qsort: sizes on both sides of its small-key digit, keys whose sites and
 * clocks differ in few bits or in all (clocks up to UINT32_MAX, sites up to
 * 65535), duplicates kept in their order. */
static void test_sort_ids(void) {
    static const size_t sizes[] = {0, 1, 2, 7, 300, 4095, 4096, 5000, 70000};
    static const uint32_t clock_spans[] = {1, 2, 1000, 1u << 20, UINT32_MAX};
    static const uint32_t site_spans[] = {1, 2, 3, 300, 65535};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
        for (size_t ci = 0; ci < 5; ci++)
            for (size_t ti = 0; ti < 5; ti++) {
                size_t n = sizes[si];
                wv_atom *a = malloc((n + 1) * sizeof *a), *tmp = malloc((n + 1) * sizeof *tmp),
                        *want = malloc((n + 1) * sizeof *want);
                REQUIRE(a && tmp && want);
                uint32_t clock0 = ci == 4 ? 0 : (uint32_t)rng_below(1000);
                uint32_t site0 = ti == 4 ? 1 : 1 + (uint32_t)rng_below(7);
                for (size_t i = 0; i < n; i++) {
                    uint32_t clock = clock0 + (uint32_t)rng_below((size_t)clock_spans[ci] + 1);
                    uint16_t site = (uint16_t)(site0 + rng_below(site_spans[ti]));
                    a[i] = (wv_atom){clock, (uint32_t)i, site, 0, (uint32_t)rng()};
                }
                memcpy(want, a, n * sizeof *a);
                if (n) qsort(want, n, sizeof *want, id_then_place);
                _wv_sort_ids(a, tmp, n);
                CHECK(n == 0 || memcmp(a, want, n * sizeof *a) == 0);
                free(a), free(tmp), free(want);
            }
}

int main(void) {
    test_init();
    test_sort_ids();
    test_refused();
    test_weft_all();
    test_equals_merge();
    test_oom();
    return test_done("test_apply");
}

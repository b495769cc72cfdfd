/* test_oracle.c — the naive oracle (fuzz/oracle.c) against hand-made weaves,
 * and the library against the oracle: random multi-site histories built with
 * the public API, whose replicas (each on its own, and all merged into one)
 * must hold exactly the weave the oracle computes from their atoms. */
#include "test.h"
#include "oracle.h"

#define MAXR 6

/* ---- helpers ----------------------------------------------------------- */

typedef struct atoms {
    wv_atom_info *a;
    size_t n, cap;
} atoms;

static void atoms_push(atoms *s, const wv_atom_info *x) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->a = realloc(s->a, s->cap * sizeof *s->a);
        REQUIRE(s->a);
    }
    s->a[s->n++] = *x;
}

/* Appends every atom of doc's weave to s. */
static void collect(atoms *s, const wv_doc *doc) {
    wv_iter it;
    wv_atom_info a;
    int rc;
    wv_iter_begin(&it, doc);
    while ((rc = wv_iter_next(&it, &a)) == 1) atoms_push(s, &a);
    REQUIRE(rc == 0);
}

static void shuffle(wv_atom_info *a, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = rng_below(i);
        wv_atom_info t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* Requires the oracle's weave of `in` to equal doc's, and its text too. */
static void check_against_oracle(const atoms *in, const wv_doc *doc) {
    wv_atom_info *w;
    size_t nw;
    char why[512];
    REQUIRE(wvo_weave(in->a, in->n, &w, &nw) == 0);
    int same = wvo_equal_doc(w, nw, doc, why, sizeof why);
    CHECK(same);
    if (!same) fprintf(stderr, "  oracle vs doc: %s\n", why);
    size_t tl = wvo_text(w, nw, NULL, 0);
    char *t1 = malloc(tl + 1), *t2 = test_text(doc);
    REQUIRE(t1);
    CHECK(wvo_text(w, nw, t1, tl + 1) == tl);
    CHECK(wv_text_read(doc, NULL, 0) == tl && !memcmp(t1, t2, tl));
    free(t1);
    free(t2);
    free(w);
}

static wv_atom_info A(uint64_t site, uint32_t clock, uint64_t cs, uint32_t cc, wv_kind kind,
                      uint32_t value) {
    wv_atom_info a = {site, clock, cs, cc, kind, value, 0};
    return a;
}
#define CH(s, c, cs, cc, ch) A(s, c, cs, cc, WV_KIND_CHAR, (uint32_t)(ch))
#define DEL(s, c, cs, cc) A(s, c, cs, cc, WV_KIND_DELETE, 0)

/* ---- the seed notes' example ------------------------------------------- */

/* The atoms of tests/scenarios/ctrlaltdel.wv, three sites, in weave order. */
static const wv_atom_info *ctrlaltdel(size_t *n) {
    static wv_atom_info w[15];
    size_t k = 0;
    w[k++] = A(0, 0, 0, 0, WV_KIND_ROOT, 0);
    w[k++] = CH(1, 1, 0, 0, 'C');
    w[k++] = CH(1, 7, 1, 1, 'T');
    w[k++] = CH(1, 8, 1, 7, 'R');
    w[k++] = CH(1, 9, 1, 8, 'L');
    w[k++] = CH(1, 2, 1, 1, 'M');
    w[k++] = DEL(1, 6, 1, 2);
    w[k++] = CH(1, 3, 1, 2, 'D');
    w[k++] = DEL(1, 5, 1, 3);
    w[k++] = CH(2, 6, 1, 3, 'A');
    w[k++] = CH(2, 7, 2, 6, 'L');
    w[k++] = CH(2, 8, 2, 7, 'T');
    w[k++] = CH(3, 6, 1, 3, 'D');
    w[k++] = CH(3, 7, 3, 6, 'E');
    w[k++] = CH(3, 8, 3, 7, 'L');
    w[5].deleted = w[7].deleted = 1; /* M and D */
    *n = k;
    return w;
}

static int same_atom(const wv_atom_info *a, const wv_atom_info *b) {
    return a->site == b->site && a->clock == b->clock && a->cause_site == b->cause_site &&
           a->cause_clock == b->cause_clock && a->kind == b->kind && a->value == b->value &&
           !a->deleted == !b->deleted;
}

static void test_ctrlaltdel_atoms(void) {
    size_t n;
    const wv_atom_info *want = ctrlaltdel(&n);
    for (int round = 0; round < 200; round++) {
        atoms in = {0};
        int with_root = round % 2, dups = round % 3 == 0;
        for (size_t i = with_root ? 0 : 1; i < n; i++) {
            wv_atom_info a = want[i];
            a.deleted = (int)rng_below(2); /* ignored on input */
            atoms_push(&in, &a);
            if (dups && rng_below(3) == 0) atoms_push(&in, &a); /* identical duplicate */
        }
        shuffle(in.a, in.n);
        wv_atom_info *w;
        size_t nw;
        REQUIRE(wvo_weave(in.a, in.n, &w, &nw) == 0);
        CHECK(nw == n);
        for (size_t i = 0; i < n && i < nw; i++) CHECK(same_atom(&w[i], &want[i]));
        char text[32];
        CHECK(wvo_text(w, nw, text, sizeof text) == 10);
        CHECK(!strcmp(text, "CTRLALTDEL"));
        free(w);
        free(in.a);
    }
}

/* The same history through the public API (the scenario's steps). */
static void test_ctrlaltdel_api(void) {
    wv_doc *s1, *s2, *s3;
    REQUIRE_OK(wv_doc_new(&s1, 1, NULL));
    REQUIRE_OK(wv_text_insert(s1, 0, "CMD", 3));
    REQUIRE_OK(wv_doc_fork(s1, 2, &s2));
    REQUIRE_OK(wv_text_delete(s1, 2, 1));
    REQUIRE_OK(wv_text_delete(s1, 1, 1));
    REQUIRE_OK(wv_text_insert(s1, 1, "TRL", 3));
    REQUIRE_OK(wv_doc_fork(s2, 3, &s3));
    REQUIRE_OK(wv_text_insert(s2, 3, "ALT", 3));
    REQUIRE_OK(wv_text_insert(s3, 3, "DEL", 3));
    REQUIRE_OK(wv_merge(s1, s2));
    REQUIRE_OK(wv_merge(s1, s3));
    size_t n;
    const wv_atom_info *want = ctrlaltdel(&n);
    char why[512];
    int same = wvo_equal_doc(want, n, s1, why, sizeof why);
    CHECK(same);
    if (!same) fprintf(stderr, "  ctrlaltdel: %s\n", why);

    /* A difference is reported with its index and both atoms. */
    wv_atom_info *w = malloc(n * sizeof *w);
    REQUIRE(w);
    memcpy(w, want, n * sizeof *w);
    w[9].value = 'a';
    CHECK(!wvo_equal_doc(w, n, s1, why, sizeof why));
    CHECK(strstr(why, "index 9") != NULL);
    w[9].value = 'A';
    CHECK(wvo_equal_doc(w, n, s1, why, sizeof why));
    CHECK(!wvo_equal_doc(w, n - 1, s1, why, sizeof why)); /* doc longer */
    CHECK(strstr(why, "index 14") != NULL);
    CHECK(!wvo_equal_doc(want, n, s2, NULL, 0)); /* doc shorter, no message */
    w[7].deleted = 0;
    CHECK(!wvo_equal_doc(w, n, s1, why, 8)); /* truncated message */
    CHECK(strlen(why) == 7);
    free(w);
    wv_doc_free(s1);
    wv_doc_free(s2);
    wv_doc_free(s3);
}

/* ---- child order and errors, by hand ----------------------------------- */

static void test_child_order(void) {
    const uint64_t big = UINT64_MAX - 1; /* site ids compare as unsigned 64-bit */
    wv_atom_info in[] = {
        CH(2, 5, 0, 0, 'b'),     /* clock 5, site 2 */
        CH(big, 5, 0, 0, 'c'),   /* clock 5, highest site */
        CH(1, 5, 0, 0, 'a'),     /* clock 5, site 1: first of the three */
        CH(3, 7, 0, 0, 'n'),     /* clock 7: newest, before all of them */
        CH(3, 9, 3, 7, 'x'),     /* a char under n ... */
        DEL(2, 8, 3, 7),         /* ... after the delete of n, though older */
        CH(1, 6, 1, 5, 'y'),     /* under a */
        DEL(big, 6, 1, 5),       /* delete of a, same clock as y: delete first */
    };
    size_t n = sizeof in / sizeof *in;
    wv_atom_info want[] = {
        A(0, 0, 0, 0, WV_KIND_ROOT, 0), in[3], in[5], in[4], in[2], in[7], in[6], in[0], in[1],
    };
    want[1].deleted = want[4].deleted = 1;
    for (int round = 0; round < 50; round++) {
        shuffle(in, n);
        wv_atom_info *w;
        size_t nw;
        REQUIRE(wvo_weave(in, n, &w, &nw) == 0);
        CHECK(nw == n + 1);
        for (size_t i = 0; i < nw && i <= n; i++) CHECK(same_atom(&w[i], &want[i]));
        char text[16];
        CHECK(wvo_text(w, nw, text, sizeof text) == 4 && !strcmp(text, "xybc"));
        free(w);
    }
}

static void test_errors(void) {
    static wv_atom_info dummy;
    wv_atom_info *w = &dummy;
    size_t nw = 1;
    /* No atoms: just the root. */
    REQUIRE(wvo_weave(NULL, 0, &w, &nw) == 0);
    CHECK(nw == 1 && w[0].kind == WV_KIND_ROOT && w[0].site == 0 && w[0].clock == 0);
    CHECK(wvo_text(w, nw, NULL, 0) == 0);
    free(w);

    wv_atom_info ok[] = {CH(1, 1, 0, 0, 'a'), CH(1, 2, 1, 1, 'b'), DEL(2, 3, 1, 2)};
    REQUIRE(wvo_weave(ok, 3, &w, &nw) == 0);
    CHECK(nw == 4);
    free(w);

    wv_atom_info missing[] = {CH(1, 1, 0, 0, 'a'), CH(1, 3, 1, 2, 'b')};
    w = &dummy;
    CHECK(wvo_weave(missing, 2, &w, &nw) == -1);
    CHECK(w == NULL && nw == 0);
    wv_atom_info missing_del[] = {CH(1, 1, 0, 0, 'a'), DEL(1, 3, 2, 1)};
    CHECK(wvo_weave(missing_del, 2, &w, &nw) == -1);

    wv_atom_info conflicts[][3] = {
        {CH(1, 1, 0, 0, 'a'), CH(1, 2, 1, 1, 'b'), CH(1, 2, 1, 1, 'c')},  /* value */
        {CH(1, 1, 0, 0, 'a'), CH(1, 2, 1, 1, 'b'), CH(1, 2, 0, 0, 'b')},  /* cause */
        {CH(1, 1, 0, 0, 'a'), CH(1, 2, 1, 1, 'b'), DEL(1, 2, 1, 1)},      /* kind */
        {CH(1, 1, 0, 0, 'a'), A(0, 0, 0, 0, WV_KIND_CHAR, 'r'), CH(1, 2, 1, 1, 'b')}, /* root */
        {CH(1, 1, 0, 0, 'a'), A(1, 2, 1, 1, WV_KIND_ROOT, 0), CH(1, 3, 1, 1, 'b')}, /* 2nd root */
        {CH(1, 1, 0, 0, 'a'), CH(1, 2, 1, 3, 'b'), CH(1, 3, 1, 2, 'c')},  /* a cycle */
    };
    for (size_t i = 0; i < sizeof conflicts / sizeof *conflicts; i++)
        for (int round = 0; round < 6; round++) {
            shuffle(conflicts[i], 3);
            CHECK(wvo_weave(conflicts[i], 3, &w, &nw) == -1);
        }

    /* Identical duplicates merge; `deleted` on input does not count. */
    wv_atom_info dup[] = {CH(1, 1, 0, 0, 'a'), CH(1, 1, 0, 0, 'a'), A(0, 0, 0, 0, WV_KIND_ROOT, 0),
                          CH(1, 1, 0, 0, 'a')};
    dup[1].deleted = 1;
    REQUIRE(wvo_weave(dup, 4, &w, &nw) == 0);
    CHECK(nw == 2 && !w[1].deleted);
    free(w);
}

static void test_text_encoding(void) {
    wv_atom_info in[] = {CH(1, 1, 0, 0, 0x41), CH(1, 2, 1, 1, 0xe9), CH(1, 3, 1, 2, 0x20ac),
                         CH(1, 4, 1, 3, 0x1f600), CH(1, 5, 1, 4, 0x7f), CH(1, 6, 1, 5, 0x80),
                         CH(1, 7, 1, 6, 0x7ff), CH(1, 8, 1, 7, 0x800), CH(1, 9, 1, 8, 0xffff),
                         CH(1, 10, 1, 9, 0x10000), CH(1, 11, 1, 10, 0x10ffff)};
    const char *want = "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80"
                       "\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf";
    wv_atom_info *w;
    size_t nw;
    REQUIRE(wvo_weave(in, sizeof in / sizeof *in, &w, &nw) == 0);
    char buf[64];
    size_t len = wvo_text(w, nw, buf, sizeof buf);
    CHECK(len == strlen(want) && !strcmp(buf, want));
    /* snprintf-like: truncated to cap - 1 bytes plus a NUL, full length returned. */
    memset(buf, 'z', sizeof buf);
    CHECK(wvo_text(w, nw, buf, 4) == len);
    CHECK(!memcmp(buf, want, 3) && buf[3] == '\0' && buf[4] == 'z');
    CHECK(wvo_text(w, nw, buf, 1) == len && buf[0] == '\0');
    free(w);
}

/* ---- random histories --------------------------------------------------- */

/* Random text of 1..6 code points from a mixed-width alphabet, as UTF-8. */
static size_t random_text(char *out) {
    static const uint32_t alphabet[] = {'a', 'b', 'q', ' ', '\n', 0xe9, 0x3b1, 0x7ff,
                                        0x800, 0x20ac, 0x4e2d, 0xfffd, 0x10000, 0x1f600};
    size_t k = 1 + rng_below(6), len = 0;
    for (size_t i = 0; i < k; i++) {
        uint32_t cp = alphabet[rng_below(sizeof alphabet / sizeof *alphabet)];
        if (cp < 0x80) {
            out[len++] = (char)cp;
        } else if (cp < 0x800) {
            out[len++] = (char)(0xc0 | cp >> 6);
            out[len++] = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            out[len++] = (char)(0xe0 | cp >> 12);
            out[len++] = (char)(0x80 | (cp >> 6 & 0x3f));
            out[len++] = (char)(0x80 | (cp & 0x3f));
        } else {
            out[len++] = (char)(0xf0 | cp >> 18);
            out[len++] = (char)(0x80 | (cp >> 12 & 0x3f));
            out[len++] = (char)(0x80 | (cp >> 6 & 0x3f));
            out[len++] = (char)(0x80 | (cp & 0x3f));
        }
    }
    return len;
}

/* A fresh global site id: small or anywhere in 64 bits, never 0, never reused. */
static uint64_t fresh_site(uint64_t *used, size_t *nused) {
    for (;;) {
        uint64_t s = rng_below(2) ? 1 + rng_below(40) : rng();
        int dup = s == 0;
        for (size_t i = 0; i < *nused; i++) dup |= used[i] == s;
        if (!dup) return used[(*nused)++] = s;
    }
}

static void random_history(wv_doc **r, size_t *nr) {
    uint64_t used[64];
    size_t nused = 0;
    REQUIRE_OK(wv_doc_new(&r[0], fresh_site(used, &nused), NULL));
    *nr = 1;
    size_t steps = 5 + rng_below(100);
    for (size_t s = 0; s < steps; s++) {
        wv_doc *d = r[rng_below(*nr)];
        size_t op = rng_below(20), len = wv_text_len(d);
        if (op == 0 && *nr < MAXR) { /* an independent replica: same root, no atoms */
            REQUIRE_OK(wv_doc_new(&r[*nr], fresh_site(used, &nused), NULL));
            (*nr)++;
        } else if (op <= 2 && *nr < MAXR) {
            REQUIRE_OK(wv_doc_fork(d, fresh_site(used, &nused), &r[*nr]));
            (*nr)++;
        } else if (op <= 6) {
            REQUIRE_OK(wv_merge(d, r[rng_below(*nr)]));
        } else if (op <= 10 && len > 0) {
            size_t pos = rng_below(len), n = 1 + rng_below(4);
            REQUIRE_OK(wv_text_delete(d, pos, n < len - pos ? n : len - pos));
        } else {
            char buf[32];
            size_t bl = random_text(buf);
            REQUIRE_OK(wv_text_insert(d, rng_below(len + 1), buf, bl));
        }
    }
}

static void test_random_histories(void) {
    for (int round = 0; round < 400; round++) {
        wv_doc *r[MAXR];
        size_t nr;
        random_history(r, &nr);

        /* Every replica holds the oracle's weave of its own atoms. */
        atoms all = {0};
        for (size_t i = 0; i < nr; i++) {
            atoms own = {0};
            collect(&own, r[i]);
            CHECK(own.n == wv_doc_atoms(r[i]));
            shuffle(own.a, own.n);
            check_against_oracle(&own, r[i]);
            for (size_t k = 0; k < own.n; k++) atoms_push(&all, &own.a[k]);
            free(own.a);
        }

        /* Merged into one, in a random order, they hold the oracle's weave of
         * the union (duplicates and all). */
        shuffle(all.a, all.n);
        wv_doc *m;
        size_t first = rng_below(nr);
        REQUIRE_OK(wv_doc_clone(r[first], &m));
        for (size_t k = 0; k < nr; k++) REQUIRE_OK(wv_merge(m, r[(first + k) % nr]));
        CHECK_DOC(m);
        check_against_oracle(&all, m);
        /* ... and so does every replica after merging that one. */
        for (size_t i = 0; i < nr; i++) {
            REQUIRE_OK(wv_merge(r[i], m));
            CHECK(wv_weave_hash(r[i]) == wv_weave_hash(m));
        }
        check_against_oracle(&all, r[rng_below(nr)]);

        free(all.a);
        wv_doc_free(m);
        for (size_t i = 0; i < nr; i++) wv_doc_free(r[i]);
        if (test_failures) break; /* one failing seed is enough to report */
    }
}

int main(void) {
    test_init();
    test_ctrlaltdel_atoms();
    test_ctrlaltdel_api();
    test_child_order();
    test_errors();
    test_text_encoding();
    test_random_histories();
    return test_done("oracle");
}

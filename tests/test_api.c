/* test_api.c — the public surface: argument checks, error names, options,
 * accessors, iteration and its modification guard, clone, fork errors. */
#include "test.h"

static void test_errors(void) {
    static const int codes[] = {WV_OK, WV_E_NOMEM, WV_E_ARG, WV_E_RANGE, WV_E_UTF8,
                                WV_E_SITE, WV_E_LIMIT, WV_E_CORRUPT, WV_E_MODIFIED, WV_E_CAUSE,
                                WV_E_DUPLICATE, WV_E_CLOCK, WV_E_ATOM, WV_E_BUSY, WV_E_TRUNCATED,
                                WV_E_FORMAT, WV_E_VERSION, WV_E_CHECKSUM, WV_E_SIZE, WV_E_BUFFER};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
        CHECK(strncmp(wv_error_name(codes[i]), "WV_", 3) == 0);
        CHECK(strcmp(wv_error_name(codes[i]), "WV_E_UNKNOWN") != 0);
        CHECK(strlen(wv_error_message(codes[i])) > 3);
        for (size_t j = 0; j < i; j++) CHECK(strcmp(wv_error_name(codes[i]), wv_error_name(codes[j])));
    }
    CHECK(!strcmp(wv_error_name(-999), "WV_E_UNKNOWN"));
    CHECK(wv_error_message(12345) != NULL);
    /* pinned values */
    CHECK(WV_E_NOMEM == -1 && WV_E_ARG == -2 && WV_E_RANGE == -3 && WV_E_UTF8 == -4);
    CHECK(WV_E_SITE == -5 && WV_E_LIMIT == -6 && WV_E_CORRUPT == -7 && WV_E_MODIFIED == -8);
    CHECK(WV_E_CAUSE == -9 && WV_E_DUPLICATE == -10 && WV_E_CLOCK == -11 && WV_E_ATOM == -12);
    CHECK(WV_E_BUSY == -13 && WV_E_TRUNCATED == -14 && WV_E_FORMAT == -15 && WV_E_VERSION == -16);
    CHECK(WV_E_CHECKSUM == -17 && WV_E_SIZE == -18 && WV_E_BUFFER == -19);
}

static void test_new_and_options(void) {
    wv_doc *d = NULL;
    wv_options opt;
    CHECK_RC(wv_doc_new(NULL, 1, NULL), WV_E_ARG);
    CHECK_RC(wv_doc_new(&d, 0, NULL), WV_E_SITE);
    CHECK(d == NULL);
    wv_options_default(&opt);
    opt.reserved[3] = 1;
    CHECK_RC(wv_doc_new(&d, 1, &opt), WV_E_ARG);
    wv_options_default(&opt);
    wv_alloc broken = {NULL, NULL, NULL, NULL};
    opt.alloc = &broken;
    CHECK_RC(wv_doc_new(&d, 1, &opt), WV_E_ARG);
    wv_options_default(&opt);
    REQUIRE_OK(wv_doc_new(&d, UINT64_MAX, &opt));
    CHECK(wv_doc_site(d) == UINT64_MAX);
    CHECK(wv_doc_clock(d) == 0);
    CHECK(wv_doc_atoms(d) == 1);
    CHECK(wv_doc_bytes(d) > 16);
    CHECK(wv_text_len(d) == 0);
    CHECK(wv_doc_weft(d, UINT64_MAX) == 0);
    CHECK_DOC(d);
    wv_doc_free(d);
    wv_doc_free(NULL);
    /* NULL-safe readers */
    CHECK(wv_doc_site(NULL) == 0 && wv_doc_clock(NULL) == 0 && wv_doc_atoms(NULL) == 0);
    CHECK(wv_text_len(NULL) == 0 && wv_weave_hash(NULL) == 0 && wv_doc_weft(NULL, 1) == 0);
    CHECK_RC(wv_check(NULL, NULL, 0), WV_E_CORRUPT);
}

static void test_fork_and_clone(void) {
    wv_doc *a, *b = NULL, *c;
    REQUIRE_OK(wv_doc_new(&a, 5, NULL));
    REQUIRE_OK(wv_text_insert(a, 0, "hello", 5));
    CHECK_RC(wv_doc_fork(a, 5, &b), WV_E_SITE); /* own site */
    CHECK_RC(wv_doc_fork(a, 0, &b), WV_E_SITE);
    CHECK_RC(wv_doc_fork(NULL, 6, &b), WV_E_ARG);
    CHECK_RC(wv_doc_fork(a, 6, NULL), WV_E_ARG);
    CHECK(b == NULL && wv_doc_clock(a) == 5);
    REQUIRE_OK(wv_doc_fork(a, 6, &b));
    CHECK(wv_doc_clock(a) == 6 && wv_doc_clock(b) == 6 && wv_doc_site(b) == 6);
    CHECK_RC(wv_doc_fork(b, 5, &c), WV_E_SITE); /* known to b */
    REQUIRE_OK(wv_doc_clone(b, &c));
    CHECK(wv_doc_site(c) == 6 && wv_doc_clock(c) == 6);
    CHECK(wv_weave_hash(c) == wv_weave_hash(a));
    CHECK_RC(wv_doc_clone(NULL, &c), WV_E_ARG);
    REQUIRE_OK(wv_text_insert(b, 5, "!", 1)); /* b's first atom: clock 7 */
    CHECK(wv_doc_weft(b, 6) == 7 && wv_doc_weft(b, 5) == 5);
    CHECK_DOC(b); CHECK_DOC(c);
    wv_doc_free(a), wv_doc_free(b), wv_doc_free(c);
}

static void test_iterator(void) {
    wv_doc *d;
    REQUIRE_OK(wv_doc_new(&d, 2, NULL));
    char big[1000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('a' + i % 26);
    REQUIRE_OK(wv_text_insert(d, 0, big, sizeof big));
    REQUIRE_OK(wv_text_delete(d, 10, 5));
    wv_iter it;
    wv_atom_info a;
    size_t n = 0, chars = 0, dels = 0, deleted = 0;
    wv_iter_begin(&it, d);
    int rc;
    while ((rc = wv_iter_next(&it, &a)) == 1) {
        n++;
        if (a.kind == WV_KIND_CHAR) chars++, deleted += (size_t)a.deleted;
        if (a.kind == WV_KIND_DELETE) dels++;
        if (n == 1) CHECK(a.kind == WV_KIND_ROOT && a.site == 0 && a.clock == 0);
    }
    CHECK(rc == 0 && n == wv_doc_atoms(d) && chars == 1000 && dels == 5 && deleted == 5);
    CHECK(wv_iter_next(&it, &a) == 0); /* stays at the end */
    wv_iter_begin(&it, d);
    CHECK(wv_iter_next(&it, &a) == 1);
    REQUIRE_OK(wv_text_insert(d, 0, "x", 1));
    CHECK_RC(wv_iter_next(&it, &a), WV_E_MODIFIED);
    wv_iter_begin(&it, NULL);
    CHECK(wv_iter_next(&it, &a) == 0);
    wv_doc_free(d);
}

int main(void) {
    test_init();
    test_errors();
    test_new_and_options();
    test_fork_and_clone();
    test_iterator();
    return test_done("test_api");
}

/* test.h — minimal test support shared by tests/test_*.c.
 *
 * CHECK(cond) records a failure with file:line and goes on; REQUIRE(cond)
 * stops the test program. Every program seeds its PRNG from WV_SEED (or a
 * fixed default), prints the seed with any failure so a run can be
 * repeated, and ends with test_done(), whose exit status meson reads. */
#ifndef WV_TEST_H
#define WV_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "weave.h"

static int test_failures, test_checks;
static uint64_t test_seed = 0x5eed;
static uint64_t test_rng_state;

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        test_checks++;                                                                    \
        if (!(cond)) {                                                                    \
            test_failures++;                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s (seed %" PRIu64 ")\n", __FILE__,     \
                    __LINE__, #cond, test_seed);                                          \
        }                                                                                 \
    } while (0)
#define REQUIRE(cond)                                                                     \
    do {                                                                                  \
        int ok_ = !!(cond); /* evaluated once: cond may have effects */                  \
        CHECK(ok_);                                                                       \
        if (!ok_) exit(1);                                                                \
    } while (0)
#define CHECK_RC(expr, want) CHECK((expr) == (want)) /* CHECK evaluates once */
#define REQUIRE_OK(expr) REQUIRE((expr) == WV_OK)

static inline void test_init(void) {
    const char *s = getenv("WV_SEED");
    if (s && *s) test_seed = strtoull(s, NULL, 0);
    test_rng_state = test_seed;
}

/* splitmix64 */
static inline uint64_t rng(void) {
    uint64_t z = (test_rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static inline size_t rng_below(size_t n) { return n ? (size_t)(rng() % n) : 0; }

/* Checks every invariant of a replica; prints the violation. */
#define CHECK_DOC(doc)                                                                    \
    do {                                                                                  \
        char msg_[256];                                                                   \
        int rc_ = wv_check((doc), msg_, sizeof msg_);                                     \
        CHECK(rc_ == WV_OK);                                                              \
        if (rc_) fprintf(stderr, "  wv_check: %s\n", msg_);                               \
    } while (0)

static inline int test_done(const char *name) {
    if (test_failures)
        printf("%s: %d of %d checks failed (seed %" PRIu64 ")\n", name, test_failures,
               test_checks, test_seed);
    else
        printf("%s: %d checks passed (seed %" PRIu64 ")\n", name, test_checks, test_seed);
    return test_failures ? 1 : 0;
}

/* A new replica at `site` holding n chars "abc..z" repeated (opt may be NULL). */
static inline wv_doc *test_doc(uint64_t site, size_t n, const wv_options *opt) {
    wv_doc *d;
    char *t = malloc(n + 1);
    if (!t || wv_doc_new(&d, site, opt)) exit(3);
    for (size_t i = 0; i < n; i++) t[i] = (char)('a' + i % 26);
    if (wv_text_insert(d, 0, t, n)) exit(3);
    free(t);
    return d;
}

/* One random local edit: a delete of 1-4 chars, or an insert of a word
 * from an alphabet of 1- to 4-byte UTF-8, an emoji and an embedded NUL. */
static inline void test_random_edit(wv_doc *d) {
    static const char *words[] = {"a", "bc", "def", "\xc3\xa9", "xyzw", "\xe2\x82\xac\xe2\x82\xac",
                                  "\xf0\x9f\x98\x80", "q\xd0\x96r", "\x00"};
    size_t len = wv_text_len(d);
    if (len && rng_below(3) == 0) {
        size_t pos = rng_below(len), n = 1 + rng_below(4);
        REQUIRE_OK(wv_text_delete(d, pos, n < len - pos ? n : len - pos));
    } else {
        size_t k = rng_below(9);
        const char *w = words[k];
        REQUIRE_OK(wv_text_insert(d, rng_below(len + 1), w, k == 8 ? 1 : strlen(w)));
    }
}

/* The visible text, malloc'd. */
static inline char *test_text(const wv_doc *d) {
    size_t n = wv_text_read(d, NULL, 0);
    char *s = malloc(n + 1);
    if (!s) exit(3);
    wv_text_read(d, s, n + 1);
    return s;
}

/* The site's own atoms created after clock `after`, in weave order: its
 * pending transaction for a site host. malloc'd; *n gets the count. */
static inline wv_atom_info *test_pending(const wv_doc *d, uint32_t after, size_t *n) {
    size_t nw = wv_doc_weft_all(d, NULL, 0);
    wv_weft_entry *w = malloc((nw + 1) * sizeof *w);
    REQUIRE(w);
    wv_doc_weft_all(d, w, nw);
    for (size_t i = 0; i < nw; i++)
        if (w[i].site == wv_doc_site(d)) w[i].clock = after;
    REQUIRE_OK(wv_delta(d, w, nw, NULL, 0, n));
    wv_atom_info *x = malloc((*n + 1) * sizeof *x);
    REQUIRE(x);
    REQUIRE_OK(wv_delta(d, w, nw, x, *n, n));
    free(w);
    return x;
}

#endif /* WV_TEST_H */

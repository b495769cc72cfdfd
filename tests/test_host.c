/* test_host.c — the site host (weave/host.c): the lock(v, n) rule, refusal
 * and retry counting, invalid transactions rejected with no change, and
 * sites converging through the log (propose, be refused, integrate, retry). */
#include "test.h"

/* Reads the log from *v on into d. */
static void catch_up(wv_host *h, wv_doc *d, uint64_t *v) {
    for (; *v < wv_host_length(h); ++*v) {
        const wv_atom_info *atoms;
        size_t n;
        REQUIRE_OK(wv_host_entry(h, *v, NULL, &atoms, &n));
        REQUIRE_OK(wv_apply(d, atoms, n));
    }
}

static void test_lock_rule(void) {
    wv_host *h;
    wv_doc *a, *b;
    REQUIRE_OK(wv_host_new(&h, NULL));
    REQUIRE_OK(wv_doc_new(&a, 1, NULL));
    REQUIRE_OK(wv_doc_new(&b, 2, NULL));
    REQUIRE_OK(wv_text_insert(a, 0, "aa", 2));
    REQUIRE_OK(wv_text_insert(b, 0, "bb", 2));
    size_t na, nb;
    wv_atom_info *pa = test_pending(a, 0, &na), *pb = test_pending(b, 0, &nb);
    CHECK(na == 2 && nb == 2);
    CHECK(wv_host_length(h) == 0);
    CHECK_RC(wv_host_propose(h, 1, 1, 0, pa, na), WV_E_RANGE); /* read past the end */
    REQUIRE_OK(wv_host_propose(h, 1, 0, 0, pa, na));          /* x: 0 -> 1 */
    CHECK(wv_host_length(h) == 1);
    CHECK_RC(wv_host_propose(h, 2, 0, 0, pb, nb), WV_E_BUSY);  /* behind, n = 0 */
    REQUIRE_OK(wv_host_propose(h, 2, 0, 1, pb, nb));          /* behind by 1, n = 1 */
    CHECK(wv_host_length(h) == 2);
    wv_host_stats st;
    wv_host_stats_get(h, &st);
    CHECK(st.proposals == 3 && st.accepted == 2 && st.refused == 1 && st.retries == 1 && st.rejected == 0);
    uint64_t site;
    const wv_atom_info *atoms;
    size_t n;
    REQUIRE_OK(wv_host_entry(h, 1, &site, &atoms, &n));
    CHECK(site == 2 && n == 2 && atoms[0].site == 2);
    CHECK_RC(wv_host_entry(h, 2, &site, &atoms, &n), WV_E_RANGE);
    free(pa), free(pb);
    wv_doc_free(a), wv_doc_free(b);
    wv_host_free(h);
    wv_host_free(NULL);
}

static void test_rejected(void) {
    wv_host *h;
    wv_doc *a;
    REQUIRE_OK(wv_host_new(&h, NULL));
    REQUIRE_OK(wv_doc_new(&a, 1, NULL));
    REQUIRE_OK(wv_text_insert(a, 0, "abc", 3));
    size_t n;
    wv_atom_info *p = test_pending(a, 0, &n);
    REQUIRE_OK(wv_host_propose(h, 1, 0, 0, p, n));
    uint64_t hash = wv_weave_hash(wv_host_doc(h));
    wv_atom_info bad[] = {
        {1, 9, 1, 7, WV_KIND_CHAR, 'x', 0}, /* cause not in the log */
        {1, 9, 2, 1, WV_KIND_CHAR, 'x', 0}, /* cause at an unknown site */
        {1, 3, 1, 3, WV_KIND_CHAR, 'x', 0}, /* clock not above cause (and in the log) */
        {1, 9, 1, 9, WV_KIND_CHAR, 'x', 0}, /* clock not above cause */
        {1, 9, 1, 2, (wv_kind)9, 'x', 0},   /* no such kind */
    };
    int want[] = {WV_E_CAUSE, WV_E_CAUSE, WV_E_DUPLICATE, WV_E_CLOCK, WV_E_ATOM};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_RC(wv_host_propose(h, 1, 1, 0, &bad[i], 1), want[i]);
    CHECK_RC(wv_host_propose(h, 1, 1, 0, p, n), WV_E_DUPLICATE); /* proposed again */
    CHECK_RC(wv_host_propose(h, 2, 1, 0, p, n), WV_E_ARG);       /* someone else's atoms */
    CHECK_RC(wv_host_propose(h, 1, 1, 0, p, 0), WV_E_ARG);       /* empty */
    CHECK_RC(wv_host_propose(NULL, 1, 1, 0, p, n), WV_E_ARG);
    CHECK(wv_host_length(h) == 1 && wv_weave_hash(wv_host_doc(h)) == hash);
    wv_host_stats st;
    wv_host_stats_get(h, &st);
    CHECK(st.rejected == 6 && st.accepted == 1);
    free(p);
    wv_doc_free(a);
    wv_host_free(h);
}

/* K sites edit at random; each proposes its pending atoms with a random n,
 * is refused when behind, catches up and retries. At the end everyone reads
 * the whole log; replicas, the host's replica and a replay of the log from
 * empty all hold one weave. */
static void test_converge(void) {
    uint64_t refused = 0, retries = 0;
    for (int round = 0; round < 60; round++) {
        enum { K = 4 };
        wv_host *h;
        wv_doc *d[K];
        uint64_t v[K] = {0};
        uint32_t sent[K] = {0};
        REQUIRE_OK(wv_host_new(&h, NULL));
        for (int i = 0; i < K; i++) REQUIRE_OK(wv_doc_new(&d[i], (uint64_t)i + 1, NULL));
        uint32_t n = (uint32_t)rng_below(4);
        for (int step = 0; step < 200; step++) {
            int i = (int)rng_below(K);
            size_t len = wv_text_len(d[i]);
            if (rng_below(3)) {
                if (len && rng_below(3) == 0) REQUIRE_OK(wv_text_delete(d[i], rng_below(len), 1));
                else REQUIRE_OK(wv_text_insert(d[i], rng_below(len + 1), "xy", 1 + rng_below(2)));
                continue;
            }
            size_t np;
            wv_atom_info *p = test_pending(d[i], sent[i], &np);
            if (np) {
                int rc;
                while ((rc = wv_host_propose(h, (uint64_t)i + 1, v[i], n, p, np)) == WV_E_BUSY)
                    catch_up(h, d[i], &v[i]);
                REQUIRE_OK(rc);
                sent[i] = wv_doc_weft(d[i], (uint64_t)i + 1);
            }
            free(p);
            if (rng_below(2)) catch_up(h, d[i], &v[i]);
        }
        for (int i = 0; i < K; i++) { /* flush what is left */
            size_t np;
            wv_atom_info *p = test_pending(d[i], sent[i], &np);
            if (np) {
                catch_up(h, d[i], &v[i]);
                REQUIRE_OK(wv_host_propose(h, (uint64_t)i + 1, v[i], n, p, np));
            }
            free(p);
        }
        wv_doc *replay;
        uint64_t rv = 0;
        REQUIRE_OK(wv_doc_new(&replay, 99, NULL));
        catch_up(h, replay, &rv);
        uint64_t hash = wv_weave_hash(wv_host_doc(h));
        CHECK(wv_weave_hash(replay) == hash);
        for (int i = 0; i < K; i++) {
            catch_up(h, d[i], &v[i]);
            CHECK(wv_weave_hash(d[i]) == hash);
            CHECK_DOC(d[i]);
            wv_doc_free(d[i]);
        }
        CHECK_DOC(wv_host_doc(h));
        wv_host_stats st;
        wv_host_stats_get(h, &st);
        CHECK(st.accepted == wv_host_length(h) && st.rejected == 0);
        CHECK(st.retries == st.refused); /* each refusal here is followed by a retry */
        refused += st.refused, retries += st.retries;
        wv_doc_free(replay);
        wv_host_free(h);
    }
    CHECK(refused > 50 && retries == refused); /* the refusal path really ran */
}

int main(void) {
    test_init();
    test_lock_rule();
    test_rejected();
    test_converge();
    return test_done("test_host");
}

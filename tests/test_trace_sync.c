/* test_trace_sync.c — the binary format on real editing traces: each trace
 * replayed, its document encoded, decoded (same weave, site, clock, text,
 * endContent) and re-encoded byte for byte; and a replica cloned at each
 * eighth of the history catches up by a delta past its weft to the same
 * weave. Skips, saying so, when ../shared/traces (or WV_TRACES) is absent. */
#include "test.h"
#include "../tools/trace.h"

static void replay_and_sync(const char *path) {
    wvt_trace t;
    char err[512];
    if (wvt_load(path, &t, err, sizeof err)) {
        printf("SKIP %s: %s\n", path, err);
        return;
    }
    wv_doc *d, *cut[8] = {0};
    REQUIRE_OK(wv_doc_new(&d, 1, NULL));
    size_t done = 0;
    for (size_t i = 0; i < t.ntxns; i++)
        for (size_t p = 0; p < t.txns[i].npatches; p++, done++) {
            if (done && done % (t.npatches / 8 + 1) == 0) REQUIRE_OK(wv_doc_clone(d, &cut[done / (t.npatches / 8 + 1)]));
            const wvt_patch *pa = &t.txns[i].patches[p];
            if (pa->del) REQUIRE_OK(wv_text_delete(d, pa->pos, pa->del));
            if (pa->ins_len) REQUIRE_OK(wv_text_insert(d, pa->pos, pa->ins, pa->ins_len));
        }
    char *text = test_text(d);
    CHECK(strlen(text) == t.end_len && !memcmp(text, t.end_content, t.end_len));
    free(text);

    size_t cap = wv_encode_bound(d), n, n2;
    uint8_t *buf = malloc(cap), *again = malloc(cap);
    REQUIRE(buf && again);
    REQUIRE_OK(wv_encode(d, 0, NULL, 0, buf, cap, &n));
    wv_doc *e;
    REQUIRE_OK(wv_decode(&e, buf, n, NULL));
    CHECK(wv_weave_hash(e) == wv_weave_hash(d) && wv_doc_clock(e) == wv_doc_clock(d));
    CHECK(wv_doc_site(e) == 1 && wv_text_len(e) == wv_text_len(d));
    REQUIRE_OK(wv_encode(e, 0, NULL, 0, again, cap, &n2));
    CHECK(n2 == n && !memcmp(buf, again, n));
    printf("%s: %zu edits, document %zu bytes (%.2f bytes/edit)\n", strrchr(path, '/') + 1,
           t.npatches, n, (double)n / (double)t.npatches);
    for (int k = 1; k < 8; k++) {
        if (!cut[k]) continue;
        wv_weft_entry w[8];
        size_t nw = wv_doc_weft_all(cut[k], w, 8);
        REQUIRE_OK(wv_encode(d, 1, w, nw, buf, cap, &n));
        REQUIRE_OK(wv_apply_bytes(cut[k], buf, n));
        CHECK(wv_weave_hash(cut[k]) == wv_weave_hash(d));
        printf("  delta past %d/8 of the history: %zu bytes\n", k, n);
        wv_doc_free(cut[k]);
    }
    free(buf), free(again);
    wv_doc_free(d), wv_doc_free(e);
    wvt_free(&t);
}

int main(void) {
    test_init();
    const char *dir = getenv("WV_TRACES");
    if (!dir || !*dir) dir = "../shared/traces";
    static const char *names[] = {"automerge-paper", "seph-blog1", "friendsforever_flat"};
    for (size_t i = 0; i < 3; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.json.gz", dir, names[i]);
        FILE *f = fopen(path, "rb");
        if (!f) {
            printf("SKIP: %s not found (traces are read from ../shared/traces, never copied)\n", path);
            continue;
        }
        fclose(f);
        replay_and_sync(path);
    }
    return test_done("test_trace_sync");
}

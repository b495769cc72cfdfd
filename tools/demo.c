/* demo.c — `weave demo [--sites K] [--edits N] [--seed S]`: a multi-site
 * session. One site writes a base text and forks K - 1 others; every site
 * then makes N random edits offline (inserts of short words, deletes of short
 * ranges, at random positions); site 1 merges everyone, the others merge
 * site 1 back, and all must hold byte-identical weaves and the same text. */
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static int check(int rc, const char *what) {
    if (rc) fprintf(stderr, "weave demo: %s failed: %s\n", what, wv_error_message(rc));
    return rc;
}

int cli_demo(int argc, char **argv) {
    size_t k = 4, edits = 10000;
    uint64_t seed = 1;
    for (int i = 0; i + 1 < argc; i += 2) {
        unsigned long long v = strtoull(argv[i + 1], NULL, 10);
        if (!strcmp(argv[i], "--sites") && v >= 2 && v <= 64) k = (size_t)v;
        else if (!strcmp(argv[i], "--edits")) edits = (size_t)v;
        else if (!strcmp(argv[i], "--seed")) seed = v;
        else return fputs("usage: weave demo [--sites 2..64] [--edits N] [--seed S]\n", stderr), 2;
    }
    if (argc % 2) return fputs("usage: weave demo [--sites 2..64] [--edits N] [--seed S]\n", stderr), 2;

    static const char *words[] = {"weave ", "atom ", "merge ", "site ", "clock ", "tree ", "é ", "→ "};
    wv_doc **d = calloc(k, sizeof *d);
    if (!d) return 3;
    uint64_t rng = seed;
    int rc = check(wv_doc_new(&d[0], 1, NULL), "new");
    for (int i = 0; !rc && i < 2000; i++) {
        const char *w = words[cli_rng_below(&rng, 8)];
        rc = check(wv_text_insert(d[0], wv_text_len(d[0]), w, strlen(w)), "insert");
    }
    for (size_t i = 1; !rc && i < k; i++) rc = check(wv_doc_fork(d[0], i + 1, &d[i]), "fork");
    printf("weave demo: %zu sites, base text %zu chars, %zu random edits per site (seed %llu)\n", k,
           wv_text_len(d[0]), edits, (unsigned long long)seed);

    double t0 = cli_now_ms();
    for (size_t i = 0; !rc && i < k; i++) {
        for (size_t e = 0; !rc && e < edits; e++) {
            size_t len = wv_text_len(d[i]);
            if (len && cli_rng_below(&rng, 3) == 0) {
                size_t pos = cli_rng_below(&rng, len), n = 1 + cli_rng_below(&rng, 3);
                rc = check(wv_text_delete(d[i], pos, n < len - pos ? n : len - pos), "delete");
            } else {
                const char *w = words[cli_rng_below(&rng, 8)];
                rc = check(wv_text_insert(d[i], cli_rng_below(&rng, len + 1), w, strlen(w)), "insert");
            }
        }
    }
    double t1 = cli_now_ms();
    for (size_t i = 1; !rc && i < k; i++) rc = check(wv_merge(d[0], d[i]), "merge");
    double t2 = cli_now_ms();
    for (size_t i = 1; !rc && i < k; i++) rc = check(wv_merge(d[i], d[0]), "merge");
    double t3 = cli_now_ms();

    int same = !rc;
    char msg[256];
    for (size_t i = 0; same && i < k; i++) {
        same = wv_weave_hash(d[i]) == wv_weave_hash(d[0]) && wv_text_len(d[i]) == wv_text_len(d[0]);
        if (!rc && (rc = wv_check(d[i], msg, sizeof msg))) fprintf(stderr, "weave demo: %s\n", msg);
    }
    if (!rc) {
        printf("  edits:  %zu in %.1f ms (%.2f M edits/s)\n", k * edits, t1 - t0,
               (double)(k * edits) / ((t1 - t0) * 1e3));
        printf("  merge:  %zu replicas into site 1 in %.1f ms; back to the others in %.1f ms\n", k - 1,
               t2 - t1, t3 - t2);
        printf("  result: %zu atoms (%.1f bytes/atom), %zu visible chars, weave hash %016llx\n",
               wv_doc_atoms(d[0]), (double)wv_doc_bytes(d[0]) / (double)wv_doc_atoms(d[0]),
               wv_text_len(d[0]), (unsigned long long)wv_weave_hash(d[0]));
        char *t = cli_text(d[0], NULL);
        printf("  text:   \"%.60s…\"\n", t);
        free(t);
        printf("  %s\n", same ? "converged: every replica holds the same weave and text"
                              : "DIVERGED: replicas differ");
    }
    for (size_t i = 0; i < k; i++) wv_doc_free(d[i]);
    free(d);
    return rc ? 1 : same ? 0 : 1;
}

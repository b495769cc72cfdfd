/* fuzz.c — `weave fuzz`: runs the convergence harness (fuzz/harness.c) over
 * a range of seeds and prints what happened; exit 0 only if nothing diverged.
 * A divergent seed is shrunk and written as a replayable `weave script`. */
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "harness.h"

static const char usage[] =
    "usage: weave fuzz [--seeds N] [--sites K] [--ops M] [--first-seed S] [--repro-dir DIR]\n"
    "  N seeds (default 200) from S (default 1), K sites (2..8, default 4; 0: 2..8 by seed),\n"
    "  M operations each (default 120); divergent histories are written to DIR (default .)\n";

int cli_fuzz(int argc, char **argv) {
    unsigned long long seeds = 200, first = 1, sites = 4, ops = 120;
    const char *dir = ".";
    for (int i = 0; i < argc; i += 2) {
        if (i + 1 >= argc) return fputs(usage, stderr), 2;
        char *end;
        unsigned long long v = strtoull(argv[i + 1], &end, 10);
        int num = *argv[i + 1] && !*end;
        if (!strcmp(argv[i], "--seeds") && num) seeds = v;
        else if (!strcmp(argv[i], "--sites") && num && (v == 0 || (v >= 2 && v <= 8))) sites = v;
        else if (!strcmp(argv[i], "--ops") && num && v <= 100000) ops = v;
        else if (!strcmp(argv[i], "--first-seed") && num) first = v;
        else if (!strcmp(argv[i], "--repro-dir")) dir = argv[i + 1];
        else return fputs(usage, stderr), 2;
    }
    wvf_stats st = {0};
    double t0 = cli_now_ms();
    unsigned long long shown = 0;
    for (unsigned long long s = first; s < first + seeds; s++) {
        char why[512], path[4096];
        unsigned k = sites ? (unsigned)sites : 2 + (unsigned)(s % 7);
        snprintf(path, sizeof path, "%s/weave-fuzz-seed%llu.wv", dir, s);
        if (wvf_run(s, k, (unsigned)ops, &st, why, sizeof why, shown < 3 ? path : NULL)) {
            printf("seed %llu (%u sites): DIVERGED: %s\n", s, k, why);
            if (shown++ < 3) printf("  shrunk reproduction: %s (replay: weave script %s)\n", path, path);
        }
    }
    double ms = cli_now_ms() - t0;
    char k[24] = "2-8";
    if (sites) snprintf(k, sizeof k, "%llu", sites);
    printf("weave fuzz: %llu seeds (%llu..%llu), %s sites, %llu ops each, %.2f s\n", seeds, first,
           first + seeds - 1, k, ops, ms / 1e3);
    printf("  %llu edits (%llu on structures), %llu forks, %llu merges, %llu atoms; host: %llu proposals, "
           "%llu refusals, %llu retries\n",
           (unsigned long long)st.edits, (unsigned long long)st.struct_edits,
           (unsigned long long)st.forks, (unsigned long long)st.merges,
           (unsigned long long)st.atoms, (unsigned long long)st.proposals,
           (unsigned long long)st.refusals, (unsigned long long)st.retries);
    printf("  verdict: %s\n", st.diverged ? "DIVERGED" : "converged: both worlds equal the oracle every time");
    if (st.diverged) printf("  %llu of %llu seeds diverged\n", (unsigned long long)st.diverged, seeds);
    return st.diverged ? 1 : 0;
}

/* harness.h — the convergence harness: one seeded history, run two ways.
 *
 * World 1, peer to peer: K sites (replica slots 0..K-1, site ids 1..K; slot
 * 0 exists from the start, the others are forked into being) make random
 * local edits and merge random pairs at random times; this world creates the
 * atoms. Every edit is one transaction: the atoms it created, and the weft
 * its site held before it (what it had seen).
 * World 2, through the site host (weave/host.c), with a lock window n drawn
 * from 0..3: each site performs its transactions in order once it has read
 * from the log what they depend on, integrating them (wv_apply) and proposing
 * them with lock(v, n); refused, it reads the entries it lacks and retries.
 * At quiescence every replica of both worlds, the host's replica and a
 * replay of the log from empty must equal the oracle's weave (fuzz/oracle.c,
 * built from the set of all atoms), text included; invariants are checked
 * after every step. Used by `weave fuzz` and the fuzz tests.
 */
#ifndef WV_HARNESS_H
#define WV_HARNESS_H

#include <stddef.h>
#include <stdint.h>

typedef struct wvf_stats {
    uint64_t runs, ops, edits, forks, merges, atoms;
    uint64_t struct_edits; /* of the edits, those on structures */
    uint64_t proposals, refusals, retries;
    uint64_t diverged;
} wvf_stats;

/* Runs the history of `seed` with `sites` (2..8) sites and `ops` operations,
 * adding to *st. Returns 0 when both worlds converged on the oracle's weave;
 * otherwise 1, with a one-line reason in why, and — when repro_path is not
 * NULL — the shrunk history written there as a `weave script` whose last
 * lines expect the oracle's weave (it exits 1 on a build with the bug). */
int wvf_run(uint64_t seed, unsigned sites, unsigned ops, wvf_stats *st, char *why, size_t cap,
            const char *repro_path);

#endif /* WV_HARNESS_H */

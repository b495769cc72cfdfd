/* harness.h — the convergence harness: one seeded history, run two ways.
 *
 * World 1, peer to peer: K sites (replica slots 0..K-1, site ids 1..K; slot
 * 0 exists from the start, the others are forked into being) make random
 * local edits and merge random pairs at random times; this world creates the
 * atoms. Edits are text inserts and deletes (most of them) and structure
 * edits (wvf_struct_edit below: maps, lists, strs, sets, counters, by ref
 * and by path, on containers found by walking the replica). Every edit is
 * one transaction: the atoms it created (wv_delta past its site's own clock
 * before the edit), and the weft its site held before it (what it had seen).
 * World 2, through the site host (weave/host.c), with a lock window n drawn
 * from 0..3: each site performs its transactions in order once it has read
 * from the log what they depend on, integrating them (wv_apply) and proposing
 * them with lock(v, n); refused, it reads the entries it lacks and retries.
 * At quiescence every replica of both worlds, the host's replica and a
 * replay of the log from empty must equal the oracle's weave (fuzz/oracle.c,
 * built from the set of all atoms), with equal wv_weave_hash, the oracle's
 * root text and the oracle's JSON (wv_json of the root map); one replica of
 * each world also lists every map key's values as the oracle does
 * (wvf_json_all), and site 1's replica must come back the same through its
 * document bytes and its delta bytes. Invariants are checked after every
 * step. Last, two clones
 * of site 1 that edit apart must not merge (WV_E_CORRUPT: one id, two atoms).
 * Used by `weave fuzz`, the fuzz tests and fuzz/fuzz_ops.c.
 */
#ifndef WV_HARNESS_H
#define WV_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include "weave.h"

typedef struct wvf_stats {
    uint64_t runs, ops, edits, forks, merges, atoms;
    uint64_t struct_edits; /* of the edits, those on structures */
    uint64_t proposals, refusals, retries;
    uint64_t diverged;
} wvf_stats;

/* Runs the history of `seed` with `sites` (2..8) sites and `ops` operations,
 * adding to *st. Returns 0 when both worlds converged on the oracle's weave,
 * text and JSON and the reuse of a site id was refused;
 * otherwise 1, with a one-line reason in why, and — when repro_path is not
 * NULL — the shrunk history written there as a `weave script` whose last
 * lines expect the oracle's text, JSON and weave for every replica (it exits
 * 1 on a build with the bug; a history that failed at a step ends with that
 * step, and expects each replica's own atoms' oracle; the reuse check, which
 * needs two clones of one site, is described in comments only). */
int wvf_run(uint64_t seed, unsigned sites, unsigned ops, wvf_stats *st, char *why, size_t cap,
            const char *repro_path);

/* One random structure edit on d, drawn from r1, r2, r3 as the harness
 * draws them: the target container from a walk of d's structures from the
 * root map (wv_each), named by its path; the edit by the container's type:
 * map set (a scalar or a new container; by ref or by path) or delete of a
 * key from a small pool, list insert / delete / replace by path, str insert
 * / delete, set add / remove of a member from a small pool, counter add.
 * After the edit it checks what the edit promises locally (weave.h): a key
 * written holds just the new value, an inserted element is at its place, a
 * deleted key is gone, a member added is there and one removed is not, a
 * str or list has the new length, a counter moved by the increment; and
 * that each walked path leads back to its container.
 * Returns 0 with the `weave script` command in line ("" when there was
 * nothing to do; the replica is then unchanged), or 1 with the reason in
 * why: an edit or read failed, or a check did not hold (line then holds the
 * command tried, or "json /PATH" for a container that could not be read). */
int wvf_struct_edit(wv_doc *d, uint32_t r1, uint32_t r2, uint32_t r3, char *line, size_t cap, char *why,
                    size_t whycap);

/* Every value of every map key from the root map, as JSON (the format of
 * wvo_json_all in fuzz/oracle.h), read through the public calls only: wv_get,
 * wv_each for maps' keys and lists' elements, wv_map_conflicts for each key's
 * values (the winner, wv_each's value, first) and wv_json on each other value's
 * ref. Returns WV_OK with a malloc'd string in *out (*len bytes), the first
 * error of those calls, or WV_E_CORRUPT when the winner is not listed first. */
int wvf_json_all(const wv_doc *d, char **out, size_t *len);

#endif /* WV_HARNESS_H */

/* harness.c — the convergence harness (see harness.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "oracle.h"
#include "weave.h"

#define MAXK 8
#define MAX_TRIALS 3000 /* shrinking budget, in re-runs */

enum { OP_INS, OP_DEL, OP_FORK, OP_MERGE };

/* One step of the peer-to-peer history. Positions and lengths are raw random
 * numbers reduced against the replica when the step runs, so any sub-list of
 * a history is again a history (what shrinking needs). */
typedef struct op {
    uint8_t kind, a, b;
    uint32_t r1, r2;
} op;

typedef struct txn {
    unsigned slot;
    wv_weft_entry dep[MAXK]; /* the weft its site held before the edit */
    size_t ndep;
    wv_atom_info *atoms;
    size_t n;
} txn;

typedef struct run {
    unsigned k;
    uint64_t seed;
    uint32_t lock_n;
    wv_doc *p[MAXK]; /* world 1 */
    wv_doc *h[MAXK]; /* world 2 */
    wv_host *host;
    txn *tx;
    size_t ntx, captx;
    FILE *script;
    wvf_stats st;
    char why[512];
    int failed;
} run;

static uint64_t mix(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int fail(run *r, const char *fmt, ...) {
    if (!r->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->why, sizeof r->why, fmt, ap);
        va_end(ap);
        r->failed = 1;
    }
    return 1;
}

static int checked(run *r, const wv_doc *d, const char *world, unsigned slot) {
    char msg[256];
    if (wv_check(d, msg, sizeof msg)) return fail(r, "%s site %u: invariant broken: %s", world, slot + 1, msg);
    return 0;
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fputs("weave fuzz: out of memory\n", stderr);
        exit(3);
    }
    return q;
}

/* ---- world 1: peer to peer ------------------------------------------------ */

static const char *const words[] = {"a", "b", "xy", "q", "\xc3\xa9", "\xe4\xb8\xad", "zzz", "0"};

static int record_txn(run *r, unsigned s, const wv_weft_entry *dep, size_t ndep, uint32_t own) {
    wv_weft_entry since[MAXK + 1];
    size_t ns = wv_doc_weft_all(r->p[s], since, MAXK + 1), n;
    for (size_t i = 0; i < ns; i++)
        if (since[i].site == s + 1) since[i].clock = own;
    if (wv_delta(r->p[s], since, ns, NULL, 0, &n)) return fail(r, "wv_delta failed");
    if (r->ntx == r->captx) {
        r->captx = r->captx ? 2 * r->captx : 64;
        r->tx = xrealloc(r->tx, r->captx * sizeof *r->tx);
    }
    txn *t = &r->tx[r->ntx++];
    t->slot = s, t->n = n, t->ndep = ndep;
    memcpy(t->dep, dep, ndep * sizeof *dep);
    t->atoms = xrealloc(NULL, n * sizeof *t->atoms);
    if (wv_delta(r->p[s], since, ns, t->atoms, n, &n)) return fail(r, "wv_delta failed");
    r->st.atoms += n;
    return 0;
}

static int p2p_step(run *r, const op *o) {
    unsigned a = o->a % r->k, b = o->b % r->k;
    wv_doc *d = r->p[a];
    if (!d) return 0;
    int rc = WV_OK;
    if (o->kind == OP_INS || o->kind == OP_DEL) {
        size_t len = wv_text_len(d);
        if (o->kind == OP_DEL && len == 0) return 0;
        wv_weft_entry dep[MAXK + 1];
        size_t ndep = wv_doc_weft_all(d, dep, MAXK + 1);
        uint32_t own = wv_doc_weft(d, a + 1);
        if (o->kind == OP_INS) {
            size_t pos = o->r1 % (len + 1);
            const char *w = words[o->r2 % (sizeof words / sizeof *words)];
            rc = wv_text_insert(d, pos, w, strlen(w));
            if (r->script) fprintf(r->script, "s%u ins %zu %s\n", a + 1, pos, w);
        } else {
            size_t pos = o->r1 % len, max = len - pos < 3 ? len - pos : 3, n = 1 + o->r2 % max;
            rc = wv_text_delete(d, pos, n);
            if (r->script) fprintf(r->script, "s%u del %zu %zu\n", a + 1, pos, n);
        }
        if (rc) return fail(r, "p2p site %u: edit failed: %s", a + 1, wv_error_name(rc));
        r->st.edits++;
        if (record_txn(r, a, dep, ndep, own)) return 1;
    } else if (o->kind == OP_FORK) {
        unsigned s = 0;
        while (s < r->k && r->p[s]) s++;
        if (s == r->k) return 0;
        if ((rc = wv_doc_fork(d, s + 1, &r->p[s]))) return fail(r, "fork failed: %s", wv_error_name(rc));
        if (r->script) fprintf(r->script, "fork s%u s%u %u\n", a + 1, s + 1, s + 1);
        r->st.forks++;
        return checked(r, r->p[s], "p2p", s);
    } else {
        if (a == b || !r->p[b]) return 0;
        if ((rc = wv_merge(d, r->p[b]))) return fail(r, "p2p merge s%u <- s%u failed: %s", a + 1, b + 1, wv_error_name(rc));
        if (r->script) fprintf(r->script, "merge s%u s%u\n", a + 1, b + 1);
        r->st.merges++;
    }
    return checked(r, d, "p2p", a);
}

/* ---- world 2: through the site host ---------------------------------------- */

static int catch_up(run *r, unsigned s, uint64_t *v) {
    for (; *v < wv_host_length(r->host); ++*v) {
        const wv_atom_info *atoms;
        size_t n;
        int rc = wv_host_entry(r->host, *v, NULL, &atoms, &n);
        if (!rc) rc = wv_apply(r->h[s], atoms, n);
        if (rc) return fail(r, "host world site %u: integrating entry %llu: %s", s + 1, (unsigned long long)*v, wv_error_name(rc));
    }
    return checked(r, r->h[s], "host-world", s);
}

static int deps_met(const wv_doc *d, const txn *t) {
    for (size_t i = 0; i < t->ndep; i++)
        if (wv_doc_weft(d, t->dep[i].site) < t->dep[i].clock) return 0;
    return 1;
}

static int host_world(run *r) {
    uint64_t rng = r->seed ^ 0x5157e5u, v[MAXK] = {0};
    size_t next[MAXK], left = r->ntx;
    int rc = wv_host_new(&r->host, NULL);
    for (unsigned s = 0; !rc && s < r->k; s++) rc = wv_doc_new(&r->h[s], s + 1, NULL);
    if (rc) return fail(r, "host world setup: %s", wv_error_name(rc));
    for (unsigned s = 0; s < r->k; s++) /* each site's first transaction */
        for (next[s] = 0; next[s] < r->ntx && r->tx[next[s]].slot != s; next[s]++) {}
    while (left) {
        unsigned order[MAXK], m = 0;
        for (unsigned s = 0; s < r->k; s++)
            if (next[s] < r->ntx) order[m++] = s;
        for (unsigned i = m; i > 1; i--) { /* shuffle */
            unsigned j = (unsigned)(mix(&rng) % i), t = order[i - 1];
            order[i - 1] = order[j], order[j] = t;
        }
        int progressed = 0;
        for (unsigned i = 0; i < m && !progressed; i++) {
            unsigned s = order[i];
            txn *t = &r->tx[next[s]];
            if (!deps_met(r->h[s], t) && (catch_up(r, s, &v[s]) || !deps_met(r->h[s], t))) {
                if (r->failed) return 1;
                continue; /* what it depends on is not in the log yet */
            }
            /* the edit, at this site, in this world */
            if ((rc = wv_apply(r->h[s], t->atoms, t->n)))
                return fail(r, "host world site %u: its own edit: %s", s + 1, wv_error_name(rc));
            if (checked(r, r->h[s], "host-world", s)) return 1;
            while ((rc = wv_host_propose(r->host, s + 1, v[s], r->lock_n, t->atoms, t->n)) == WV_E_BUSY)
                if (catch_up(r, s, &v[s])) return 1;
            if (rc) return fail(r, "host rejected site %u's transaction: %s", s + 1, wv_error_name(rc));
            if (mix(&rng) % 3 == 0 && catch_up(r, s, &v[s])) return 1;
            do next[s]++;
            while (next[s] < r->ntx && r->tx[next[s]].slot != s);
            left--, progressed = 1;
        }
        if (!progressed) return fail(r, "host world deadlocked with %zu transactions left", left);
    }
    for (unsigned s = 0; s < r->k; s++)
        if (catch_up(r, s, &v[s])) return 1;
    wv_host_stats hs;
    wv_host_stats_get(r->host, &hs);
    r->st.proposals += hs.proposals, r->st.refusals += hs.refused, r->st.retries += hs.retries;
    return 0;
}

/* ---- the verdict -------------------------------------------------------------- */

static int same_as_oracle(run *r, const wv_atom_info *w, size_t n, const char *text, const wv_doc *d,
                          const char *what, unsigned slot) {
    char why[300];
    if (!wvo_equal_doc(w, n, d, why, sizeof why))
        return fail(r, "%s %u: weave differs from the oracle's: %s", what, slot, why);
    size_t len = wv_text_read(d, NULL, 0);
    char *t = xrealloc(NULL, len + 1);
    wv_text_read(d, t, len + 1);
    int same = !strcmp(t, text);
    free(t);
    return same ? 0 : fail(r, "%s %u: text differs from the oracle's", what, slot);
}

static void script_weave(FILE *f, const wv_atom_info *w, size_t n) {
    for (size_t i = 1; i < n; i++) {
        fprintf(f, "%s[%llu|", i > 1 ? " " : "", (unsigned long long)w[i].site);
        if (w[i].kind == WV_KIND_DELETE) fputc('#', f);
        else {
            char c[8];
            size_t k = wvo_text(&(wv_atom_info){.kind = WV_KIND_CHAR, .value = w[i].value}, 1, c, sizeof c);
            fwrite(c, 1, k, f);
        }
        fprintf(f, " %u]", w[i].clock);
    }
    fputc('\n', f);
}

static int verdict(run *r) {
    size_t total = 0;
    for (size_t i = 0; i < r->ntx; i++) total += r->tx[i].n;
    wv_atom_info *all = xrealloc(NULL, total * sizeof *all), *w;
    size_t n = 0, nw;
    for (size_t i = 0; i < r->ntx; i++, n += r->tx[i - 1].n) memcpy(all + n, r->tx[i].atoms, r->tx[i].n * sizeof *all);
    int bad = wvo_weave(all, n, &w, &nw);
    free(all);
    if (bad) return fail(r, "the oracle cannot build a tree from the atoms made");
    size_t tl = wvo_text(w, nw, NULL, 0);
    char *text = xrealloc(NULL, tl + 1);
    wvo_text(w, nw, text, tl + 1);
    for (unsigned s = 0; s < r->k && !r->failed; s++) {
        if (r->p[s]) same_as_oracle(r, w, nw, text, r->p[s], "p2p site", s + 1);
        if (r->h[s] && r->p[s]) same_as_oracle(r, w, nw, text, r->h[s], "host-world site", s + 1);
    }
    if (!r->failed && r->host) same_as_oracle(r, w, nw, text, wv_host_doc(r->host), "host replica", 0);
    if (!r->failed && r->host) { /* readers replay the log in sequence order */
        wv_doc *replay;
        uint64_t v = 0;
        if (wv_doc_new(&replay, 1000, NULL)) exit(3);
        for (; v < wv_host_length(r->host) && !r->failed; v++) {
            const wv_atom_info *atoms;
            size_t na;
            if (wv_host_entry(r->host, v, NULL, &atoms, &na) || wv_apply(replay, atoms, na))
                fail(r, "replaying the log: entry %llu refused", (unsigned long long)v);
        }
        if (!r->failed) same_as_oracle(r, w, nw, text, replay, "log replay", 0);
        wv_doc_free(replay);
    }
    if (r->script) {
        fprintf(r->script, "# expected: the oracle's weave (fuzz/oracle.c) of all atoms made\n");
        for (unsigned s = 0; s < r->k; s++) {
            if (!r->p[s]) continue;
            fprintf(r->script, "expect s%u \"%s\"\nexpect-weave s%u ", s + 1, text, s + 1);
            script_weave(r->script, w, nw);
        }
    }
    free(text);
    free(w);
    return r->failed;
}

/* Runs ops in both worlds; returns 1 on divergence (reason in r->why). */
static int run_history(run *r, const op *ops, size_t nops) {
    int rc = wv_doc_new(&r->p[0], 1, NULL);
    if (rc) return fail(r, "new: %s", wv_error_name(rc));
    if (r->script) fprintf(r->script, "site s1 1\n");
    for (size_t i = 0; i < nops && !r->failed; i++, r->st.ops++) p2p_step(r, &ops[i]);
    /* quiescence: everyone into site 1, then back */
    for (int pass = 0; pass < 2 && !r->failed; pass++)
        for (unsigned s = 1; s < r->k && !r->failed; s++) {
            if (!r->p[s]) continue;
            wv_doc *dst = pass ? r->p[s] : r->p[0], *src = pass ? r->p[0] : r->p[s];
            if ((rc = wv_merge(dst, src))) fail(r, "final merge failed: %s", wv_error_name(rc));
            else if (r->script) fprintf(r->script, "merge s%u s%u\n", pass ? s + 1 : 1, pass ? 1 : s + 1);
            r->st.merges++;
        }
    if (!r->failed) host_world(r);
    if (!r->failed || r->script) verdict(r);
    return r->failed;
}

static void run_free(run *r) {
    for (unsigned s = 0; s < MAXK; s++) wv_doc_free(r->p[s]), wv_doc_free(r->h[s]);
    wv_host_free(r->host);
    for (size_t i = 0; i < r->ntx; i++) free(r->tx[i].atoms);
    free(r->tx);
}

static int fails(uint64_t seed, unsigned k, uint32_t lock_n, const op *ops, size_t n, FILE *script,
                 char *why, size_t cap) {
    run r = {.k = k, .seed = seed, .lock_n = lock_n, .script = script};
    int bad = run_history(&r, ops, n);
    if (why && cap) snprintf(why, cap, "%s", r.why);
    run_free(&r);
    return bad;
}

int wvf_run(uint64_t seed, unsigned sites, unsigned nops, wvf_stats *st, char *why, size_t cap,
            const char *repro_path) {
    uint64_t rng = seed;
    unsigned k = sites < 2 ? 2 : sites > MAXK ? MAXK : sites;
    op *ops = xrealloc(NULL, (nops + 1) * sizeof *ops);
    for (unsigned i = 0; i < nops; i++) {
        unsigned w = (unsigned)(mix(&rng) % 100);
        ops[i] = (op){w < 45 ? OP_INS : w < 65 ? OP_DEL : w < 75 ? OP_FORK : OP_MERGE,
                      (uint8_t)(mix(&rng) % k), (uint8_t)(mix(&rng) % k), (uint32_t)mix(&rng),
                      (uint32_t)mix(&rng)};
    }
    uint32_t lock_n = (uint32_t)(mix(&rng) % 4);
    run r = {.k = k, .seed = seed, .lock_n = lock_n};
    int bad = run_history(&r, ops, nops);
    r.st.runs = 1, r.st.diverged = (uint64_t)bad;
    if (st) {
        st->runs += r.st.runs, st->ops += r.st.ops, st->edits += r.st.edits, st->forks += r.st.forks;
        st->merges += r.st.merges, st->atoms += r.st.atoms, st->proposals += r.st.proposals;
        st->refusals += r.st.refusals, st->retries += r.st.retries, st->diverged += r.st.diverged;
    }
    if (why && cap) snprintf(why, cap, "%s", r.why);
    run_free(&r);
    if (bad && repro_path) {
        /* shrink: drop ever smaller runs of steps while the history still fails */
        size_t n = nops, trials = 0;
        for (size_t chunk = n / 2 ? n / 2 : 1; chunk >= 1 && trials < MAX_TRIALS; chunk /= 2) {
            for (size_t i = 0; i + chunk <= n && trials < MAX_TRIALS; trials++) {
                op *t = xrealloc(NULL, (n + 1) * sizeof *t);
                memcpy(t, ops, i * sizeof *t);
                memcpy(t + i, ops + i + chunk, (n - i - chunk) * sizeof *t);
                if (fails(seed, k, lock_n, t, n - chunk, NULL, NULL, 0)) {
                    free(ops);
                    ops = t, n -= chunk;
                } else {
                    free(t);
                    i += chunk;
                }
            }
            if (chunk == 1) break;
        }
        char shrunk_why[512];
        fails(seed, k, lock_n, ops, n, NULL, shrunk_why, sizeof shrunk_why);
        FILE *f = fopen(repro_path, "w");
        if (f) {
            fprintf(f, "# weave fuzz: seed %llu, %u sites, lock window %u: shrunk from %u to %zu steps\n"
                       "# %s\n# replay: weave script %s (exits 1 while the bug is there)\n",
                    (unsigned long long)seed, k, lock_n, nops, n, shrunk_why, repro_path);
            fails(seed, k, lock_n, ops, n, f, NULL, 0);
            fclose(f);
        }
    }
    free(ops);
    return bad;
}

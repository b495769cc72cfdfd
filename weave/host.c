/* host.c — the site host: a lock-sequenced log of transactions (DESIGN.md §3).
 *
 * The log is an array of entries (proposing site, copy of its atoms); x is
 * its length. lock(v, n) passes iff v >= x - n. Every transaction is
 * validated by integrating it into the host's own replica with wv_apply,
 * after the log has room for it, so a transaction is either appended and
 * integrated or neither. The replica's site id is UINT64_MAX; it never
 * creates atoms, so the id only names it.
 */
#include <string.h>
#include "internal.h"

typedef struct entry {
    uint64_t site;
    wv_atom_info *atoms;
    size_t n;
} entry;

struct wv_host {
    wv_alloc alloc;
    wv_doc *doc;
    entry *log;
    size_t len, cap;
    uint64_t *refused; /* sorted site ids */
    size_t nrefused, caprefused;
    wv_host_stats stats;
};

int wv_host_new(wv_host **out, const wv_options *opt) {
    if (!out) return WV_E_ARG;
    wv_doc *doc;
    int rc = wv_doc_new(&doc, UINT64_MAX, opt);
    if (rc) return rc;
    wv_host *h = wv_malloc(&doc->alloc, sizeof *h);
    if (!h) {
        wv_doc_free(doc);
        return WV_E_NOMEM;
    }
    memset(h, 0, sizeof *h);
    h->alloc = doc->alloc;
    h->doc = doc;
    *out = h;
    return WV_OK;
}

void wv_host_free(wv_host *h) {
    if (!h) return;
    for (size_t i = 0; i < h->len; i++) wv_free(&h->alloc, h->log[i].atoms, h->log[i].n * sizeof *h->log[i].atoms);
    wv_free(&h->alloc, h->log, h->cap * sizeof *h->log);
    wv_free(&h->alloc, h->refused, h->caprefused * sizeof *h->refused);
    wv_doc_free(h->doc);
    wv_alloc a = h->alloc;
    wv_free(&a, h, sizeof *h);
}

/* Index of site in the refused set, or where it would go. */
static size_t refused_at(const wv_host *h, uint64_t site) {
    size_t lo = 0, hi = h->nrefused;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (h->refused[mid] < site) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Records whether site's latest proposal was refused. Best effort: when the
 * set cannot grow, the next retry of that site goes uncounted. */
static void note_refusal(wv_host *h, uint64_t site, int refused) {
    size_t i = refused_at(h, site);
    int present = i < h->nrefused && h->refused[i] == site;
    if (present && !refused) {
        memmove(h->refused + i, h->refused + i + 1, (h->nrefused - i - 1) * sizeof *h->refused);
        h->nrefused--;
    } else if (!present && refused) {
        if (h->nrefused == h->caprefused) {
            size_t cap = h->caprefused ? 2 * h->caprefused : 8;
            uint64_t *r = wv_realloc(&h->alloc, h->refused, h->caprefused * sizeof *r, wv_mul(cap, sizeof *r));
            if (!r) return;
            h->refused = r, h->caprefused = cap;
        }
        memmove(h->refused + i + 1, h->refused + i, (h->nrefused - i) * sizeof *h->refused);
        h->refused[i] = site;
        h->nrefused++;
    }
}

int wv_host_propose(wv_host *h, uint64_t site, uint64_t v, uint32_t n, const wv_atom_info *atoms,
                    size_t natoms) {
    if (!h || !atoms || natoms == 0 || site == 0) return WV_E_ARG;
    for (size_t i = 0; i < natoms; i++)
        if (atoms[i].site != site) return WV_E_ARG;
    if (v > h->len) return WV_E_RANGE;
    h->stats.proposals++;
    size_t i = refused_at(h, site);
    if (i < h->nrefused && h->refused[i] == site) h->stats.retries++;
    if (h->len > n && v < h->len - n) {
        h->stats.refused++;
        note_refusal(h, site, 1);
        return WV_E_BUSY;
    }
    note_refusal(h, site, 0);
    /* A transaction carries only atoms new to the log. */
    uint32_t top = wv_doc_weft(h->doc, site);
    for (size_t k = 0; k < natoms; k++)
        if (atoms[k].clock <= top) return h->stats.rejected++, WV_E_DUPLICATE;
    if (h->len == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 16;
        entry *log = wv_realloc(&h->alloc, h->log, h->cap * sizeof *log, wv_mul(cap, sizeof *log));
        if (!log) return h->stats.rejected++, WV_E_NOMEM;
        h->log = log, h->cap = cap;
    }
    wv_atom_info *copy = wv_malloc(&h->alloc, wv_mul(natoms, sizeof *copy));
    if (!copy) return h->stats.rejected++, WV_E_NOMEM;
    memcpy(copy, atoms, natoms * sizeof *copy);
    for (size_t k = 0; k < natoms; k++) copy[k].deleted = 0; /* a property of the weave, not sent */
    int rc = wv_apply(h->doc, copy, natoms);
    if (rc) {
        wv_free(&h->alloc, copy, natoms * sizeof *copy);
        h->stats.rejected++;
        return rc;
    }
    h->log[h->len++] = (entry){site, copy, natoms};
    h->stats.accepted++;
    return WV_OK;
}

uint64_t wv_host_length(const wv_host *h) { return h ? h->len : 0; }

int wv_host_entry(const wv_host *h, uint64_t i, uint64_t *site, const wv_atom_info **atoms,
                  size_t *natoms) {
    if (!h || i >= h->len) return WV_E_RANGE;
    if (site) *site = h->log[i].site;
    if (atoms) *atoms = h->log[i].atoms;
    if (natoms) *natoms = h->log[i].n;
    return WV_OK;
}

void wv_host_stats_get(const wv_host *h, wv_host_stats *out) {
    if (!out) return;
    if (h) *out = h->stats;
    else memset(out, 0, sizeof *out);
}

const wv_doc *wv_host_doc(const wv_host *h) { return h ? h->doc : NULL; }

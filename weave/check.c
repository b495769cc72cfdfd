/* check.c — wv_check: verifies every invariant of a replica.
 *
 * One walk over the weave keeps the path from the root to the current atom
 * on a stack. In a pre-order walk the cause of each atom is on that path, so
 * popping until the cause is on top checks at once that ancestors come first
 * and that causal blocks are contiguous (inv. 1, 3); the top's previous child
 * gives child order (inv. 4); clocks increase down each edge (inv. 2). A sort
 * of all ids then finds duplicates and recomputes the weft (inv. 5). The
 * chunk counts and the Fenwick tree are checked against a recount.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "internal.h"

typedef struct frame {
    wv_atom atom;
    wv_atom last_child; /* valid when has_child */
    int has_child, has_delete;
} frame;

typedef struct report {
    char *msg;
    size_t cap;
} report;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int fail(report *r, const char *fmt, ...) {
    if (r->cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->msg, r->cap, fmt, ap);
        va_end(ap);
    }
    return WV_E_CORRUPT;
}

static int id_cmp(const void *x, const void *y) {
    const uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

/* Closes a frame: its deleted bit must say whether a delete targets it. */
static int close_frame(report *r, const frame *f, size_t i) {
    if (wv_atom_deleted(f->atom) != f->has_delete)
        return fail(r, "atom %u@%u (closed at index %zu): deleted bit is %d but %s",
                    f->atom.clock, f->atom.site, i, wv_atom_deleted(f->atom),
                    f->has_delete ? "a delete targets it" : "no delete targets it");
    return WV_OK;
}

static int check_chunks(const wv_doc *d, report *r) {
    if (d->nchunks == 0 || d->nchunks > d->capchunks) return fail(r, "no chunks");
    size_t atoms = 0, vis = 0;
    for (size_t c = 0; c < d->nchunks; c++) {
        const wv_chunk *ch = &d->chunks[c];
        if (ch->len == 0 || ch->len > ch->cap || ch->cap > WV_CHUNK_CAP)
            return fail(r, "chunk %zu holds %u atoms in %u slots", c, ch->len, ch->cap);
        uint32_t v = 0;
        for (uint32_t k = 0; k < ch->len; k++) v += (uint32_t)wv_atom_visible(ch->a[k]);
        if (v != ch->vis) return fail(r, "chunk %zu counts %u visible atoms, holds %u", c, ch->vis, v);
        if (_wv_visible_before(d, c) != vis)
            return fail(r, "Fenwick tree: %zu visible before chunk %zu, expected %zu",
                        _wv_visible_before(d, c), c, vis);
        atoms += ch->len, vis += v;
    }
    if (_wv_visible_before(d, d->nchunks) != vis)
        return fail(r, "Fenwick tree: %zu visible in all, expected %zu",
                    _wv_visible_before(d, d->nchunks), vis);
    if (atoms != d->natoms || vis != d->nvis)
        return fail(r, "totals: %zu atoms / %zu visible recorded, %zu / %zu held", d->natoms,
                    d->nvis, atoms, vis);
    return WV_OK;
}

static int check_sites(const wv_doc *d, report *r) {
    const wv_sites *s = &d->sites;
    if (s->n == 0 || s->ids[0] != 0) return fail(r, "site table lacks the root site");
    for (uint32_t i = 1; i < s->n; i++)
        if (s->ids[i] <= s->ids[i - 1]) return fail(r, "site table not strictly sorted at %u", i);
    if (d->self == 0 || d->self >= s->n) return fail(r, "own site index %u invalid", d->self);
    for (uint32_t i = 0; i < s->n; i++)
        if (s->weft[i] > d->clock)
            return fail(r, "clock %u below weft entry %u of site %llu", d->clock, s->weft[i],
                        (unsigned long long)s->ids[i]);
    return WV_OK;
}

static int check_tree(const wv_doc *d, report *r, frame *stack, uint64_t *ids) {
    size_t depth = 0, i = 0;
    for (size_t c = 0; c < d->nchunks; c++) {
        const wv_chunk *ch = &d->chunks[c];
        for (uint32_t k = 0; k < ch->len; k++, i++) {
            wv_atom a = ch->a[k];
            unsigned kind = wv_atom_kind(a);
            if (a.site >= d->sites.n || a.csite >= d->sites.n)
                return fail(r, "atom %zu: site index out of the table", i);
            ids[i] = (uint64_t)a.site << 32 | a.clock;
            if (i == 0) {
                if (kind != WV_KIND_ROOT || a.clock || a.site || a.cclock || a.csite || a.tag != wv_tag(WV_KIND_ROOT, 0))
                    return fail(r, "atom 0 is not the root");
                stack[depth++] = (frame){a, {0}, 0, 0};
                continue;
            }
            if (kind == WV_KIND_ROOT || a.clock == 0 || a.site == 0)
                return fail(r, "atom %zu: a second root (kind, clock 0 or the root's site)", i);
            uint32_t v = wv_atom_value(a);
            if (kind == WV_KIND_CHAR ? v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)
                                     : kind != WV_KIND_DELETE || v != 0)
                return fail(r, "atom %zu: kind %u with value %u", i, kind, v);
            if (a.clock <= a.cclock)
                return fail(r, "atom %zu (%u@%u): clock not above its cause's %u", i, a.clock,
                            a.site, a.cclock);
            while (depth && !wv_atom_caused_by(a, stack[depth - 1].atom)) {
                int rc = close_frame(r, &stack[depth - 1], i);
                if (rc) return rc;
                depth--;
            }
            if (!depth)
                return fail(r, "atom %zu (%u@%u): cause %u@%u is not an ancestor on the path "
                            "(missing, later in the weave, or its causal block is split)",
                            i, a.clock, a.site, a.cclock, a.csite);
            frame *f = &stack[depth - 1];
            unsigned pk = wv_atom_kind(f->atom);
            if (pk == WV_KIND_DELETE) return fail(r, "atom %zu: caused by a delete", i);
            if (kind == WV_KIND_DELETE && pk == WV_KIND_ROOT)
                return fail(r, "atom %zu: deletes the root", i);
            if (f->has_child && wv_sibling_cmp(f->last_child, a) >= 0)
                return fail(r, "atom %zu (%u@%u): out of child order after sibling %u@%u", i,
                            a.clock, a.site, f->last_child.clock, f->last_child.site);
            f->has_child = 1, f->last_child = a;
            if (kind == WV_KIND_DELETE) f->has_delete = 1;
            stack[depth++] = (frame){a, {0}, 0, 0};
        }
    }
    while (depth) {
        int rc = close_frame(r, &stack[--depth], i);
        if (rc) return rc;
    }
    return WV_OK;
}

static int check_ids(const wv_doc *d, report *r, uint64_t *ids) {
    qsort(ids, d->natoms, sizeof *ids, id_cmp);
    for (size_t i = 1; i < d->natoms; i++)
        if (ids[i] == ids[i - 1])
            return fail(r, "id %u@%u appears twice", (uint32_t)ids[i], (uint32_t)(ids[i] >> 32));
    for (size_t i = 0, s = 0; s < d->sites.n; s++) {
        uint32_t top = 0;
        while (i < d->natoms && ids[i] >> 32 == s) top = (uint32_t)ids[i++];
        if (top != d->sites.weft[s])
            return fail(r, "weft says site %llu reaches clock %u, atoms reach %u",
                        (unsigned long long)d->sites.ids[s], d->sites.weft[s], top);
    }
    return WV_OK;
}

int wv_check(const wv_doc *d, char *msg, size_t cap) {
    report r = {msg, msg ? cap : 0};
    if (r.cap) msg[0] = 0;
    if (!d) return fail(&r, "NULL doc");
    int rc = check_chunks(d, &r);
    if (!rc) rc = check_sites(d, &r);
    if (rc) return rc;
    frame *stack = wv_malloc(&d->alloc, wv_mul(d->natoms, sizeof *stack));
    uint64_t *ids = wv_malloc(&d->alloc, wv_mul(d->natoms, sizeof *ids));
    if (!stack || !ids) rc = WV_E_NOMEM;
    if (!rc) rc = check_tree(d, &r, stack, ids);
    if (!rc) rc = check_ids(d, &r, ids);
    wv_free(&d->alloc, stack, d->natoms * sizeof *stack);
    wv_free(&d->alloc, ids, d->natoms * sizeof *ids);
    return rc;
}

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
#include <string.h>
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
__attribute__((format(printf, 3, 4)))
#endif
static int fail_code(report *r, int code, const char *fmt, ...) {
    if (r->cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->msg, r->cap, fmt, ap);
        va_end(ap);
    }
    return code;
}
#define fail(r, ...) fail_code(r, WV_E_CORRUPT, __VA_ARGS__)

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
        const wv_slab *s = ch->slab && ch->slab <= d->nslabs ? &d->slabs[ch->slab - 1] : NULL;
        if (ch->slab && (!s || !s->a || ch->cap != WV_CHUNK_CAP || ch->a < s->a ||
                         (size_t)(ch->a - s->a) > s->slots - ch->cap))
            return fail(r, "chunk %zu is marked in slab %u but does not lie in it", c, ch->slab);
        uint32_t v = 0;
        for (uint32_t k = 0; k < ch->len; k++) v += (uint32_t)wv_atom_visible(ch->a[k]);
        if (v != ch->vis) return fail(r, "chunk %zu counts %u visible atoms, holds %u", c, ch->vis, v);
        if (_wv_visible_before(d, c) != vis)
            return fail(r, "Fenwick tree: %zu visible before chunk %zu, expected %zu",
                        _wv_visible_before(d, c), c, vis);
        atoms += ch->len, vis += v;
    }
    for (size_t j = 0; j < d->nslabs; j++) { /* O(slabs × chunks): a few slabs */
        size_t live = 0;
        for (size_t c = 0; c < d->nchunks; c++) live += d->chunks[c].slab == j + 1;
        if (live != d->slabs[j].live || (!live && d->slabs[j].a))
            return fail(r, "slab %zu counts %zu chunks in use, %zu are", j + 1, d->slabs[j].live, live);
    }
    /* the loop checked the leaves before the last; descents read its entry too */
    size_t nl = WV_FEN_LEAVES(d->nchunks);
    if (_wv_visible_leaves(d, nl) != vis)
        return fail(r, "Fenwick tree: %zu visible in all, expected %zu", _wv_visible_leaves(d, nl), vis);
    if (atoms != d->natoms || vis != d->nvis)
        return fail(r, "totals: %zu atoms / %zu visible recorded, %zu / %zu held", d->natoms,
                    d->nvis, atoms, vis);
    if (d->nvis_struct != _wv_struct_visible(d))
        return fail(r, "%zu visible chars recorded in structures, %zu held", d->nvis_struct,
                    _wv_struct_visible(d));
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

/* The set of ids held, built once: a bitmap over each site's clocks
 * 1..weft[site] when those ranges are dense (at most 64 bits an atom: the
 * usual case, O(n)), else the sorted ids (O(n log n)). */
typedef struct idset {
    uint64_t *w;       /* bitmap words, or sorted ids */
    size_t nw;         /* words allocated */
    size_t *base;      /* per site: first bit (bitmap mode) */
    size_t nbase;
    int bitmap;
} idset;

static int idset_has(const idset *s, const wv_doc *d, uint32_t site, uint32_t clock) {
    if (s->bitmap) {
        if (clock == 0 || clock > d->sites.weft[site]) return 0;
        size_t bit = s->base[site] + clock - 1;
        return (int)(s->w[bit / 64] >> (bit % 64) & 1);
    }
    uint64_t key = (uint64_t)site << 32 | clock;
    return bsearch(&key, s->w, d->natoms, sizeof *s->w, id_cmp) != NULL;
}

static int check_tree(const wv_doc *d, report *r, frame *stack, const idset *ids) {
    size_t depth = 0, i = 0;
    for (size_t c = 0; c < d->nchunks; c++) {
        const wv_chunk *ch = &d->chunks[c];
        for (uint32_t k = 0; k < ch->len; k++, i++) {
            wv_atom a = ch->a[k];
            unsigned kind = wv_atom_kind(a);
            if (i == 0) {
                if (kind != WV_KIND_ROOT || a.clock || a.site || a.cclock || a.csite || a.tag != wv_tag(WV_KIND_ROOT, 0))
                    return fail(r, "atom 0 is not the root");
                stack[depth++] = (frame){a, {0}, 0, 0};
                continue;
            }
            if (kind == WV_KIND_ROOT || a.clock == 0 || a.site == 0)
                return fail_code(r, WV_E_ATOM, "atom %zu: a second root (kind, clock 0 or the root's site)", i);
            uint32_t v = wv_atom_value(a);
            if (!wv_kind_value_ok(kind, v))
                return fail_code(r, WV_E_ATOM, "atom %zu: kind %u with value %u", i, kind, v);
            if (a.clock <= a.cclock)
                return fail_code(r, WV_E_CLOCK, "atom %zu (%u@%u): clock not above its cause's %u", i,
                                 a.clock, a.site, a.cclock);
            while (depth && !wv_atom_caused_by(a, stack[depth - 1].atom)) {
                int rc = close_frame(r, &stack[depth - 1], i);
                if (rc) return rc;
                depth--;
            }
            if (!depth) {
                if (!idset_has(ids, d, a.csite, a.cclock))
                    return fail_code(r, WV_E_CAUSE, "atom %zu (%u@%u): cause %u@%u is missing", i,
                                     a.clock, a.site, a.cclock, a.csite);
                return fail(r, "atom %zu (%u@%u): cause %u@%u is not an ancestor on the path "
                            "(later in the weave, or its causal block is split)",
                            i, a.clock, a.site, a.cclock, a.csite);
            }
            frame *f = &stack[depth - 1];
            unsigned pk = wv_atom_kind(f->atom);
            if (!wv_kind_may_cause(pk, kind))
                return fail_code(r, WV_E_ATOM, "atom %zu: kind %u under an atom of kind %u", i, kind, pk);
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

/* Builds the id set; duplicates and the weft are checked here. */
static int check_ids(const wv_doc *d, report *r, idset *set) {
    size_t bits = 0, i = 0;
    for (uint32_t s = 0; s < d->sites.n; s++) bits += d->sites.weft[s];
    set->bitmap = bits / 64 <= d->natoms;
    set->nw = set->bitmap ? bits / 64 + 1 : d->natoms;
    set->nbase = set->bitmap ? d->sites.n : 0;
    set->w = wv_malloc(&d->alloc, wv_mul(set->nw, sizeof *set->w));
    set->base = set->nbase ? wv_malloc(&d->alloc, wv_mul(set->nbase, sizeof *set->base)) : NULL;
    if (!set->w || (set->nbase && !set->base)) return WV_E_NOMEM;
    if (set->bitmap) {
        memset(set->w, 0, set->nw * sizeof *set->w);
        for (uint32_t s = 0, b = 0; s < d->sites.n; b += d->sites.weft[s], s++) set->base[s] = b;
    }
    for (size_t c = 0; c < d->nchunks; c++)
        for (uint32_t k = 0; k < d->chunks[c].len; k++, i++) {
            wv_atom a = d->chunks[c].a[k];
            if (a.site >= d->sites.n || a.csite >= d->sites.n)
                return fail(r, "atom %zu: site index out of the table", i);
            if (!set->bitmap) {
                set->w[i] = (uint64_t)a.site << 32 | a.clock;
                continue;
            }
            if (a.clock > d->sites.weft[a.site])
                return fail(r, "weft says site %llu reaches clock %u, atom %zu has clock %u",
                            (unsigned long long)d->sites.ids[a.site], d->sites.weft[a.site], i, a.clock);
            if (a.clock == 0) continue; /* the root; a second one is caught in the tree walk */
            size_t bit = set->base[a.site] + a.clock - 1;
            if (set->w[bit / 64] >> (bit % 64) & 1)
                return fail_code(r, WV_E_DUPLICATE, "id %u@%u appears twice", a.clock, a.site);
            set->w[bit / 64] |= (uint64_t)1 << (bit % 64);
        }
    if (set->bitmap) {
        for (uint32_t s = 0; s < d->sites.n; s++)
            if (d->sites.weft[s] && !idset_has(set, d, s, d->sites.weft[s]))
                return fail(r, "weft says site %llu reaches clock %u, its atoms do not",
                            (unsigned long long)d->sites.ids[s], d->sites.weft[s]);
        return WV_OK;
    }
    qsort(set->w, d->natoms, sizeof *set->w, id_cmp);
    for (i = 1; i < d->natoms; i++)
        if (set->w[i] == set->w[i - 1])
            return fail_code(r, WV_E_DUPLICATE, "id %u@%u appears twice", (uint32_t)set->w[i],
                             (uint32_t)(set->w[i] >> 32));
    i = 0;
    for (size_t s = 0; s < d->sites.n; s++) {
        uint32_t top = 0;
        while (i < d->natoms && set->w[i] >> 32 == s) top = (uint32_t)set->w[i++];
        if (top != d->sites.weft[s])
            return fail(r, "weft says site %llu reaches clock %u, atoms reach %u",
                        (unsigned long long)d->sites.ids[s], d->sites.weft[s], top);
    }
    return WV_OK;
}

int _wv_validate(const wv_doc *d, char *msg, size_t cap) {
    report r = {msg, msg ? cap : 0};
    if (r.cap) msg[0] = 0;
    if (!d) return fail(&r, "NULL doc");
    int rc = check_chunks(d, &r);
    if (!rc) rc = check_sites(d, &r);
    if (rc) return rc;
    frame *stack = wv_malloc(&d->alloc, wv_mul(d->natoms, sizeof *stack));
    idset ids = {0};
    rc = stack ? check_ids(d, &r, &ids) : WV_E_NOMEM;
    if (!rc) rc = check_tree(d, &r, stack, &ids);
    wv_free(&d->alloc, stack, d->natoms * sizeof *stack);
    wv_free(&d->alloc, ids.w, ids.nw * sizeof *ids.w);
    wv_free(&d->alloc, ids.base, ids.nbase * sizeof *ids.base);
    return rc;
}

int wv_check(const wv_doc *d, char *msg, size_t cap) {
    int rc = _wv_validate(d, msg, cap);
    return rc == WV_OK || rc == WV_E_NOMEM ? rc : WV_E_CORRUPT;
}

/* merge.c — linear weave merge (DESIGN.md §1).
 *
 * Both weaves are pre-order walks of causal trees whose union is again a
 * tree; the merged weave is the union's pre-order walk. One pass over both,
 * O(|A| + |B|), with cursors a (in A) and b (in B) that always stand at the
 * next atom each side has not yet emitted:
 *
 *   same id                   emit once (deleted if either side deleted it)
 *   a not in B, b in A        a comes first: b stands later in A
 *   a in B, b not in A        b first, symmetrically
 *   neither in the other      concurrent. Both causes lie on the root path of
 *                             the last atom emitted, where deeper means a
 *                             higher clock: the deeper cause goes first (its
 *                             subtree is still open); under one cause, child
 *                             order decides
 *   both in the other         impossible for replicas of one document:
 *                             WV_E_CORRUPT
 *
 * "In the other" is decided from the other side's weft before any atom is
 * compared: comparing atoms alone duplicates atoms once containers and chars
 * meet under one parent. An atom one side lacks is emitted with its whole
 * causal block (found by the cause-clock scan), which the other side cannot
 * hold any part of.
 */
#include <string.h>
#include "internal.h"

#ifdef WV_PLANT_BUG_NO_WEFT
#define IN_WEFT(w, x) 0
#else
#define IN_WEFT(w, x) ((x).clock <= (w)[(x).site])
#endif

typedef struct side {
    const wv_doc *d;
    const uint16_t *map; /* local site index -> union index */
    const uint32_t *other_weft;
    wv_pos p;
} side;

static inline int side_done(const side *s) { return s->p.c >= s->d->nchunks; }

/* Prefetches the chunk after the cursor's, as the cursor enters a chunk:
 * chunks lie apart, and the walk is bound by memory once the weaves outgrow
 * the caches. */
static inline void side_ahead(const side *s) { _wv_prefetch_next(s->d->chunks, s->p.c, s->d->nchunks); }

static inline wv_atom side_atom(const side *s) {
    wv_atom a = *_wv_at(s->d, s->p);
    a.site = s->map[a.site];
    a.csite = s->map[a.csite];
    return a;
}

/* Emits the causal block at s's cursor, none of which the other side holds. */
static int emit_block(wv_build *b, side *s) {
    wv_pos end = _wv_block_end(s->d, s->p);
    for (; s->p.c != end.c || s->p.k != end.k; s->p = _wv_next(s->d, s->p)) {
        if (!s->p.k) side_ahead(s);
        wv_atom a = side_atom(s);
        if (IN_WEFT(s->other_weft, a)) return WV_E_CORRUPT;
        _wv_build_push(b, a);
    }
    return b->err;
}

/* Emits the run both cursors start, atom for atom the same id, cause and
 * value (deleted if either side deleted it), as far as their chunks go;
 * returns how many. 0 when the first pair differs past its id (corrupt) or
 * the builder failed (b->err). */
static uint32_t emit_common(wv_build *b, side *A, side *B) {
    const wv_chunk *ca = &A->d->chunks[A->p.c], *cb = &B->d->chunks[B->p.c];
    const uint16_t *ma = A->map, *mb = B->map;
    uint32_t ka = A->p.k, kb = B->p.k, left = ca->len - ka < cb->len - kb ? ca->len - ka : cb->len - kb;
    uint32_t done = 0;
    while (left) {
        uint32_t room, j = 0, vis = 0;
        wv_atom *out = _wv_build_slots(b, &room);
        if (!out) break;
        uint32_t m = left < room ? left : room;
        for (; j < m; j++) {
            wv_atom a = ca->a[ka + j], x = cb->a[kb + j];
            a.site = ma[a.site], a.csite = ma[a.csite];
            if (a.clock != x.clock || a.cclock != x.cclock || a.site != mb[x.site] ||
                a.csite != mb[x.csite] || ((a.tag ^ x.tag) & ~WV_DELETED_BIT))
                break;
            a.tag |= x.tag & WV_DELETED_BIT;
            out[j] = a;
            vis += (uint32_t)wv_atom_visible(a);
        }
        _wv_build_wrote(b, j, vis);
        ka += j, kb += j, left -= j, done += j;
        if (j < m) break;
    }
    A->p.k = ka, B->p.k = kb;
    if (ka == ca->len) A->p.c++, A->p.k = 0, side_ahead(A);
    if (kb == cb->len) B->p.c++, B->p.k = 0, side_ahead(B);
    return done;
}

/* Does a (from A) come before b (from B), both new to the other side? */
static int a_first(wv_atom a, wv_atom b, int *err) {
    if (a.cclock != b.cclock) return a.cclock > b.cclock;
    if (a.csite != b.csite) *err = WV_E_CORRUPT; /* two causes of one depth */
    return wv_sibling_cmp(a, b) < 0;
}

static int merge_into(wv_build *b, side *A, side *B) {
    int rc = WV_OK;
    side_ahead(A), side_ahead(B); /* then again as each enters a chunk */
    while (!rc && !side_done(A) && !side_done(B)) {
        wv_atom a = side_atom(A), x = side_atom(B);
        if (wv_atom_same_id(a, x)) { /* the shared history, in runs */
            if (!emit_common(b, A, B) && !b->err) return WV_E_CORRUPT;
            rc = b->err; /* a run cut short by memory stops here, not at the next pair */
            continue;
        }
        int a_in_b = IN_WEFT(A->other_weft, a), x_in_a = IN_WEFT(B->other_weft, x);
        if (a_in_b && x_in_a) return WV_E_CORRUPT;
        int take_a = !a_in_b && (x_in_a || a_first(a, x, &rc));
        if (!rc) rc = emit_block(b, take_a ? A : B);
    }
    while (!rc && !side_done(A)) rc = emit_block(b, A);
    while (!rc && !side_done(B)) rc = emit_block(b, B);
    return rc;
}

int wv_merge(wv_doc *dst, const wv_doc *src) {
    if (!dst || !src) return WV_E_ARG;
    const wv_alloc *al = &dst->alloc;
    uint32_t top = _wv_sites_max_clock(&src->sites);
    uint32_t clock = (dst->clock > top ? dst->clock : top);
    if (clock == UINT32_MAX || src->natoms > UINT32_MAX - dst->natoms) return WV_E_LIMIT;
    clock++;

    size_t na = dst->sites.n, nb = src->sites.n, nu_max = na + nb;
    uint16_t *map = wv_malloc(al, wv_mul(nu_max, sizeof *map));
    uint32_t *weft = wv_malloc(al, wv_mul(2 * nu_max, sizeof *weft));
    wv_sites u = {0};
    int rc = map && weft ? _wv_sites_union(&u, &dst->sites, &src->sites, map, map + na, al)
                         : WV_E_NOMEM;
    wv_build b;
    _wv_build_init(&b, al, NULL, 0);
    if (!rc) _wv_build_expect(&b, dst->natoms > src->natoms ? dst->natoms : src->natoms); /* the union's least */
    if (!rc) {
        /* Each side's weft in union indexes, 0 where a site is unknown. */
        uint32_t *wa = weft, *wb = weft + u.n;
        memset(weft, 0, 2 * u.n * sizeof *weft);
        for (size_t i = 0; i < na; i++) wa[map[i]] = dst->sites.weft[i];
        for (size_t i = 0; i < nb; i++) wb[map[na + i]] = src->sites.weft[i];
        side A = {dst, map, wb, {0, 0}}, B = {src, map + na, wa, {0, 0}};
        rc = merge_into(&b, &A, &B);
    }
    rc = _wv_replace_weave(dst, rc, &b, &u, map, clock);
    wv_free(al, map, nu_max * sizeof *map);
    wv_free(al, weft, 2 * nu_max * sizeof *weft);
    return rc;
}

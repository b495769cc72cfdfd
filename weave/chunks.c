/* chunks.c — the weave's storage: a sequence of fixed-capacity chunks with a
 * Fenwick tree of visible counts, and the builder through which every edit
 * and merge writes new chunks (see internal.h for the invariants). */
#include <string.h>
#include "internal.h"

/* ---- Fenwick tree over leaves of WV_FEN_LEAF chunks ------------------------ */

/* Visible atoms of the first b leaves, from the tree alone. */
static size_t fen_prefix(const wv_doc *d, size_t b) {
    size_t s = 0;
    for (size_t i = b; i > 0; i -= i & -i) s += d->fen[i];
    return s;
}

/* Rebuilds the tree for chunks from c's leaf on, entries covering only
 * earlier leaves kept (nothing pending: commits flush first). */
static void fen_rebuild(wv_doc *d, size_t c) {
    /* Entry i holds the visible atoms of leaves (i - lowbit(i), i] (1-based):
     * P(i) - P(i - lowbit(i)), with P the prefix sums over leaves. Entries up
     * to b0, chunk c's leaf, cover only chunks before c and stay. Entries
     * from b0 + 1 on first take P(i) (at most natoms, so it fits), then, from
     * the top down, become their difference: P(q) for q = i - lowbit(i) is
     * still in entry q when q > b0, is P(b0) for q == b0, and is a query of
     * the kept entries below that. O(n - c) additions, O(n / WV_FEN_LEAF)
     * entries. */
    size_t n = d->nchunks, nl = WV_FEN_LEAVES(n), b0 = c / WV_FEN_LEAF, j = b0 * WV_FEN_LEAF;
    uint32_t *f = d->fen, pb = (uint32_t)fen_prefix(d, b0), p = pb;
    f[0] = 0;
    for (size_t i = b0 + 1; i <= nl; i++) {
        for (size_t e = i * WV_FEN_LEAF < n ? i * WV_FEN_LEAF : n; j < e; j++) p += d->chunks[j].vis;
        f[i] = p;
    }
    for (size_t i = nl; i > b0; i--) {
        size_t q = i - (i & -i);
        f[i] -= q > b0 ? f[q] : q == b0 ? pb : (uint32_t)fen_prefix(d, q);
    }
}

/* Adds fen_pending to the entries covering leaf fen_leaf. */
static void fen_flush(wv_doc *d) {
    for (size_t i = d->fen_leaf + 1, nl = WV_FEN_LEAVES(d->nchunks); d->fen_pending && i <= nl; i += i & -i)
        d->fen[i] = (uint32_t)((int64_t)d->fen[i] + d->fen_pending);
    d->fen_pending = 0;
}

void _wv_fen_add(wv_doc *d, size_t c, int32_t delta) {
    d->chunks[c].vis = (uint32_t)((int64_t)d->chunks[c].vis + delta);
    d->nvis = (size_t)((int64_t)d->nvis + delta);
    if (d->fen_leaf != c / WV_FEN_LEAF) fen_flush(d);
    d->fen_leaf = c / WV_FEN_LEAF, d->fen_pending += delta;
}

/* Entry i's count, with the pending change when it covers that leaf. */
static inline size_t fen_at(const wv_doc *d, size_t i) {
    return (size_t)((int64_t)d->fen[i] +
                    (i - (i & -i) <= d->fen_leaf && d->fen_leaf < i ? d->fen_pending : 0));
}

size_t _wv_visible_leaves(const wv_doc *d, size_t b) {
    return (size_t)((int64_t)fen_prefix(d, b) + (d->fen_leaf < b ? d->fen_pending : 0));
}

size_t _wv_visible_before(const wv_doc *d, size_t c) {
    size_t b = c / WV_FEN_LEAF, s = _wv_visible_leaves(d, b);
    for (size_t j = b * WV_FEN_LEAF; j < c; j++) s += d->chunks[j].vis;
    return s;
}

wv_pos _wv_locate_search(const wv_doc *d, size_t v, size_t *vb, uint32_t *vk) {
    size_t c = 0, step = 1, v0 = v;
    int hinted = d->hint_version == d->version;
    if (hinted && v >= d->hint_vb && v - d->hint_vb < d->chunks[d->hint.c].vis) {
        c = d->hint.c, v -= d->hint_vb; /* in the hinted chunk: no tree descent */
    } else {
        size_t nl = WV_FEN_LEAVES(d->nchunks), b = 0;
        while (step * 2 <= nl) step *= 2;
        for (; step; step /= 2) /* largest leaf b with visible_before(its first chunk) <= v */
            if (b + step <= nl && fen_at(d, b + step) <= v) b += step, v -= fen_at(d, b);
        for (c = b * WV_FEN_LEAF; v >= d->chunks[c].vis; c++) v -= d->chunks[c].vis;
        hinted = hinted && d->hint.c == c;
    }
    *vb = v0 - v;
    /* the chunk's visible atom number v: scan from the hint or the nearer
     * end, with cnt = visible atoms before slot k */
    const wv_chunk *ch = &d->chunks[c];
    const wv_atom *a = ch->a;
    uint32_t k = hinted ? d->hint.k : 0, cnt = hinted ? d->hint_vk : 0;
    if (!hinted && v >= ch->vis / 2) k = ch->len, cnt = ch->vis; /* nearer the end */
    if (v >= cnt) {
        for (;; k++)
            if (wv_atom_visible(a[k]) && cnt++ == v) break;
    } else {
        do k--;
        while (!wv_atom_visible(a[k]) || --cnt != v);
    }
    *vk = (uint32_t)v;
    return (wv_pos){c, k};
}

wv_pos _wv_locate_visible(const wv_doc *d, size_t v) {
    size_t vb;
    uint32_t vk;
    return _wv_locate_visible_at(d, v, &vb, &vk);
}

wv_pos _wv_block_end(const wv_doc *d, wv_pos p) {
    uint32_t clock = _wv_at(d, p)->clock;
    for (p = _wv_next(d, p); p.c < d->nchunks; p.c++, p.k = 0) {
        const wv_chunk *ch = &d->chunks[p.c];
        for (; p.k < ch->len; p.k++)
            if (ch->a[p.k].cclock < clock) return p;
    }
    return p;
}

size_t _wv_visible_before_pos(const wv_doc *d, wv_pos p) {
    size_t v = _wv_visible_before(d, p.c);
    if (p.c < d->nchunks)
        for (uint32_t k = 0; k < p.k; k++) v += (size_t)wv_atom_visible(d->chunks[p.c].a[k]);
    return v;
}

size_t _wv_struct_visible(const wv_doc *d) {
    wv_pos p = _wv_next(d, (wv_pos){0, 0});
    while (p.c < d->nchunks && wv_atom_kind(*_wv_at(d, p)) == WV_KIND_ENTRY) p = _wv_block_end(d, p);
    return _wv_visible_before_pos(d, p);
}

/* Frees chunk ch's slots: its allocation, or its part of a slab (the slab
 * itself with the last of them). */
static void chunk_release(const wv_alloc *al, wv_slab *slabs, const wv_chunk *ch) {
    wv_slab *s = ch->slab ? &slabs[ch->slab - 1] : NULL;
    if (!s) wv_free(al, ch->a, ch->cap * sizeof(wv_atom));
    else if (--s->live == 0) wv_free(al, s->a, s->slots * sizeof(wv_atom)), s->a = NULL;
}

/* Frees slabs[0..n) and what is left of each. */
static void slabs_free(const wv_alloc *al, wv_slab *slabs, size_t n) {
    for (size_t j = 0; j < n; j++) wv_free(al, slabs[j].a, slabs[j].slots * sizeof(wv_atom));
    wv_free(al, slabs, n * sizeof *slabs);
}

void _wv_chunks_free(wv_doc *d) {
    for (size_t i = 0; i < d->nchunks; i++) chunk_release(&d->alloc, d->slabs, &d->chunks[i]);
    slabs_free(&d->alloc, d->slabs, d->nslabs);
    d->slabs = NULL, d->nslabs = 0;
    wv_free(&d->alloc, d->chunks, d->capchunks * sizeof *d->chunks);
    wv_free(&d->alloc, d->fen, (WV_FEN_LEAVES(d->capchunks) + 1) * sizeof *d->fen);
    d->chunks = NULL, d->fen = NULL;
    d->fen_leaf = 0, d->fen_pending = 0;
    d->nchunks = d->capchunks = d->natoms = d->nvis = 0;
}

static uint32_t round_cap(uint32_t n) {
    n = (n + WV_CHUNK_STEP - 1) / WV_CHUNK_STEP * WV_CHUNK_STEP;
    return n < WV_CHUNK_STEP ? WV_CHUNK_STEP : n > WV_CHUNK_CAP ? WV_CHUNK_CAP : n;
}

int _wv_chunk_grow(wv_doc *d, size_t c, uint32_t extra) {
    wv_chunk *ch = &d->chunks[c];
    uint32_t grow = ch->cap + ch->cap / 2; /* 1.5x: less slack than doubling, as few reallocations as matter */
    uint32_t cap = round_cap(ch->len + extra > grow ? ch->len + extra : grow);
    wv_atom *a = wv_realloc(&d->alloc, ch->a, ch->cap * sizeof *a, cap * sizeof *a);
    if (!a) return WV_E_NOMEM;
    ch->a = a, ch->cap = cap;
    return WV_OK;
}

/* ---- builder ------------------------------------------------------------- */

static int build_grow(wv_build *b, size_t need) {
    if (need <= b->cap) return WV_OK;
    size_t cap = b->cap ? b->cap : 8;
    while (cap < need) cap *= 2;
    wv_chunk *out = wv_realloc(b->alloc, b->out, b->cap * sizeof *out, wv_mul(cap, sizeof *out));
    if (!out) return WV_E_NOMEM;
    b->out = out;
    b->cap = cap;
    return WV_OK;
}

/* A full-size chunk's slots from the build's last slab, or a new one for up
 * to WV_SLAB_MAX of the chunks still expected; NULL when fewer than
 * WV_SLAB_MIN are, or allocating fails (the build then allocates chunks one
 * by one: it expects no more). */
static wv_atom *slab_carve(wv_build *b) {
    wv_slab *s = b->nslabs ? &b->slabs[b->nslabs - 1] : NULL;
    if (!s || s->slots - s->live * WV_CHUNK_CAP < WV_CHUNK_CAP) { /* a build's slab chunks are all in use */
        size_t slots = (b->expect < WV_SLAB_MAX ? b->expect : WV_SLAB_MAX) * WV_CHUNK_CAP;
        wv_atom *a = b->expect >= WV_SLAB_MIN ? wv_malloc(b->alloc, slots * sizeof *a) : NULL;
        wv_slab *t = a ? wv_realloc(b->alloc, b->slabs, b->nslabs * sizeof *t, (b->nslabs + 1) * sizeof *t) : NULL;
        if (!t) {
            wv_free(b->alloc, a, slots * sizeof *a);
            b->expect = 0;
            return NULL;
        }
        b->slabs = t, s = &t[b->nslabs++];
        *s = (wv_slab){a, slots, 0};
    }
    b->expect--;
    return s->a + s->live++ * WV_CHUNK_CAP;
}

static int build_add_chunk(wv_build *b, uint32_t cap) {
    int rc = build_grow(b, b->n + 1);
    if (rc) return rc;
    cap = round_cap(cap);
    wv_atom *a = cap == WV_CHUNK_CAP && b->expect ? slab_carve(b) : NULL;
    uint32_t slab = a ? (uint32_t)b->nslabs : 0;
    if (!a && !(a = wv_malloc(b->alloc, cap * sizeof *a))) return WV_E_NOMEM;
    b->out[b->n++] = (wv_chunk){a, 0, 0, cap, slab};
    b->nalloc = b->n;
    return WV_OK;
}

void _wv_build_expect(wv_build *b, size_t natoms) {
    if (!b->plan) b->expect = natoms / WV_CHUNK_FILL + 1; /* unplanned chunks hold WV_CHUNK_FILL atoms */
}

void _wv_build_init(wv_build *b, const wv_alloc *a, const uint32_t *plan, size_t nplan) {
    (void)nplan;
    memset(b, 0, sizeof *b);
    b->alloc = a;
    b->plan = plan;
}

int _wv_build_reserve(wv_build *b, size_t nplan) {
    int rc = build_grow(b, nplan);
    for (size_t i = 0; !rc && i < nplan; i++) rc = build_add_chunk(b, b->plan[i]);
    if (rc) _wv_build_discard(b);
    b->n = b->plan ? 0 : b->n; /* with a plan, pushes fill the reserved chunks in turn */
    return rc;
}

/* The chunk the next atom goes to, moving on when the current one holds
 * its planned size (or WV_CHUNK_FILL); *room gets the atoms it still takes.
 * NULL after an allocation failure (remembered in b->err). */
static wv_chunk *build_room(wv_build *b, uint32_t *room) {
    if (b->err) return NULL;
    uint32_t size = b->plan && b->n ? b->plan[b->n - 1] : WV_CHUNK_FILL;
    if (b->n == 0 || b->out[b->n - 1].len == size) {
        if (b->plan) b->n++;
        else if ((b->err = build_add_chunk(b, WV_CHUNK_CAP))) return NULL;
        size = b->plan ? b->plan[b->n - 1] : WV_CHUNK_FILL;
        /* the chunk is about to be written through (a load's writes to
         * fresh chunks: 10-15% faster in the benchmark) */
        WV_PREFETCH_ATOMS(b->out[b->n - 1].a, b->out[b->n - 1].cap, 1);
    }
    wv_chunk *c = &b->out[b->n - 1];
    *room = size - c->len;
    return c;
}

wv_atom *_wv_build_slots(wv_build *b, uint32_t *room) {
    wv_chunk *c = build_room(b, room);
    return c ? c->a + c->len : NULL;
}

void _wv_build_wrote(wv_build *b, uint32_t k, uint32_t vis) {
    wv_chunk *c = &b->out[b->n - 1];
    c->len += k, c->vis += vis;
    b->natoms += k, b->nvis += vis;
}

void _wv_build_push(wv_build *b, wv_atom a) {
    uint32_t room;
    wv_chunk *c = build_room(b, &room);
    if (!c) return;
    c->a[c->len++] = a;
    c->vis += (uint32_t)wv_atom_visible(a);
    b->natoms++;
    b->nvis += (size_t)wv_atom_visible(a);
}

void _wv_build_push_n(wv_build *b, const wv_atom *a, size_t n) {
    uint32_t room;
    wv_chunk *c;
    while (n && (c = build_room(b, &room))) {
        uint32_t k = n < room ? (uint32_t)n : room, vis = 0;
        memcpy(c->a + c->len, a, k * sizeof *a);
        for (uint32_t i = 0; i < k; i++) vis += (uint32_t)wv_atom_visible(a[i]);
        c->len += k, c->vis += vis;
        b->natoms += k, b->nvis += vis;
        a += k, n -= k;
    }
}

/* An empty builder again, its buffers freed or handed on. */
static void build_clear(wv_build *b) {
    b->out = NULL, b->slabs = NULL;
    b->n = b->cap = b->nalloc = b->nslabs = b->expect = 0;
}

void _wv_build_discard(wv_build *b) {
    for (size_t i = 0; i < b->nalloc; i++)
        if (!b->out[i].slab) wv_free(b->alloc, b->out[i].a, b->out[i].cap * sizeof(wv_atom));
    wv_free(b->alloc, b->out, b->cap * sizeof *b->out);
    slabs_free(b->alloc, b->slabs, b->nslabs);
    build_clear(b);
}

int _wv_build_commit(wv_doc *d, wv_build *b, size_t c0, size_t old) {
    /* a planned build uses every reserved chunk (Σ plan == atoms pushed) */
    size_t n = d->nchunks - old + b->n, b_n = b->n;
    fen_flush(d); /* while leaf indexes hold */
    if (n > d->capchunks) {
        size_t cap = d->capchunks ? d->capchunks : 8;
        while (cap < n) cap *= 2;
        wv_chunk *ch = wv_malloc(&d->alloc, wv_mul(cap, sizeof *ch));
        uint32_t *fen = wv_malloc(&d->alloc, wv_mul(WV_FEN_LEAVES(cap) + 1, sizeof *fen));
        if (!ch || !fen) {
            wv_free(&d->alloc, ch, cap * sizeof *ch);
            wv_free(&d->alloc, fen, (WV_FEN_LEAVES(cap) + 1) * sizeof *fen);
            return WV_E_NOMEM;
        }
        if (d->nchunks) {
            memcpy(ch, d->chunks, d->nchunks * sizeof *ch);
            memcpy(fen, d->fen, (WV_FEN_LEAVES(d->nchunks) + 1) * sizeof *fen); /* those before c0's leaf stay valid */
        }
        wv_free(&d->alloc, d->chunks, d->capchunks * sizeof *d->chunks);
        wv_free(&d->alloc, d->fen, (WV_FEN_LEAVES(d->capchunks) + 1) * sizeof *d->fen);
        d->chunks = ch, d->fen = fen, d->capchunks = cap;
    }
    /* Nothing fails from here on. */
    size_t old_atoms = 0, old_vis = 0;
    for (size_t i = c0; i < c0 + old; i++) {
        old_atoms += d->chunks[i].len, old_vis += d->chunks[i].vis;
        chunk_release(&d->alloc, d->slabs, &d->chunks[i]);
    }
    if (b->slabs) { /* the whole weave was replaced: the replica's slabs are all free */
        slabs_free(&d->alloc, d->slabs, d->nslabs);
        d->slabs = b->slabs, d->nslabs = b->nslabs;
    }
    memmove(d->chunks + c0 + b->n, d->chunks + c0 + old, (d->nchunks - c0 - old) * sizeof *d->chunks);
    memcpy(d->chunks + c0, b->out, b->n * sizeof *b->out);
    d->nchunks = n;
    d->natoms = d->natoms - old_atoms + b->natoms;
    d->nvis = d->nvis - old_vis + b->nvis;
    wv_free(b->alloc, b->out, b->cap * sizeof *b->out);
    build_clear(b);
    fen_rebuild(d, c0);
    d->version++;
    if (c0 == 0 && n == b_n) d->nvis_struct = _wv_struct_visible(d); /* the whole weave is new */
    return WV_OK;
}

/* Splits total atoms evenly into the fewest chunks. */
static size_t plan_even(uint32_t *plan, size_t total) {
    size_t k = (total + WV_CHUNK_CAP - 1) / WV_CHUNK_CAP;
    for (size_t i = 0; i < k; i++) plan[i] = (uint32_t)(total / k + (i < total % k));
    return k;
}

size_t _wv_plan(uint32_t *plan, size_t total, size_t h1, size_t h2) {
    const size_t min = WV_CHUNK_CAP / 8;
    size_t cut = 0;
    if (h2 >= min && total - h2 >= min) cut = h2;
    else if (h2 == total && h1 >= min) cut = h1;
    size_t n = plan_even(plan, cut);
    return n + plan_even(plan + n, total - cut);
}

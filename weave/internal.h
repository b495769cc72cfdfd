/* internal.h — the replica's representation, shared by the weave/ modules.
 * Internal: included by weave/ modules, tests and fuzz targets only.
 *
 * Map of the types:
 *   wv_doc    one replica: allocator, site table (+ weft), Lamport clock and
 *             the weave, stored as a sequence of chunks
 *   wv_chunk  up to WV_CHUNK_CAP consecutive atoms of the weave, in order
 *   wv_build  writes a run of atoms into fresh chunks; local edits and merges
 *             build their output this way and swap it in only once nothing
 *             can fail any more, so an error leaves the replica untouched
 *
 * The weave is the concatenation chunks[0].a[0..len) ++ chunks[1].a[..) ++ …
 * Invariants (wv_check verifies them all):
 *   chunks[0].a[0] is the root; every chunk has 1 <= len <= cap <= WV_CHUNK_CAP
 *   chunks[i].vis == visible atoms of chunk i;  nvis == Σ vis;  natoms == Σ len
 *   a chunk with slab k > 0 has cap WV_CHUNK_CAP and lies in slabs[k - 1];
 *     slabs[j].live == chunks in slabs[j], and slabs[j].a == NULL when 0
 *   nvis_struct == visible chars before the root's first char child
 *   fen is a Fenwick tree over leaves, runs of WV_FEN_LEAF chunks, counting
 *     their visible atoms, less fen_pending, which the entries covering leaf
 *     fen_leaf have yet to add
 *   sites.weft[i] == highest clock of site i's atoms;  clock >= every weft entry
 */
#ifndef WV_INTERNAL_H
#define WV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "atom.h"
#include "mem.h"
#include "site.h"
#include "weave.h"

/* Most atoms a chunk holds: 4 KiB. A local edit moves or copies at most a
 * few chunks. A chunk's buffer grows by half, in steps of
 * WV_CHUNK_STEP atoms, so a half-full chunk costs half the memory. */
#ifndef WV_CHUNK_CAP
#define WV_CHUNK_CAP 256u
#endif
#define WV_CHUNK_STEP 16u
/* Bulk builds (merge, apply, clone, decode) fill chunks to this many atoms,
 * leaving room so the first edits after a merge or load do not split. */
#define WV_CHUNK_FILL (WV_CHUNK_CAP / 8 * 7)

/* The tree of visible counts has a leaf per WV_FEN_LEAF chunks: a split
 * renumbers the chunks after it, which costs O(chunks) additions and only
 * O(chunks / WV_FEN_LEAF) tree entries; a lookup adds up at most
 * WV_FEN_LEAF - 1 chunk counts past the tree. */
#define WV_FEN_LEAF 32u
#define WV_FEN_LEAVES(nchunks) (((nchunks) + WV_FEN_LEAF - 1) / WV_FEN_LEAF)

typedef struct wv_chunk {
    wv_atom *a;    /* cap slots */
    uint32_t len;  /* atoms used, 1 <= len <= cap */
    uint32_t vis;  /* visible atoms among them */
    uint32_t cap;  /* a multiple of WV_CHUNK_STEP, at most WV_CHUNK_CAP */
    uint32_t slab; /* k > 0: a lies in slab k - 1 (cap WV_CHUNK_CAP, so it
                    * never grows); 0: a is an allocation of its own */
} wv_chunk;

/* One allocation that a bulk build (decode, clone, merge, apply) carves
 * full-size chunks from: a large load touches few blocks (which the default
 * allocator backs with huge pages, weave/alloc.c) instead of one allocation
 * per 4 KiB chunk. Freed with the last chunk in it; edits replace chunks
 * with allocations of their own. */
typedef struct wv_slab {
    wv_atom *a;    /* slots atoms; NULL once freed */
    size_t slots;
    size_t live;   /* chunks in it that are in use */
} wv_slab;
/* A slab holds WV_SLAB_MIN to WV_SLAB_MAX chunks (64 KiB to 8 MiB): small
 * enough that mimalloc keeps a freed one for the next (a huge block goes
 * back to the system and comes back unfaulted), large enough for huge pages. */
#define WV_SLAB_MIN 16u
#define WV_SLAB_MAX 2048u

/* Asks for all cache lines of atoms a[0..n) at once (rw: 1 to write them,
 * 0 to read), for a chunk about to be walked: chunks lie apart, and a
 * hardware prefetcher stops at each new page. A no-op without GCC's
 * builtins. */
#if defined(__GNUC__)
#define WV_PREFETCH_ATOMS(a, n, rw) \
    for (uint32_t wv_pf_ = 0; wv_pf_ < (n); wv_pf_ += 64 / sizeof(wv_atom)) __builtin_prefetch((a) + wv_pf_, (rw))
#else
#define WV_PREFETCH_ATOMS(a, n, rw) ((void)0)
#endif
/* Prefetches chunk c + 1 of ch[0..n), if there is one, to be read: a walk
 * calls it as it enters chunk c. */
static inline void _wv_prefetch_next(const wv_chunk *ch, size_t c, size_t n) {
    if (c + 1 < n) WV_PREFETCH_ATOMS(ch[c + 1].a, ch[c + 1].len, 0);
}

/* A position in the weave: chunk index and slot. */
typedef struct wv_pos {
    size_t c;
    uint32_t k;
} wv_pos;

struct wv_doc {
    wv_alloc alloc;
    wv_sites sites;
    uint16_t self;       /* own site's index in sites */
    uint32_t clock;      /* Lamport clock: the last clock this site used or saw */
    wv_chunk *chunks;
    size_t nchunks, capchunks;
    wv_slab *slabs;      /* nslabs entries, some freed (a NULL) */
    size_t nslabs;
    uint32_t *fen;       /* Fenwick tree, 1-based, WV_FEN_LEAVES(capchunks) + 1 entries */
    /* A change of leaf fen_leaf's visible count that its tree entries have
     * yet to add: typing in one place walks the tree once, not per key.
     * Queries add it; a change in another leaf or a commit adds it. */
    size_t fen_leaf;
    int64_t fen_pending;
    size_t natoms, nvis;
    /* Visible chars inside structures (strs under the root map). The root's
     * entries outrank its chars, so all of them come before the root text,
     * which is the last nvis - nvis_struct visible chars. */
    size_t nvis_struct;
    uint64_t version;    /* bumped by every change of the weave (iterators) */
    /* Where the last local edit left off: chunk hint.c holds hint_vk visible
     * atoms before slot hint.k. Valid while hint_version == version; lets the
     * next lookup near it scan a few atoms instead of the chunk. */
    wv_pos hint;
    uint32_t hint_vk;
    size_t hint_vb;      /* visible atoms before chunk hint.c */
    uint64_t hint_version;
    int level;           /* wv_options.level: wv_encode's zstd level, 0 for the defaults */
};

/* ---- chunks.c ------------------------------------------------------------ */

/* Position of the visible atom with 0-based visible index v < nvis. O(log n)
 * plus up to WV_FEN_LEAF - 1 chunk counts and a scan inside one chunk, short
 * near the last edit (the hint). */
wv_pos _wv_locate_visible(const wv_doc *d, size_t v);
/* The same, with *vb = visible atoms before its chunk, *vk = before it in
 * its chunk (_wv_locate_visible_at below). */
wv_pos _wv_locate_search(const wv_doc *d, size_t v, size_t *vb, uint32_t *vk);
/* Records the hint: chunk p.c, which has vb visible atoms before it, holds
 * vk visible atoms before slot p.k. After a rewrite p.k may count on past
 * the chunk's end, through the chunks after it (vk then counts their
 * visible atoms too). */
static inline void _wv_set_hint(wv_doc *d, wv_pos p, size_t vb, uint32_t vk) {
    for (const wv_chunk *ch = &d->chunks[p.c]; p.k > ch->len; ch = &d->chunks[++p.c])
        p.k -= ch->len, vk -= ch->vis, vb += ch->vis;
    d->hint = p, d->hint_vb = vb, d->hint_vk = vk, d->hint_version = d->version;
}
/* _wv_locate_search, answering at once for the visible atom right before
 * the hint: where typing and backspacing go on. */
static inline wv_pos _wv_locate_visible_at(const wv_doc *d, size_t v, size_t *vb, uint32_t *vk) {
    if (d->hint_version == d->version && v + 1 == d->hint_vb + d->hint_vk && d->hint.k &&
        wv_atom_visible(d->chunks[d->hint.c].a[d->hint.k - 1])) {
        *vb = d->hint_vb, *vk = d->hint_vk - 1;
        return (wv_pos){d->hint.c, d->hint.k - 1};
    }
    return _wv_locate_search(d, v, vb, vk);
}
/* Visible atoms in the first b leaves, as the tree (and fen_pending) says. */
size_t _wv_visible_leaves(const wv_doc *d, size_t b);
/* Visible atoms before chunk c. O(log n + WV_FEN_LEAF). */
size_t _wv_visible_before(const wv_doc *d, size_t c);
/* Adds delta to chunk c's visible count (chunk, tree and total; the tree
 * through fen_pending). */
void _wv_fen_add(wv_doc *d, size_t c, int32_t delta);
/* Next position (may be one past the last chunk: p.c == nchunks). */
static inline wv_pos _wv_next(const wv_doc *d, wv_pos p) {
    if (++p.k == d->chunks[p.c].len) p.c++, p.k = 0;
    return p;
}
static inline wv_atom *_wv_at(const wv_doc *d, wv_pos p) { return &d->chunks[p.c].a[p.k]; }
/* End of the causal block of the atom at p (DESIGN.md §1): the first position
 * after p whose atom's cause clock is below that atom's clock. */
wv_pos _wv_block_end(const wv_doc *d, wv_pos p);
/* Visible atoms before position p. O(log n) plus a scan of p's chunk. */
size_t _wv_visible_before_pos(const wv_doc *d, wv_pos p);
/* What nvis_struct must be: O(size of the structures). */
size_t _wv_struct_visible(const wv_doc *d);
/* Frees all chunks and the chunk table. */
void _wv_chunks_free(wv_doc *d);
/* Makes room for `extra` more atoms in chunk c (len + extra <= WV_CHUNK_CAP),
 * reallocating its buffer (_wv_chunk_grow) only when it lacks the slots.
 * Returns WV_OK, or WV_E_NOMEM with the chunk unchanged. */
int _wv_chunk_grow(wv_doc *d, size_t c, uint32_t extra);
static inline int _wv_chunk_room(wv_doc *d, size_t c, uint32_t extra) {
    return d->chunks[c].len + extra <= d->chunks[c].cap ? WV_OK : _wv_chunk_grow(d, c, extra);
}

/* Output builder. Sizes: when plan is non-NULL, chunk i of the output gets
 * exactly plan[i] atoms (Σ plan == atoms pushed); otherwise chunks fill to
 * WV_CHUNK_FILL. */
typedef struct wv_build {
    const wv_alloc *alloc;
    wv_chunk *out;
    size_t n, cap;       /* chunks in use, table capacity */
    size_t nalloc;       /* chunks whose buffer is allocated (>= n) */
    const uint32_t *plan;
    size_t natoms, nvis;
    /* Visible chars inside structures (strs under the root map). The root's
     * entries outrank its chars, so all of them come before the root text,
     * which is the last nvis - nvis_struct visible chars. */
    size_t nvis_struct;
    size_t expect;       /* chunks _wv_build_expect still expects */
    wv_slab *slabs;      /* the build's, as a replica's */
    size_t nslabs;
    int err;
} wv_build;

void _wv_build_init(wv_build *b, const wv_alloc *a, const uint32_t *plan, size_t nplan);
/* Reserves the output table and (with a plan) every chunk up front, so that
 * pushes cannot fail. Returns WV_OK or WV_E_NOMEM. */
int _wv_build_reserve(wv_build *b, size_t nplan);
/* Tells an unplanned build that it will hold about natoms atoms, at least:
 * that many atoms' chunks then come from slabs (one by one, as without it,
 * when a slab cannot be allocated). Only for builds committed over the
 * whole weave (c0 0, old nchunks): those free every slab of the replica's
 * with its chunks and give it the build's. */
void _wv_build_expect(wv_build *b, size_t natoms);
/* Appends one atom (deleted bit final). Without a plan, allocation failures
 * are remembered in b->err and later pushes do nothing. */
void _wv_build_push(wv_build *b, wv_atom a);
/* Appends n atoms (deleted bits final) with bulk copies. */
void _wv_build_push_n(wv_build *b, const wv_atom *a, size_t n);
/* Direct writes: the next atoms go to the returned slots (*room >= 1 of
 * them, in the chunk being filled); then _wv_build_wrote says how many were
 * written (deleted bits final) and how many of those are visible. NULL after
 * an allocation failure (b->err). */
wv_atom *_wv_build_slots(wv_build *b, uint32_t *room);
void _wv_build_wrote(wv_build *b, uint32_t k, uint32_t vis);
/* Frees whatever was built (after an error). */
void _wv_build_discard(wv_build *b);
/* Replaces the `old` chunks from c0 on with the built chunks (0, nchunks for
 * the whole weave). Returns WV_E_NOMEM, changing nothing, if the chunk table
 * cannot grow; on success the builder is consumed. */
int _wv_build_commit(wv_doc *d, wv_build *b, size_t c0, size_t old);
/* Plans the chunk sizes for `total` atoms, where the atoms a local edit
 * created sit at [h1, h2): cut at h2 when both sides are large enough (typing
 * then appends), put the new atoms in a chunk of their own when they end the
 * run, else split evenly. Writes at most WV_PLAN_MAX(total) sizes. */
size_t _wv_plan(uint32_t *plan, size_t total, size_t h1, size_t h2);
#define WV_PLAN_MAX(total) ((total) / (WV_CHUNK_CAP / 8) + 3)

/* ---- text.c -------------------------------------------------------------- */

/* A run of new atoms to insert before position `at` (canonical: k < len, or
 * {nchunks, 0} for the end). */
typedef struct wv_ins {
    wv_pos at;
    const wv_atom *a;
    uint32_t n;
} wv_ins;

/* Inserts the runs (positions ascending; runs at one position go in the
 * order given) by rewriting the chunks from the first position's to the
 * last's in one planned build: all or nothing. A run of one DELETE atom
 * must sit right after its target, which it marks deleted. Counts and the
 * Fenwick tree follow; the clock, weft and nvis_struct are the caller's. */
int _wv_splice(wv_doc *d, const wv_ins *ins, size_t k);

/* ---- apply.c ------------------------------------------------------------- */

/* Sorts a[0..n) by id (site index, then clock), stably; tmp: room for n. */
void _wv_sort_ids(wv_atom *a, wv_atom *tmp, size_t n);

/* ---- struct.c, json.c --------------------------------------------------- */

/* A member of a container: its holder (ENTRY, ELEM, MARK) and its value. */
typedef struct wv_node {
    wv_pos holder, value;
} wv_node;
typedef struct wv_nodes {
    wv_node *v;
    size_t n, cap;
} wv_nodes;
int _wv_nodes_push(const wv_alloc *al, wv_nodes *v, wv_pos holder, wv_pos value);
void _wv_nodes_free(const wv_alloc *al, wv_nodes *v);

/* Position of the live value with id ref ({0, 0}: the root): WV_OK, or
 * WV_E_NOTFOUND when absent or under a deleted entry or element. O(n). */
int _wv_locate(const wv_doc *d, wv_ref ref, wv_pos *out);
/* The len-byte payload of the owner at p into buf: 0, or -1 when short. */
int _wv_read_payload(const wv_doc *d, wv_pos p, uint32_t len, uint8_t *buf);
/* The key of the ENTRY at p into buf (WV_KEY_MAX bytes): 0, or -1. */
int _wv_entry_key(const wv_doc *d, wv_pos p, uint8_t *buf, uint32_t *len);
/* Appends the live entries of the map (or root) at p, of `key` only
 * unless key is NULL, in weave order: per key, the winner first. */
int _wv_map_entries(const wv_doc *d, wv_pos map, const char *key, wv_nodes *out);
/* Appends the live elements of the list at p, in order. */
int _wv_list_elems(const wv_doc *d, wv_pos list, wv_nodes *out);
/* Appends the live holders of `kind` (ELEM: members, MARK: removals) of
 * the set at p, in weave order, duplicates included. */
int _wv_set_members(const wv_doc *d, wv_pos set, unsigned kind, wv_nodes *out);
int64_t _wv_counter_total(const wv_doc *d, wv_pos counter);
/* Global visible index of the str at p's first char; *len its chars. */
size_t _wv_str_base(const wv_doc *d, wv_pos str, size_t *len);
/* The value at p (a value kind, or the root) as a wv_value. */
int _wv_value_at(const wv_doc *d, wv_pos p, wv_value *out);
/* wv_value_text at a position. */
int _wv_text_at(const wv_doc *d, wv_pos p, char *dst, size_t cap, size_t *len);
/* Distinct keys of a map, distinct members of a set (json.c). */
int _wv_map_count(const wv_doc *d, wv_pos map, size_t *n);
int _wv_set_count(const wv_doc *d, wv_pos set, size_t *n);

/* ---- check.c ------------------------------------------------------------- */

/* wv_check with specific codes: WV_E_CAUSE, WV_E_DUPLICATE, WV_E_CLOCK,
 * WV_E_ATOM for bad atoms, WV_E_CORRUPT for the rest (order, counts). */
int _wv_validate(const wv_doc *d, char *msg, size_t cap);

/* ---- doc.c --------------------------------------------------------------- */

/* WV_OK if n more atoms fit the clock and the atom count, else WV_E_LIMIT. */
static inline int _wv_clock_reserve(const wv_doc *d, size_t n) {
    return n > UINT32_MAX - d->clock || n > UINT32_MAX - d->natoms ? WV_E_LIMIT : WV_OK;
}
/* Ends a rebuild of the whole weave (merge, apply): on rc == WV_OK, commits
 * the built weave, whose site indexes are u's, adopts u as the site table
 * (map: old index -> u index) and sets the clock; on any error, or if the
 * commit fails, discards b and u and leaves d as it was. Returns the result. */
int _wv_replace_weave(wv_doc *d, int rc, wv_build *b, wv_sites *u, const uint16_t *map,
                      uint32_t clock);

#endif /* WV_INTERNAL_H */

/* apply.c — deltas: the atoms past a weft (wv_delta), and integrating atoms
 * made elsewhere (wv_apply) in one linear pass over the weave.
 *
 * wv_apply first validates every atom and sorts the new ones ("fresh") into
 * a forest: each fresh atom hangs under a fresh cause or is a root attached
 * to an atom the replica holds, and every list of siblings is sorted in child
 * order. Then it walks the weave once, writing a new one: at an atom c with
 * attached roots, a frame opens; before each later child y of c the roots
 * that precede y in child order are emitted, each with its whole fresh
 * subtree (pre-order, sorted); when the walk leaves c's causal block (the
 * next atom's cause clock is below c's clock), the remaining roots follow.
 * Frames nest along the path from the root, so the pass is linear in the
 * weave plus the delta. Atoms already held are checked against the walk.
 */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

/* ---- wefts and deltas ------------------------------------------------------ */

size_t wv_doc_weft_all(const wv_doc *d, wv_weft_entry *dst, size_t cap) {
    size_t n = 0;
    for (uint32_t i = 1; d && i < d->sites.n; i++) {
        if (!d->sites.weft[i]) continue;
        if (n < cap) dst[n] = (wv_weft_entry){d->sites.ids[i], d->sites.weft[i]};
        n++;
    }
    return n;
}

static wv_atom_info info_of(const wv_doc *d, wv_atom a) {
    return (wv_atom_info){d->sites.ids[a.site], a.clock, d->sites.ids[a.csite], a.cclock,
                          (wv_kind)wv_atom_kind(a), wv_atom_value(a), wv_atom_deleted(a)};
}

int wv_delta(const wv_doc *d, const wv_weft_entry *since, size_t nsince, wv_atom_info *dst,
             size_t cap, size_t *count) {
    if (!d || !count || (!since && nsince) || (!dst && cap)) return WV_E_ARG;
    uint32_t *th = wv_malloc(&d->alloc, wv_mul(d->sites.n, sizeof *th));
    if (!th) return WV_E_NOMEM;
    memset(th, 0, d->sites.n * sizeof *th);
    for (size_t i = 0; i < nsince; i++) {
        int32_t s = _wv_sites_find(&d->sites, since[i].site);
        if (s >= 0) th[s] = since[i].clock;
    }
    size_t n = 0;
    for (size_t c = 0; c < d->nchunks; c++) {
        const wv_chunk *ch = &d->chunks[c];
        for (uint32_t k = 0; k < ch->len; k++) {
            wv_atom a = ch->a[k];
            if (a.clock <= th[a.site]) continue; /* the root: clock 0 */
            if (n < cap) dst[n] = info_of(d, a);
            n++;
        }
    }
    wv_free(&d->alloc, th, d->sites.n * sizeof *th);
    *count = n;
    return WV_OK;
}

/* ---- wv_apply ---------------------------------------------------------------- */

#define NONE UINT32_MAX

typedef struct group { /* fresh roots attached to one held atom */
    uint32_t csite, cclock;
    uint32_t start, end; /* range in ord */
    int used;
} group;

typedef struct frame {
    wv_atom c;
    uint32_t next, end; /* roots of c not yet emitted: ord[next .. end) */
} frame;

typedef struct apply {
    const wv_alloc *al;
    wv_atom *fresh;        /* new atoms, sorted by id */
    uint32_t nf;
    wv_atom *held;         /* atoms the replica should already hold, sorted by id */
    uint32_t nh, matched;
    uint32_t *parent;      /* fresh index of each fresh atom's cause, or NONE */
    uint32_t *ord;         /* fresh indexes by (parent, child order) */
    uint32_t *first;       /* per fresh atom: first child's place in ord, or NONE */
    group *groups;
    uint32_t ngroups;
    uint32_t *hash, hashmask; /* groups by parent id (index_groups) */
    uint32_t *stack;       /* DFS stack for emitting subtrees */
    frame *frames;
    wv_build *b;
} apply;

static int same_content(wv_atom a, wv_atom b) {
    return a.cclock == b.cclock && a.csite == b.csite &&
           (a.tag & ~WV_DELETED_BIT) == (b.tag & ~WV_DELETED_BIT);
}

/* LSD radix sorts, stable, only on the key bits in which the keys differ:
 * one pass a digit, each digit starting at the lowest differing bit not yet
 * sorted on, RADIX_WIDE bits wide (8 for fewer than RADIX_SMALL keys, whose
 * counts would cost more than their passes save). Keys are (site << 32 |
 * clock), ids' or causes'; each is sorted as (site << w | clock), w the
 * width of the largest clock, which orders alike and puts the site's bits
 * next to the clock's, where a digit covers both: sites 1 and 2 with
 * clocks below 2^20 span 22 bits, two passes instead of three. A pass
 * counts its digit, then scatters by it. */
typedef struct kv {
    uint64_t k;
    uint32_t i;
} kv;

static uint64_t id_key(wv_atom a) { return (uint64_t)a.site << 32 | a.clock; }

/* Key k = (site << 32 | clock) as (site << w | clock); w >= every clock's width. */
static inline uint64_t squeeze(uint64_t k, unsigned w) { return k >> 32 << w | (uint32_t)k; }

static unsigned bit_width(uint32_t x) {
    unsigned w = 0;
    while (w < 32 && x >> w) w++;
    return w;
}

#define RADIX_WIDE 11
#define RADIX_SMALL 4096
#define RADIX_SORT(T, key_of)                                                              \
    static void radix_##T(T *v, T *tmp, size_t n) {                                        \
        uint64_t all_or = 0, all_and = ~(uint64_t)0;                                       \
        for (size_t i = 0; i < n; i++) all_or |= key_of(v[i]), all_and &= key_of(v[i]);    \
        const unsigned w = bit_width((uint32_t)all_or);                                    \
        uint64_t diff = squeeze(all_or, w) ^ squeeze(all_and, w);                          \
        uint64_t mask = n < RADIX_SMALL ? 0xff : (1u << RADIX_WIDE) - 1;                   \
        size_t at[1u << RADIX_WIDE];                                                       \
        T *src = v, *dst = tmp;                                                            \
        while (diff) {                                                                     \
            unsigned s = 0;                                                                \
            while (!(diff >> s & 1)) s++;                                                  \
            diff &= ~(mask << s);                                                          \
            memset(at, 0, (mask + 1) * sizeof *at);                                        \
            for (size_t i = 0; i < n; i++) at[squeeze(key_of(src[i]), w) >> s & mask]++;    \
            for (size_t b = 0, sum = 0; b <= mask; b++) {                                  \
                size_t c = at[b];                                                          \
                at[b] = sum, sum += c;                                                     \
            }                                                                              \
            for (size_t i = 0; i < n; i++)                                                 \
                dst[at[squeeze(key_of(src[i]), w) >> s & mask]++] = src[i];                \
            T *t = src;                                                                    \
            src = dst, dst = t;                                                            \
        }                                                                                  \
        if (src != v) memcpy(v, src, n * sizeof *v);                                       \
    }
#define KV_KEY(x) ((x).k)
RADIX_SORT(wv_atom, id_key)
RADIX_SORT(kv, KV_KEY)

void _wv_sort_ids(wv_atom *a, wv_atom *tmp, size_t n) { radix_wv_atom(a, tmp, n); }

/* Sorts by id and merges identical duplicates; conflicting ones: error.
 * tmp: room for *n atoms. */
static int sort_unique(wv_atom *a, uint32_t *n, wv_atom *tmp) {
    radix_wv_atom(a, tmp, *n);
    uint32_t w = 0;
    for (uint32_t i = 0; i < *n; i++) {
        if (w && wv_id_cmp(a[w - 1], a[i]) == 0) {
            if (!same_content(a[w - 1], a[i])) return WV_E_DUPLICATE;
            continue;
        }
        a[w++] = a[i];
    }
    *n = w;
    return WV_OK;
}

static uint32_t find_id(const wv_atom *a, uint32_t n, uint16_t site, uint32_t clock) {
    uint32_t lo = 0, hi = n;
    wv_atom key = {clock, 0, site, 0, 0};
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = wv_id_cmp(a[mid], key);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NONE;
}

/* Siblings g[0..n) (fresh indexes) into child order: insertion sort, the
 * usual group being tiny; qsort through keys (room for n) past 32. */
typedef struct ord_key {
    wv_atom a;
    uint32_t i;
} ord_key;

static int qs_sibling(const void *x, const void *y) {
    return wv_sibling_cmp(((const ord_key *)x)->a, ((const ord_key *)y)->a);
}

static void sort_siblings(const apply *ap, uint32_t *g, uint32_t n, ord_key *keys) {
    if (n > 32) {
        for (uint32_t k = 0; k < n; k++) keys[k] = (ord_key){ap->fresh[g[k]], g[k]};
        qsort(keys, n, sizeof *keys, qs_sibling);
        for (uint32_t k = 0; k < n; k++) g[k] = keys[k].i;
        return;
    }
    for (uint32_t k = 1; k < n; k++) {
        uint32_t x = g[k], j = k;
        for (; j && wv_sibling_cmp(ap->fresh[g[j - 1]], ap->fresh[x]) > 0; j--) g[j] = g[j - 1];
        g[j] = x;
    }
}

/* Emits fresh atom i and its subtree in pre-order. */
static void emit_subtree(apply *ap, uint32_t root) {
    uint32_t sp = 0;
    ap->stack[sp++] = root;
    while (sp) {
        uint32_t i = ap->stack[--sp];
        wv_atom a = ap->fresh[i];
        uint32_t f = ap->first[i], e = f;
        if (f != NONE) {
            while (e < ap->nf && ap->parent[ap->ord[e]] == i) e++;
            if (wv_atom_kind(ap->fresh[ap->ord[f]]) == WV_KIND_DELETE) a.tag |= WV_DELETED_BIT;
            for (uint32_t k = e; k > f; k--) ap->stack[sp++] = ap->ord[k - 1];
        }
        _wv_build_push(ap->b, a);
    }
}

static void flush(apply *ap, frame *fr, const wv_atom *before) {
    while (fr->next < fr->end) {
        uint32_t r = ap->ord[fr->next];
        if (before && wv_sibling_cmp(ap->fresh[r], *before) > 0) break;
        emit_subtree(ap, r);
        fr->next++;
    }
}

/* Groups by their parent's id: an open-addressing table of group indexes
 * (NONE: empty), hashmask + 1 slots, a power of two at least twice ngroups,
 * so the walk's lookup of every old atom is a probe or two, not a search. */
static uint32_t group_hash(uint32_t site, uint32_t clock) {
    uint64_t k = ((uint64_t)site << 32 | clock) * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(k >> 32);
}

static void index_groups(apply *ap) {
    for (uint32_t i = 0; i <= ap->hashmask; i++) ap->hash[i] = NONE;
    for (uint32_t g = 0; g < ap->ngroups; g++) {
        uint32_t h = group_hash(ap->groups[g].csite, ap->groups[g].cclock) & ap->hashmask;
        while (ap->hash[h] != NONE) h = (h + 1) & ap->hashmask;
        ap->hash[h] = g;
    }
}

static group *find_group(apply *ap, wv_atom a) {
    for (uint32_t h = group_hash(a.site, a.clock) & ap->hashmask;; h = (h + 1) & ap->hashmask) {
        uint32_t g = ap->hash[h];
        if (g == NONE) return NULL;
        if (ap->groups[g].csite == a.site && ap->groups[g].cclock == a.clock) return &ap->groups[g];
    }
}

/* May the held atom y cause every fresh root of its group? */
static int may_cause_group(const apply *ap, wv_atom y, const group *g) {
    for (uint32_t i = g->start; i < g->end; i++)
        if (!wv_kind_may_cause(wv_atom_kind(y), wv_atom_kind(ap->fresh[ap->ord[i]]))) return 0;
    return 1;
}

/* The walk: the old weave (site indexes through map) into the builder. */
static int walk(apply *ap, const wv_doc *d, const uint16_t *map) {
    uint32_t depth = 0;
    for (size_t c = 0; c < d->nchunks; c++) {
        const wv_chunk *ch = &d->chunks[c];
        _wv_prefetch_next(d->chunks, c, d->nchunks);
        for (uint32_t k = 0; k < ch->len; k++) {
            wv_atom y = ch->a[k];
            y.site = map[y.site], y.csite = map[y.csite];
            while (depth && y.cclock < ap->frames[depth - 1].c.clock) flush(ap, &ap->frames[--depth], NULL);
            if (depth && wv_atom_caused_by(y, ap->frames[depth - 1].c)) flush(ap, &ap->frames[depth - 1], &y);
            if (ap->nh) {
                uint32_t h = find_id(ap->held, ap->nh, y.site, y.clock);
                if (h != NONE) {
                    if (!same_content(ap->held[h], y)) return WV_E_DUPLICATE;
                    ap->matched++;
                }
            }
            group *g = ap->ngroups ? find_group(ap, y) : NULL;
            if (g && !may_cause_group(ap, y, g)) return WV_E_ATOM;
            if (g && wv_atom_kind(ap->fresh[ap->ord[g->start]]) == WV_KIND_DELETE) y.tag |= WV_DELETED_BIT;
            _wv_build_push(ap->b, y);
            if (g) {
                g->used = 1;
                ap->frames[depth++] = (frame){y, g->start, g->end};
            }
        }
    }
    while (depth) flush(ap, &ap->frames[--depth], NULL);
    for (uint32_t i = 0; i < ap->ngroups; i++)
        if (!ap->groups[i].used) return WV_E_CAUSE; /* covered by the weft, yet absent */
    if (ap->matched != ap->nh) return WV_E_DUPLICATE;
    return ap->b->err;
}

/* Validates one atom by itself. */
static int check_info(const wv_atom_info *x) {
    if (x->site == 0 || x->clock == 0) return WV_E_ATOM;
    if (x->kind == WV_KIND_ROOT || (unsigned)x->kind > WV_KIND_LAST || !wv_kind_value_ok(x->kind, x->value))
        return WV_E_ATOM;
    if (x->cause_site == 0 && x->cause_clock == 0 && !wv_kind_may_cause(WV_KIND_ROOT, x->kind))
        return WV_E_ATOM;
    if (x->cause_site == 0 && x->cause_clock != 0) return WV_E_CAUSE;
    if (x->clock <= x->cause_clock) return WV_E_CLOCK;
    return WV_OK;
}

/* Sites of the atoms, as a sorted table with their highest clocks. Atoms
 * come in runs from one site, so the last site found is tried first. */
static int delta_sites(wv_sites *ds, const wv_atom_info *x, size_t n, const wv_alloc *al) {
    int rc = _wv_sites_init(ds, al);
    int32_t s = -1;
    uint64_t last = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        if (s < 0 || x[i].site != last) {
            last = x[i].site;
            if ((s = _wv_sites_find(ds, last)) < 0) {
                uint32_t pos;
                rc = _wv_sites_insert(ds, last, &pos, al);
                s = (int32_t)pos;
            }
        }
        if (!rc && x[i].clock > ds->weft[s]) ds->weft[s] = x[i].clock;
    }
    if (rc) _wv_sites_free(ds, al);
    return rc;
}

/* Index of a global site id in u, trying the last one found first. */
static int32_t site_index(const wv_sites *u, uint64_t id, uint64_t *last_id, int32_t *last) {
    if (*last >= 0 && id == *last_id) return *last;
    *last_id = id;
    return *last = _wv_sites_find(u, id);
}

#define SCRATCH_MAX 13 /* wv_apply makes exactly this many allocations */

typedef struct scratch { /* every allocation of one wv_apply, freed together */
    const wv_alloc *al;
    void *p[SCRATCH_MAX];
    size_t size[SCRATCH_MAX];
    int n;
} scratch;

static void *take(scratch *s, size_t count, size_t size) {
    size_t bytes = wv_mul(count ? count : 1, size);
    if (s->n == SCRATCH_MAX) return NULL;
    void *p = wv_malloc(s->al, bytes);
    if (p) s->p[s->n] = p, s->size[s->n++] = bytes;
    return p;
}

static void release(scratch *s) {
    for (int i = 0; i < s->n; i++) wv_free(s->al, s->p[i], s->size[i]);
}

int wv_apply(wv_doc *d, const wv_atom_info *atoms, size_t n) {
    if (!d || (!atoms && n)) return WV_E_ARG;
    if (n > UINT32_MAX - d->natoms) return WV_E_LIMIT;
    uint32_t top = d->clock;
    for (size_t i = 0; i < n; i++) {
        int rc = check_info(&atoms[i]);
        if (rc) return rc;
        if (atoms[i].clock > top) top = atoms[i].clock;
    }
    if (top == UINT32_MAX) return WV_E_LIMIT;

    const wv_alloc *al = &d->alloc;
    wv_sites ds = {0}, u = {0};
    scratch s = {al, {0}, {0}, 0};
    wv_build b;
    _wv_build_init(&b, al, NULL, 0);
    int rc = delta_sites(&ds, atoms, n, al);
    if (rc) return rc;
    uint16_t *map = take(&s, (size_t)d->sites.n + ds.n, sizeof *map);
    wv_atom *all = take(&s, n, sizeof *all);
    uint32_t *old_weft = NULL;
    rc = map && all ? _wv_sites_union(&u, &d->sites, &ds, map, map + d->sites.n, al) : WV_E_NOMEM;
    if (!rc && !(old_weft = take(&s, u.n, sizeof *old_weft))) rc = WV_E_NOMEM;

    apply ap = {.al = al, .b = &b};
    if (!rc) {
        /* Atoms in union indexes; split into held (covered by the old weft) and fresh. */
        memset(old_weft, 0, u.n * sizeof *old_weft);
        for (uint32_t i = 0; i < d->sites.n; i++) old_weft[map[i]] = d->sites.weft[i];
        uint32_t nf = 0, nh = (uint32_t)n;
        uint64_t sid = 0, cid = 0;
        int32_t si = -1, ci = -1;
        for (size_t i = 0; !rc && i < n; i++) {
            const wv_atom_info *x = &atoms[i];
            int32_t cs = site_index(&u, x->cause_site, &cid, &ci);
            if (cs < 0) { rc = WV_E_CAUSE; break; }
            wv_atom a = {x->clock, x->cause_clock, (uint16_t)site_index(&u, x->site, &sid, &si), (uint16_t)cs,
                         wv_tag((unsigned)x->kind, x->value)};
            if (a.clock <= old_weft[a.site]) all[--nh] = a; /* held ones fill from the end */
            else all[nf++] = a;
        }
        ap.fresh = all, ap.nf = nf;
        ap.held = all + nh, ap.nh = (uint32_t)n - nh;
        wv_atom *tmp = rc ? NULL : take(&s, n, sizeof *tmp);
        if (!rc && !tmp) rc = WV_E_NOMEM;
        if (!rc) rc = sort_unique(ap.fresh, &ap.nf, tmp);
        if (!rc) rc = sort_unique(ap.held, &ap.nh, tmp);
    }
    ord_key *keys = NULL;
    kv *roots = NULL;
    if (!rc) {
        ap.parent = take(&s, ap.nf, sizeof *ap.parent);
        ap.ord = take(&s, ap.nf, sizeof *ap.ord);
        ap.first = take(&s, ap.nf, sizeof *ap.first);
        ap.groups = take(&s, ap.nf, sizeof *ap.groups);
        keys = take(&s, ap.nf, sizeof *keys);
        roots = take(&s, 2 * (size_t)ap.nf, sizeof *roots);
        if (!ap.parent || !ap.ord || !ap.first || !ap.groups || !keys || !roots) rc = WV_E_NOMEM;
    }
    /* The forest: each fresh atom's cause is fresh, or held by the replica.
     * A cause within the old weft is held (fresh clocks are above it); in id
     * order a typing run's parent is the atom just before. */
    uint32_t nroots = 0;
    for (uint32_t i = 0; !rc && i < ap.nf; i++) {
        wv_atom a = ap.fresh[i];
        uint32_t p = a.cclock <= old_weft[a.csite] ? NONE
                     : i && ap.fresh[i - 1].site == a.csite && ap.fresh[i - 1].clock == a.cclock
                         ? i - 1 : find_id(ap.fresh, ap.nf, a.csite, a.cclock);
        if (p == NONE && a.cclock > old_weft[a.csite]) rc = WV_E_CAUSE;
        else if (p != NONE && !wv_kind_may_cause(wv_atom_kind(ap.fresh[p]), wv_atom_kind(a))) rc = WV_E_ATOM;
        ap.parent[i] = p;
        ap.first[i] = 0; /* children counted here first */
        nroots += p == NONE;
    }
    if (!rc && !(ap.stack = take(&s, ap.nf, sizeof *ap.stack))) rc = WV_E_NOMEM;
    if (!rc) {
        /* ord = the roots (causes held), then each fresh atom's children as
         * one group, groups by parent: a counting sort, stack as cursors */
        uint32_t *cur = ap.stack, at = nroots, r = 0;
        for (uint32_t i = 0; i < ap.nf; i++)
            if (ap.parent[i] != NONE) ap.first[ap.parent[i]]++;
        for (uint32_t p = 0; p < ap.nf; p++) {
            uint32_t c = ap.first[p];
            ap.first[p] = c ? at : NONE;
            cur[p] = at, at += c;
        }
        for (uint32_t i = 0; i < ap.nf; i++) {
            if (ap.parent[i] == NONE) roots[r++] = (kv){(uint64_t)ap.fresh[i].csite << 32 | ap.fresh[i].cclock, i};
            else ap.ord[cur[ap.parent[i]]++] = i;
        }
        /* each group in child order */
        for (uint32_t p = 0; p < ap.nf; p++)
            if (ap.first[p] != NONE) sort_siblings(&ap, ap.ord + ap.first[p], cur[p] - ap.first[p], keys);
        /* the roots, by held cause then child order, grouped for the walk */
        radix_kv(roots, roots + ap.nf, nroots);
        for (uint32_t k = 0; k < nroots; k++) ap.ord[k] = roots[k].i;
        for (uint32_t k = 0, e; k < nroots; k = e) {
            for (e = k + 1; e < nroots && roots[e].k == roots[k].k;) e++;
            sort_siblings(&ap, ap.ord + k, e - k, keys);
            ap.groups[ap.ngroups++] = (group){(uint32_t)(roots[k].k >> 32), (uint32_t)roots[k].k, k, e, 0};
        }
        ap.frames = take(&s, ap.ngroups, sizeof *ap.frames);
        for (ap.hashmask = 1; ap.hashmask < 2 * ap.ngroups;) ap.hashmask *= 2;
        ap.hash = take(&s, ap.hashmask--, sizeof *ap.hash);
        if (!ap.frames || !ap.hash) rc = WV_E_NOMEM;
        else index_groups(&ap);
    }
    if (!rc) _wv_build_expect(&b, d->natoms + ap.nf); /* the held atoms and the fresh ones */
    if (!rc) rc = walk(&ap, d, map);
    rc = _wv_replace_weave(d, rc, &b, &u, map, top + 1);
    _wv_sites_free(&ds, al);
    release(&s);
    return rc;
}

/* test_chunks.c — the chunked weave storage (weave/chunks.c), through the
 * public API plus the internals.
 *
 * Documents are built with random wv_text_insert / wv_text_delete (short
 * edits, typing runs, inserts of more than WV_CHUNK_CAP code points that
 * force multi-chunk rewrites, deletes spanning several chunks) and, in a
 * second test, by several sites that fork, edit concurrently at the same
 * positions and merge. After each step:
 *   - the text equals a naive model (an array of code points);
 *   - _wv_locate_visible(d, v) equals, for every v, the position a linear scan
 *     over all chunks finds;
 *   - _wv_visible_before(d, c) equals a naive sum, for every c <= nchunks;
 *   - _wv_block_end(d, p) equals, at every position, the end of the causal
 *     block computed from cause ids alone (walk forward while the atom's
 *     cause is in the block), which must also hold every descendant;
 *   - wv_check passes.
 * (Block ends are checked at every step while a doc is under 3000 atoms, every
 * 8th step after that, and at the end of each run.)
 * _wv_plan is checked over every (total, h2) up to a few chunks and random
 * large totals: sizes in 1..WV_CHUNK_CAP, sum == total, count <=
 * WV_PLAN_MAX(total), a cut at h2 when both sides hold >= WV_CHUNK_CAP/8, the
 * new atoms in chunks of their own when they end the run and h1 >=
 * WV_CHUNK_CAP/8, and each side split evenly into the fewest chunks.
 * Slabs: fork, decode, merge and apply of a weave of 1.5 slabs' worth of
 * chunks carve every chunk from two slabs; local edits use none and release
 * slab chunks, and a delete of everything frees both slabs; wv_doc_bytes
 * equals the bytes the replicas hold of a counting allocator throughout; and
 * with every allocation of a fork, decode, merge and apply failed in turn,
 * each succeeds (a failed slab: chunks one by one) or fails with
 * WV_E_NOMEM, the replica unchanged and nothing leaked. */
#include "test.h"
#include "failalloc.h"
#include "model.h"
#include "internal.h"
#include "utf8.h"

/* ---- naive views of a doc ------------------------------------------------ */

typedef struct flat {
    wv_atom *a;    /* the weave, in order */
    wv_pos *pos;   /* where each atom lives */
    size_t *off;   /* off[c] = index of chunk c's first atom; off[nchunks] = n */
    size_t n;
} flat;

static flat flatten(const wv_doc *d) {
    flat f = {0};
    size_t n = 0;
    for (size_t c = 0; c < d->nchunks; c++) n += d->chunks[c].len;
    f.n = n;
    f.a = malloc((n ? n : 1) * sizeof *f.a);
    f.pos = malloc((n ? n : 1) * sizeof *f.pos);
    f.off = malloc((d->nchunks + 1) * sizeof *f.off);
    REQUIRE(f.a && f.pos && f.off);
    size_t i = 0;
    for (size_t c = 0; c < d->nchunks; c++) {
        f.off[c] = i;
        for (uint32_t k = 0; k < d->chunks[c].len; k++, i++) {
            f.a[i] = d->chunks[c].a[k];
            f.pos[i] = (wv_pos){c, k};
        }
    }
    f.off[d->nchunks] = i;
    return f;
}

static void flat_free(flat *f) {
    free(f->a), free(f->pos), free(f->off);
    memset(f, 0, sizeof *f);
}

/* Index in the weave of a position; SIZE_MAX if p is not a canonical position
 * (slot past its chunk's end, or past the end other than (nchunks, 0)). */
static size_t pos_index(const wv_doc *d, const flat *f, wv_pos p) {
    if (p.c == d->nchunks) return p.k == 0 ? f->n : SIZE_MAX;
    if (p.c > d->nchunks || p.k >= d->chunks[p.c].len) return SIZE_MAX;
    return f->off[p.c] + p.k;
}

/* Visible-position index: compares _wv_locate_visible and _wv_visible_before
 * with a linear scan over all chunks. */
static void check_visible_index(const wv_doc *d) {
    size_t v = 0, bad_locate = 0, bad_before = 0;
    for (size_t c = 0; c < d->nchunks; c++) {
        if (_wv_visible_before(d, c) != v) bad_before++;
        const wv_chunk *ch = &d->chunks[c];
        for (uint32_t k = 0; k < ch->len; k++) {
            if (!wv_atom_visible(ch->a[k])) continue;
            wv_pos p = _wv_locate_visible(d, v);
            if (p.c != c || p.k != k) {
                if (bad_locate++ < 3)
                    fprintf(stderr, "  locate_visible(%zu) = (%zu,%u), expected (%zu,%u)\n", v,
                            p.c, p.k, c, k);
            }
            v++;
        }
    }
    if (_wv_visible_before(d, d->nchunks) != v) bad_before++;
    CHECK(bad_locate == 0);
    CHECK(bad_before == 0);
    CHECK(v == d->nvis);
}

typedef struct id_index {
    uint64_t key;
    size_t i;
} id_index;

static int id_index_cmp(const void *x, const void *y) {
    const id_index *a = x, *b = y;
    return (a->key > b->key) - (a->key < b->key);
}

static uint64_t id_key(uint16_t site, uint32_t clock) { return (uint64_t)site << 32 | clock; }

/* parent[i] = weave index of atom i's cause (SIZE_MAX for the root or a
 * cause not found). */
static size_t *parents(const flat *f) {
    id_index *ids = malloc(f->n * sizeof *ids);
    size_t *par = malloc(f->n * sizeof *par);
    REQUIRE(ids && par);
    for (size_t i = 0; i < f->n; i++) ids[i] = (id_index){id_key(f->a[i].site, f->a[i].clock), i};
    qsort(ids, f->n, sizeof *ids, id_index_cmp);
    for (size_t i = 0; i < f->n; i++) {
        par[i] = SIZE_MAX;
        if (i == 0) continue; /* the root has no cause */
        id_index key = {id_key(f->a[i].csite, f->a[i].cclock), 0};
        id_index *hit = bsearch(&key, ids, f->n, sizeof *ids, id_index_cmp);
        if (hit) par[i] = hit->i;
    }
    free(ids);
    return par;
}

/* Compares _wv_block_end at every position with the causal block computed
 * from cause ids: from atom h, walk forward while each atom's cause is h or
 * an atom already found in the block. */
static void check_block_ends(const wv_doc *d) {
    flat f = flatten(d);
    size_t *par = parents(&f);
    size_t *stamp = calloc(f.n, sizeof *stamp);
    REQUIRE(stamp);
    /* descendant counts from the cause links alone (a cause precedes its
     * effects: checked here), so the walk must have found all of them */
    size_t *desc = calloc(f.n, sizeof *desc);
    REQUIRE(desc);
    size_t bad = 0, bad_tree = 0;
    for (size_t i = f.n; i-- > 1;) {
        if (par[i] == SIZE_MAX || par[i] >= i) {
            bad_tree++;
            continue;
        }
        desc[par[i]] += desc[i] + 1;
    }
    CHECK(bad_tree == 0);
    for (size_t h = 0; h < f.n; h++) {
        size_t j = h + 1;
        stamp[h] = h + 1;
        while (j < f.n && par[j] != SIZE_MAX && stamp[par[j]] == h + 1) stamp[j++] = h + 1;
        size_t got = pos_index(d, &f, _wv_block_end(d, f.pos[h]));
        if (!bad_tree && j != h + 1 + desc[h]) bad_tree++;
        if (got != j && bad++ < 3)
            fprintf(stderr, "  block_end of atom %zu (%u@%u) = %zu, expected %zu\n", h,
                    f.a[h].clock, f.a[h].site, got, j);
    }
    CHECK(bad == 0);
    CHECK(bad_tree == 0);
    free(desc);
    free(stamp);
    free(par);
    flat_free(&f);
}

/* ---- model --------------------------------------------------------------- */


static int model_equals(const model *m, const wv_doc *d) {
    if (d->nvis != m->n) return 0;
    size_t v = 0;
    for (size_t c = 0; c < d->nchunks; c++)
        for (uint32_t k = 0; k < d->chunks[c].len; k++)
            if (wv_atom_visible(d->chunks[c].a[k]) && wv_atom_value(d->chunks[c].a[k]) != m->cp[v++])
                return 0;
    return 1;
}

static uint32_t random_cp(void) {
    static const uint32_t alphabet[] = {'a', 'b', 'c', 'x', ' ', '\n', 0xe9, 0x3b1, 0x20ac, 0x1f600};
    return alphabet[rng_below(sizeof alphabet / sizeof *alphabet)];
}

/* Inserts k random code points at pos in d and m. */
static void do_insert(wv_doc *d, model *m, size_t pos, size_t k) {
    uint32_t *cps = malloc((k ? k : 1) * sizeof *cps);
    char *s = malloc(4 * k + 1);
    REQUIRE(cps && s);
    size_t len = 0;
    for (size_t i = 0; i < k; i++) {
        cps[i] = random_cp();
        len += _wv_utf8_put(cps[i], s + len);
    }
    size_t before = d->natoms;
    CHECK(wv_text_insert(d, pos, s, len) == WV_OK);
    CHECK(d->natoms == before + k);
    model_insert(m, pos, cps, k);
    free(cps);
    free(s);
}

static void do_delete(wv_doc *d, model *m, size_t pos, size_t k) {
    size_t before = d->natoms;
    CHECK(wv_text_delete(d, pos, k) == WV_OK);
    CHECK(d->natoms == before + k);
    model_delete(m, pos, k);
}

/* One random edit on d (and its model). *cursor makes runs of local typing. */
static void random_edit(wv_doc *d, model *m, size_t *cursor, int *long_ins, int *wide_del) {
    size_t len = m->n, r = rng_below(100);
    if (*cursor > len) *cursor = len;
    if (r < 30) { /* typing at the cursor */
        size_t k = 1 + rng_below(8);
        do_insert(d, m, *cursor, k);
        *cursor += k;
    } else if (r < 45) { /* short insert anywhere */
        *cursor = rng_below(len + 1);
        size_t k = 1 + rng_below(20);
        do_insert(d, m, *cursor, k);
        *cursor += k;
    } else if (r < 55) { /* long insert: more than one chunk's worth */
        *cursor = rng_below(len + 1);
        size_t k = WV_CHUNK_CAP + 1 + rng_below(2 * WV_CHUNK_CAP);
        do_insert(d, m, *cursor, k);
        *cursor += k;
        ++*long_ins;
    } else if (r < 62) { /* insert at the very ends */
        *cursor = rng_below(2) ? 0 : len;
        size_t k = 1 + rng_below(WV_CHUNK_CAP / 4);
        do_insert(d, m, *cursor, k);
        *cursor += k;
    } else if (len == 0) {
        return;
    } else if (r < 82) { /* backspace / short delete */
        size_t k = 1 + rng_below(len < 6 ? len : 6);
        size_t pos = rng_below(len - k + 1);
        do_delete(d, m, pos, k);
        *cursor = pos;
    } else if (r < 92) { /* delete spanning several chunks */
        size_t k = 1 + rng_below(len < 3 * WV_CHUNK_CAP ? len : 3 * WV_CHUNK_CAP);
        size_t pos = rng_below(len - k + 1);
        size_t nch = d->nchunks;
        do_delete(d, m, pos, k);
        if (nch > 1 && k > WV_CHUNK_CAP) ++*wide_del;
        *cursor = pos;
    } else { /* delete everything after / before a point */
        size_t pos = rng_below(len);
        if (rng_below(2)) do_delete(d, m, pos, len - pos);
        else do_delete(d, m, 0, pos + 1);
        *cursor = 0;
    }
}

static void check_all(const wv_doc *d, const model *m, int blocks) {
    CHECK_DOC(d);
    CHECK(model_equals(m, d));
    check_visible_index(d);
    if (blocks) check_block_ends(d);
}

static void test_single_site(void) {
    int long_ins = 0, wide_del = 0;
    size_t max_chunks = 0;
    for (int round = 0; round < 6; round++) {
        wv_doc *d;
        model m = {0};
        size_t cursor = 0;
        REQUIRE_OK(wv_doc_new(&d, 1 + (uint64_t)round, NULL));
        check_all(d, &m, 1);
        for (int step = 0; step < 60; step++) {
            random_edit(d, &m, &cursor, &long_ins, &wide_del);
            /* the block walk is quadratic in depth: every step while small */
            check_all(d, &m, d->natoms < 3000 || step % 8 == 0);
            if (d->nchunks > max_chunks) max_chunks = d->nchunks;
        }
        check_block_ends(d);
        wv_doc_free(d);
        free(m.cp);
    }
    /* the random walk did reach the cases it is meant to cover */
    CHECK(long_ins > 10);
    CHECK(wide_del > 3);
    CHECK(max_chunks >= 6);
}

/* A weave of hundreds of chunks, so the tree of visible counts has many
 * leaves on several levels: the visible-position index after typing runs
 * (which leave a leaf's change pending), inserts anywhere, splits that
 * renumber the chunks of later leaves, and deletes spanning chunks. */
static void test_many_leaves(void) {
    wv_doc *d;
    model m = {0};
    REQUIRE_OK(wv_doc_new(&d, 77, NULL));
    while (d->nchunks < 12 * WV_FEN_LEAF)
        do_insert(d, &m, rng_below(m.n + 1), WV_CHUNK_CAP + rng_below(WV_CHUNK_CAP));
    check_all(d, &m, 0);
    size_t cursor = 0;
    for (int step = 0; step < 600; step++) {
        size_t r = rng_below(100), len = m.n;
        if (cursor > len) cursor = len;
        if (r < 40) { /* typing, sometimes after a jump */
            if (r < 8) cursor = rng_below(len + 1);
            size_t k = 1 + rng_below(6);
            do_insert(d, &m, cursor, k);
            cursor += k;
        } else if (r < 60) {
            do_insert(d, &m, rng_below(len + 1), 1 + rng_below(2 * WV_CHUNK_CAP));
        } else if (r < 85) { /* backspace */
            size_t k = 1 + rng_below(cursor < 4 ? cursor + 1 : 4);
            if (k > cursor) k = cursor;
            if (k) do_delete(d, &m, cursor - k, k), cursor -= k;
        } else {
            size_t k = 1 + rng_below(3 * WV_CHUNK_CAP), pos = rng_below(len - k + 1);
            do_delete(d, &m, pos, k);
        }
        if (step % 12 == 0) {
            CHECK(model_equals(&m, d));
            check_visible_index(d);
        }
    }
    check_all(d, &m, 0);
    CHECK(WV_FEN_LEAVES(d->nchunks) >= 8);
    wv_doc_free(d);
    free(m.cp);
}

/* Local-typing edge: a long run typed at the end in many small inserts, then
 * inserts at every chunk boundary, then deletes of whole chunks. */
static void test_boundaries(void) {
    wv_doc *d;
    model m = {0};
    REQUIRE_OK(wv_doc_new(&d, 42, NULL));
    for (int i = 0; i < 4 * (int)WV_CHUNK_CAP; i++) do_insert(d, &m, m.n, 1);
    check_all(d, &m, 1);
    CHECK(d->nchunks >= 4);
    /* insert right before and after each chunk's first visible atom */
    for (size_t c = 1; c < d->nchunks; c++) {
        size_t v = _wv_visible_before(d, c);
        if (v < m.n) do_insert(d, &m, v, 1 + rng_below(3));
        check_all(d, &m, 0);
    }
    check_all(d, &m, 1);
    /* delete exactly the visible atoms of a chunk, then across boundaries */
    for (int i = 0; i < 4 && d->nchunks > 2; i++) {
        size_t c = 1 + rng_below(d->nchunks - 2);
        size_t v0 = _wv_visible_before(d, c), v1 = _wv_visible_before(d, c + 1);
        if (v1 > v0) do_delete(d, &m, v0, v1 - v0);
        check_all(d, &m, 1);
        if (m.n > 2 * WV_CHUNK_CAP) do_delete(d, &m, m.n / 3, WV_CHUNK_CAP + 7);
        check_all(d, &m, 1);
    }
    /* empty the document, then type again */
    do_delete(d, &m, 0, m.n);
    check_all(d, &m, 1);
    CHECK(d->nvis == 0);
    do_insert(d, &m, 0, 2 * WV_CHUNK_CAP + 3);
    check_all(d, &m, 1);
    wv_doc_free(d);
    free(m.cp);
}

/* Several sites fork, edit (often at the same positions, so concurrent
 * siblings appear) and merge in random pairs; block ends and the visible
 * index are checked on every merged weave. */
static void test_multi_site(void) {
    enum { NS = 4 };
    for (int round = 0; round < 4; round++) {
        wv_doc *d[NS];
        model m[NS] = {{0}};
        size_t cursor[NS] = {0};
        int li = 0, wd = 0;
        REQUIRE_OK(wv_doc_new(&d[0], 1000, NULL));
        do_insert(d[0], &m[0], 0, 40);
        for (int s = 1; s < NS; s++) {
            int from = (int)rng_below((size_t)s);
            REQUIRE_OK(wv_doc_fork(d[from], 1000 - 100 * (uint64_t)s + rng_below(50), &d[s]));
            model_insert(&m[s], 0, m[from].cp, m[from].n);
        }
        for (int step = 0; step < 40; step++) {
            int s = (int)rng_below(NS);
            if (rng_below(3) == 0) {
                int t = (int)rng_below(NS);
                REQUIRE_OK(wv_merge(d[s], d[t]));
                /* the model of a merged doc is read back from the doc */
                m[s].n = 0;
                for (size_t c = 0; c < d[s]->nchunks; c++)
                    for (uint32_t k = 0; k < d[s]->chunks[c].len; k++)
                        if (wv_atom_visible(d[s]->chunks[c].a[k])) {
                            uint32_t cp = wv_atom_value(d[s]->chunks[c].a[k]);
                            model_insert(&m[s], m[s].n, &cp, 1);
                        }
                check_all(d[s], &m[s], 1);
            } else if (rng_below(2) && m[s].n) {
                /* every site types at the same position: concurrent siblings */
                size_t pos = rng_below(m[s].n + 1);
                for (int t = 0; t < NS; t++)
                    if (pos <= m[t].n) {
                        do_insert(d[t], &m[t], pos, 1 + rng_below(4));
                        check_all(d[t], &m[t], 1);
                    }
            } else {
                random_edit(d[s], &m[s], &cursor[s], &li, &wd);
                check_all(d[s], &m[s], 1);
            }
        }
        /* converge: everyone merges everyone, twice around */
        for (int pass = 0; pass < 2; pass++)
            for (int s = 0; s < NS; s++)
                for (int t = 0; t < NS; t++)
                    if (s != t) REQUIRE_OK(wv_merge(d[s], d[t]));
        for (int s = 0; s < NS; s++) {
            CHECK_DOC(d[s]);
            CHECK(wv_weave_hash(d[s]) == wv_weave_hash(d[0]));
            check_visible_index(d[s]);
        }
        check_block_ends(d[0]);
        /* a merged weave has concurrent siblings: some atom's next sibling
         * comes from another site (so block ends were checked across them) */
        flat f = flatten(d[0]);
        size_t *par = parents(&f), concurrent = 0;
        for (size_t i = 1; i < f.n; i++) {
            size_t e = pos_index(d[0], &f, _wv_block_end(d[0], f.pos[i]));
            if (e < f.n && par[e] == par[i] && f.a[e].site != f.a[i].site) concurrent++;
        }
        CHECK(concurrent > 0);
        free(par);
        flat_free(&f);
        for (int s = 0; s < NS; s++) {
            wv_doc_free(d[s]);
            free(m[s].cp);
        }
    }
}

/* ---- _wv_plan ------------------------------------------------------------ */

#define PLAN_TOTAL_MAX 100000u
static size_t plan_failures;

/* Are sizes[0..n) an even split of their sum into the fewest chunks? */
static int even_split(const uint32_t *sizes, size_t n) {
    size_t sum = 0;
    uint32_t lo = UINT32_MAX, hi = 0;
    for (size_t i = 0; i < n; i++) {
        sum += sizes[i];
        lo = sizes[i] < lo ? sizes[i] : lo;
        hi = sizes[i] > hi ? sizes[i] : hi;
    }
    if (n == 0) return sum == 0;
    return n == (sum + WV_CHUNK_CAP - 1) / WV_CHUNK_CAP && hi - lo <= 1;
}

static void check_plan(size_t total, size_t h1, size_t h2) {
    static uint32_t plan[WV_PLAN_MAX(PLAN_TOTAL_MAX) + 8];
    size_t max = WV_PLAN_MAX(total);
    REQUIRE(total <= PLAN_TOTAL_MAX);
    for (size_t i = 0; i < max + 8; i++) plan[i] = 0xdeadbeef;
    size_t n = _wv_plan(plan, total, h1, h2);
    int ok = n >= 1 && n <= max;
    for (size_t i = max; i < max + 8; i++) ok = ok && plan[i] == 0xdeadbeef; /* no overrun */
    size_t sum = 0, cut_at = SIZE_MAX; /* index of the first chunk after the cut */
    const size_t min = WV_CHUNK_CAP / 8;
    size_t cut = h2 >= min && total - h2 >= min ? h2 : h2 == total && h1 >= min ? h1 : 0;
    for (size_t i = 0; ok && i < n; i++) {
        ok = plan[i] >= 1 && plan[i] <= WV_CHUNK_CAP;
        sum += plan[i];
        if (sum == cut) cut_at = i + 1;
    }
    ok = ok && sum == total;
    if (ok && cut) ok = cut_at != SIZE_MAX; /* a chunk boundary at the cut */
    if (ok) ok = cut ? even_split(plan, cut_at) && even_split(plan + cut_at, n - cut_at)
                     : even_split(plan, n);
    if (!ok && plan_failures++ < 5) {
        fprintf(stderr, "  _wv_plan(total %zu, h1 %zu, h2 %zu) = %zu chunks:", total, h1, h2, n);
        for (size_t i = 0; i < n && i < max + 8 && i < 12; i++) fprintf(stderr, " %u", plan[i]);
        fprintf(stderr, "\n");
    }
}

static void test_plan(void) {
    const size_t min = WV_CHUNK_CAP / 8;
    for (size_t total = 1; total <= 3 * WV_CHUNK_CAP + 5; total++)
        for (size_t h2 = 1; h2 <= total; h2++) {
            size_t h1s[] = {h2 - 1, 0, min > 0 && h2 >= min ? min - 1 : 0, h2 >= min ? min : 0,
                            rng_below(h2 + 1)};
            for (size_t k = 0; k < sizeof h1s / sizeof *h1s; k++)
                if (h1s[k] <= h2) check_plan(total, h1s[k], h2);
        }
    for (int iter = 0; iter < 20000; iter++) {
        size_t total = 1 + rng_below(rng_below(2) ? 50 * WV_CHUNK_CAP : PLAN_TOTAL_MAX);
        size_t h2 = rng_below(4) ? rng_below(total + 1) : total - rng_below(min + 1 < total ? min + 1 : total);
        size_t h1 = rng_below(h2 + 1);
        check_plan(total, h1, h2);
    }
    CHECK(plan_failures == 0);
}

/* ---- slabs --------------------------------------------------------------- */

static size_t slab_chunks(const wv_doc *d) {
    size_t k = 0;
    for (size_t c = 0; c < d->nchunks; c++) k += d->chunks[c].slab != 0;
    return k;
}

static size_t live_slabs(const wv_doc *d) {
    size_t k = 0;
    for (size_t j = 0; j < d->nslabs; j++) k += d->slabs[j].a != NULL;
    return k;
}

/* op(x, y) under every allocation failure in turn, then unhindered: on
 * failure *x is unchanged (hash, bytes) and nothing leaked. */
typedef int (*slab_op)(wv_doc **x, const wv_doc *y, void *arg);
static void fail_each(failalloc *fa, slab_op op, wv_doc **x, const wv_doc *y, void *arg) {
    int failed = 0, passed = 0;
    for (long k = 0;; k++) {
        uint64_t h = *x ? wv_weave_hash(*x) : 0;
        size_t bytes = fa->live_bytes, xb = *x ? wv_doc_bytes(*x) : 0;
        fa->countdown = k;
        int rc = op(x, y, arg);
        int hit = fa->failures > 0;
        fa->countdown = -1, fa->failures = 0;
        if (rc == WV_OK) {
            passed++;
            if (!hit) break; /* every allocation had its turn */
            continue;
        }
        failed++;
        CHECK(rc == WV_E_NOMEM && fa->live_bytes == bytes);
        if (*x) CHECK(wv_weave_hash(*x) == h && wv_doc_bytes(*x) == xb);
        if (rc != WV_E_NOMEM) break;
    }
    CHECK_DOC(*x);
    CHECK(failed > 0 && passed > 0);
}

static int op_fork(wv_doc **x, const wv_doc *y, void *arg) {
    (void)arg;
    wv_doc *c;
    int rc = wv_doc_clone(y, &c);
    if (!rc) wv_doc_free(*x), *x = c;
    return rc;
}
static int op_decode(wv_doc **x, const wv_doc *y, void *arg) {
    (void)y;
    const void **bytes = arg;
    wv_doc *e;
    wv_options opt;
    wv_options_default(&opt);
    opt.alloc = bytes[2];
    int rc = wv_decode(&e, bytes[0], *(const size_t *)bytes[1], &opt);
    if (!rc) wv_doc_free(*x), *x = e;
    return rc;
}
static int op_merge(wv_doc **x, const wv_doc *y, void *arg) { (void)arg; return wv_merge(*x, y); }
static int op_apply(wv_doc **x, const wv_doc *y, void *arg) {
    (void)y;
    const void **bytes = arg;
    return wv_apply_bytes(*x, bytes[0], *(const size_t *)bytes[1]);
}

static void test_slabs(void) {
    failalloc fa = {-1, 0, 0, 0};
    wv_alloc al = {fa_malloc, fa_realloc, fa_free, &fa};
    wv_options opt;
    wv_options_default(&opt);
    opt.alloc = &al;
    wv_doc *a, *b, *e = NULL;
    model m = {0}, mb = {0};
    REQUIRE_OK(wv_doc_new(&a, 1, &opt));
    size_t n = (WV_SLAB_MAX + WV_SLAB_MAX / 2) * WV_CHUNK_FILL;
    while (m.n < n) do_insert(a, &m, rng_below(m.n + 1), 4096);
    CHECK(a->nslabs == 0 && wv_doc_bytes(a) == fa.live_bytes); /* local edits use no slab */

    REQUIRE_OK(wv_doc_fork(a, 2, &b));
    CHECK(b->nslabs == 2 && live_slabs(b) == 2 && slab_chunks(b) == b->nchunks);
    CHECK(b->slabs[0].slots == WV_SLAB_MAX * WV_CHUNK_CAP && b->slabs[0].live == WV_SLAB_MAX);
    CHECK(wv_doc_bytes(a) + wv_doc_bytes(b) == fa.live_bytes);
    model_insert(&mb, 0, m.cp, m.n);
    size_t before = slab_chunks(b);
    for (int step = 0; step < 200; step++) { /* scattered edits, atoms still in 2 slabs' worth */
        size_t k = 1 + rng_below(300), pos = rng_below(mb.n - k);
        if (rng_below(2)) do_insert(b, &mb, pos, k);
        else do_delete(b, &mb, pos, k);
    }
    check_all(b, &mb, 0);
    CHECK(slab_chunks(b) < before && wv_doc_bytes(a) + wv_doc_bytes(b) == fa.live_bytes);

    /* decode, merge and apply build from slabs; the old slabs go */
    size_t len;
    unsigned char *buf;
    REQUIRE_OK(wv_encode_alloc(b, 0, NULL, 0, NULL, (void **)&buf, &len));
    const void *arg[3] = {buf, &len, &al};
    fail_each(&fa, op_decode, &e, NULL, arg);
    CHECK(e && e->nslabs == 2 && slab_chunks(e) == e->nchunks && wv_weave_hash(e) == wv_weave_hash(b));
    CHECK(e && wv_doc_bytes(e) < wv_doc_bytes(b)); /* b's slab chunks freed by edits still count */
    free(buf);
    fail_each(&fa, op_merge, &e, a, NULL);
    CHECK(live_slabs(e) == 2 && slab_chunks(e) == e->nchunks);
    fail_each(&fa, op_fork, &e, a, NULL);
    CHECK(live_slabs(e) == 2 && wv_weave_hash(e) == wv_weave_hash(a));
    REQUIRE_OK(wv_encode_alloc(b, 1, NULL, 0, NULL, (void **)&buf, &len));
    arg[0] = buf;
    fail_each(&fa, op_apply, &e, NULL, arg);
    free(buf);
    REQUIRE_OK(wv_merge(a, b));
    CHECK(wv_weave_hash(e) == wv_weave_hash(a) && live_slabs(e) == 2 && slab_chunks(e) == e->nchunks);
    CHECK(wv_doc_bytes(a) + wv_doc_bytes(b) + wv_doc_bytes(e) == fa.live_bytes);

    /* deleting everything rewrites every chunk: both slabs are freed */
    do_delete(b, &mb, 0, mb.n);
    CHECK_DOC(b);
    CHECK(b->nslabs == 2 && live_slabs(b) == 0 && slab_chunks(b) == 0);
    CHECK(wv_doc_bytes(a) + wv_doc_bytes(b) + wv_doc_bytes(e) == fa.live_bytes);
    wv_doc_free(a), wv_doc_free(b), wv_doc_free(e);
    CHECK(fa.live_bytes == 0 && fa.live_blocks == 0);
    free(m.cp), free(mb.cp);
}

int main(void) {
    test_init();
    test_slabs();
    test_plan();
    test_single_site();
    test_boundaries();
    test_many_leaves();
    test_multi_site();
    return test_done("chunks");
}

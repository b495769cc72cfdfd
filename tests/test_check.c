/* test_check.c — wv_check (weave/check.c) catches every kind of corruption.
 *
 * A valid multi-site document (forks, concurrent inserts at one position,
 * concurrent deletes of one character, long inserts over several chunks,
 * merges) is built first and must pass. Then each case takes a fresh clone,
 * verifies that the unmodified clone passes, corrupts one thing in its
 * internal state and demands WV_E_CORRUPT with a non-empty message (and with
 * msg == NULL, and truncated into a tiny buffer). Tree-shape corruptions are
 * made on the atom array and written back through the chunk builder, so that
 * the chunk counts stay right and the invariant under test is what fires.
 * Each case runs on every target it applies to (up to a bound) and must find
 * at least one. Beyond the tree: counts, Fenwick tree (every entry, the last
 * one included), totals, site table, own site index, clock below the weft,
 * chars whose value is not a Unicode scalar value, atoms on the root's site.
 *
 * Finally a random single mutation of atoms or weft, repeated many times, is
 * judged by a naive oracle (rebuild the tree from cause ids, sort children,
 * walk it and compare; recount everything) and wv_check must agree with the
 * oracle both ways: no false alarms, no misses. */
#include "test.h"
#include "internal.h"

/* ---- views and writers -------------------------------------------------- */

typedef struct view {
    wv_atom *a;   /* the weave, in order */
    size_t n;
    size_t *par;  /* index of each atom's cause (SIZE_MAX: root / not found) */
    size_t *end;  /* end of each atom's causal block (descendants counted) */
} view;

typedef struct keyed {
    uint64_t key;
    size_t i;
} keyed;

static int keyed_cmp(const void *x, const void *y) {
    const keyed *a = x, *b = y;
    return (a->key > b->key) - (a->key < b->key);
}

static uint64_t key_of(uint16_t site, uint32_t clock) { return (uint64_t)site << 32 | clock; }

static wv_atom *flatten(const wv_doc *d, size_t *n) {
    size_t total = 0;
    for (size_t c = 0; c < d->nchunks; c++) total += d->chunks[c].len;
    wv_atom *a = malloc((total + 2) * sizeof *a); /* room to insert two atoms */
    REQUIRE(a);
    size_t i = 0;
    for (size_t c = 0; c < d->nchunks; c++)
        for (uint32_t k = 0; k < d->chunks[c].len; k++) a[i++] = d->chunks[c].a[k];
    *n = total;
    return a;
}

/* A view of a valid doc: causes by id lookup, block ends from descendant
 * counts (a cause precedes its effects in a valid weave). */
static view view_of(const wv_doc *d) {
    view v;
    v.a = flatten(d, &v.n);
    v.par = malloc(v.n * sizeof *v.par);
    v.end = malloc(v.n * sizeof *v.end);
    keyed *ids = malloc(v.n * sizeof *ids);
    REQUIRE(v.par && v.end && ids);
    for (size_t i = 0; i < v.n; i++) ids[i] = (keyed){key_of(v.a[i].site, v.a[i].clock), i};
    qsort(ids, v.n, sizeof *ids, keyed_cmp);
    for (size_t i = 0; i < v.n; i++) {
        v.par[i] = SIZE_MAX;
        keyed k = {key_of(v.a[i].csite, v.a[i].cclock), 0};
        keyed *hit = i ? bsearch(&k, ids, v.n, sizeof *ids, keyed_cmp) : NULL;
        if (hit) v.par[i] = hit->i;
        v.end[i] = i + 1;
    }
    for (size_t i = v.n; i-- > 1;) {
        REQUIRE(v.par[i] < i);
        if (v.end[i] > v.end[v.par[i]]) v.end[v.par[i]] = v.end[i];
    }
    free(ids);
    return v;
}

static void view_free(view *v) {
    free(v->a), free(v->par), free(v->end);
}

static int is_leaf(const view *v, size_t i) { return v->end[i] == i + 1; }
static unsigned kind_of(const view *v, size_t i) { return wv_atom_kind(v->a[i]); }

/* The atom at weave index i of d. */
static wv_atom *atom_at(wv_doc *d, size_t i) {
    for (size_t c = 0; c < d->nchunks; c++) {
        if (i < d->chunks[c].len) return &d->chunks[c].a[i];
        i -= d->chunks[c].len;
    }
    REQUIRE(0);
    return NULL;
}

/* Replaces d's weave with a[0..n), through the chunk builder: chunk and
 * visible counts, totals and the Fenwick tree are all consistent after. */
static void rebuild(wv_doc *d, const wv_atom *a, size_t n) {
    wv_build b;
    _wv_build_init(&b, &d->alloc, NULL, 0);
    for (size_t i = 0; i < n; i++) _wv_build_push(&b, a[i]);
    REQUIRE(b.err == WV_OK);
    REQUIRE(_wv_build_commit(d, &b, 0, d->nchunks) == WV_OK);
}

/* ---- the base document and the case harness ----------------------------- */

static void ins(wv_doc *d, size_t pos, const char *s) {
    REQUIRE_OK(wv_text_insert(d, pos, s, strlen(s)));
}

static wv_doc *make_base(void) {
    wv_doc *a, *b, *c;
    REQUIRE_OK(wv_doc_new(&a, 50, NULL));
    ins(a, 0, "the quick brown fox");
    REQUIRE_OK(wv_doc_fork(a, 70, &b));
    REQUIRE_OK(wv_doc_fork(a, 30, &c)); /* sorts before a: indexes shift */
    /* concurrent runs at one position, concurrent single chars at another */
    ins(a, 4, "very ");
    ins(b, 4, "slow ");
    ins(c, 4, "red \xc3\xa9t\xc3\xa9 ");
    ins(a, 2, "X");
    ins(b, 2, "Y");
    ins(c, 2, "Z");
    /* concurrent deletes of one character; a char typed after a deleted one */
    REQUIRE_OK(wv_text_delete(a, 0, 1));
    REQUIRE_OK(wv_text_delete(c, 0, 1));
    REQUIRE_OK(wv_text_delete(b, 12, 3));
    REQUIRE_OK(wv_merge(a, b));
    REQUIRE_OK(wv_merge(a, c));
    REQUIRE_OK(wv_merge(b, a));
    /* long inserts: several chunks; a wide delete across them */
    char long_text[700];
    for (size_t i = 0; i < sizeof long_text - 1; i++) long_text[i] = (char)('a' + i % 26);
    long_text[sizeof long_text - 1] = 0;
    ins(b, 3, long_text);
    ins(a, wv_text_len(a), "!!");
    ins(c, 0, long_text + 300);
    REQUIRE_OK(wv_merge(a, b));
    REQUIRE_OK(wv_text_delete(a, 100, 400));
    ins(a, 50, "mid");
    REQUIRE_OK(wv_merge(c, b));
    REQUIRE_OK(wv_text_delete(c, 0, 2));
    REQUIRE_OK(wv_merge(a, c));
    ins(a, 1, "q");
    REQUIRE_OK(wv_text_delete(a, 2, 1));
    wv_doc_free(b);
    wv_doc_free(c);
    CHECK_DOC(a);
    REQUIRE(a->nchunks >= 3);
    return a;
}

static const wv_doc *base;
static int case_failures;

/* A clone of the base that verifiably passes wv_check. */
static wv_doc *fresh(void) {
    wv_doc *c;
    REQUIRE_OK(wv_doc_clone(base, &c));
    char msg[256];
    int rc = wv_check(c, msg, sizeof msg);
    REQUIRE(rc == WV_OK);
    return c;
}

/* Demands that wv_check rejects c; does not free it. */
static void expect_corrupt_keep(const wv_doc *c, const char *what, size_t at) {
    char msg[256], tiny[6];
    memset(msg, 'x', sizeof msg);
    memset(tiny, 'x', sizeof tiny);
    int rc = wv_check(c, msg, sizeof msg);
    int ok = rc == WV_E_CORRUPT && msg[0] != 0 && memchr(msg, 0, sizeof msg) != NULL;
    ok = ok && wv_check(c, NULL, 0) == WV_E_CORRUPT;
    ok = ok && wv_check(c, tiny, sizeof tiny) == WV_E_CORRUPT && memchr(tiny, 0, sizeof tiny);
    CHECK(ok);
    if (!ok && case_failures++ < 20)
        fprintf(stderr, "  not caught: %s (index %zu): wv_check returned %d%s%.200s\n", what, at, rc,
                rc ? ", message: " : "", rc ? msg : "");
}

/* Demands that wv_check rejects c, then frees it. */
static void expect_corrupt(wv_doc *c, const char *what, size_t at) {
    expect_corrupt_keep(c, what, at);
    wv_doc_free(c);
}

/* Targets tried per case: all of them up to a bound, spread over the weave. */
#define MAX_TARGETS 24
static size_t pick(size_t count, size_t t) {
    return count <= MAX_TARGETS ? t : t * count / MAX_TARGETS;
}

/* ---- cases --------------------------------------------------------------- */

/* Swaps two adjacent sibling blocks [i, e) and [e, f) in a copy of v. */
static void swap_blocks(wv_doc *d, const view *v, size_t i) {
    size_t e = v->end[i], f = v->end[e], n = v->n;
    wv_atom *w = malloc(n * sizeof *w);
    REQUIRE(w);
    memcpy(w, v->a, i * sizeof *w);
    memcpy(w + i, v->a + e, (f - e) * sizeof *w);
    memcpy(w + i + (f - e), v->a + i, (e - i) * sizeof *w);
    memcpy(w + f, v->a + f, (n - f) * sizeof *w);
    rebuild(d, w, n);
    free(w);
}

static void case_child_order(const view *v) {
    size_t leaf_pairs = 0, prio_pairs = 0, block_pairs = 0, tried = 0;
    size_t cand[4096], nc = 0;
    for (size_t i = 1; i < v->n && nc < 4096; i++) {
        size_t e = v->end[i];
        if (e < v->n && v->par[e] == v->par[i]) cand[nc++] = i;
    }
    REQUIRE(nc > 0);
    for (size_t t = 0; t < nc && t < MAX_TARGETS; t++) {
        size_t i = cand[pick(nc, t)], e = v->end[i];
        if (is_leaf(v, i) && is_leaf(v, e)) leaf_pairs++;
        else block_pairs++;
        if (kind_of(v, i) != kind_of(v, e)) prio_pairs++;
        wv_doc *c = fresh();
        swap_blocks(c, v, i);
        expect_corrupt(c, "adjacent siblings swapped", i);
        tried++;
    }
    /* and specifically: a delete moved after a char sibling (priority) */
    for (size_t i = 1; i < v->n; i++) {
        size_t e = v->end[i];
        if (e < v->n && v->par[e] == v->par[i] && kind_of(v, i) == WV_KIND_DELETE &&
            kind_of(v, e) == WV_KIND_CHAR) {
            wv_doc *c = fresh();
            swap_blocks(c, v, i);
            expect_corrupt(c, "delete swapped behind a char sibling", i);
            prio_pairs++;
            break;
        }
    }
    /* two concurrent deletes of one char swapped (same priority, clock order) */
    for (size_t i = 1; i < v->n; i++) {
        size_t e = v->end[i];
        if (e < v->n && v->par[e] == v->par[i] && kind_of(v, i) == WV_KIND_DELETE &&
            kind_of(v, e) == WV_KIND_DELETE) {
            wv_doc *c = fresh();
            swap_blocks(c, v, i);
            expect_corrupt(c, "concurrent deletes swapped", i);
            leaf_pairs++;
            break;
        }
    }
    CHECK(tried > 0 && leaf_pairs > 0 && prio_pairs > 0 && block_pairs > 0);
}

static void case_deleted_bit(const view *v) {
    size_t vis = 0, del = 0;
    for (size_t i = 1; i < v->n; i++) {
        wv_atom x = v->a[i];
        if (wv_atom_kind(x) != WV_KIND_CHAR) continue;
        int d = wv_atom_deleted(x);
        if ((d ? del : vis) >= MAX_TARGETS) continue;
        d ? del++ : vis++;
        /* consistent counts: the bit itself is what is wrong */
        wv_doc *c = fresh();
        wv_atom *w = malloc(v->n * sizeof *w);
        REQUIRE(w);
        memcpy(w, v->a, v->n * sizeof *w);
        w[i].tag ^= WV_DELETED_BIT;
        rebuild(c, w, v->n);
        free(w);
        expect_corrupt(c, d ? "deleted bit cleared (counts adjusted)" : "deleted bit set (counts adjusted)", i);
        /* raw: the chunk's visible count now disagrees too */
        c = fresh();
        atom_at(c, i)->tag ^= WV_DELETED_BIT;
        expect_corrupt(c, d ? "deleted bit cleared (raw)" : "deleted bit set (raw)", i);
    }
    CHECK(vis > 0 && del > 0);
    size_t dels = 0;
    for (size_t i = 1; i < v->n && dels < 4; i++)
        if (kind_of(v, i) == WV_KIND_DELETE) {
            wv_doc *c = fresh();
            atom_at(c, i)->tag |= WV_DELETED_BIT;
            expect_corrupt(c, "deleted bit set on a delete atom", i);
            dels++;
        }
    CHECK(dels > 0);
    wv_doc *c = fresh();
    atom_at(c, 0)->tag |= WV_DELETED_BIT;
    expect_corrupt(c, "deleted bit set on the root", 0);
}

/* Leaf y takes the clock of another atom x of its site. Chosen so the tree
 * stays valid: y is a leaf, x's clock is above y's cause, y keeps its place
 * among its siblings, and y does not hold its site's highest clock (the weft
 * still matches); only the duplicate id is wrong. */
static void case_duplicate(const view *v) {
    size_t found = 0;
    for (size_t y = 1; y < v->n && found < MAX_TARGETS; y++) {
        if (!is_leaf(v, y)) continue;
        wv_atom Y = v->a[y];
        if (Y.clock >= base->sites.weft[Y.site]) continue;
        /* siblings around y */
        size_t prev = SIZE_MAX, next = v->end[y] < v->n && v->par[v->end[y]] == v->par[y] ? v->end[y] : SIZE_MAX;
        for (size_t j = v->par[y] + 1; j < y; j = v->end[j])
            if (v->end[j] == y) prev = j;
        for (size_t x = 1; x < v->n; x++) {
            wv_atom X = v->a[x];
            if (x == y || X.site != Y.site || X.clock <= Y.cclock) continue;
            wv_atom Z = Y;
            Z.clock = X.clock;
            if (prev != SIZE_MAX && wv_sibling_cmp(v->a[prev], Z) >= 0) continue;
            if (next != SIZE_MAX && wv_sibling_cmp(Z, v->a[next]) >= 0) continue;
            wv_doc *c = fresh();
            atom_at(c, y)->clock = X.clock;
            expect_corrupt(c, "duplicate id (tree otherwise valid)", y);
            found++;
            break;
        }
    }
    CHECK(found > 0);
    /* and carelessly: copy an atom's id onto any other atom of its site */
    for (size_t t = 0; t < MAX_TARGETS; t++) {
        size_t y = 1 + rng_below(v->n - 1), x = 1 + rng_below(v->n - 1);
        if (x == y || v->a[x].site != v->a[y].site) continue;
        wv_doc *c = fresh();
        atom_at(c, y)->clock = v->a[x].clock;
        expect_corrupt(c, "duplicate id (copied)", y);
    }
}

static void case_weft(void) {
    for (uint32_t s = 0; s < base->sites.n; s++) {
        wv_doc *c = fresh();
        c->sites.weft[s]++;
        expect_corrupt(c, "weft entry too high", s);
        if (base->sites.weft[s] + 1 <= base->clock) { /* high, but not above the clock */
            c = fresh();
            c->sites.weft[s]++;
            expect_corrupt(c, "weft entry too high (below the clock)", s);
        }
        if (base->sites.weft[s] > 0) {
            c = fresh();
            c->sites.weft[s]--;
            expect_corrupt(c, "weft entry too low", s);
            c = fresh();
            c->sites.weft[s] = 0;
            expect_corrupt(c, "weft entry zero", s);
        }
    }
    wv_doc *c = fresh();
    c->clock = _wv_sites_max_clock(&c->sites) - 1;
    expect_corrupt(c, "clock below the highest weft entry", 0);
}

static void case_counts(void) {
    wv_doc *c = fresh();
    size_t nch = c->nchunks;
    wv_doc_free(c);
    for (size_t k = 0; k < nch; k++) {
        c = fresh();
        c->chunks[k].vis++;
        expect_corrupt(c, "chunk vis too high", k);
        c = fresh();
        if (c->chunks[k].vis) {
            c->chunks[k].vis--;
            expect_corrupt(c, "chunk vis too low", k);
        } else {
            wv_doc_free(c);
        }
        c = fresh(); /* consistently wrong: chunk, total and tree all agree */
        _wv_fen_add(c, k, 1);
        expect_corrupt(c, "chunk vis, nvis and tree all one too high", k);
        c = fresh();
        c->chunks[k].len--;
        expect_corrupt(c, "chunk len one too low", k);
        c = fresh();
        uint32_t len = c->chunks[k].len;
        c->chunks[k].len = 0;
        expect_corrupt_keep(c, "chunk len 0", k);
        c->chunks[k].len = len;
        wv_doc_free(c);
        c = fresh();
        c->chunks[k].cap = WV_CHUNK_CAP + WV_CHUNK_STEP;
        expect_corrupt(c, "chunk cap above WV_CHUNK_CAP", k);
    }
    for (size_t i = 1; i <= WV_FEN_LEAVES(nch); i++) {
        c = fresh();
        c->fen[i]++;
        expect_corrupt(c, "Fenwick tree entry too high", i);
        c = fresh();
        c->fen[i] += 1000;
        expect_corrupt(c, "Fenwick tree entry far too high", i);
        if (base->nvis) { /* too low: the total would point past the last chunk */
            c = fresh();
            if (c->fen[i]) {
                c->fen[i]--;
                expect_corrupt(c, "Fenwick tree entry too low", i);
            } else {
                wv_doc_free(c);
            }
        }
    }
    c = fresh();
    c->natoms++;
    expect_corrupt(c, "natoms too high", 0);
    c = fresh();
    c->natoms--;
    expect_corrupt(c, "natoms too low", 0);
    c = fresh();
    c->nvis++;
    expect_corrupt(c, "nvis too high", 0);
    c = fresh();
    c->nvis--;
    expect_corrupt(c, "nvis too low", 0);
    c = fresh();
    c->nchunks = 0;
    expect_corrupt_keep(c, "no chunks", 0);
    c->nchunks = nch;
    wv_doc_free(c);
}

static void case_clock_vs_cause(const view *v) {
    size_t found = 0;
    for (size_t i = 1; i < v->n && found < MAX_TARGETS; i++) {
        if (!is_leaf(v, i)) continue;
        wv_doc *c = fresh();
        atom_at(c, i)->clock = v->a[i].cclock;
        expect_corrupt(c, "clock equal to its cause's", i);
        if (v->a[i].cclock > 0) {
            c = fresh();
            atom_at(c, i)->clock = v->a[i].cclock - 1;
            expect_corrupt(c, "clock below its cause's", i);
        }
        found++;
    }
    /* an inner atom, its children's cause clocks following it */
    size_t inner = 0;
    for (size_t i = 1; i < v->n && inner < 8; i++) {
        if (is_leaf(v, i) || v->a[i].cclock == 0) continue;
        wv_atom *w = malloc(v->n * sizeof *w);
        REQUIRE(w);
        memcpy(w, v->a, v->n * sizeof *w);
        uint32_t nc = v->a[i].cclock;
        for (size_t j = i + 1; j < v->end[i]; j++)
            if (v->par[j] == i) w[j].cclock = nc;
        w[i].clock = nc;
        wv_doc *c = fresh();
        rebuild(c, w, v->n);
        free(w);
        expect_corrupt(c, "inner atom's clock equal to its cause's", i);
        inner++;
    }
    CHECK(found > 0 && inner > 0);
}

static int on_path(const view *v, size_t anc, size_t i) {
    for (size_t a = v->par[i]; a != SIZE_MAX; a = v->par[a])
        if (a == anc) return 1;
    return 0;
}

static void case_missing_cause(const view *v) {
    size_t found = 0, elsewhere = 0, gap = 0;
    for (size_t i = 1, tried = 0; i < v->n && tried < MAX_TARGETS; i++) {
        if (!is_leaf(v, i) || kind_of(v, i) != WV_KIND_CHAR) continue;
        tried++;
        wv_atom y = v->a[i];
        if (y.clock > 1) { /* the root's site holds only clock 0 */
            wv_doc *c = fresh();
            atom_at(c, i)->csite = 0;
            atom_at(c, i)->cclock = 1;
            expect_corrupt(c, "cause on the root's site that does not exist", i);
            found++;
        }
        /* the cause's clock on another site */
        for (uint16_t s = 1; s < base->sites.n; s++) {
            if (s == y.csite) continue;
            int exists = 0;
            for (size_t j = 0; j < v->n; j++)
                if (v->a[j].site == s && v->a[j].clock == y.cclock) exists = 1;
            if (exists) continue;
            wv_doc *c = fresh();
            atom_at(c, i)->csite = s;
            expect_corrupt(c, "cause moved to a site that lacks that clock", i);
            found++;
            break;
        }
        /* an existing atom that is not an ancestor: a later or unrelated one */
        for (size_t z = 1; z < v->n; z++) {
            wv_atom Z = v->a[z];
            if (z == i || z == v->par[i] || on_path(v, z, i) || Z.clock >= y.clock ||
                wv_atom_kind(Z) == WV_KIND_DELETE)
                continue;
            wv_doc *c = fresh();
            atom_at(c, i)->csite = Z.site;
            atom_at(c, i)->cclock = Z.clock;
            expect_corrupt(c, z > i ? "cause is a later atom" : "cause is an earlier non-ancestor", i);
            elsewhere++;
            break;
        }
    }
    /* a clock gap of a site: a cause id between two clocks it used */
    for (size_t i = 1; i < v->n && !gap; i++) {
        if (!is_leaf(v, i) || kind_of(v, i) != WV_KIND_CHAR) continue;
        wv_atom y = v->a[i];
        for (uint32_t cl = y.clock - 1; cl > 0 && !gap; cl--) {
            int exists = 0;
            for (size_t j = 0; j < v->n && !exists; j++)
                exists = v->a[j].site == y.csite && v->a[j].clock == cl;
            if (exists || cl > base->sites.weft[y.csite]) continue;
            wv_doc *c = fresh();
            atom_at(c, i)->cclock = cl;
            expect_corrupt(c, "cause in a gap of its site's clocks", i);
            gap++;
        }
    }
    CHECK(found > 0);
    CHECK(elsewhere > 0);
    CHECK(gap > 0);
}

/* Moves atom i alone to just after its next sibling's block: its descendants
 * stay behind, before it, so its causal block is split. */
static void case_split_block(const view *v) {
    size_t found = 0, orphan = 0;
    for (size_t i = 1; i < v->n && found < MAX_TARGETS; i++) {
        size_t e = v->end[i];
        if (is_leaf(v, i) || e >= v->n || v->par[e] != v->par[i]) continue;
        size_t f = v->end[e];
        wv_atom *w = malloc(v->n * sizeof *w);
        REQUIRE(w);
        memcpy(w, v->a, i * sizeof *w);
        memcpy(w + i, v->a + i + 1, (f - i - 1) * sizeof *w);
        w[f - 1] = v->a[i];
        memcpy(w + f, v->a + f, (v->n - f) * sizeof *w);
        wv_doc *c = fresh();
        rebuild(c, w, v->n);
        free(w);
        expect_corrupt(c, "atom moved after its next sibling's block (block split)", i);
        found++;
    }
    /* a block cut in two: its tail moved to the end of the weave */
    for (size_t i = 1; i < v->n && orphan < 8; i++) {
        if (v->end[i] - i < 3 || v->end[i] == v->n) continue;
        size_t mid = i + 1 + (v->end[i] - i - 1) / 2, e = v->end[i], n = v->n;
        wv_atom *w = malloc(n * sizeof *w);
        REQUIRE(w);
        memcpy(w, v->a, mid * sizeof *w);
        memcpy(w + mid, v->a + e, (n - e) * sizeof *w);
        memcpy(w + mid + (n - e), v->a + mid, (e - mid) * sizeof *w);
        wv_doc *c = fresh();
        rebuild(c, w, n);
        free(w);
        expect_corrupt(c, "tail of a causal block moved to the end", i);
        orphan++;
    }
    /* a child before its parent: the two swapped */
    size_t swapped = 0;
    for (size_t i = 1; i + 1 < v->n && swapped < 8; i++) {
        if (v->par[i + 1] != i) continue;
        wv_atom *w = malloc(v->n * sizeof *w);
        REQUIRE(w);
        memcpy(w, v->a, v->n * sizeof *w);
        w[i] = v->a[i + 1], w[i + 1] = v->a[i];
        wv_doc *c = fresh();
        rebuild(c, w, v->n);
        free(w);
        expect_corrupt(c, "child before its cause", i);
        swapped++;
    }
    CHECK(found > 0 && orphan > 0 && swapped > 0);
}

/* Writes v's weave with atom x inserted at index at. */
static void rebuild_with(wv_doc *d, const view *v, size_t at, wv_atom x) {
    wv_atom *w = malloc((v->n + 1) * sizeof *w);
    REQUIRE(w);
    memcpy(w, v->a, at * sizeof *w);
    w[at] = x;
    memcpy(w + at + 1, v->a + at, (v->n - at) * sizeof *w);
    rebuild(d, w, v->n + 1);
    free(w);
}

/* A new atom of the clone's own site with the next clock (weft and clock
 * kept right), caused by atom `cause`. */
static wv_atom new_atom(wv_doc *c, wv_atom cause, unsigned kind, uint32_t value) {
    uint32_t clock = c->clock + 1;
    if (clock <= cause.clock) clock = cause.clock + 1;
    c->clock = clock;
    c->sites.weft[c->self] = clock;
    return (wv_atom){clock, cause.clock, c->self, cause.site, wv_tag(kind, value)};
}

static void case_second_root(const view *v) {
    size_t found = 0;
    for (size_t i = 1; i < v->n && found < 8; i++) {
        if (!is_leaf(v, i) || kind_of(v, i) != WV_KIND_CHAR || wv_atom_deleted(v->a[i])) continue;
        wv_doc *c = fresh();
        atom_at(c, i)->tag = wv_tag(WV_KIND_ROOT, 0);
        expect_corrupt(c, "a leaf turned into a root", i);
        c = fresh();
        atom_at(c, i)->clock = 0;
        expect_corrupt(c, "a leaf with clock 0", i);
        found++;
    }
    wv_doc *c = fresh();
    rebuild_with(c, v, v->n, v->a[0]);
    expect_corrupt(c, "a copy of the root at the end", v->n);
    c = fresh();
    rebuild_with(c, v, 1, v->a[0]);
    expect_corrupt(c, "a copy of the root at index 1", 1);
    /* the root itself damaged */
    c = fresh();
    atom_at(c, 0)->clock = 1;
    expect_corrupt(c, "root with clock 1", 0);
    c = fresh();
    atom_at(c, 0)->tag = wv_tag(WV_KIND_CHAR, 'r');
    expect_corrupt(c, "root of kind char", 0);
    c = fresh();
    atom_at(c, 0)->site = 1;
    expect_corrupt(c, "root on a real site", 0);
    CHECK(found > 0);
}

static void case_caused_by_delete(const view *v) {
    size_t found = 0;
    for (size_t i = 1; i < v->n && found < 8; i++) {
        if (kind_of(v, i) != WV_KIND_DELETE) continue;
        wv_doc *c = fresh();
        rebuild_with(c, v, i + 1, new_atom(c, v->a[i], WV_KIND_CHAR, 'k'));
        expect_corrupt(c, "a char caused by a delete", i + 1);
        c = fresh();
        rebuild_with(c, v, i + 1, new_atom(c, v->a[i], WV_KIND_DELETE, 0));
        expect_corrupt(c, "a delete caused by a delete", i + 1);
        /* an existing leaf char re-parented onto the delete, right after it */
        if (i + 1 < v->n && is_leaf(v, i + 1) && kind_of(v, i + 1) == WV_KIND_CHAR &&
            v->a[i + 1].clock > v->a[i].clock) {
            c = fresh();
            atom_at(c, i + 1)->csite = v->a[i].site;
            atom_at(c, i + 1)->cclock = v->a[i].clock;
            expect_corrupt(c, "an existing char re-parented onto a delete", i + 1);
        }
        found++;
    }
    /* a delete of the root */
    wv_doc *c = fresh();
    rebuild_with(c, v, 1, new_atom(c, v->a[0], WV_KIND_DELETE, 0));
    expect_corrupt(c, "a delete of the root", 1);
    CHECK(found > 0);
}

static void case_site_index(const view *v) {
    size_t found = 0;
    uint16_t n = (uint16_t)base->sites.n;
    for (size_t t = 0; t < MAX_TARGETS; t++) {
        size_t i = pick(v->n, t);
        wv_doc *c = fresh();
        atom_at(c, i)->site = n;
        expect_corrupt(c, "site index = table size", i);
        c = fresh();
        atom_at(c, i)->site = UINT16_MAX;
        expect_corrupt(c, "site index 65535", i);
        c = fresh();
        atom_at(c, i)->csite = n;
        expect_corrupt(c, "cause site index = table size", i);
        found++;
    }
    CHECK(found > 0);
}

static void case_kind(const view *v) {
    size_t found = 0;
    for (size_t t = 0; t < MAX_TARGETS; t++) {
        size_t i = 1 + pick(v->n - 1, t) % (v->n - 1);
        for (unsigned k = 3; k <= WV_KIND_MASK; k += 31) {
            wv_doc *c = fresh();
            wv_atom *a = atom_at(c, i);
            a->tag = (a->tag & ~(WV_KIND_MASK << WV_KIND_SHIFT)) | k << WV_KIND_SHIFT;
            expect_corrupt(c, "unknown kind", i);
        }
        found++;
    }
    CHECK(found > 0);
}

static void case_sites_table(void) {
    wv_doc *c = fresh();
    c->self = 0;
    expect_corrupt(c, "own site index 0 (the root's)", 0);
    c = fresh();
    c->self = (uint16_t)c->sites.n;
    expect_corrupt(c, "own site index past the table", 0);
    c = fresh();
    c->sites.ids[0] = 1;
    expect_corrupt(c, "site table without the root", 0);
    for (uint32_t s = 1; s + 1 < base->sites.n; s++) {
        c = fresh();
        uint64_t t = c->sites.ids[s];
        c->sites.ids[s] = c->sites.ids[s + 1], c->sites.ids[s + 1] = t;
        expect_corrupt(c, "site table out of order", s);
        c = fresh();
        c->sites.ids[s + 1] = c->sites.ids[s];
        expect_corrupt(c, "site table with a duplicate id", s);
    }
    c = fresh();
    c->sites.n = 0;
    expect_corrupt_keep(c, "empty site table", 0);
    c->sites.n = base->sites.n;
    wv_doc_free(c);
}

/* Atoms no edit can create: a char whose value is not a Unicode scalar value
 * (wv_text_read would emit invalid UTF-8 for it), and an atom other than the
 * root on the root's pseudo-site (site id 0 is refused by wv_doc_new and
 * wv_doc_fork), with the weft made to match so nothing else is wrong. */
static void case_impossible_atoms(const view *v) {
    size_t found = 0;
    for (size_t i = 1; i < v->n && found < 2; i++) {
        if (kind_of(v, i) != WV_KIND_CHAR) continue;
        static const uint32_t bad[] = {0xd800, 0xdfff, 0x110000, WV_VALUE_MAX};
        for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
            wv_doc *c = fresh();
            wv_atom *a = atom_at(c, i);
            a->tag = (a->tag & ~WV_VALUE_MAX) | bad[k];
            expect_corrupt(c, "char value not a Unicode scalar value", i);
        }
        found++;
    }
    CHECK(found > 0);
    size_t dels = 0;
    for (size_t i = 1; i < v->n && dels < 2; i++) {
        if (kind_of(v, i) != WV_KIND_DELETE) continue;
        wv_doc *c = fresh();
        atom_at(c, i)->tag |= 1; /* a delete carries no value */
        expect_corrupt(c, "delete atom with a value", i);
        dels++;
    }
    CHECK(dels > 0);
    size_t pseudo = 0;
    for (size_t i = 1; i < v->n && pseudo < 2; i++) {
        wv_atom y = v->a[i];
        if (!is_leaf(v, i) || y.clock >= base->sites.weft[y.site]) continue;
        wv_doc *c = fresh();
        atom_at(c, i)->site = 0;
        c->sites.weft[0] = y.clock;
        expect_corrupt(c, "atom on the root's pseudo-site", i);
        pseudo++;
    }
    CHECK(pseudo > 0);
}

/* ---- random mutations against a naive oracle ----------------------------- */

typedef struct edge {
    size_t parent, child;
    wv_atom a;
} edge;

static int edge_cmp(const void *x, const void *y) {
    const edge *p = x, *q = y;
    if (p->parent != q->parent) return p->parent < q->parent ? -1 : 1;
    return wv_sibling_cmp(p->a, q->a);
}

/* Every invariant, from scratch: tree rebuilt from cause ids, children
 * sorted by the child order of DESIGN.md §1, its pre-order walk compared with
 * the weave; counts recounted. */
static int oracle_valid(const wv_doc *d) {
    /* chunks, totals, Fenwick tree */
    if (d->nchunks == 0) return 0;
    size_t atoms = 0, nvis = 0;
    for (size_t c = 0; c < d->nchunks; c++) {
        const wv_chunk *ch = &d->chunks[c];
        if (ch->len == 0 || ch->len > ch->cap || ch->cap > WV_CHUNK_CAP) return 0;
        uint32_t vis = 0;
        for (uint32_t k = 0; k < ch->len; k++) vis += (uint32_t)wv_atom_visible(ch->a[k]);
        if (vis != ch->vis) return 0;
        atoms += ch->len, nvis += vis;
    }
    if (atoms != d->natoms || nvis != d->nvis) return 0;
    for (size_t i = 1; i <= WV_FEN_LEAVES(d->nchunks); i++) { /* entry i: leaves (i - lowbit(i), i] */
        uint32_t s = 0;
        for (size_t j = (i - (i & -i)) * WV_FEN_LEAF; j < i * WV_FEN_LEAF && j < d->nchunks; j++)
            s += d->chunks[j].vis;
        int covers = i - (i & -i) <= d->fen_leaf && d->fen_leaf < i; /* pending there */
        if ((int64_t)d->fen[i] + (covers ? d->fen_pending : 0) != (int64_t)s) return 0;
    }
    /* site table */
    const wv_sites *st = &d->sites;
    if (st->n == 0 || st->ids[0] != 0 || d->self == 0 || d->self >= st->n) return 0;
    for (uint32_t s = 1; s < st->n; s++)
        if (st->ids[s] <= st->ids[s - 1]) return 0;
    for (uint32_t s = 0; s < st->n; s++)
        if (st->weft[s] > d->clock) return 0;
    /* atoms */
    size_t n;
    wv_atom *a = flatten(d, &n);
    int ok = 0;
    keyed *ids = malloc(n * sizeof *ids);
    edge *e = malloc(n * sizeof *e);
    size_t *first = malloc((n + 1) * sizeof *first), *stack = malloc(n * sizeof *stack);
    int *has_del = calloc(n, sizeof *has_del);
    uint32_t *top = calloc(st->n, sizeof *top);
    REQUIRE(ids && e && first && stack && has_del && top);
    if (a[0].clock || a[0].cclock || a[0].site || a[0].csite || a[0].tag != wv_tag(WV_KIND_ROOT, 0))
        goto out; /* the root carries no value and is never deleted */
    for (size_t i = 0; i < n; i++) {
        if (a[i].site >= st->n || a[i].csite >= st->n) goto out;
        ids[i] = (keyed){key_of(a[i].site, a[i].clock), i};
    }
    qsort(ids, n, sizeof *ids, keyed_cmp);
    for (size_t i = 1; i < n; i++)
        if (ids[i].key == ids[i - 1].key) goto out;
    for (size_t i = 1; i < n; i++) {
        unsigned k = wv_atom_kind(a[i]);
        if (k != WV_KIND_CHAR && k != WV_KIND_DELETE) goto out;
        if (a[i].site == 0) goto out; /* only the root is on the root's site */
        if (k == WV_KIND_CHAR) {      /* a Unicode scalar value */
            uint32_t cp = wv_atom_value(a[i]);
            if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) goto out;
        } else if (wv_atom_value(a[i]) != 0) {
            goto out; /* a delete carries no value: equal weaves hash equal */
        }
        if (a[i].clock == 0 || a[i].clock <= a[i].cclock) goto out;
        keyed key = {key_of(a[i].csite, a[i].cclock), 0};
        keyed *hit = bsearch(&key, ids, n, sizeof *ids, keyed_cmp);
        if (!hit) goto out;
        unsigned pk = wv_atom_kind(a[hit->i]);
        if (pk == WV_KIND_DELETE || (k == WV_KIND_DELETE && pk == WV_KIND_ROOT)) goto out;
        if (k == WV_KIND_DELETE) has_del[hit->i] = 1;
        e[i - 1] = (edge){hit->i, i, a[i]};
    }
    for (size_t i = 0; i < n; i++)
        if (wv_atom_deleted(a[i]) != has_del[i]) goto out;
    /* children in child order; pre-order walk must be 0, 1, 2, ... */
    qsort(e, n - 1, sizeof *e, edge_cmp);
    for (size_t i = 0, j = 0; i <= n; i++) { /* first[p]: p's first edge */
        while (j < n - 1 && e[j].parent < i) j++;
        first[i] = j;
    }
    size_t depth = 0, next = 0;
    stack[depth++] = 0;
    while (depth) {
        size_t x = stack[--depth];
        if (x != next++) goto out;
        size_t lo = first[x], hi = first[x + 1];
        for (size_t j = hi; j-- > lo;) stack[depth++] = e[j].child;
    }
    if (next != n) goto out;
    /* weft */
    for (size_t i = 0; i < n; i++)
        if (a[i].clock > top[a[i].site]) top[a[i].site] = a[i].clock;
    for (uint32_t s = 0; s < st->n; s++)
        if (top[s] != st->weft[s]) goto out;
    ok = 1;
out:
    free(a), free(ids), free(e), free(first), free(stack), free(has_del), free(top);
    return ok;
}

static void test_random_mutations(const view *v) {
    size_t valid = 0, invalid = 0, disagree = 0;
    CHECK(oracle_valid(base));
    for (int iter = 0; iter < 3000; iter++) {
        wv_doc *c = fresh();
        wv_atom *w = malloc((v->n + 1) * sizeof *w);
        REQUIRE(w);
        memcpy(w, v->a, v->n * sizeof *w);
        size_t n = v->n, i = rng_below(n), j = rng_below(n);
        int r = (int)rng_below(14);
        const char *what = "";
        switch (r) {
        case 0: w[i].clock++, what = "clock+1"; break;
        case 1: w[i].clock--, what = "clock-1"; break;
        case 2: w[i].cclock++, what = "cclock+1"; break;
        case 3: w[i].cclock--, what = "cclock-1"; break;
        case 4: w[i].site = (uint16_t)rng_below(c->sites.n + 1), what = "site"; break;
        case 5: w[i].csite = (uint16_t)rng_below(c->sites.n + 1), what = "csite"; break;
        case 6: w[i].tag ^= WV_DELETED_BIT, what = "deleted bit"; break;
        case 7:
            w[i].tag = (w[i].tag & ~(WV_KIND_MASK << WV_KIND_SHIFT)) | (uint32_t)rng_below(4) << WV_KIND_SHIFT;
            what = "kind";
            break;
        case 8: /* a value change: any scalar value (impossible values are cases above) */
            w[i].tag = (w[i].tag & ~WV_VALUE_MAX) | (uint32_t)rng_below(0xd800);
            what = "value";
            break;
        case 9: /* swap two neighbours */
            if (i + 1 < n) {
                wv_atom t = w[i];
                w[i] = w[i + 1], w[i + 1] = t;
            }
            what = "swap";
            break;
        case 10: { /* move one atom */
            wv_atom t = w[i];
            if (i < j) memmove(w + i, w + i + 1, (j - i) * sizeof *w);
            else memmove(w + j + 1, w + j, (i - j) * sizeof *w);
            w[j] = t;
            what = "move";
            break;
        }
        case 11: /* drop one atom */
            if (n > 1) memmove(w + i, w + i + 1, (n - i - 1) * sizeof *w), n--;
            what = "drop";
            break;
        case 12: /* duplicate one atom */
            memmove(w + i + 1, w + i, (n - i) * sizeof *w), n++;
            what = "duplicate";
            break;
        default: { /* a weft entry */
            uint32_t s = (uint32_t)rng_below(c->sites.n);
            if (rng_below(2)) c->sites.weft[s]++;
            else c->sites.weft[s]--;
            what = "weft";
            break;
        }
        }
        rebuild(c, w, n);
        free(w);
        char msg[256];
        int got = wv_check(c, msg, sizeof msg), want = oracle_valid(c);
        if ((got == WV_OK) != want) {
            if (disagree++ < 5)
                fprintf(stderr, "  mutation %s at %zu (%zu): oracle says %s, wv_check %d %s\n", what, i,
                        j, want ? "valid" : "corrupt", got, got ? msg : "");
        } else if (got != WV_OK) {
            CHECK(got == WV_E_CORRUPT && msg[0]);
        }
        want ? valid++ : invalid++;
        wv_doc_free(c);
    }
    CHECK(disagree == 0);
    CHECK(valid > 100 && invalid > 1000); /* both outcomes were exercised */
}

/* Sparse clocks (a site that merged often and typed little) make the id set
 * fall back from its bitmap to sorted ids: the same checks must hold. */
static void case_sparse_clocks(void) {
    wv_doc *a, *b;
    REQUIRE_OK(wv_doc_new(&a, 1, NULL));
    REQUIRE_OK(wv_text_insert(a, 0, "ab", 2));
    REQUIRE_OK(wv_doc_clone(a, &b));
    for (int i = 0; i < 5000; i++) REQUIRE_OK(wv_merge(a, b)); /* each merge ticks the clock */
    REQUIRE_OK(wv_text_insert(a, 2, "cd", 2));                 /* clocks 5003, 5004 */
    CHECK(wv_doc_weft(a, 1) == 5004);
    CHECK_DOC(a);
    wv_doc *c;
    REQUIRE_OK(wv_doc_clone(a, &c));
    c->chunks[0].a[3].clock = 2; /* 'c' takes b's id; the weft stays sparse (5004) */
    c->chunks[0].a[3].cclock = 1;
    char msg[256];
    CHECK_RC(wv_check(c, msg, sizeof msg), WV_E_CORRUPT);
    CHECK_RC(_wv_validate(c, NULL, 0), WV_E_DUPLICATE); /* found by the sorted ids */
    wv_doc_free(c);
    REQUIRE_OK(wv_doc_clone(a, &c));
    c->chunks[0].a[4].cclock = 4000; /* 'd' caused by an id that does not exist */
    CHECK_RC(_wv_validate(c, NULL, 0), WV_E_CAUSE);
    wv_doc_free(c);
    REQUIRE_OK(wv_doc_clone(a, &c));
    c->sites.weft[1] = 4000; /* weft below the atoms */
    CHECK_RC(wv_check(c, msg, sizeof msg), WV_E_CORRUPT);
    wv_doc_free(c);
    wv_doc_free(a), wv_doc_free(b);
}

/* wv_merge refuses an atom both sides hold when they disagree on its cause
 * or value, whether the walk meets it first or inside a shared run, and
 * leaves dst as it was (values: test_merge's test_disagreement). */
static void case_merge_disagrees(void) {
    for (int field = 0; field < 3; field++)
        for (size_t at = 1; at < 6; at += 4) { /* first in the walk, or deep in the run */
            wv_doc *a, *b;
            REQUIRE_OK(wv_doc_new(&a, 1, NULL));
            REQUIRE_OK(wv_text_insert(a, 0, "abcdefgh", 8));
            REQUIRE_OK(wv_doc_clone(a, &b));
            wv_atom *x = &b->chunks[0].a[at];
            if (field == 0) x->cclock = x->cclock ? x->cclock - 1 : 7;
            else if (field == 1) x->csite = (uint16_t)!x->csite;
            else x->tag ^= 1; /* another char */
            uint64_t h = wv_weave_hash(a);
            CHECK_RC(wv_merge(a, b), WV_E_CORRUPT);
            CHECK(wv_weave_hash(a) == h);
            CHECK_RC(wv_merge(b, a), WV_E_CORRUPT);
            wv_doc_free(a), wv_doc_free(b);
        }
}

int main(void) {
    test_init();
    wv_doc *b = make_base();
    base = b;
    view v = view_of(base);
    CHECK(oracle_valid(base));
    case_child_order(&v);
    case_deleted_bit(&v);
    case_duplicate(&v);
    case_weft();
    case_counts();
    case_clock_vs_cause(&v);
    case_missing_cause(&v);
    case_split_block(&v);
    case_second_root(&v);
    case_caused_by_delete(&v);
    case_site_index(&v);
    case_kind(&v);
    case_sites_table();
    case_impossible_atoms(&v);
    case_sparse_clocks();
    case_merge_disagrees();
    test_random_mutations(&v);
    view_free(&v);
    wv_doc_free(b);
    return test_done("check");
}

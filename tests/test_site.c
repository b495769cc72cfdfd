/* test_site.c — the sorted site table and its weft (atoms/site.c).
 *
 * Checks init (only the root site), insert (ids stay sorted, the reported
 * position, weft entries move with their ids, the new entry starts at 0),
 * find, copy (equal and independent), union against a naive model on random
 * tables (maps from each side's indexes, weft maxima, sorted, duplicates
 * merged), the WV_SITES_MAX limit (WV_E_LIMIT, table unchanged) for insert
 * and union, and _wv_sites_max_clock. */
#include "test.h"
#include "mem.h"
#include "site.h"

static const wv_alloc *A = &_wv_default_alloc;

/* A table's invariants: root first, ids strictly increasing, n <= cap. */
static int table_ok(const wv_sites *s) {
    if (s->n == 0 || s->n > s->cap || s->cap > WV_SITES_MAX) return 0;
    if (s->ids[0] != 0) return 0;
    for (uint32_t i = 1; i < s->n; i++)
        if (s->ids[i] <= s->ids[i - 1]) return 0;
    return 1;
}

static uint64_t random_id(void) {
    switch (rng_below(4)) {
    case 0: return 1 + rng_below(20);          /* small: many collisions */
    case 1: return UINT64_MAX - rng_below(5);  /* the top of the range */
    default: return rng() | 1;                  /* anything but 0 */
    }
}

static void test_init_find(void) {
    wv_sites s;
    REQUIRE_OK(_wv_sites_init(&s, A));
    CHECK(s.n == 1);
    CHECK(s.ids[0] == 0);
    CHECK(s.weft[0] == 0);
    CHECK(table_ok(&s));
    CHECK(_wv_sites_find(&s, 0) == 0);
    CHECK(_wv_sites_find(&s, 1) == -1);
    CHECK(_wv_sites_find(&s, UINT64_MAX) == -1);
    CHECK(_wv_sites_max_clock(&s) == 0);
    _wv_sites_free(&s, A);
    CHECK(s.ids == NULL && s.weft == NULL && s.n == 0);
    _wv_sites_free(&s, A); /* freeing a freed (zeroed) table is harmless */
}

/* Random inserts against a model: a sorted array of (id, weft) pairs. */
static void test_insert(void) {
    for (int round = 0; round < 40; round++) {
        wv_sites s;
        REQUIRE_OK(_wv_sites_init(&s, A));
        uint64_t mid[300];
        uint32_t mweft[300];
        uint32_t mn = 1;
        mid[0] = 0, mweft[0] = 0;
        size_t target = 1 + rng_below(250);
        while (mn < target + 1) {
            uint64_t id = random_id();
            int32_t found = _wv_sites_find(&s, id);
            uint32_t want = 0; /* model lower bound */
            while (want < mn && mid[want] < id) want++;
            int present = want < mn && mid[want] == id;
            CHECK(found == (present ? (int32_t)want : -1));
            if (present) continue;
            uint32_t pos = UINT32_MAX;
            REQUIRE_OK(_wv_sites_insert(&s, id, &pos, A));
            CHECK(pos == want);
            CHECK(s.weft[pos] == 0);
            memmove(mid + want + 1, mid + want, (mn - want) * sizeof *mid);
            memmove(mweft + want + 1, mweft + want, (mn - want) * sizeof *mweft);
            mid[want] = id, mweft[want] = 0, mn++;
            /* give the new site a weft so moves of entries are visible */
            uint32_t w = (uint32_t)rng_below(1000);
            s.weft[pos] = w, mweft[want] = w;
            REQUIRE(s.n == mn);
            CHECK(table_ok(&s));
            CHECK(!memcmp(s.ids, mid, mn * sizeof *mid));
            CHECK(!memcmp(s.weft, mweft, mn * sizeof *mweft));
        }
        for (uint32_t i = 0; i < mn; i++) CHECK(_wv_sites_find(&s, mid[i]) == (int32_t)i);
        uint32_t mx = 0;
        for (uint32_t i = 0; i < mn; i++) mx = mweft[i] > mx ? mweft[i] : mx;
        CHECK(_wv_sites_max_clock(&s) == mx);

        /* copy: equal, and independent of the source */
        wv_sites c;
        REQUIRE_OK(_wv_sites_copy(&c, &s, A));
        CHECK(c.n == s.n && c.cap >= c.n);
        CHECK(!memcmp(c.ids, s.ids, s.n * sizeof *s.ids));
        CHECK(!memcmp(c.weft, s.weft, s.n * sizeof *s.weft));
        CHECK(c.ids != s.ids && c.weft != s.weft);
        uint32_t pos;
        uint64_t fresh = 0;
        do fresh = random_id();
        while (_wv_sites_find(&c, fresh) >= 0);
        REQUIRE_OK(_wv_sites_insert(&c, fresh, &pos, A));
        c.weft[0] = 77;
        CHECK(s.n == mn && _wv_sites_find(&s, fresh) == -1 && s.weft[0] == mweft[0]);
        CHECK(!memcmp(s.ids, mid, mn * sizeof *mid));
        _wv_sites_free(&c, A);
        _wv_sites_free(&s, A);
    }
}

/* A random valid table: the root plus n - 1 distinct ids, random wefts. */
static void random_table(wv_sites *s, uint32_t n, uint64_t id_range) {
    REQUIRE_OK(_wv_sites_init(s, A));
    while (s->n < n) {
        uint64_t id = id_range ? 1 + rng_below(id_range) : random_id();
        uint32_t pos;
        if (_wv_sites_find(s, id) >= 0) continue;
        REQUIRE_OK(_wv_sites_insert(s, id, &pos, A));
    }
    for (uint32_t i = 0; i < s->n; i++)
        s->weft[i] = rng_below(3) ? (uint32_t)rng_below(100) : (uint32_t)rng();
}

static int cmp_u64(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

/* Naive union: concatenate, sort, drop duplicates; weft by lookup. */
static void check_union(const wv_sites *a, const wv_sites *b) {
    wv_sites u;
    uint16_t *ma = malloc(a->n * sizeof *ma), *mb = malloc(b->n * sizeof *mb);
    uint64_t *all = malloc((a->n + b->n) * sizeof *all);
    REQUIRE(ma && mb && all);
    memset(ma, 0xff, a->n * sizeof *ma);
    memset(mb, 0xff, b->n * sizeof *mb);
    REQUIRE_OK(_wv_sites_union(&u, a, b, ma, mb, A));

    size_t n = 0;
    for (uint32_t i = 0; i < a->n; i++) all[n++] = a->ids[i];
    for (uint32_t i = 0; i < b->n; i++) all[n++] = b->ids[i];
    qsort(all, n, sizeof *all, cmp_u64);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || all[i] != all[m - 1]) all[m++] = all[i];

    CHECK(table_ok(&u));
    CHECK(u.n == m);
    CHECK(u.n == m && !memcmp(u.ids, all, m * sizeof *all));
    for (uint32_t i = 0; i < u.n && i < m; i++) {
        int32_t ia = -1, ib = -1;
        for (uint32_t k = 0; k < a->n; k++)
            if (a->ids[k] == u.ids[i]) ia = (int32_t)k;
        for (uint32_t k = 0; k < b->n; k++)
            if (b->ids[k] == u.ids[i]) ib = (int32_t)k;
        CHECK(ia >= 0 || ib >= 0);
        uint32_t wa = ia >= 0 ? a->weft[ia] : 0, wb = ib >= 0 ? b->weft[ib] : 0;
        CHECK(u.weft[i] == (wa > wb ? wa : wb));
    }
    for (uint32_t i = 0; i < a->n; i++) CHECK(ma[i] < u.n && u.ids[ma[i]] == a->ids[i]);
    for (uint32_t i = 0; i < b->n; i++) CHECK(mb[i] < u.n && u.ids[mb[i]] == b->ids[i]);
    /* maps are increasing (sorted tables map to a sorted table) */
    for (uint32_t i = 1; i < a->n; i++) CHECK(ma[i] > ma[i - 1]);
    for (uint32_t i = 1; i < b->n; i++) CHECK(mb[i] > mb[i - 1]);
    uint32_t mx = 0;
    for (uint32_t i = 0; i < u.n; i++) mx = u.weft[i] > mx ? u.weft[i] : mx;
    CHECK(_wv_sites_max_clock(&u) == mx);
    _wv_sites_free(&u, A);
    free(ma), free(mb), free(all);
}

static void test_union(void) {
    for (int iter = 0; iter < 400; iter++) {
        wv_sites a, b;
        uint64_t range = rng_below(2) ? 0 : 1 + rng_below(60); /* narrow: much overlap */
        uint32_t na = 1 + (uint32_t)rng_below(range ? (range < 40 ? range : 40) : 40);
        uint32_t nb = 1 + (uint32_t)rng_below(range ? (range < 40 ? range : 40) : 40);
        random_table(&a, na, range);
        random_table(&b, nb, range);
        check_union(&a, &b);
        check_union(&b, &a);
        check_union(&a, &a); /* a table with itself */
        _wv_sites_free(&a, A);
        _wv_sites_free(&b, A);
    }
}

static void test_limit(void) {
    /* Fill a table to WV_SITES_MAX sites (ids 0, 2, 4, ...). */
    wv_sites s;
    REQUIRE_OK(_wv_sites_init(&s, A));
    for (uint32_t i = 1; i < WV_SITES_MAX; i++) {
        uint32_t pos;
        int rc = _wv_sites_insert(&s, 2 * (uint64_t)i, &pos, A);
        if (rc != WV_OK || pos != i) {
            CHECK(rc == WV_OK && pos == i);
            break;
        }
        s.weft[pos] = i;
    }
    REQUIRE(s.n == WV_SITES_MAX);
    CHECK(table_ok(&s));
    CHECK(_wv_sites_find(&s, 2 * (uint64_t)(WV_SITES_MAX - 1)) == (int32_t)(WV_SITES_MAX - 1));
    CHECK(_wv_sites_max_clock(&s) == WV_SITES_MAX - 1);
    /* One more, anywhere, is refused and changes nothing. */
    uint32_t pos = 12345;
    CHECK(_wv_sites_insert(&s, 3, &pos, A) == WV_E_LIMIT);
    CHECK(_wv_sites_insert(&s, UINT64_MAX, &pos, A) == WV_E_LIMIT);
    CHECK(pos == 12345);
    CHECK(s.n == WV_SITES_MAX && s.ids[1] == 2 && s.ids[2] == 4 && s.weft[1] == 1);
    CHECK(_wv_sites_find(&s, 3) == -1);

    /* Union: s with a table of its own ids is fine (exactly the limit) ... */
    wv_sites t;
    REQUIRE_OK(_wv_sites_init(&t, A));
    uint32_t p1, p2;
    REQUIRE_OK(_wv_sites_insert(&t, 2, &p1, A));
    REQUIRE_OK(_wv_sites_insert(&t, 2 * (uint64_t)(WV_SITES_MAX - 1), &p2, A));
    t.weft[p1] = 1000000;
    uint16_t *ma = malloc(WV_SITES_MAX * sizeof *ma), *mb = malloc(4 * sizeof *mb);
    REQUIRE(ma && mb);
    wv_sites u;
    REQUIRE_OK(_wv_sites_union(&u, &s, &t, ma, mb, A));
    CHECK(u.n == WV_SITES_MAX);
    CHECK(mb[0] == 0 && mb[1] == 1 && mb[2] == WV_SITES_MAX - 1);
    CHECK(ma[WV_SITES_MAX - 1] == WV_SITES_MAX - 1);
    CHECK(u.weft[1] == 1000000 && u.weft[2] == 2);
    _wv_sites_free(&u, A);
    /* ... but one new id makes WV_SITES_MAX + 1: WV_E_LIMIT. */
    uint32_t p3;
    REQUIRE_OK(_wv_sites_insert(&t, 5, &p3, A));
    CHECK(_wv_sites_union(&u, &s, &t, ma, mb, A) == WV_E_LIMIT);
    CHECK(_wv_sites_union(&u, &t, &s, mb, ma, A) == WV_E_LIMIT);
    free(ma), free(mb);
    _wv_sites_free(&t, A);
    _wv_sites_free(&s, A);
}

static void test_max_clock(void) {
    for (int iter = 0; iter < 200; iter++) {
        wv_sites s;
        random_table(&s, 1 + (uint32_t)rng_below(30), 0);
        uint32_t mx = 0;
        for (uint32_t i = 0; i < s.n; i++) mx = s.weft[i] > mx ? s.weft[i] : mx;
        CHECK(_wv_sites_max_clock(&s) == mx);
        s.weft[rng_below(s.n)] = UINT32_MAX;
        CHECK(_wv_sites_max_clock(&s) == UINT32_MAX);
        _wv_sites_free(&s, A);
    }
}

int main(void) {
    test_init();
    test_init_find();
    test_insert();
    test_union();
    test_limit();
    test_max_clock();
    return test_done("site");
}

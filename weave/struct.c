/* struct.c — structures on the weave: maps, lists, sets, counters and strs
 * (DESIGN.md §4), their local edits and their reads.
 *
 * Layout in the weave (the kinds' grammar is wv_kind_may_cause):
 *   map      MAP, then ENTRY blocks: ENTRY [DELETE…] key-DATA-chain value
 *   list     LIST, then ELEMs in sequence like chars: ELEM [DELETE…] value ELEM…
 *   set      SET, then MARK blocks (remove-wins) and ELEM blocks, each holding a scalar
 *   counter  COUNTER, then INC blocks: INC payload
 *   str      STR, then chars
 *   scalar   NULL | BOOL | INT payload | FLOAT payload | STRING payload
 * A payload is a chain of DATA atoms, 3 bytes each, right after its owner's
 * deletes (DATA outranks every kind but DELETE). The root is the root map:
 * its ENTRYs outrank its chars, so all structures precede the root text.
 *
 * Readers are total: an entry or element without a value or with a short
 * payload (which only a hand-made weave can have) reads as absent, and
 * anything else the grammar allows but an edit never makes is skipped, the
 * same way on every replica.
 *
 * Every edit collects its new atoms and where they go, then makes one
 * _wv_splice: all or nothing.
 */
#include <math.h>
#include <string.h>
#include "internal.h"
#include "utf8.h"

/* ---- walking ----------------------------------------------------------------- */

static int at_end(const wv_doc *d, wv_pos p) { return p.c >= d->nchunks; }

/* The next child of `head` from position p on (p: a child or past the
 * last): 1 and *kid, advancing p past its block, or 0. */
static int next_kid(const wv_doc *d, wv_pos *p, wv_atom head, wv_pos *kid) {
    if (at_end(d, *p) || !wv_atom_caused_by(*_wv_at(d, *p), head)) return 0;
    *kid = *p;
    *p = _wv_block_end(d, *p);
    return 1;
}

/* Where a new child of priority prio of the atom at p goes: after the
 * children that outrank it (the newest atom leads its equals). */
static wv_pos place_under(const wv_doc *d, wv_pos p, int prio) {
    wv_atom head = *_wv_at(d, p);
    wv_pos q = _wv_next(d, p), kid;
    while (!at_end(d, q) && wv_atom_caused_by(*_wv_at(d, q), head) &&
           wv_kind_priority(wv_atom_kind(*_wv_at(d, q))) > prio)
        (void)next_kid(d, &q, head, &kid);
    return q;
}

int _wv_locate(const wv_doc *d, wv_ref ref, wv_pos *out) {
    if (ref.site == 0 && ref.clock == 0) return *out = (wv_pos){0, 0}, WV_OK;
    int32_t s = _wv_sites_find(&d->sites, ref.site);
    if (s < 0 || ref.clock == 0 || ref.clock > d->sites.weft[s]) return WV_E_NOTFOUND;
    /* hidden: the block of a deleted entry (its key and value), the value
     * of a deleted list element (not the elements chained after it) */
    uint32_t hid = 0; /* head clock of the outermost hidden block around, 0: none */
    wv_atom dead = {0}; /* the last deleted ELEM seen outside hidden blocks */
    for (size_t c = 0; c < d->nchunks; c++) {
        const wv_chunk *ch = &d->chunks[c];
        for (uint32_t k = 0; k < ch->len; k++) {
            wv_atom a = ch->a[k];
            unsigned kind = wv_atom_kind(a);
            if (hid && a.cclock < hid) hid = 0; /* left its block */
            if (!hid && dead.clock && wv_atom_caused_by(a, dead) && wv_kind_is_value(kind)) hid = a.clock;
            if (a.clock == ref.clock && a.site == (uint16_t)s) {
                if (hid) return WV_E_NOTFOUND;
                return *out = (wv_pos){c, k}, WV_OK;
            }
            if (!hid && wv_atom_deleted(a)) {
                if (kind == WV_KIND_ENTRY) hid = a.clock;
                else if (kind == WV_KIND_ELEM) dead = a;
            }
        }
    }
    return WV_E_NOTFOUND;
}

/* The child of the atom at p with id (site, clock) and a kind of priority
 * prio: 1 and *out, or 0. Children of higher priority are skipped, those of
 * lower end the search. */
static int find_kid(const wv_doc *d, wv_pos p, uint16_t site, uint32_t clock, int prio, wv_pos *out) {
    wv_atom head = *_wv_at(d, p);
    for (wv_pos q = _wv_next(d, p); !at_end(d, q) && wv_atom_caused_by(*_wv_at(d, q), head);
         q = _wv_block_end(d, q)) { /* priority first: a later sibling's block may be long */
        wv_atom a = *_wv_at(d, q);
        int kp = wv_kind_priority(wv_atom_kind(a));
        if (kp < prio) return 0;
        if (kp == prio && a.site == site && a.clock == clock) return *out = q, 1;
    }
    return 0;
}

/* A payload and the value an entry or element holds are made with their
 * owner, in one edit: the payload's DATA atoms take the clocks right after
 * the owner's, at its site, and the value the next one. Readers follow
 * exactly those ids, so atoms a peer hangs there later change nothing. */
int _wv_read_payload(const wv_doc *d, wv_pos p, uint32_t len, uint8_t *buf) {
    wv_atom owner = *_wv_at(d, p);
    for (uint32_t i = 0; i < len; i += 3) {
        if (!find_kid(d, p, owner.site, owner.clock + 1 + i / 3, wv_kind_priority(WV_KIND_DATA), &p))
            return -1;
        uint32_t v = wv_atom_value(*_wv_at(d, p));
        for (uint32_t b = 0; buf && b < 3 && i + b < len; b++) buf[i + b] = (uint8_t)(v >> (8 * b));
    }
    return 0;
}

/* Can the value at p be read (its payload whole)? */
static int readable(const wv_doc *d, wv_pos p) {
    wv_atom a = *_wv_at(d, p);
    unsigned kind = wv_atom_kind(a);
    if (kind != WV_KIND_INT && kind != WV_KIND_FLOAT && kind != WV_KIND_STRING) return 1;
    return _wv_read_payload(d, p, wv_atom_value(a), NULL) == 0;
}

/* The value the holder (ENTRY, ELEM, MARK) at p holds, if readable. */
static int holder_value(const wv_doc *d, wv_pos p, wv_pos *value) {
    wv_atom h = *_wv_at(d, p);
    uint32_t clock = h.clock + 1;
    if (wv_atom_kind(h) == WV_KIND_ENTRY) clock += (wv_atom_value(h) + 2) / 3; /* after the key */
    return find_kid(d, p, h.site, clock, wv_kind_priority(WV_KIND_NULL), value) && readable(d, *value);
}

/* ---- scalars ----------------------------------------------------------------- */

/* A scalar as its identity: kind, head value and payload bytes. */
typedef struct scalar {
    unsigned kind;
    uint32_t value;
    const uint8_t *bytes; /* value bytes for INT, FLOAT, STRING */
    uint8_t num[8];
} scalar;

static uint32_t int_bytes(int64_t v, uint8_t out[8]) {
    uint64_t u = (uint64_t)v;
    uint32_t n = 8;
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)(u >> (8 * i));
    /* drop high bytes that sign extension restores */
    while (n > 0 && ((out[n - 1] == 0 && (n == 1 || !(out[n - 2] & 0x80))) ||
                     (out[n - 1] == 0xff && n > 1 && (out[n - 2] & 0x80))))
        n--;
    return n;
}

static int64_t int_of(const uint8_t *b, uint32_t n) {
    uint64_t u = n && (b[n - 1] & 0x80) ? UINT64_MAX : 0;
    for (uint32_t i = 0; i < n; i++) u = (u & ~((uint64_t)0xff << (8 * i))) | (uint64_t)b[i] << (8 * i);
    return (int64_t)u;
}

/* The scalar v describes; WV_E_TYPE for a container. */
static int scalar_of_value(const wv_value *v, scalar *s) {
    memset(s, 0, sizeof *s);
    switch (v->type) {
    case WV_T_NULL: s->kind = WV_KIND_NULL; break;
    case WV_T_BOOL: s->kind = WV_KIND_BOOL, s->value = v->boolean ? 1 : 0; break;
    case WV_T_INT: s->kind = WV_KIND_INT, s->value = int_bytes(v->integer, s->num), s->bytes = s->num; break;
    case WV_T_FLOAT: {
        if (!isfinite(v->number)) return WV_E_ARG;
        uint64_t u;
        memcpy(&u, &v->number, 8);
        for (int i = 0; i < 8; i++) s->num[i] = (uint8_t)(u >> (8 * i));
        s->kind = WV_KIND_FLOAT, s->value = 8, s->bytes = s->num;
        break;
    }
    case WV_T_STRING: {
        size_t n;
        if (!v->str && v->len) return WV_E_ARG;
        if (v->len > WV_STRING_MAX) return WV_E_RANGE;
        if (_wv_utf8_count(v->str, v->len, &n)) return WV_E_UTF8;
        s->kind = WV_KIND_STRING, s->value = (uint32_t)v->len, s->bytes = (const uint8_t *)v->str;
        break;
    }
    default: return WV_E_TYPE;
    }
    return WV_OK;
}

/* Does the scalar atom at p equal s? */
static int scalar_equals(const wv_doc *d, wv_pos p, const scalar *s, uint8_t *buf) {
    wv_atom a = *_wv_at(d, p);
    if (wv_atom_kind(a) != s->kind || wv_atom_value(a) != s->value) return 0;
    if (!s->bytes || !s->value) return 1;
    return _wv_read_payload(d, p, s->value, buf) == 0 && memcmp(buf, s->bytes, s->value) == 0;
}

/* ---- collections ------------------------------------------------------------- */

int _wv_nodes_push(const wv_alloc *al, wv_nodes *v, wv_pos holder, wv_pos value) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 16;
        wv_node *p = wv_realloc(al, v->v, v->cap * sizeof *p, wv_mul(cap, sizeof *p));
        if (!p) return WV_E_NOMEM;
        v->v = p, v->cap = cap;
    }
    v->v[v->n++] = (wv_node){holder, value};
    return WV_OK;
}

void _wv_nodes_free(const wv_alloc *al, wv_nodes *v) {
    wv_free(al, v->v, v->cap * sizeof *v->v);
    memset(v, 0, sizeof *v);
}

int _wv_list_elems(const wv_doc *d, wv_pos list, wv_nodes *out) {
    /* the ELEMs of the list's block in order, values' blocks skipped */
    uint32_t lc = _wv_at(d, list)->clock;
    wv_pos q = _wv_next(d, list), val;
    int rc = WV_OK;
    while (!rc && !at_end(d, q)) {
        wv_atom a = *_wv_at(d, q);
        if (a.cclock < lc) break; /* the list's block ends */
        if (wv_atom_kind(a) != WV_KIND_ELEM) {
            q = _wv_block_end(d, q); /* a delete, a value, or a stray atom */
            continue;
        }
        if (!wv_atom_deleted(a) && holder_value(d, q, &val)) rc = _wv_nodes_push(&d->alloc, out, q, val);
        q = _wv_next(d, q);
    }
    return rc;
}

int _wv_entry_key(const wv_doc *d, wv_pos p, uint8_t *buf, uint32_t *len) {
    *len = wv_atom_value(*_wv_at(d, p));
    return _wv_read_payload(d, p, *len, buf);
}

int _wv_map_entries(const wv_doc *d, wv_pos map, const char *key, wv_nodes *out) {
    wv_atom head = *_wv_at(d, map);
    size_t klen = key ? strlen(key) : 0;
    uint8_t buf[WV_KEY_MAX];
    uint32_t len;
    wv_pos q = _wv_next(d, map), kid, val;
    int rc = WV_OK;
    while (!rc && !at_end(d, q) && wv_atom_kind(*_wv_at(d, q)) == WV_KIND_ENTRY && next_kid(d, &q, head, &kid)) {
        if (wv_atom_deleted(*_wv_at(d, kid)) || _wv_entry_key(d, kid, buf, &len) || !holder_value(d, kid, &val))
            continue;
        if (key && (len != klen || memcmp(buf, key, klen))) continue;
        rc = _wv_nodes_push(&d->alloc, out, kid, val);
    }
    return rc;
}

int _wv_set_members(const wv_doc *d, wv_pos set, unsigned kind, wv_nodes *out) {
    wv_atom head = *_wv_at(d, set);
    wv_pos q = _wv_next(d, set), kid, val;
    int rc = WV_OK;
    while (!rc && next_kid(d, &q, head, &kid)) {
        wv_atom a = *_wv_at(d, kid);
        if (wv_atom_kind(a) == kind && !wv_atom_deleted(a) && holder_value(d, kid, &val) &&
            wv_atom_kind(*_wv_at(d, val)) >= WV_KIND_NULL)
            rc = _wv_nodes_push(&d->alloc, out, kid, val);
    }
    return rc;
}

/* Live members (or marks) of the set at p equal to s. */
static int set_matching(const wv_doc *d, wv_pos set, unsigned kind, const scalar *s, wv_nodes *out) {
    wv_nodes all = {0};
    uint8_t *buf = wv_malloc(&d->alloc, WV_STRING_MAX);
    int rc = buf ? _wv_set_members(d, set, kind, &all) : WV_E_NOMEM;
    for (size_t i = 0; !rc && i < all.n; i++)
        if (scalar_equals(d, all.v[i].value, s, buf)) rc = _wv_nodes_push(&d->alloc, out, all.v[i].holder, all.v[i].value);
    wv_free(&d->alloc, buf, WV_STRING_MAX);
    _wv_nodes_free(&d->alloc, &all);
    return rc;
}

/* The live members equal to s of the set at p, and in a remove-wins set
 * the live marks of s. s is in the set iff *elems has some and *marks none. */
static int set_lookup(const wv_doc *d, wv_pos set, const scalar *s, wv_nodes *elems, wv_nodes *marks) {
    int rc = set_matching(d, set, WV_KIND_ELEM, s, elems);
    if (!rc && wv_atom_value(*_wv_at(d, set)) == 1) rc = set_matching(d, set, WV_KIND_MARK, s, marks);
    return rc;
}

static int set_has(const wv_doc *d, wv_pos set, const scalar *s) {
    wv_nodes in = {0}, marks = {0};
    int rc = set_lookup(d, set, s, &in, &marks);
    int has = in.n > 0 && marks.n == 0;
    _wv_nodes_free(&d->alloc, &in);
    _wv_nodes_free(&d->alloc, &marks);
    return rc ? rc : has;
}

int64_t _wv_counter_total(const wv_doc *d, wv_pos counter) {
    wv_atom head = *_wv_at(d, counter);
    wv_pos q = _wv_next(d, counter), kid;
    uint64_t sum = 0; /* wraps like two's complement, never overflows */
    uint8_t b[8];
    while (next_kid(d, &q, head, &kid)) {
        uint32_t n = wv_atom_value(*_wv_at(d, kid));
        if (wv_atom_kind(*_wv_at(d, kid)) == WV_KIND_INC && !_wv_read_payload(d, kid, n, b)) sum += (uint64_t)int_of(b, n);
    }
    return (int64_t)sum;
}

size_t _wv_str_base(const wv_doc *d, wv_pos str, size_t *len) {
    size_t base = _wv_visible_before_pos(d, str);
    *len = _wv_visible_before_pos(d, _wv_block_end(d, str)) - base;
    return base;
}

/* ---- reading values -------------------------------------------------------- */

static const wv_type type_of_kind[] = {
    [WV_KIND_STR] = WV_T_STR, [WV_KIND_LIST] = WV_T_LIST, [WV_KIND_MAP] = WV_T_MAP,
    [WV_KIND_SET] = WV_T_SET, [WV_KIND_COUNTER] = WV_T_COUNTER, [WV_KIND_NULL] = WV_T_NULL,
    [WV_KIND_BOOL] = WV_T_BOOL, [WV_KIND_INT] = WV_T_INT, [WV_KIND_FLOAT] = WV_T_FLOAT,
    [WV_KIND_STRING] = WV_T_STRING,
};

int _wv_value_at(const wv_doc *d, wv_pos p, wv_value *out) {
    wv_atom a = *_wv_at(d, p);
    unsigned kind = wv_atom_kind(a);
    if (kind != WV_KIND_ROOT && !wv_kind_is_value(kind)) return WV_E_TYPE;
    wv_value v = wv_null();
    v.type = kind == WV_KIND_ROOT ? WV_T_MAP : type_of_kind[kind];
    v.ref = (wv_ref){d->sites.ids[a.site], a.clock};
    uint8_t b[8];
    wv_nodes nodes = {0};
    int rc = WV_OK;
    switch (kind) {
    case WV_KIND_BOOL: v.boolean = (int)wv_atom_value(a); break;
    case WV_KIND_INT:
        if (_wv_read_payload(d, p, wv_atom_value(a), b)) return WV_E_NOTFOUND;
        v.integer = int_of(b, wv_atom_value(a));
        break;
    case WV_KIND_FLOAT: {
        if (_wv_read_payload(d, p, 8, b)) return WV_E_NOTFOUND;
        uint64_t u = 0;
        for (int i = 0; i < 8; i++) u |= (uint64_t)b[i] << (8 * i);
        memcpy(&v.number, &u, 8);
        break;
    }
    case WV_KIND_STRING: v.len = wv_atom_value(a); break;
    case WV_KIND_STR: (void)_wv_str_base(d, p, &v.len); break;
    case WV_KIND_COUNTER: v.integer = _wv_counter_total(d, p); break;
    case WV_KIND_LIST: rc = _wv_list_elems(d, p, &nodes), v.len = nodes.n; break;
    case WV_KIND_ROOT: case WV_KIND_MAP: rc = _wv_map_count(d, p, &v.len); break;
    case WV_KIND_SET: rc = _wv_set_count(d, p, &v.len); break;
    default: break;
    }
    _wv_nodes_free(&d->alloc, &nodes);
    if (!rc) *out = v;
    return rc;
}

/* Locates a live value of the wanted kind (0: any). */
static int locate_kind(const wv_doc *d, wv_ref ref, unsigned kind, wv_pos *p) {
    if (!d) return WV_E_ARG;
    int rc = _wv_locate(d, ref, p);
    if (rc) return rc;
    unsigned k = wv_atom_kind(*_wv_at(d, *p));
    if (kind == WV_KIND_MAP ? k != WV_KIND_MAP && k != WV_KIND_ROOT : kind && k != kind) return WV_E_TYPE;
    return WV_OK;
}

int wv_get(const wv_doc *d, wv_ref ref, wv_value *out) {
    wv_pos p;
    int rc = locate_kind(d, ref, 0, &p);
    if (!rc && !out) rc = WV_E_ARG;
    return rc ? rc : _wv_value_at(d, p, out);
}

int wv_map_conflicts(const wv_doc *d, wv_ref map, const char *key, wv_value *dst, size_t cap, size_t *n) {
    wv_pos p;
    int rc = locate_kind(d, map, WV_KIND_MAP, &p);
    if (!rc && (!key || !n || (!dst && cap))) rc = WV_E_ARG;
    if (rc) return rc;
    wv_nodes e = {0};
    rc = _wv_map_entries(d, p, key, &e);
    for (size_t i = 0; !rc && i < e.n && i < cap; i++) rc = _wv_value_at(d, e.v[i].value, &dst[i]);
    if (!rc) *n = e.n;
    _wv_nodes_free(&d->alloc, &e);
    return rc;
}

int wv_map_get(const wv_doc *d, wv_ref map, const char *key, wv_value *out) {
    size_t n;
    wv_value v;
    int rc = wv_map_conflicts(d, map, key, &v, 1, &n);
    if (!rc && !out) rc = WV_E_ARG;
    if (!rc && n == 0) rc = WV_E_NOTFOUND;
    if (!rc) *out = v;
    return rc;
}

int wv_list_get(const wv_doc *d, wv_ref list, size_t pos, wv_value *out) {
    wv_pos p;
    int rc = locate_kind(d, list, WV_KIND_LIST, &p);
    if (!rc && !out) rc = WV_E_ARG;
    if (rc) return rc;
    wv_nodes e = {0};
    rc = _wv_list_elems(d, p, &e);
    if (!rc) rc = pos < e.n ? _wv_value_at(d, e.v[pos].value, out) : WV_E_NOTFOUND;
    _wv_nodes_free(&d->alloc, &e);
    return rc;
}

int wv_set_has(const wv_doc *d, wv_ref set, wv_value v) {
    wv_pos p;
    scalar s;
    int rc = locate_kind(d, set, WV_KIND_SET, &p);
    if (!rc) rc = scalar_of_value(&v, &s);
    return rc ? rc : set_has(d, p, &s);
}

int _wv_text_at(const wv_doc *d, wv_pos p, char *dst, size_t cap, size_t *len) {
    wv_atom a = *_wv_at(d, p);
    size_t n = 0;
    if (wv_atom_kind(a) == WV_KIND_STRING) {
        uint32_t m = wv_atom_value(a);
        uint8_t *buf = wv_malloc(&d->alloc, m ? m : 1);
        if (!buf) return WV_E_NOMEM;
        int bad = _wv_read_payload(d, p, m, buf);
        if (!bad && cap) memcpy(dst, buf, m < cap ? m : cap - 1);
        wv_free(&d->alloc, buf, m ? m : 1);
        if (bad) return WV_E_NOTFOUND;
        n = m;
    } else if (wv_atom_kind(a) == WV_KIND_STR) {
        wv_pos e = _wv_block_end(d, p);
        char u[4];
        for (wv_pos q = _wv_next(d, p); !at_end(d, q) && (q.c != e.c || q.k != e.k); q = _wv_next(d, q)) {
            wv_atom x = *_wv_at(d, q);
            if (!wv_atom_visible(x)) continue;
            size_t w = _wv_utf8_put(wv_atom_value(x), u);
            if (n + w < cap) memcpy(dst + n, u, w);
            else if (n < cap) cap = n + 1; /* stop at the first char that does not fit */
            n += w;
        }
    } else {
        return WV_E_TYPE;
    }
    if (cap) dst[n < cap ? n : cap - 1] = 0;
    *len = n;
    return WV_OK;
}

int wv_value_text(const wv_doc *d, wv_ref ref, char *dst, size_t cap, size_t *len) {
    wv_pos p;
    int rc = locate_kind(d, ref, 0, &p);
    if (!rc && (!len || (!dst && cap))) rc = WV_E_ARG;
    return rc ? rc : _wv_text_at(d, p, dst, cap, len);
}

/* ---- edits --------------------------------------------------------------- */

/* An edit in the making: its new atoms (clocks from the doc's clock + 1 on)
 * and the runs they form, each with where it goes. */
typedef struct edit {
    wv_doc *d;
    wv_atom *a;
    size_t n, cap;
    struct run { wv_pos at; size_t from, n; } *runs;
    size_t nruns, capruns;
    int err;
} edit;

static void ed_begin(edit *e, wv_doc *d) { memset(e, 0, sizeof *e), e->d = d; }

static void ed_free(edit *e) {
    wv_free(&e->d->alloc, e->a, e->cap * sizeof *e->a);
    wv_free(&e->d->alloc, e->runs, e->capruns * sizeof *e->runs);
}

/* Appends a new atom of kind/value caused by `cause`; returns it. */
static wv_atom ed_atom(edit *e, wv_atom cause, unsigned kind, uint32_t value) {
    wv_atom a = {0, cause.clock, e->d->self, cause.site, wv_tag(kind, value)};
    if (e->err) return a;
    if (e->d->clock > UINT32_MAX - 1 - e->n) return e->err = WV_E_LIMIT, a;
    a.clock = e->d->clock + 1 + (uint32_t)e->n;
    if (e->n == e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 32;
        wv_atom *p = wv_realloc(&e->d->alloc, e->a, e->cap * sizeof *p, wv_mul(cap, sizeof *p));
        if (!p) return e->err = WV_E_NOMEM, a;
        e->a = p, e->cap = cap;
    }
    e->a[e->n++] = a;
    return a;
}

/* Starts a run: the atoms made from now until the next run go at `at`. */
static void ed_run(edit *e, wv_pos at) {
    if (e->err) return;
    if (e->nruns == e->capruns) {
        size_t cap = e->capruns ? 2 * e->capruns : 8;
        struct run *p = wv_realloc(&e->d->alloc, e->runs, e->capruns * sizeof *p, wv_mul(cap, sizeof *p));
        if (!p) {
            e->err = WV_E_NOMEM;
            return;
        }
        e->runs = p, e->capruns = cap;
    }
    e->runs[e->nruns++] = (struct run){at, e->n, 0};
}

/* A delete of the atom at p, as a run of its own. */
static void ed_delete(edit *e, wv_pos p) {
    ed_run(e, _wv_next(e->d, p));
    (void)ed_atom(e, *_wv_at(e->d, p), WV_KIND_DELETE, 0);
}

static void ed_payload(edit *e, wv_atom owner, const uint8_t *b, size_t len) {
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = 0;
        for (size_t k = 0; k < 3 && i + k < len; k++) v |= (uint32_t)b[i + k] << (8 * k);
        owner = ed_atom(e, owner, WV_KIND_DATA, v);
    }
}

/* Checks a value to write: WV_OK or the error it would give. */
static int value_ok(const wv_value *v) {
    scalar s;
    size_t n;
    switch (v->type) {
    case WV_T_STR:
        if (!v->str && v->len) return WV_E_ARG;
        return _wv_utf8_count(v->str, v->len, &n) ? WV_E_UTF8 : WV_OK;
    case WV_T_LIST: case WV_T_MAP: case WV_T_SET: case WV_T_COUNTER: return WV_OK;
    default: return scalar_of_value(v, &s);
    }
}

/* Appends the atoms of value v (checked by value_ok) caused by `cause`;
 * returns the value's atom. */
static wv_atom ed_value(edit *e, wv_atom cause, const wv_value *v) {
    static const unsigned kind_of_type[] = {
        [WV_T_STR] = WV_KIND_STR, [WV_T_LIST] = WV_KIND_LIST, [WV_T_MAP] = WV_KIND_MAP,
        [WV_T_SET] = WV_KIND_SET, [WV_T_COUNTER] = WV_KIND_COUNTER,
    };
    scalar s;
    if (v->type >= WV_T_STR) {
        wv_atom head = ed_atom(e, cause, kind_of_type[v->type], v->type == WV_T_SET ? (uint32_t)!!v->remove_wins : 0);
        if (v->type == WV_T_STR) {
            wv_atom prev = head;
            uint32_t cp;
            for (size_t i = 0; i < v->len;) {
                (void)_wv_utf8_next(v->str, v->len, &i, &cp);
                prev = ed_atom(e, prev, WV_KIND_CHAR, cp);
            }
        }
        return head;
    }
    (void)scalar_of_value(v, &s);
    wv_atom head = ed_atom(e, cause, s.kind, s.value);
    if (s.bytes) ed_payload(e, head, s.bytes, s.value);
    return head;
}

static int pos_less(wv_pos a, wv_pos b) { return a.c < b.c || (a.c == b.c && a.k < b.k); }

/* Splices the edit in: runs sorted by position (stably), then one splice;
 * then the clock, weft and structure count move on. */
static int ed_commit(edit *e, wv_ref *created, wv_atom made) {
    wv_doc *d = e->d;
    if (e->err) return e->err;
    if (e->n == 0) return WV_OK;
    int rc = _wv_clock_reserve(d, e->n);
    if (rc) return rc;
    for (size_t i = 0; i < e->nruns; i++)
        e->runs[i].n = (i + 1 < e->nruns ? e->runs[i + 1].from : e->n) - e->runs[i].from;
    for (size_t i = 1; i < e->nruns; i++) /* insertion sort: runs come nearly sorted */
        for (size_t j = i; j > 0 && pos_less(e->runs[j].at, e->runs[j - 1].at); j--) {
            struct run t = e->runs[j];
            e->runs[j] = e->runs[j - 1], e->runs[j - 1] = t;
        }
    wv_ins *ins = wv_malloc(&d->alloc, wv_mul(e->nruns, sizeof *ins));
    if (!ins) return WV_E_NOMEM;
    for (size_t i = 0; i < e->nruns; i++)
        ins[i] = (wv_ins){e->runs[i].at, e->a + e->runs[i].from, (uint32_t)e->runs[i].n};
    size_t vis = d->nvis, vstruct = d->nvis_struct;
    rc = _wv_splice(d, ins, e->nruns);
    wv_free(&d->alloc, ins, e->nruns * sizeof *ins);
    if (rc) return rc;
    d->nvis_struct = vstruct + d->nvis - vis; /* edits stay inside the structures */
    d->clock += (uint32_t)e->n;
    d->sites.weft[d->self] = d->clock;
    if (created) *created = (wv_ref){d->sites.ids[made.site], made.clock};
    return WV_OK;
}

/* Appends a new ENTRY for key with value v under the map at p, deleting
 * the live entries of the key. */
static int map_write(edit *e, wv_pos map, const char *key, const wv_value *v, wv_atom *made) {
    const wv_doc *d = e->d;
    size_t klen = strlen(key), n;
    if (klen > WV_KEY_MAX) return WV_E_RANGE;
    if (_wv_utf8_count(key, klen, &n)) return WV_E_UTF8;
    int rc = value_ok(v);
    if (rc) return rc;
    wv_nodes old = {0};
    if ((rc = _wv_map_entries(d, map, key, &old))) return rc;
    ed_run(e, place_under(d, map, wv_kind_priority(WV_KIND_ENTRY)));
    wv_atom entry = ed_atom(e, *_wv_at(d, map), WV_KIND_ENTRY, (uint32_t)klen);
    ed_payload(e, entry, (const uint8_t *)key, klen);
    *made = ed_value(e, entry, v);
    for (size_t i = 0; i < old.n; i++) ed_delete(e, old.v[i].holder);
    _wv_nodes_free(&d->alloc, &old);
    return WV_OK;
}

/* Inserts value v as element pos of the list at p (elems: its live ones). */
static int list_write(edit *e, wv_pos list, const wv_nodes *elems, size_t pos, const wv_value *v, wv_atom *made) {
    int rc = value_ok(v);
    if (rc) return rc;
    if (pos > elems->n) return WV_E_RANGE;
    wv_pos cause = pos ? elems->v[pos - 1].holder : list;
    ed_run(e, place_under(e->d, cause, wv_kind_priority(WV_KIND_ELEM)));
    wv_atom elem = ed_atom(e, *_wv_at(e->d, cause), WV_KIND_ELEM, 0);
    *made = ed_value(e, elem, v);
    return WV_OK;
}

int wv_map_set(wv_doc *d, wv_ref map, const char *key, wv_value v, wv_ref *created) {
    wv_pos p;
    int rc = locate_kind(d, map, WV_KIND_MAP, &p);
    if (!rc && !key) rc = WV_E_ARG;
    if (rc) return rc;
    edit e;
    wv_atom made;
    ed_begin(&e, d);
    if (!(rc = map_write(&e, p, key, &v, &made))) rc = ed_commit(&e, created, made);
    ed_free(&e);
    return rc;
}

int wv_map_delete(wv_doc *d, wv_ref map, const char *key) {
    wv_pos p;
    int rc = locate_kind(d, map, WV_KIND_MAP, &p);
    if (!rc && !key) rc = WV_E_ARG;
    if (rc) return rc;
    wv_nodes old = {0};
    edit e;
    ed_begin(&e, d);
    if (!(rc = _wv_map_entries(d, p, key, &old)) && old.n == 0) rc = WV_E_NOTFOUND;
    for (size_t i = 0; !rc && i < old.n; i++) ed_delete(&e, old.v[i].holder);
    if (!rc) rc = ed_commit(&e, NULL, (wv_atom){0});
    _wv_nodes_free(&d->alloc, &old);
    ed_free(&e);
    return rc;
}

int wv_list_insert(wv_doc *d, wv_ref list, size_t pos, wv_value v, wv_ref *created) {
    wv_pos p;
    int rc = locate_kind(d, list, WV_KIND_LIST, &p);
    if (rc) return rc;
    wv_nodes elems = {0};
    edit e;
    wv_atom made;
    ed_begin(&e, d);
    if (!(rc = _wv_list_elems(d, p, &elems)) && !(rc = list_write(&e, p, &elems, pos, &v, &made)))
        rc = ed_commit(&e, created, made);
    _wv_nodes_free(&d->alloc, &elems);
    ed_free(&e);
    return rc;
}

int wv_list_delete(wv_doc *d, wv_ref list, size_t pos, size_t n) {
    wv_pos p;
    int rc = locate_kind(d, list, WV_KIND_LIST, &p);
    if (rc) return rc;
    wv_nodes elems = {0};
    edit e;
    ed_begin(&e, d);
    if (!(rc = _wv_list_elems(d, p, &elems)) && (pos > elems.n || n > elems.n - pos)) rc = WV_E_RANGE;
    for (size_t i = pos; !rc && i < pos + n; i++) ed_delete(&e, elems.v[i].holder);
    if (!rc) rc = ed_commit(&e, NULL, (wv_atom){0});
    _wv_nodes_free(&d->alloc, &elems);
    ed_free(&e);
    return rc;
}

int wv_str_insert(wv_doc *d, wv_ref str, size_t pos, const char *s, size_t len) {
    wv_pos p;
    size_t n, slen;
    int rc = locate_kind(d, str, WV_KIND_STR, &p);
    if (!rc && !s && len) rc = WV_E_ARG;
    if (!rc && _wv_utf8_count(s, len, &n)) rc = WV_E_UTF8;
    if (rc) return rc;
    size_t base = _wv_str_base(d, p, &slen);
    if (pos > slen) return WV_E_RANGE;
    wv_pos cause = pos ? _wv_locate_visible(d, base + pos - 1) : p;
    edit e;
    ed_begin(&e, d);
    ed_run(&e, place_under(d, cause, wv_kind_priority(WV_KIND_CHAR)));
    wv_atom prev = *_wv_at(d, cause);
    uint32_t cp;
    for (size_t i = 0; i < len;) {
        (void)_wv_utf8_next(s, len, &i, &cp);
        prev = ed_atom(&e, prev, WV_KIND_CHAR, cp);
    }
    rc = ed_commit(&e, NULL, prev);
    ed_free(&e);
    return rc;
}

int wv_str_delete(wv_doc *d, wv_ref str, size_t pos, size_t n) {
    wv_pos p;
    size_t slen;
    int rc = locate_kind(d, str, WV_KIND_STR, &p);
    if (rc) return rc;
    size_t base = _wv_str_base(d, p, &slen);
    if (pos > slen || n > slen - pos) return WV_E_RANGE;
    edit e;
    ed_begin(&e, d);
    for (size_t i = 0; i < n; i++) ed_delete(&e, _wv_locate_visible(d, base + pos + i));
    rc = ed_commit(&e, NULL, (wv_atom){0});
    ed_free(&e);
    return rc;
}

/* Adds (add != 0) or removes scalar v in the set at p. */
static int set_edit(wv_doc *d, wv_ref set, wv_value v, int add) {
    wv_pos p;
    scalar s;
    int rc = locate_kind(d, set, WV_KIND_SET, &p);
    if (!rc) rc = scalar_of_value(&v, &s);
    if (rc) return rc;
    int remove_wins = wv_atom_value(*_wv_at(d, p)) == 1;
    wv_nodes elems = {0}, marks = {0};
    edit e;
    ed_begin(&e, d);
    rc = set_lookup(d, p, &s, &elems, &marks);
    int has = elems.n > 0 && marks.n == 0;
    if (!rc && add && !has) {
        /* a member, and in a remove-wins set the removals it has seen undone */
        for (size_t i = 0; i < marks.n; i++) ed_delete(&e, marks.v[i].holder);
        ed_run(&e, place_under(d, p, wv_kind_priority(WV_KIND_ELEM)));
        (void)ed_value(&e, ed_atom(&e, *_wv_at(d, p), WV_KIND_ELEM, 0), &v);
    } else if (!rc && !add && has) {
        for (size_t i = 0; i < elems.n; i++) ed_delete(&e, elems.v[i].holder);
        if (remove_wins) { /* present: no live mark yet */
            ed_run(&e, place_under(d, p, wv_kind_priority(WV_KIND_MARK)));
            (void)ed_value(&e, ed_atom(&e, *_wv_at(d, p), WV_KIND_MARK, 0), &v);
        }
    }
    if (!rc) rc = ed_commit(&e, NULL, (wv_atom){0}); /* no atoms: nothing to do */
    _wv_nodes_free(&d->alloc, &elems);
    _wv_nodes_free(&d->alloc, &marks);
    ed_free(&e);
    return rc;
}

int wv_set_add(wv_doc *d, wv_ref set, wv_value v) { return set_edit(d, set, v, 1); }
int wv_set_remove(wv_doc *d, wv_ref set, wv_value v) { return set_edit(d, set, v, 0); }

int wv_counter_add(wv_doc *d, wv_ref counter, int64_t delta) {
    wv_pos p;
    int rc = locate_kind(d, counter, WV_KIND_COUNTER, &p);
    if (rc || delta == 0) return rc;
    uint8_t b[8];
    uint32_t n = int_bytes(delta, b);
    edit e;
    ed_begin(&e, d);
    ed_run(&e, place_under(d, p, wv_kind_priority(WV_KIND_INC)));
    ed_payload(&e, ed_atom(&e, *_wv_at(d, p), WV_KIND_INC, n), b, n);
    rc = ed_commit(&e, NULL, (wv_atom){0});
    ed_free(&e);
    return rc;
}

/* ---- paths ----------------------------------------------------------------- */

/* The next component of *path into buf (WV_KEY_MAX + 1 bytes, unescaped,
 * NUL-terminated). Returns 1, 0 at the end, or WV_E_ARG / WV_E_RANGE. */
static int path_next(const char **path, char *buf) {
    const char *s = *path;
    if (*s == '/') s++;
    if (!*s) return 0;
    size_t n = 0;
    for (; *s && *s != '/'; s++) {
        char c = *s;
        if (c == '~') {
            if (s[1] != '0' && s[1] != '1') return WV_E_ARG;
            c = *++s == '0' ? '~' : '/';
        }
        if (n == WV_KEY_MAX) return WV_E_RANGE;
        buf[n++] = c;
    }
    buf[n] = 0;
    *path = s;
    return 1;
}

/* A list index: decimal digits only, no leading zeros. */
static int parse_index(const char *s, size_t *out) {
    size_t v = 0;
    if (!*s || (s[0] == '0' && s[1])) return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (SIZE_MAX - 9) / 10) return -1;
        v = v * 10 + (size_t)(*s - '0');
    }
    return *out = v, 0;
}

/* Walks a path; *p gets the value it names. With `last` non-NULL the walk
 * stops one component short: *p is the container and last its final
 * component (never empty: WV_E_ARG for the root). */
static int path_walk(const wv_doc *d, const char *path, wv_pos *p, char *last) {
    char buf[WV_KEY_MAX + 1];
    int rc;
    if (!d || !path) return WV_E_ARG;
    *p = (wv_pos){0, 0};
    if (_wv_locate(d, (wv_ref){0, 0}, p)) return WV_E_NOTFOUND;
    if ((rc = path_next(&path, buf)) <= 0) return rc < 0 ? rc : last ? WV_E_ARG : WV_OK;
    for (;;) {
        char next[WV_KEY_MAX + 1];
        int more = path_next(&path, next);
        if (more < 0) return more;
        if (!more && last) return memcpy(last, buf, strlen(buf) + 1), WV_OK;
        unsigned kind = wv_atom_kind(*_wv_at(d, *p));
        wv_nodes e = {0};
        size_t i;
        if (kind == WV_KIND_ROOT || kind == WV_KIND_MAP) {
            rc = _wv_map_entries(d, *p, buf, &e);
            if (!rc && e.n == 0) rc = WV_E_NOTFOUND;
            if (!rc) *p = e.v[0].value;
        } else if (kind == WV_KIND_LIST) {
            rc = parse_index(buf, &i) ? WV_E_NOTFOUND : _wv_list_elems(d, *p, &e);
            if (!rc && i >= e.n) rc = WV_E_NOTFOUND;
            if (!rc) *p = e.v[i].value;
        } else {
            rc = WV_E_TYPE;
        }
        _wv_nodes_free(&d->alloc, &e);
        if (rc || !more) return rc;
        memcpy(buf, next, strlen(next) + 1);
    }
}

int wv_path_get(const wv_doc *d, const char *path, wv_value *out) {
    wv_pos p;
    int rc = path_walk(d, path, &p, NULL);
    if (!rc && !out) rc = WV_E_ARG;
    return rc ? rc : _wv_value_at(d, p, out);
}

/* Writes (v non-NULL) or deletes the final component of path. */
static int path_edit(wv_doc *d, const char *path, const wv_value *v, wv_ref *created) {
    char last[WV_KEY_MAX + 1];
    wv_pos p;
    int rc = path_walk(d, path, &p, last);
    if (rc) return rc;
    unsigned kind = wv_atom_kind(*_wv_at(d, p));
    wv_nodes nodes = {0};
    edit e;
    wv_atom made = {0};
    size_t i = 0;
    ed_begin(&e, d);
    if (kind == WV_KIND_ROOT || kind == WV_KIND_MAP) {
        if (v) rc = map_write(&e, p, last, v, &made);
        else if (!(rc = _wv_map_entries(d, p, last, &nodes)) && nodes.n == 0) rc = WV_E_NOTFOUND;
        for (size_t k = 0; !v && !rc && k < nodes.n; k++) ed_delete(&e, nodes.v[k].holder);
    } else if (kind == WV_KIND_LIST) {
        rc = _wv_list_elems(d, p, &nodes);
        if (!rc && strcmp(last, "-") == 0) i = nodes.n;
        else if (!rc && parse_index(last, &i)) rc = WV_E_NOTFOUND;
        if (!rc && (i > nodes.n || (!v && i == nodes.n))) rc = v ? WV_E_RANGE : WV_E_NOTFOUND;
        if (!rc && v) rc = list_write(&e, p, &nodes, i, v, &made); /* the new element first, */
        if (!rc && i < nodes.n) ed_delete(&e, nodes.v[i].holder);  /* then the old one goes */
    } else {
        rc = WV_E_TYPE;
    }
    if (!rc) rc = ed_commit(&e, created, made);
    _wv_nodes_free(&d->alloc, &nodes);
    ed_free(&e);
    return rc;
}

int wv_path_set(wv_doc *d, const char *path, wv_value v, wv_ref *created) {
    return path_edit(d, path, &v, created);
}

int wv_path_delete(wv_doc *d, const char *path) { return path_edit(d, path, NULL, NULL); }

/* ---- builder ----------------------------------------------------------------- */

void wv_builder_begin(wv_builder *b, wv_doc *d, wv_ref container) {
    wv_value v;
    if (!b) return;
    memset(b, 0, sizeof *b);
    b->doc = d;
    b->err = d ? wv_get(d, container, &v) : WV_E_ARG;
    if (!b->err && v.type != WV_T_MAP && v.type != WV_T_LIST && v.type != WV_T_SET) b->err = WV_E_TYPE;
    if (b->err) return;
    b->at[0] = container, b->type[0] = v.type, b->len[0] = v.len;
    b->depth = 1;
}

void wv_builder_key(wv_builder *b, const char *key) {
    if (!b) return;
    if (!b->err && (!key || b->type[b->depth - 1] != WV_T_MAP)) b->err = key ? WV_E_TYPE : WV_E_ARG;
    b->key = key;
}

void wv_builder_put(wv_builder *b, wv_value v) {
    if (!b || b->err) return;
    uint32_t t = b->depth - 1;
    wv_ref made = {0, 0};
    if (b->type[t] == WV_T_MAP) {
        if (!b->key) b->err = WV_E_ARG; /* wv_builder_key first */
        else b->err = wv_map_set(b->doc, b->at[t], b->key, v, &made);
        b->key = NULL;
    } else if (b->type[t] == WV_T_LIST) {
        if (!(b->err = wv_list_insert(b->doc, b->at[t], b->len[t], v, &made))) b->len[t]++;
    } else {
        b->err = wv_set_add(b->doc, b->at[t], v);
    }
    if (b->err || v.type < WV_T_STR) return;
    if (v.type == WV_T_STR || v.type == WV_T_COUNTER) return; /* nothing to put inside */
    if (b->depth == WV_BUILDER_DEPTH) {
        b->err = WV_E_LIMIT;
        return;
    }
    b->at[b->depth] = made, b->type[b->depth] = v.type, b->len[b->depth] = 0;
    b->depth++;
}

void wv_builder_up(wv_builder *b) {
    if (!b || b->err) return;
    if (b->depth <= 1) b->err = WV_E_ARG;
    else b->depth--;
}

int wv_builder_end(wv_builder *b) { return b ? b->err : WV_E_ARG; }

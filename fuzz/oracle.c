/* oracle.c — the naive weave of DESIGN.md §1, written for obviousness.
 *
 *   1. put the atoms (plus the root) in one array, sort it by id, merge
 *      identical duplicates, refuse conflicting ones;
 *   2. find every atom's cause by binary search;
 *   3. give every atom the list of its children, and sort each list by
 *      child order with qsort;
 *   4. mark as deleted every atom that some DELETE atom has as its cause;
 *   5. walk the tree from the root in pre-order (an explicit stack, so deep
 *      typing chains cannot overflow the C stack).
 * Reading (wvo_text, wvo_json, wvo_read) rebuilds the tree from a weave and
 * materialises the root text and the structures from it, by the rules of
 * weave.h's "Structures" section (see oracle.h), with its own sorting and
 * escaping.
 *
 * Nothing here comes from weave/: only the public types of weave.h. */
#include "oracle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const wv_atom_info root_atom = {0, 0, 0, 0, WV_KIND_ROOT, 0, 0};

/* Child-order priority, highest first (DESIGN.md §1: deletes above
 * containers above chars; §4 and the weave's layout refine the middle): a
 * delete hugs its target; a payload (DATA) comes next, so a key or a
 * number's bytes follow their owner at once; then the value an entry, element
 * or mark holds (any container or scalar kind); then the members hanging
 * under a container (map entries, set marks, counter increments); sequences
 * (chars, list elements) last, so a sequence's next item follows its
 * predecessor's whole block. Written out by kind on purpose: this table is
 * the oracle's own, not the library's. Unknown kinds never reach here (the
 * library refuses them); they sort as sequences. */
static int priority(wv_kind kind) {
    switch (kind) {
    case WV_KIND_DELETE: return 7;
    case WV_KIND_DATA: return 6;
    case WV_KIND_STR: case WV_KIND_LIST: case WV_KIND_MAP: case WV_KIND_SET: case WV_KIND_COUNTER:
    case WV_KIND_NULL: case WV_KIND_BOOL: case WV_KIND_INT: case WV_KIND_FLOAT: case WV_KIND_STRING:
        return 5;
    case WV_KIND_ENTRY: case WV_KIND_MARK: case WV_KIND_INC: return 4;
    case WV_KIND_CHAR: case WV_KIND_ELEM: return 1;
    case WV_KIND_ROOT: return 0;
    default: return 1;
    }
}

static int cmp_u64(uint64_t a, uint64_t b) { return a < b ? -1 : a > b; }

/* Order by id: site, then clock. */
static int id_cmp(const void *pa, const void *pb) {
    const wv_atom_info *a = pa, *b = pb;
    int c = cmp_u64(a->site, b->site);
    return c ? c : cmp_u64(a->clock, b->clock);
}

/* Child order of two siblings; negative when a comes first. */
static int child_cmp(const void *pa, const void *pb) {
    const wv_atom_info *a = *(const wv_atom_info *const *)pa;
    const wv_atom_info *b = *(const wv_atom_info *const *)pb;
    int prio_a = priority(a->kind), prio_b = priority(b->kind);
    if (prio_a != prio_b) return prio_a > prio_b ? -1 : 1;  /* priority: highest first */
    if (a->clock != b->clock) return a->clock > b->clock ? -1 : 1; /* clock: newest first */
    return cmp_u64(a->site, b->site);                        /* site: lowest first */
}

static int same_content(const wv_atom_info *a, const wv_atom_info *b) {
    return a->site == b->site && a->clock == b->clock && a->cause_site == b->cause_site &&
           a->cause_clock == b->cause_clock && a->kind == b->kind && a->value == b->value;
}

/* Index of the atom with this id in the id-sorted array u[0..nu), or -1. */
static long find_id(const wv_atom_info *u, size_t nu, uint64_t site, uint32_t clock) {
    wv_atom_info key = {0};
    key.site = site;
    key.clock = clock;
    const wv_atom_info *hit = bsearch(&key, u, nu, sizeof *u, id_cmp);
    return hit ? (long)(hit - u) : -1;
}

int wvo_weave(const wv_atom_info *atoms, size_t n, wv_atom_info **out, size_t *nout) {
    *out = NULL;
    *nout = 0;
    int ok = 0;
    wv_atom_info *u = malloc((n + 1) * sizeof *u); /* the atoms, unique, by id */
    size_t *cause = malloc((n + 1) * sizeof *cause);  /* index of each atom's cause */
    size_t *first = calloc(n + 2, sizeof *first);     /* kids of i: kids[first[i]..first[i+1]) */
    size_t *fill = calloc(n + 1, sizeof *fill);
    const wv_atom_info **kids = malloc((n + 1) * sizeof *kids);
    size_t *stack = malloc((n + 1) * sizeof *stack);
    wv_atom_info *res = malloc((n + 1) * sizeof *res);
    if (!u || !cause || !first || !fill || !kids || !stack || !res) goto done;

    /* 1. All atoms and the root, sorted by id; duplicates merged or refused. */
    u[0] = root_atom;
    for (size_t i = 0; i < n; i++) {
        u[i + 1] = atoms[i];
        u[i + 1].deleted = 0;
    }
    qsort(u, n + 1, sizeof *u, id_cmp);
    size_t nu = 0;
    for (size_t i = 0; i < n + 1; i++) {
        if (nu > 0 && id_cmp(&u[nu - 1], &u[i]) == 0) {
            if (!same_content(&u[nu - 1], &u[i])) goto done; /* conflicting duplicate */
            continue;                                         /* identical duplicate */
        }
        u[nu++] = u[i];
    }
    /* The root sorts first (site 0, clock 0) and is what it must be. */
    if (!same_content(&u[0], &root_atom)) goto done;
    for (size_t i = 1; i < nu; i++)
        if (u[i].kind == WV_KIND_ROOT) goto done; /* a second root */

    /* 2. Causes. */
    cause[0] = 0;
    for (size_t i = 1; i < nu; i++) {
        long c = find_id(u, nu, u[i].cause_site, u[i].cause_clock);
        if (c < 0) goto done; /* missing cause */
        cause[i] = (size_t)c;
    }

    /* 3. Children lists, each sorted by child order. */
    for (size_t i = 1; i < nu; i++) first[cause[i] + 1]++;
    for (size_t i = 0; i < nu; i++) first[i + 1] += first[i];
    for (size_t i = 1; i < nu; i++) {
        size_t p = cause[i];
        kids[first[p] + fill[p]++] = &u[i];
    }
    for (size_t i = 0; i < nu; i++)
        qsort(kids + first[i], first[i + 1] - first[i], sizeof *kids, child_cmp);

    /* 4. Deleted flags. */
    for (size_t i = 1; i < nu; i++)
        if (u[i].kind == WV_KIND_DELETE) u[cause[i]].deleted = 1;

    /* 5. Pre-order walk: pop a node, emit it, push its children last-first so
     * that the first child is popped next. */
    size_t top = 0, nres = 0;
    stack[top++] = 0;
    while (top > 0) {
        size_t node = stack[--top];
        res[nres++] = u[node];
        for (size_t k = first[node + 1]; k > first[node]; k--)
            stack[top++] = (size_t)(kids[k - 1] - u);
    }
    if (nres != nu) goto done; /* some atoms hang in a cycle, not from the root */

    *out = res;
    *nout = nres;
    res = NULL;
    ok = 1;
done:
    free(u);
    free(cause);
    free(first);
    free(fill);
    free(kids);
    free(stack);
    free(res);
    return ok ? 0 : -1;
}

static const char *kind_name(wv_kind k) {
    static const char *const names[] = {"root", "char", "del", "data", "str", "list", "map",
                                        "set", "counter", "null", "bool", "int", "float",
                                        "string", "elem", "entry", "mark", "inc"};
    return (unsigned)k < sizeof names / sizeof *names ? names[k] : "kind?";
}

void wvo_describe(const wv_atom_info *a, char *buf, size_t cap) {
    snprintf(buf, cap, "[%llu|%lu <- %llu:%lu %s(%d) value=%lu%s]", (unsigned long long)a->site,
             (unsigned long)a->clock, (unsigned long long)a->cause_site,
             (unsigned long)a->cause_clock, kind_name(a->kind), (int)a->kind,
             (unsigned long)a->value, a->deleted ? " deleted" : "");
}

static int same_fields(const wv_atom_info *a, const wv_atom_info *b) {
    return same_content(a, b) && !a->deleted == !b->deleted;
}

int wvo_equal_doc(const wv_atom_info *weave, size_t n, const wv_doc *doc, char *why,
                  size_t cap) {
    char da[128], db[128];
    wv_iter it;
    wv_atom_info got;
    size_t i = 0;
    if (why && cap) why[0] = '\0';
    wv_iter_begin(&it, doc);
    for (;; i++) {
        int rc = wv_iter_next(&it, &got);
        if (rc < 0) {
            if (why) snprintf(why, cap, "index %zu: wv_iter_next failed (%d)", i, rc);
            return 0;
        }
        if (rc == 0) break;
        if (i >= n) {
            wvo_describe(&got, db, sizeof db);
            if (why)
                snprintf(why, cap, "index %zu: oracle weave ended (%zu atoms), doc has %s", i,
                         n, db);
            return 0;
        }
        if (!same_fields(&weave[i], &got)) {
            wvo_describe(&weave[i], da, sizeof da);
            wvo_describe(&got, db, sizeof db);
            if (why) snprintf(why, cap, "index %zu: oracle %s, doc %s", i, da, db);
            return 0;
        }
    }
    if (i < n) {
        wvo_describe(&weave[i], da, sizeof da);
        if (why)
            snprintf(why, cap, "index %zu: doc weave ended, oracle has %s (%zu atoms)", i, da,
                     n);
        return 0;
    }
    return 1;
}

/* UTF-8 of a code point; non-scalar values become U+FFFD. Returns 1..4. */
static size_t utf8_encode(uint32_t cp, unsigned char out[4]) {
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- a weave's tree, for reading it --------------------------------------- */

#define NONE ((size_t)-1)

/* The tree of a weave in pre-order (wvo_weave's output), by index: each
 * atom's cause, its children in weave order (which is child order), and
 * where its subtree ends. */
typedef struct tree {
    const wv_atom_info *w;
    size_t n;
    size_t *cause, *kid, *next, *end;
} tree;

typedef struct idrec {
    uint64_t site;
    uint32_t clock;
    size_t at;
} idrec;

static int idrec_cmp(const void *pa, const void *pb) {
    const idrec *a = pa, *b = pb;
    int c = cmp_u64(a->site, b->site);
    return c ? c : cmp_u64(a->clock, b->clock);
}

static void *must(void *p) {
    if (!p) {
        fputs("oracle: out of memory\n", stderr);
        abort();
    }
    return p;
}

static void tree_free(tree *t) {
    free(t->cause);
    free(t->kid);
    free(t->next);
    free(t->end);
}

/* Builds the tree of w[0..n) (w[0] the root, every cause before its
 * effects). Returns 0, or -1 when an atom's cause is not earlier in w. */
static int tree_build(tree *t, const wv_atom_info *w, size_t n) {
    t->w = w, t->n = n;
    t->cause = must(malloc((n + 1) * sizeof *t->cause));
    t->kid = must(malloc((n + 1) * sizeof *t->kid));
    t->next = must(malloc((n + 1) * sizeof *t->next));
    t->end = must(malloc((n + 1) * sizeof *t->end));
    size_t *last = must(malloc((n + 1) * sizeof *last));
    idrec *ids = must(malloc((n + 1) * sizeof *ids));
    for (size_t i = 0; i < n; i++) {
        ids[i] = (idrec){w[i].site, w[i].clock, i};
        t->kid[i] = t->next[i] = last[i] = NONE;
        t->end[i] = i + 1;
    }
    qsort(ids, n, sizeof *ids, idrec_cmp);
    int bad = n == 0;
    for (size_t i = 1; i < n && !bad; i++) {
        idrec key = {w[i].cause_site, w[i].cause_clock, 0};
        const idrec *hit = bsearch(&key, ids, n, sizeof *ids, idrec_cmp);
        if (!hit || hit->at >= i) {
            bad = 1;
            break;
        }
        size_t c = t->cause[i] = hit->at;
        if (last[c] == NONE) t->kid[c] = i;
        else t->next[last[c]] = i;
        last[c] = i;
    }
    for (size_t i = n; i-- > 1 && !bad;) /* subtree ends, leaves first */
        if (t->end[i] > t->end[t->cause[i]]) t->end[t->cause[i]] = t->end[i];
    free(last);
    free(ids);
    if (bad) tree_free(t);
    return bad ? -1 : 0;
}

static wv_kind kind_at(const tree *t, size_t i) { return t->w[i].kind; }

static int is_value_kind(wv_kind k) { return k >= WV_KIND_STR && k <= WV_KIND_STRING; }
static int is_scalar_kind(wv_kind k) { return k >= WV_KIND_NULL && k <= WV_KIND_STRING; }
static int is_data_kind(wv_kind k) { return k == WV_KIND_DATA; }

/* The child of i with this id and a kind accepted by ok(), or NONE. */
static size_t kid_with_id(const tree *t, size_t i, uint64_t site, uint32_t clock, int (*ok)(wv_kind)) {
    for (size_t c = t->kid[i]; c != NONE; c = t->next[c])
        if (t->w[c].site == site && t->w[c].clock == clock && ok(kind_at(t, c))) return c;
    return NONE;
}

/* The payload of owner i (weave.h, wv_kind: a chain of DATA atoms made in
 * the owner's own edit): the DATA child of i whose id follows the owner's
 * (same site, clock + 1), its DATA child with clock + 2, and so on, 3 bytes
 * each (little-endian in the value), len bytes in all. Atoms others hang
 * there change nothing. Returns 0, or -1 when the chain is shorter. out may
 * be NULL: only checks. */
static int payload(const tree *t, size_t i, uint32_t len, uint8_t *out) {
    const wv_atom_info *owner = &t->w[i];
    size_t at = i;
    for (uint32_t got = 0; got < len; got += 3) {
        at = kid_with_id(t, at, owner->site, owner->clock + 1 + got / 3, is_data_kind);
        if (at == NONE) return -1;
        for (uint32_t b = 0; out && b < 3 && got + b < len; b++)
            out[got + b] = (uint8_t)(t->w[at].value >> (8 * b));
    }
    return 0;
}

/* Can the value at i be read: a number or STRING with its whole payload, or
 * any other value kind. */
static int readable(const tree *t, size_t i) {
    wv_kind k = kind_at(t, i);
    if (k != WV_KIND_INT && k != WV_KIND_FLOAT && k != WV_KIND_STRING) return 1;
    return payload(t, i, t->w[i].value, NULL) == 0;
}

/* The value a holder (entry, element, mark) holds: the one made in the
 * holder's own edit, i.e. its child of a value kind whose id comes right
 * after the holder's (after an entry's key payload), and only when
 * readable; otherwise NONE (the holder reads as absent). */
static size_t held_value(const tree *t, size_t i) {
    const wv_atom_info *h = &t->w[i];
    uint32_t clock = h->clock + 1;
    if (h->kind == WV_KIND_ENTRY) clock += (h->value + 2) / 3;
    size_t v = kid_with_id(t, i, h->site, clock, is_value_kind);
    return v != NONE && readable(t, v) ? v : NONE;
}

/* An INT's or INC's payload (0..8 bytes): little-endian, sign-extended. */
static int payload_int(const tree *t, size_t i, int64_t *v) {
    uint8_t b[8];
    uint32_t n = t->w[i].value;
    if (n > 8 || payload(t, i, n, b)) return -1;
    uint64_t u = 0;
    for (uint32_t k = 0; k < n; k++) u |= (uint64_t)b[k] << (8 * k);
    if (n > 0 && n < 8 && (b[n - 1] & 0x80)) u |= UINT64_MAX << (8 * n);
    memcpy(v, &u, sizeof u);
    return 0;
}

/* Is w[i] a char of the root text: a char caused by the root or by such a
 * char? (The structures' own chars hang under STRs.) */
static int root_text_char(const tree *t, const unsigned char *in_text, size_t i) {
    return kind_at(t, i) == WV_KIND_CHAR && (t->cause[i] == 0 || in_text[t->cause[i]]);
}

size_t wvo_text(const wv_atom_info *weave, size_t n, char *dst, size_t cap) {
    tree t;
    size_t len = 0;
    if (tree_build(&t, weave, n)) {
        if (cap > 0) dst[0] = '\0';
        return 0;
    }
    unsigned char *in_text = must(calloc(n + 1, 1));
    for (size_t i = 1; i < n; i++) {
        in_text[i] = (unsigned char)root_text_char(&t, in_text, i);
        if (!in_text[i] || weave[i].deleted) continue;
        unsigned char buf[4];
        size_t k = utf8_encode(weave[i].value, buf);
        for (size_t j = 0; j < k; j++, len++)
            if (len + 1 < cap) dst[len] = (char)buf[j];
    }
    if (cap > 0) dst[len < cap ? len : cap - 1] = '\0';
    free(in_text);
    tree_free(&t);
    return len;
}

/* ---- JSON ------------------------------------------------------------------- */

typedef struct buf {
    char *s;
    size_t n, cap;
} buf;

static void put(buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->s = must(realloc(b->s, b->cap));
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

/* Decodes one UTF-8 sequence at s[i..len) (RFC 3629: shortest form, no
 * surrogates, at most U+10FFFF): its length, or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t i, size_t len) {
    unsigned c = s[i];
    size_t k;
    uint32_t cp, min;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) k = 2, cp = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) k = 3, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) k = 4, cp = c & 0x07, min = 0x10000;
    else return 0;
    if (len - i < k) return 0;
    for (size_t j = 1; j < k; j++) {
        if ((s[i + j] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[i + j] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return k;
}

/* A JSON string (RFC 8259): '"' and '\\' escaped, control characters as
 * \b \f \n \r \t where JSON has a short form and \u00xx (lower-case hex)
 * otherwise, everything else as is; bytes that are not UTF-8 as \ufffd. */
static void put_quoted(buf *b, const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    put(b, "\"", 1);
    for (size_t i = 0; i < len;) {
        unsigned c = s[i];
        char esc[8];
        if (c == '"') puts_(b, "\\\"");
        else if (c == '\\') puts_(b, "\\\\");
        else if (c == '\b') puts_(b, "\\b");
        else if (c == '\f') puts_(b, "\\f");
        else if (c == '\n') puts_(b, "\\n");
        else if (c == '\r') puts_(b, "\\r");
        else if (c == '\t') puts_(b, "\\t");
        else if (c < 0x20) snprintf(esc, sizeof esc, "\\u%04x", c), puts_(b, esc);
        else {
            size_t k = utf8_seq(s, i, len);
            if (k == 0) puts_(b, "\\ufffd"), k = 1;
            else put(b, str + i, k);
            i += k;
            continue;
        }
        i++;
    }
    put(b, "\"", 1);
}

/* Nesting deeper than this is an error (the library's WV_E_LIMIT). */
#define JSON_DEPTH 256

typedef struct jctx {
    tree t;
    size_t *owner; /* an element's list or set: the container its ELEM chain hangs from */
    int all;       /* maps show every value of a key (wvo_json_all), not the winner */
} jctx;

static int value_json(const jctx *j, size_t i, buf *out, int depth);

/* A keyed item to sort: its bytes (off, len) in a side buffer, the atom it
 * stands for, whether it is a remove-wins mark, and its place before sorting. */
typedef struct item {
    size_t off, len, at;
    int mark;
    size_t order;
} item;

static int item_cmp(const item *a, const item *b, const char *base) {
    size_t m = a->len < b->len ? a->len : b->len;
    int c = memcmp(base + a->off, base + b->off, m);
    if (c) return c;
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order; /* stable */
}

/* Sorts items by their bytes in keys, byte order (a prefix first), ties in
 * their original order. Insertion sort: obviously right, and fuzzed maps and
 * sets are small. */
static void item_sort(item *v, size_t n, const buf *keys) {
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && item_cmp(&v[k], &v[k - 1], keys->s) < 0; k--) {
            item x = v[k];
            v[k] = v[k - 1], v[k - 1] = x;
        }
}

static int same_bytes(const buf *keys, const item *a, const item *b) {
    return a->len == b->len && !memcmp(keys->s + a->off, keys->s + b->off, a->len);
}

/* A map (the root or a MAP): its keys in byte order, each with its winner,
 * the first live entry of that key in weave order. An entry counts when it
 * is not deleted, its key payload is whole and it holds a value. */
static int map_json(const jctx *j, size_t m, buf *out, int depth) {
    const tree *t = &j->t;
    buf keys = {0};
    item *v = NULL;
    size_t nv = 0, cap = 0;
    uint8_t key[WV_KEY_MAX];
    for (size_t e = t->kid[m]; e != NONE; e = t->next[e]) {
        if (kind_at(t, e) != WV_KIND_ENTRY || t->w[e].deleted) continue;
        uint32_t klen = t->w[e].value;
        size_t val = held_value(t, e);
        if (klen > WV_KEY_MAX || payload(t, e, klen, key) || val == NONE) continue;
        if (nv == cap) v = must(realloc(v, (cap = cap ? 2 * cap : 8) * sizeof *v));
        v[nv] = (item){keys.n, klen, val, 0, nv};
        nv++;
        put(&keys, (const char *)key, klen);
    }
    item_sort(v, nv, &keys);
    int rc = 0;
    put(out, "{", 1);
    for (size_t i = 0, shown = 0; i < nv && !rc; i++) {
        int more = i > 0 && same_bytes(&keys, &v[i], &v[i - 1]); /* not the winner */
        if (more && !j->all) continue;
        if (more) {
            put(out, ",", 1);
        } else {
            if (shown++) put(out, j->all ? "]," : ",", j->all ? 2 : 1);
            put_quoted(out, keys.s + v[i].off, v[i].len);
            put(out, j->all ? ":[" : ":", j->all ? 2 : 1);
        }
        rc = value_json(j, v[i].at, out, depth + 1);
    }
    if (j->all && nv) put(out, "]", 1);
    put(out, "}", 1);
    free(v);
    free(keys.s);
    return rc;
}

/* A list: its elements are the ELEMs hanging from it through ELEM chains,
 * in weave order; a live one (not deleted, holding a value) shows its value. */
static int list_json(const jctx *j, size_t l, buf *out, int depth) {
    const tree *t = &j->t;
    int rc = 0;
    size_t shown = 0;
    put(out, "[", 1);
    for (size_t i = l + 1; i < t->end[l] && !rc; i++) {
        if (kind_at(t, i) != WV_KIND_ELEM || j->owner[i] != l || t->w[i].deleted) continue;
        size_t val = held_value(t, i);
        if (val == NONE) continue;
        if (shown++) put(out, ",", 1);
        rc = value_json(j, val, out, depth + 1);
    }
    put(out, "]", 1);
    return rc;
}

/* A set: the distinct JSON texts of the scalars its live ELEM children hold,
 * in byte order; in a remove-wins set (value 1) minus the texts its live
 * MARK children hold. */
static int set_json(const jctx *j, size_t s, buf *out) {
    const tree *t = &j->t;
    int remove_wins = t->w[s].value == 1;
    buf texts = {0};
    item *v = NULL;
    size_t nv = 0, cap = 0;
    int rc = 0;
    for (size_t c = t->kid[s]; c != NONE && !rc; c = t->next[c]) {
        wv_kind k = kind_at(t, c);
        if ((k != WV_KIND_ELEM && !(k == WV_KIND_MARK && remove_wins)) || t->w[c].deleted) continue;
        size_t val = held_value(t, c);
        if (val == NONE || !is_scalar_kind(kind_at(t, val))) continue;
        size_t off = texts.n;
        rc = value_json(j, val, &texts, 1);
        if (nv == cap) v = must(realloc(v, (cap = cap ? 2 * cap : 8) * sizeof *v));
        v[nv] = (item){off, texts.n - off, val, k == WV_KIND_MARK, nv};
        nv++;
    }
    item_sort(v, nv, &texts);
    put(out, "[", 1);
    size_t shown = 0;
    for (size_t i = 0; i < nv && !rc;) {
        size_t e = i;
        int marked = 0;
        for (; e < nv && same_bytes(&texts, &v[e], &v[i]); e++) marked |= v[e].mark;
        if (!marked) {
            if (shown++) put(out, ",", 1);
            put(out, texts.s + v[i].off, v[i].len);
        }
        i = e;
    }
    put(out, "]", 1);
    free(v);
    free(texts.s);
    return rc;
}

/* Text of a STR (its visible chars) or bytes of a STRING, as JSON. */
static int text_json(const jctx *j, size_t i, buf *out) {
    const tree *t = &j->t;
    buf txt = {0};
    put(&txt, "", 0);
    if (kind_at(t, i) == WV_KIND_STRING) {
        uint32_t len = t->w[i].value;
        uint8_t *b = must(malloc(len + 1));
        int bad = payload(t, i, len, b);
        if (!bad) put(&txt, (const char *)b, len);
        free(b);
        if (bad) return free(txt.s), -1;
    } else {
        for (size_t c = i + 1; c < t->end[i]; c++) {
            unsigned char u[4];
            if (kind_at(t, c) == WV_KIND_CHAR && !t->w[c].deleted)
                put(&txt, (const char *)u, utf8_encode(t->w[c].value, u));
        }
    }
    put_quoted(out, txt.s, txt.n);
    free(txt.s);
    return 0;
}

/* A float: the shortest of %.15g, %.16g, %.17g that reads back as x, and
 * ".0" appended when that text reads as an integer (only a sign and
 * digits), so 3.0 never prints as 3. The decimal point is '.', whatever the
 * locale. */
static void put_float(buf *out, double x) {
    char b[48];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, x);
        for (char *c = b; *c; c++)
            if (*c == ',') *c = '.';
        if (strtod(b, NULL) == x) break;
    }
    puts_(out, b);
    if (strspn(b, "-0123456789") == strlen(b)) puts_(out, ".0");
}

/* Returns 0, -1 (a malformed value: a short payload) or -2 (too deep). */
static int value_json(const jctx *j, size_t i, buf *out, int depth) {
    const tree *t = &j->t;
    if (depth > JSON_DEPTH) return -2;
    char num[32];
    int64_t v;
    switch (kind_at(t, i)) {
    case WV_KIND_ROOT: case WV_KIND_MAP: return map_json(j, i, out, depth);
    case WV_KIND_LIST: return list_json(j, i, out, depth);
    case WV_KIND_SET: return set_json(j, i, out);
    case WV_KIND_STR: case WV_KIND_STRING: return text_json(j, i, out);
    case WV_KIND_NULL: puts_(out, "null"); return 0;
    case WV_KIND_BOOL: puts_(out, t->w[i].value ? "true" : "false"); return 0;
    case WV_KIND_INT:
        if (payload_int(t, i, &v)) return -1;
        snprintf(num, sizeof num, "%lld", (long long)v);
        puts_(out, num);
        return 0;
    case WV_KIND_COUNTER: { /* every increment counts; the sum wraps mod 2^64 */
        uint64_t sum = 0;
        for (size_t c = t->kid[i]; c != NONE; c = t->next[c])
            if (kind_at(t, c) == WV_KIND_INC && !payload_int(t, c, &v)) sum += (uint64_t)v;
        memcpy(&v, &sum, sizeof v);
        snprintf(num, sizeof num, "%lld", (long long)v);
        puts_(out, num);
        return 0;
    }
    case WV_KIND_FLOAT: {
        uint8_t b[8];
        uint64_t u = 0;
        double x;
        if (t->w[i].value != 8 || payload(t, i, 8, b)) return -1;
        for (int k = 0; k < 8; k++) u |= (uint64_t)b[k] << (8 * k);
        memcpy(&x, &u, sizeof x);
        put_float(out, x);
        return 0;
    }
    default: return -1;
    }
}

/* The tree of weave with its elements' owners, for value_json. */
static int jctx_build(jctx *j, const wv_atom_info *weave, size_t n) {
    j->all = 0;
    if (tree_build(&j->t, weave, n)) return -1;
    j->owner = must(malloc(n * sizeof *j->owner));
    for (size_t i = 0; i < n; i++) { /* causes come first: one pass */
        size_t c = j->t.cause[i];
        wv_kind ck = i ? kind_at(&j->t, c) : WV_KIND_ROOT;
        j->owner[i] = NONE;
        if (i && kind_at(&j->t, i) == WV_KIND_ELEM)
            j->owner[i] = ck == WV_KIND_LIST || ck == WV_KIND_SET ? c : ck == WV_KIND_ELEM ? j->owner[c] : NONE;
    }
    return 0;
}

static void jctx_free(jctx *j) {
    free(j->owner);
    tree_free(&j->t);
}

/* The root map's JSON (all: every value of every key). */
static int root_json(jctx *j, int all, char **out, size_t *len) {
    buf b = {0};
    put(&b, "", 0);
    j->all = all;
    int rc = value_json(j, 0, &b, 0);
    *out = rc ? NULL : b.s;
    *len = rc ? 0 : b.n;
    if (rc) free(b.s);
    return rc;
}

static int json_of(const wv_atom_info *weave, size_t n, int all, char **out, size_t *len) {
    jctx j;
    *out = NULL;
    *len = 0;
    if (jctx_build(&j, weave, n)) return -1;
    int rc = root_json(&j, all, out, len);
    jctx_free(&j);
    return rc;
}

int wvo_json(const wv_atom_info *weave, size_t n, char **out, size_t *len) {
    return json_of(weave, n, 0, out, len);
}

int wvo_json_all(const wv_atom_info *weave, size_t n, char **out, size_t *len) {
    return json_of(weave, n, 1, out, len);
}

int wvo_read(const wv_atom_info *weave, size_t n, wvo_reading *out) {
    jctx j;
    memset(out, 0, sizeof *out);
    if (jctx_build(&j, weave, n)) return -1;
    buf text = {0};
    put(&text, "", 0);
    unsigned char *in_text = must(calloc(n + 1, 1));
    for (size_t i = 1; i < n; i++) {
        unsigned char u[4];
        in_text[i] = (unsigned char)root_text_char(&j.t, in_text, i);
        if (in_text[i] && !weave[i].deleted) put(&text, (const char *)u, utf8_encode(weave[i].value, u));
    }
    free(in_text);
    out->text = text.s, out->text_len = text.n;
    out->json_rc = root_json(&j, 0, &out->json, &out->json_len);
    if (!out->json_rc) (void)root_json(&j, 1, &out->all, &out->all_len);
    jctx_free(&j);
    return 0;
}

void wvo_reading_free(wvo_reading *r) {
    free(r->text);
    free(r->json);
    free(r->all);
    memset(r, 0, sizeof *r);
}

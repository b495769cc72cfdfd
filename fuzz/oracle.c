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
 *
 * Nothing here comes from weave/: only the public types of weave.h. */
#include "oracle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const wv_atom_info root_atom = {0, 0, 0, 0, WV_KIND_ROOT, 0, 0};

/* Child-order priority, highest first: a delete hugs its target, containers
 * (any kind this file does not know, reserved for them) come next, chars last. */
static int priority(wv_kind kind) {
    switch (kind) {
    case WV_KIND_DELETE: return 3;
    case WV_KIND_CHAR: return 1;
    case WV_KIND_ROOT: return 0;
    default: return 2;
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

void wvo_describe(const wv_atom_info *a, char *buf, size_t cap) {
    const char *kind = a->kind == WV_KIND_ROOT     ? "root"
                       : a->kind == WV_KIND_CHAR   ? "char"
                       : a->kind == WV_KIND_DELETE ? "del"
                                                   : "kind?";
    snprintf(buf, cap, "[%llu|%lu <- %llu:%lu %s(%d) value=%lu%s]", (unsigned long long)a->site,
             (unsigned long)a->clock, (unsigned long long)a->cause_site,
             (unsigned long)a->cause_clock, kind, (int)a->kind, (unsigned long)a->value,
             a->deleted ? " deleted" : "");
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

size_t wvo_text(const wv_atom_info *weave, size_t n, char *dst, size_t cap) {
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (weave[i].kind != WV_KIND_CHAR || weave[i].deleted) continue;
        unsigned char buf[4];
        size_t k = utf8_encode(weave[i].value, buf);
        for (size_t j = 0; j < k; j++, len++)
            if (len + 1 < cap) dst[len] = (char)buf[j];
    }
    if (cap > 0) dst[len < cap ? len : cap - 1] = '\0';
    return len;
}

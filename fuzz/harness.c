/* harness.c — the convergence harness (see harness.h). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "oracle.h"
#include "weave.h"

#define MAXK 8
#define MAX_TRIALS 3000 /* shrinking budget, in re-runs */

enum { OP_INS, OP_DEL, OP_FORK, OP_MERGE, OP_STRUCT };

/* One step of the peer-to-peer history. Positions, lengths, the container a
 * structure edit targets and what it does are raw random numbers reduced
 * against the replica when the step runs, so any sub-list of a history is
 * again a history (what shrinking needs). */
typedef struct op {
    uint8_t kind, a, b;
    uint32_t r1, r2, r3;
} op;

typedef struct txn {
    unsigned slot;
    wv_weft_entry dep[MAXK]; /* the weft its site held before the edit */
    size_t ndep;
    wv_atom_info *atoms;
    size_t n;
} txn;

typedef struct run {
    unsigned k;
    uint64_t seed;
    uint32_t lock_n;
    wv_doc *p[MAXK]; /* world 1 */
    wv_doc *h[MAXK]; /* world 2 */
    wv_host *host;
    txn *tx;
    size_t ntx, captx;
    FILE *script;
    wvf_stats st;
    char why[512];
    int failed;
    int quiescent; /* the final merges are done */
} run;

static uint64_t mix(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int fail(run *r, const char *fmt, ...) {
    if (!r->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->why, sizeof r->why, fmt, ap);
        va_end(ap);
        r->failed = 1;
    }
    return 1;
}

static int checked(run *r, const wv_doc *d, const char *world, unsigned slot) {
    char msg[256];
    if (wv_check(d, msg, sizeof msg)) return fail(r, "%s site %u: invariant broken: %s", world, slot + 1, msg);
    return 0;
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int bad(char *why, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (cap) vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return 1;
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fputs("weave fuzz: out of memory\n", stderr);
        exit(3);
    }
    return q;
}

/* ---- world 1: peer to peer ------------------------------------------------ */

static const char *const words[] = {"a", "b", "xy", "q", "\xc3\xa9", "\xe4\xb8\xad", "zzz", "0"};

static int record_txn(run *r, unsigned s, const wv_weft_entry *dep, size_t ndep, uint32_t own) {
    wv_weft_entry since[MAXK + 1];
    size_t ns = wv_doc_weft_all(r->p[s], since, MAXK + 1), n;
    for (size_t i = 0; i < ns; i++)
        if (since[i].site == s + 1) since[i].clock = own;
    if (wv_delta(r->p[s], since, ns, NULL, 0, &n)) return fail(r, "wv_delta failed");
    if (r->ntx == r->captx) {
        r->captx = r->captx ? 2 * r->captx : 64;
        r->tx = xrealloc(r->tx, r->captx * sizeof *r->tx);
    }
    txn *t = &r->tx[r->ntx++];
    t->slot = s, t->n = n, t->ndep = ndep;
    memcpy(t->dep, dep, ndep * sizeof *dep);
    t->atoms = xrealloc(NULL, n * sizeof *t->atoms);
    if (wv_delta(r->p[s], since, ns, t->atoms, n, &n)) return fail(r, "wv_delta failed");
    r->st.atoms += n;
    return 0;
}

/* One step: a local edit (text or structure: one transaction), a fork or a
 * merge, checked with wv_check. */
static int p2p_step(run *r, const op *o) {
    unsigned a = o->a % r->k, b = o->b % r->k;
    wv_doc *d = r->p[a];
    if (!d) return 0;
    int rc = WV_OK;
    if (o->kind == OP_INS || o->kind == OP_DEL || o->kind == OP_STRUCT) {
        size_t len = wv_text_len(d);
        if (o->kind == OP_DEL && len == 0) return 0;
        wv_weft_entry dep[MAXK + 1];
        size_t ndep = wv_doc_weft_all(d, dep, MAXK + 1);
        uint32_t own = wv_doc_weft(d, a + 1);
        char line[512];
        if (o->kind == OP_INS) {
            size_t pos = o->r1 % (len + 1);
            const char *w = words[o->r2 % (sizeof words / sizeof *words)];
            rc = wv_text_insert(d, pos, w, strlen(w));
            snprintf(line, sizeof line, "ins %zu %s", pos, w);
        } else if (o->kind == OP_DEL) {
            size_t pos = o->r1 % len, max = len - pos < 3 ? len - pos : 3, n = 1 + o->r2 % max;
            rc = wv_text_delete(d, pos, n);
            snprintf(line, sizeof line, "del %zu %zu", pos, n);
        } else {
            char why[400];
            line[0] = 0;
            if (wvf_struct_edit(d, o->r1, o->r2, o->r3, line, sizeof line, why, sizeof why))
                fail(r, "p2p site %u: %s", a + 1, why);
            r->st.struct_edits += line[0] != 0;
        }
        /* written before the verdict on it, so a failing edit ends the repro */
        if (line[0] && r->script) {
            if (!strncmp(line, "json ", 5)) fprintf(r->script, "json s%u %s\n", a + 1, line + 5);
            else fprintf(r->script, "s%u %s\n", a + 1, line);
        }
        if (r->failed) return 1;
        if (rc) return fail(r, "p2p site %u: edit failed: %s", a + 1, wv_error_name(rc));
        if (!line[0]) return 0;
        r->st.edits++;
        /* an edit that changed nothing (a member already there) makes no transaction */
        if (wv_doc_weft(d, a + 1) != own && record_txn(r, a, dep, ndep, own)) return 1;
    } else if (o->kind == OP_FORK) {
        unsigned s = 0;
        while (s < r->k && r->p[s]) s++;
        if (s == r->k) return 0;
        if ((rc = wv_doc_fork(d, s + 1, &r->p[s]))) return fail(r, "fork failed: %s", wv_error_name(rc));
        if (r->script) fprintf(r->script, "fork s%u s%u %u\n", a + 1, s + 1, s + 1);
        r->st.forks++;
        return checked(r, r->p[s], "p2p", s);
    } else {
        if (a == b || !r->p[b]) return 0;
        if ((rc = wv_merge(d, r->p[b]))) return fail(r, "p2p merge s%u <- s%u failed: %s", a + 1, b + 1, wv_error_name(rc));
        if (r->script) fprintf(r->script, "merge s%u s%u\n", a + 1, b + 1);
        r->st.merges++;
    }
    return checked(r, d, "p2p", a);
}

/* ---- world 1: structure edits ---------------------------------------------- */

/* Structure edits pick their target by walking the replica's structures from
 * the root map (wv_each: maps' winners, lists' live elements), so they hit
 * real containers, and name it by its path (what `weave script` replays).
 * Keys and set members come from small pools, so concurrent writes of one
 * key, adds and removes of one member, and edits inside containers others
 * delete all happen often. */

#define MAXPLACES 40 /* containers a walk collects, the root map included */
#define PATH_CAP 160
#define MAX_DEPTH 5 /* containers nest at most this deep below the root map */

typedef struct place {
    wv_ref ref;
    wv_type type;
    size_t len;         /* wv_value.len: elements, keys, members or chars */
    unsigned depth;     /* 0: the root map */
    char path[PATH_CAP];/* JSON Pointer from the root map; "" for the root */
} place;

typedef struct walk {
    place v[MAXPLACES];
    size_t n, parent, index;
} walk;

static const char *const keys[] = {"a", "b", "c", "items", "title", "x/y", "t~", "\xc3\xa9"};
#define NKEYS (sizeof keys / sizeof *keys)

/* base + '/' + a key (escaped: '~' as ~0, '/' as ~1) or a list index; just
 * the key or index under the root (base ""). Returns 0, or -1 when it would
 * not fit in PATH_CAP. */
static int path_join(char *dst, const char *base, const char *key, size_t index) {
    char comp[PATH_CAP];
    size_t n = 0;
    if (!key) n = (size_t)snprintf(comp, sizeof comp, "%zu", index);
    else
        for (; *key && n + 2 < sizeof comp; key++) {
            if (*key == '~' || *key == '/') comp[n++] = '~', comp[n++] = *key == '~' ? '0' : '1';
            else comp[n++] = *key;
        }
    if (key && *key) return -1;
    size_t nb = strlen(base), sep = *base ? 1 : 0;
    if (nb + sep + n >= PATH_CAP) return -1;
    memmove(dst, base, nb); /* dst may be base */
    if (sep) dst[nb] = '/';
    memcpy(dst + nb + sep, comp, n), dst[nb + sep + n] = 0;
    return 0;
}

static int walk_cb(void *ctx, const char *key, const wv_value *v) {
    walk *w = ctx;
    size_t index = w->index++;
    if (v->type < WV_T_STR) return 0; /* a scalar */
    if (w->n == MAXPLACES) return 1;  /* enough: stop */
    const place *up = &w->v[w->parent];
    place *p = &w->v[w->n];
    if (path_join(p->path, up->path, key, index)) return 0;
    p->ref = v->ref, p->type = v->type, p->len = v->len, p->depth = up->depth + 1;
    w->n++;
    return 0;
}

/* Every container reachable from the root map (breadth first, at most
 * MAXPLACES), with its path. Returns 0 or a negative error. */
static int walk_doc(walk *w, const wv_doc *d) {
    wv_value root;
    w->parent = 0;
    int rc = wv_get(d, (wv_ref){0, 0}, &root);
    if (rc) return rc;
    w->n = 1;
    w->v[0] = (place){root.ref, WV_T_MAP, root.len, 0, ""};
    for (size_t i = 0; i < w->n; i++) {
        if (w->v[i].type != WV_T_MAP && w->v[i].type != WV_T_LIST) continue;
        w->parent = i, w->index = 0;
        if ((rc = wv_each(d, w->v[i].ref, walk_cb, w)) < 0) return rc;
    }
    return 0;
}

/* A value as `weave script` writes it (tools/value.c's VALUE syntax). */
static void put_json_string(char *dst, size_t cap, const char *prefix, const char *s, size_t len) {
    size_t n = (size_t)snprintf(dst, cap, "%s\"", prefix);
    for (size_t i = 0; i < len && n + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') n += (size_t)snprintf(dst + n, cap - n, "\\%c", c);
        else if (c == '\n') n += (size_t)snprintf(dst + n, cap - n, "\\n");
        else if (c == '\t') n += (size_t)snprintf(dst + n, cap - n, "\\t");
        else if (c < 0x20) n += (size_t)snprintf(dst + n, cap - n, "\\u%04x", c);
        else dst[n++] = (char)c;
    }
    snprintf(dst + n, cap - n, "\"");
}

static void value_text(const wv_value *v, char *dst, size_t cap) {
    switch (v->type) {
    case WV_T_NULL: snprintf(dst, cap, "null"); break;
    case WV_T_BOOL: snprintf(dst, cap, v->boolean ? "true" : "false"); break;
    case WV_T_INT: snprintf(dst, cap, "%" PRId64, v->integer); break;
    case WV_T_FLOAT: /* 17 digits read back exactly; a '.' or 'e' makes it a float */
        snprintf(dst, cap, "%.17g", v->number);
        if (strspn(dst, "-0123456789") == strlen(dst)) snprintf(dst + strlen(dst), cap - strlen(dst), ".0");
        break;
    case WV_T_STRING: put_json_string(dst, cap, "", v->str, v->len); break;
    case WV_T_STR: put_json_string(dst, cap, "str:", v->str, v->len); break;
    case WV_T_LIST: snprintf(dst, cap, "[]"); break;
    case WV_T_MAP: snprintf(dst, cap, "{}"); break;
    case WV_T_SET: snprintf(dst, cap, v->remove_wins ? "set-rw{}" : "set{}"); break;
    default: snprintf(dst, cap, "counter"); break;
    }
}

/* A scalar: edge cases of every kind (int widths and signs, floats that
 * read like ints, -0.0, exponents, strings needing escapes, multi-byte). */
static wv_value pick_scalar(uint32_t r) {
    static const char *const strings[] = {"", "x", "a\"b\\/c", "tab\there\n\x01\x1f", "\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80", "1"};
    static const int64_t ints[] = {0, -1, 127, 128, -129, 40000, INT64_MIN, INT64_MAX};
    static const double floats[] = {1.5, -0.0, 3.0, 1e21, 0.1, 1e-300, 0.0, 123456789.125};
    unsigned c = r % 8, i = (r >> 3) % 8;
    switch (c) {
    case 0: return wv_null();
    case 1: return wv_bool((int)(i & 1));
    case 2: return wv_int(ints[i]);
    case 3: return wv_int((int64_t)(int32_t)r);
    case 4: return wv_float(floats[i]);
    case 5: return wv_float((double)(int32_t)r / 7.0);
    default: {
        const char *s = strings[i % (sizeof strings / sizeof *strings)];
        return wv_string(s, strlen(s));
    }
    }
}

/* Members of sets: a small pool so adds and removes of one member meet; 1,
 * 1.0 and "1", 0.0 and -0.0 are distinct members. */
static wv_value pick_member(uint32_t r) {
    switch (r % 9) {
    case 0: return wv_null();
    case 1: return wv_bool(1);
    case 2: return wv_int(1);
    case 3: return wv_int(2);
    case 4: return wv_float(1.0);
    case 5: return wv_string("1", 1);
    case 6: return wv_string("x", 1);
    case 7: return wv_float(-0.0);
    default: return wv_float(0.0);
    }
}

/* A value to write at depth (0: a key of the root map): a scalar, or a new
 * container, three times in four at the root, half the time below it, never
 * at MAX_DEPTH. */
static wv_value pick_value(uint32_t r, unsigned depth) {
    static const char *const texts[] = {"hi", "", "\xc3\xa9t\xc3\xa9"};
    unsigned c = r % 16;
    if (depth >= MAX_DEPTH || c < (depth ? 8u : 4u)) return pick_scalar(r >> 4);
    switch ((r >> 4) % 8) {
    case 0: return wv_new_str(texts[(r >> 7) % 3], strlen(texts[(r >> 7) % 3]));
    case 1: case 2: return wv_new_list();
    case 3: case 4: return wv_new_map();
    case 5: return wv_new_set(0);
    case 6: return wv_new_set(1);
    default: return wv_new_counter();
    }
}

static const int64_t deltas[] = {1, -1, 2, 5, -7, 300, -70000, INT64_C(1) << 40, INT64_MAX, INT64_MIN};

static int same_ref(wv_ref x, wv_ref y) { return x.site == y.site && x.clock == y.clock; }

/* One structure edit by site a (slot) on its replica d, chosen by o->r1..r3
 * (see p2p_step). *line gets the `weave script` command, set before the edit
 * runs ("" when the step does nothing). Each edit is followed by the reads its contract promises
 * locally (weave.h): a write is its key's only value and the winner, an
 * insert is at its position, a delete leaves nothing, a member added is
 * there and one removed is not, a counter moves by the increment. Returns
 * 0, or 1 after fail(). */
int wvf_struct_edit(wv_doc *d, uint32_t r1, uint32_t r2, uint32_t r3, char *line, size_t cap, char *why,
                    size_t whycap) {
    walk w;
    int rc = walk_doc(&w, d);
    if (rc) { /* the repro ends reading the container the walk could not */
        snprintf(line, cap, "json /%s", w.v[w.parent].path);
        return bad(why, whycap, "walking the structures: wv_each(%s): %s",
                   *w.v[w.parent].path ? w.v[w.parent].path : "(root)", wv_error_name(rc));
    }
    /* the root map a quarter of the time once there are nested containers */
    const place *p = &w.v[w.n > 1 && (r1 >> 24) % 4 ? 1 + r1 % (w.n - 1) : 0];
    unsigned act = r2 % 100, via_path = (r2 >> 8) & 1;
    uint32_t x = r3;
    wv_value v = pick_value(x >> 8, p->depth), got = wv_null();
    char path[PATH_CAP], val[160];
    wv_ref made = {0, 0};
    const char *what = "";
    size_t n = 0;
    line[0] = 0;
    /* the walk's path names the container it found */
    if (p->depth && ((rc = wv_path_get(d, p->path, &got)) || !same_ref(got.ref, p->ref))) {
        snprintf(line, cap, "json /%s", p->path);
        return bad(why, whycap, "path %s does not lead back to its container (%s)", p->path,
                    wv_error_name(rc));
    }
    value_text(&v, val, sizeof val);
    switch (p->type) {
    case WV_T_MAP: {
        const char *key = keys[x % NKEYS];
        if (act >= 80) { /* delete a key that has a value */
            size_t k = 0;
            while (k < NKEYS && wv_map_get(d, p->ref, keys[(x + k) % NKEYS], &got) == WV_E_NOTFOUND) k++;
            if (k == NKEYS) return 0;
            key = keys[(x + k) % NKEYS];
        }
        if (path_join(path, p->path, key, 0)) return 0;
        if (act < 80) {
            what = "map set";
            rc = via_path ? wv_path_set(d, path, v, &made) : wv_map_set(d, p->ref, key, v, &made);
            snprintf(line, cap, "set %s %s", path, val);
            size_t nc = 0;
            if (!rc && ((rc = wv_map_conflicts(d, p->ref, key, &got, 1, &nc)) || nc != 1 || !same_ref(got.ref, made)))
                return bad(why, whycap, "after set %s: %zu values, winner %" PRIu64 ":%" PRIu32 " not the new one (%s)",
                            path, nc, got.ref.site, got.ref.clock, wv_error_name(rc));
        } else {
            what = "map delete";
            rc = via_path ? wv_path_delete(d, path) : wv_map_delete(d, p->ref, key);
            snprintf(line, cap, "unset %s", path);
            if (!rc && wv_map_get(d, p->ref, key, &got) != WV_E_NOTFOUND)
                return bad(why, whycap, "after unset %s the key still has a value", path);
        }
        break;
    }
    case WV_T_LIST: {
        size_t len = p->len, pos;
        if (act < 45 || (act >= 70 && len == 0)) { /* insert (appending by path "-" at times) */
            pos = x % (len + 1);
            what = "list insert";
            if (via_path && pos == len) {
                path_join(path, p->path, "-", 0);
                rc = wv_path_set(d, path, v, &made);
                snprintf(line, cap, "set %s %s", path, val);
            } else {
                rc = wv_list_insert(d, p->ref, pos, v, &made);
                snprintf(line, cap, "list-ins %s %zu %s", p->path, pos, val);
            }
        } else if (act < 70) { /* delete one or two */
            if (len == 0) return 0;
            pos = x % len, n = 1 + (x >> 8) % (len - pos < 2 ? 1 : 2);
            what = "list delete";
            if (via_path && n == 1) {
                path_join(path, p->path, NULL, pos);
                rc = wv_path_delete(d, path);
                snprintf(line, cap, "unset %s", path);
            } else {
                rc = wv_list_delete(d, p->ref, pos, n);
                snprintf(line, cap, "list-del %s %zu %zu", p->path, pos, n);
            }
            if (!rc && ((rc = wv_get(d, p->ref, &got)) || got.len != len - n))
                return bad(why, whycap, "list %s: %zu elements after deleting %zu of %zu", p->path,
                            got.len, n, len);
            break;
        } else { /* replace element pos by path */
            pos = x % len;
            what = "list replace";
            path_join(path, p->path, NULL, pos);
            rc = wv_path_set(d, path, v, &made);
            snprintf(line, cap, "set %s %s", path, val);
        }
        if (!rc && ((rc = wv_list_get(d, p->ref, pos, &got)) || !same_ref(got.ref, made)))
            return bad(why, whycap, "list %s: element %zu is not the value just written (%s)", p->path,
                        pos, wv_error_name(rc));
        break;
    }
    case WV_T_STR: {
        size_t len = p->len, pos;
        if (act < 60) {
            const char *word = words[x % (sizeof words / sizeof *words)];
            pos = (x >> 4) % (len + 1), what = "str insert";
            rc = wv_str_insert(d, p->ref, pos, word, strlen(word));
            snprintf(line, cap, "str-ins %s %zu %s", p->path, pos, word);
            for (const char *c = word; *c; c++) n += ((unsigned char)*c & 0xC0) != 0x80; /* code points */
            if (!rc && ((rc = wv_get(d, p->ref, &got)) || got.len != len + n))
                return bad(why, whycap, "str %s: %zu chars after inserting %zu into %zu", p->path, got.len, n, len);
        } else {
            if (len == 0) return 0;
            pos = x % len, n = 1 + (x >> 8) % (len - pos < 3 ? len - pos : 3), what = "str delete";
            rc = wv_str_delete(d, p->ref, pos, n);
            snprintf(line, cap, "str-del %s %zu %zu", p->path, pos, n);
            if (!rc && ((rc = wv_get(d, p->ref, &got)) || got.len != len - n))
                return bad(why, whycap, "str %s: %zu chars after deleting %zu of %zu", p->path, got.len, n, len);
        }
        break;
    }
    case WV_T_SET: {
        wv_value m = pick_member(x);
        int add = act < 55;
        value_text(&m, val, sizeof val);
        what = add ? "set add" : "set remove";
        rc = add ? wv_set_add(d, p->ref, m) : wv_set_remove(d, p->ref, m);
        snprintf(line, cap, "%s %s %s", add ? "set-add" : "set-rm", p->path, val);
        int has = rc ? 0 : wv_set_has(d, p->ref, m);
        if (!rc && has != add)
            return bad(why, whycap, "set %s: after %s %s, has = %d", p->path, what, val, has);
        break;
    }
    case WV_T_COUNTER: {
        int64_t delta = deltas[x % (sizeof deltas / sizeof *deltas)];
        what = "counter add";
        wv_value before = {0};
        rc = wv_get(d, p->ref, &before);
        if (!rc) rc = wv_counter_add(d, p->ref, delta);
        snprintf(line, cap, "incr %s %" PRId64, p->path, delta);
        uint64_t want = (uint64_t)before.integer + (uint64_t)delta; /* wraps */
        if (!rc && ((rc = wv_get(d, p->ref, &got)) || (uint64_t)got.integer != want))
            return bad(why, whycap, "counter %s: %" PRId64 " + %" PRId64 " gave %" PRId64, p->path,
                        before.integer, delta, got.integer);
        break;
    }
    default: return bad(why, whycap, "the walk found a %d at %s", (int)p->type, p->path);
    }
    if (rc) return bad(why, whycap, "%s at %s failed: %s", what, *p->path ? p->path : "(root)", wv_error_name(rc));
    return 0;
}

/* ---- world 2: through the site host ---------------------------------------- */

static int catch_up(run *r, unsigned s, uint64_t *v) {
    for (; *v < wv_host_length(r->host); ++*v) {
        const wv_atom_info *atoms;
        size_t n;
        int rc = wv_host_entry(r->host, *v, NULL, &atoms, &n);
        if (!rc) rc = wv_apply(r->h[s], atoms, n);
        if (rc) return fail(r, "host world site %u: integrating entry %llu: %s", s + 1, (unsigned long long)*v, wv_error_name(rc));
    }
    return checked(r, r->h[s], "host-world", s);
}

static int deps_met(const wv_doc *d, const txn *t) {
    for (size_t i = 0; i < t->ndep; i++)
        if (wv_doc_weft(d, t->dep[i].site) < t->dep[i].clock) return 0;
    return 1;
}

static int host_world(run *r) {
    uint64_t rng = r->seed ^ 0x5157e5u, v[MAXK] = {0};
    size_t next[MAXK], left = r->ntx;
    int rc = wv_host_new(&r->host, NULL);
    for (unsigned s = 0; !rc && s < r->k; s++) rc = wv_doc_new(&r->h[s], s + 1, NULL);
    if (rc) return fail(r, "host world setup: %s", wv_error_name(rc));
    for (unsigned s = 0; s < r->k; s++) /* each site's first transaction */
        for (next[s] = 0; next[s] < r->ntx && r->tx[next[s]].slot != s; next[s]++) {}
    while (left) {
        unsigned order[MAXK], m = 0;
        for (unsigned s = 0; s < r->k; s++)
            if (next[s] < r->ntx) order[m++] = s;
        for (unsigned i = m; i > 1; i--) { /* shuffle */
            unsigned j = (unsigned)(mix(&rng) % i), t = order[i - 1];
            order[i - 1] = order[j], order[j] = t;
        }
        int progressed = 0;
        for (unsigned i = 0; i < m && !progressed; i++) {
            unsigned s = order[i];
            txn *t = &r->tx[next[s]];
            if (!deps_met(r->h[s], t) && (catch_up(r, s, &v[s]) || !deps_met(r->h[s], t))) {
                if (r->failed) return 1;
                continue; /* what it depends on is not in the log yet */
            }
            /* the edit, at this site, in this world */
            if ((rc = wv_apply(r->h[s], t->atoms, t->n)))
                return fail(r, "host world site %u: its own edit: %s", s + 1, wv_error_name(rc));
            if (checked(r, r->h[s], "host-world", s)) return 1;
            while ((rc = wv_host_propose(r->host, s + 1, v[s], r->lock_n, t->atoms, t->n)) == WV_E_BUSY)
                if (catch_up(r, s, &v[s])) return 1;
            if (rc) return fail(r, "host rejected site %u's transaction: %s", s + 1, wv_error_name(rc));
            if (mix(&rng) % 3 == 0 && catch_up(r, s, &v[s])) return 1;
            do next[s]++;
            while (next[s] < r->ntx && r->tx[next[s]].slot != s);
            left--, progressed = 1;
        }
        if (!progressed) return fail(r, "host world deadlocked with %zu transactions left", left);
    }
    for (unsigned s = 0; s < r->k; s++)
        if (catch_up(r, s, &v[s])) return 1;
    wv_host_stats hs;
    wv_host_stats_get(r->host, &hs);
    r->st.proposals += hs.proposals, r->st.refusals += hs.refused, r->st.retries += hs.retries;
    return 0;
}

/* ---- the verdict -------------------------------------------------------------- */

/* The JSON of d's root map, malloc'd (NULL with *rc on error). */
static char *doc_json(const wv_doc *d, int *rc) {
    size_t len = 0;
    *rc = wv_json(d, (wv_ref){0, 0}, NULL, 0, &len);
    if (*rc) return NULL;
    char *s = xrealloc(NULL, len + 1);
    size_t again = 0;
    *rc = wv_json(d, (wv_ref){0, 0}, s, len + 1, &again);
    if (!*rc && again != len) *rc = WV_E_CORRUPT;
    if (*rc) free(s), s = NULL;
    return s;
}

/* ---- every value of every key, read through the public calls ------------ */

typedef struct sbuf {
    char *s;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) b->s = xrealloc(b->s, b->cap = 2 * (b->n + n + 1));
    memcpy(b->s + b->n, s, n);
    b->s[b->n += n] = 0;
}

typedef struct member {
    char key[WV_KEY_MAX + 1];
    wv_value v;
} member;

typedef struct members {
    member *v;
    size_t n, cap;
} members;

static int collect_cb(void *ctx, const char *key, const wv_value *v) {
    members *m = ctx;
    if (m->n == m->cap) m->v = xrealloc(m->v, (m->cap = m->cap ? 2 * m->cap : 16) * sizeof *m->v);
    snprintf(m->v[m->n].key, sizeof m->v[m->n].key, "%s", key ? key : "");
    m->v[m->n++].v = *v;
    return 0;
}

/* The value at ref as wvo_json_all prints it, read with wv_get, wv_each,
 * wv_map_conflicts and wv_json on each leaf's ref: so the refs, the
 * iteration and the conflict lists are checked along with the JSON. */
static int json_all(const wv_doc *d, wv_ref ref, sbuf *out, int depth) {
    wv_value v;
    int rc = wv_get(d, ref, &v);
    if (rc) return rc;
    if (depth > 256) return WV_E_LIMIT;
    if (v.type != WV_T_MAP && v.type != WV_T_LIST) {
        size_t len = 0;
        if ((rc = wv_json(d, ref, NULL, 0, &len))) return rc;
        char *s = xrealloc(NULL, len + 1);
        if (!(rc = wv_json(d, ref, s, len + 1, &len))) sb_add(out, s, len);
        free(s);
        return rc;
    }
    members m = {0};
    rc = wv_each(d, ref, collect_cb, &m);
    sb_add(out, v.type == WV_T_MAP ? "{" : "[", 1);
    for (size_t i = 0; !rc && i < m.n; i++) {
        if (i) sb_add(out, ",", 1);
        if (v.type == WV_T_LIST) {
            rc = json_all(d, m.v[i].v.ref, out, depth + 1);
            continue;
        }
        char q[2 * WV_KEY_MAX + 8];
        put_json_string(q, sizeof q, "", m.v[i].key, strlen(m.v[i].key));
        sb_add(out, q, strlen(q));
        sb_add(out, ":[", 2);
        wv_value all[16];
        size_t n = 0;
        rc = wv_map_conflicts(d, ref, m.v[i].key, all, 16, &n);
        if (!rc && (n == 0 || !same_ref(all[0].ref, m.v[i].v.ref))) rc = WV_E_CORRUPT; /* winner first */
        for (size_t k = 0; !rc && k < n && k < 16; k++) {
            if (k) sb_add(out, ",", 1);
            rc = json_all(d, all[k].ref, out, depth + 1);
        }
        if (!rc && n > 16) sb_add(out, ",...", 4);
        sb_add(out, "]", 1);
    }
    sb_add(out, v.type == WV_T_MAP ? "}" : "]", 1);
    free(m.v);
    return rc;
}

int wvf_json_all(const wv_doc *d, char **out, size_t *len) {
    sbuf b = {0};
    sb_add(&b, "", 0);
    int rc = json_all(d, (wv_ref){0, 0}, &b, 0);
    if (rc) {
        free(b.s);
        *out = NULL, *len = 0;
        return rc;
    }
    *out = b.s, *len = b.n;
    return WV_OK;
}

/* What every replica must hold at quiescence: the oracle's weave of all the
 * atoms made, its root text and its JSON, and the hash of the first
 * replica checked. */
typedef struct expected {
    const wv_atom_info *w;
    size_t n;
    const char *text;
    const char *json;   /* NULL: the oracle found the nesting too deep */
    const char *all;    /* wvo_json_all's, or NULL */
    uint64_t hash;      /* 0 until the first replica */
} expected;

/* deep: also read every key's values with the public calls (json_all): the
 * first p2p replica and the host world's, whose chunk layouts differ. */
static int same_as_oracle(run *r, expected *e, const wv_doc *d, const char *what, unsigned slot, int deep) {
    char why[300];
    if (!wvo_equal_doc(e->w, e->n, d, why, sizeof why))
        return fail(r, "%s %u: weave differs from the oracle's: %s", what, slot, why);
    uint64_t h = wv_weave_hash(d);
    if (!e->hash) e->hash = h;
    else if (h != e->hash) return fail(r, "%s %u: equal weave, different wv_weave_hash", what, slot);
    size_t len = wv_text_read(d, NULL, 0);
    char *t = xrealloc(NULL, len + 1);
    wv_text_read(d, t, len + 1);
    int same = !strcmp(t, e->text);
    free(t);
    if (!same) return fail(r, "%s %u: text differs from the oracle's", what, slot);
    int rc;
    char *j = doc_json(d, &rc);
    if (!e->json) same = rc == WV_E_LIMIT;
    else same = j && !strcmp(j, e->json);
    if (!same)
        fail(r, "%s %u: JSON differs from the oracle's: %s%.120s%s vs oracle %.120s", what, slot, j ? "" : "error ",
             j ? j : wv_error_name(rc), j && strlen(j) > 120 ? "..." : "", e->json ? e->json : "(too deep)");
    free(j);
    if (r->failed || !e->all || !deep) return r->failed;
    size_t n;
    rc = wvf_json_all(d, &j, &n);
    if (rc || strcmp(j, e->all))
        fail(r, "%s %u: every key's values, read with wv_each and wv_map_conflicts, differ from the oracle's: "
                "%s%.150s vs oracle %.150s", what, slot, rc ? wv_error_name(rc) : "", rc ? "" : j, e->all);
    free(j);
    return r->failed;
}

/* One atom as `weave NAME` prints it (tools/cli.h, cli_weave_line and
 * cli_atom_token): [SITE|T CLOCK], T the char (\n, \t, \xHH for control
 * chars), '#' for a delete, a data atom's bytes in single quotes (trailing
 * zero bytes dropped, all but printable ASCII other than ' \ # as \xHH), or
 * the kind's name. */
static void script_atom(FILE *f, const wv_atom_info *a) {
    static const char *const names[] = {
        [WV_KIND_DELETE] = "#", [WV_KIND_STR] = "str", [WV_KIND_LIST] = "[]", [WV_KIND_MAP] = "{}",
        [WV_KIND_SET] = "set", [WV_KIND_COUNTER] = "ctr", [WV_KIND_NULL] = "null", [WV_KIND_BOOL] = "false",
        [WV_KIND_INT] = "int", [WV_KIND_FLOAT] = "float", [WV_KIND_STRING] = "string",
        [WV_KIND_ELEM] = "elem", [WV_KIND_ENTRY] = "entry", [WV_KIND_MARK] = "mark", [WV_KIND_INC] = "inc",
    };
    fprintf(f, "[%llu|", (unsigned long long)a->site);
    if (a->kind == WV_KIND_CHAR) {
        if (a->value == '\n') fputs("\\n", f);
        else if (a->value == '\t') fputs("\\t", f);
        else if (a->value < 0x20 || a->value == 0x7f) fprintf(f, "\\x%02x", (unsigned)a->value);
        else if (a->value < 0x80) fputc((int)a->value, f);
        else if (a->value < 0x800) fprintf(f, "%c%c", 0xC0 | a->value >> 6, 0x80 | (a->value & 0x3F));
        else if (a->value < 0x10000)
            fprintf(f, "%c%c%c", 0xE0 | a->value >> 12, 0x80 | (a->value >> 6 & 0x3F), 0x80 | (a->value & 0x3F));
        else
            fprintf(f, "%c%c%c%c", 0xF0 | a->value >> 18, 0x80 | (a->value >> 12 & 0x3F),
                    0x80 | (a->value >> 6 & 0x3F), 0x80 | (a->value & 0x3F));
    } else if (a->kind == WV_KIND_DATA) {
        unsigned n = 3;
        while (n > 0 && !((a->value >> (8 * (n - 1))) & 0xff)) n--;
        fputc('\'', f);
        for (unsigned i = 0; i < n; i++) {
            unsigned c = (a->value >> (8 * i)) & 0xff;
            if (c > 0x20 && c < 0x7f && c != '\'' && c != '\\' && c != '#') fputc((int)c, f);
            else fprintf(f, "\\x%02x", c);
        }
        fputc('\'', f);
    } else if (a->kind == WV_KIND_SET && a->value == 1) {
        fputs("set-rw", f);
    } else if (a->kind == WV_KIND_BOOL && a->value == 1) {
        fputs("true", f);
    } else if ((size_t)a->kind < sizeof names / sizeof *names && names[a->kind]) {
        fputs(names[a->kind], f);
    } else {
        fprintf(f, "kind%u", (unsigned)a->kind);
    }
    fprintf(f, " %u]", a->clock);
}

static void script_weave(FILE *f, const wv_atom_info *w, size_t n) {
    for (size_t i = 1; i < n; i++) {
        if (i > 1) fputc(' ', f);
        script_atom(f, &w[i]);
    }
    fputc('\n', f);
}

/* Site 1's replica through the binary format: its document bytes decode,
 * and its delta past an empty weft applies to a new replica, each to the
 * oracle's weave, text and JSON; wv_encode_alloc writes wv_encode's bytes. */
static void round_trips(run *r, expected *e) {
    const wv_doc *d = r->p[0];
    size_t cap = wv_encode_bound(d), n = 0, m = 0;
    uint8_t *b = xrealloc(NULL, cap);
    void *p = NULL;
    wv_doc *x = NULL;
    int rc = wv_encode(d, 0, NULL, 0, b, cap, &n);
    if (!rc) rc = wv_decode(&x, b, n, NULL);
    if (rc) fail(r, "site 1's document bytes do not decode: %s", wv_error_name(rc));
    else same_as_oracle(r, e, x, "decoded document of site", 1, 0);
    wv_doc_free(x);
    x = NULL;
    if (!r->failed && (rc = wv_encode_alloc(d, 0, NULL, 0, NULL, &p, &m)))
        fail(r, "site 1's wv_encode_alloc failed: %s", wv_error_name(rc));
    else if (!r->failed && (m != n || memcmp(p, b, n)))
        fail(r, "site 1's wv_encode_alloc bytes differ from wv_encode's");
    free(p), p = NULL;
    if (!r->failed && !(rc = wv_encode_alloc(d, 1, NULL, 0, NULL, &p, &m)) && !(rc = wv_doc_new(&x, 1000, NULL)))
        rc = wv_apply_bytes(x, p, m);
    if (!r->failed && rc) fail(r, "site 1's delta bytes do not apply to a new replica: %s", wv_error_name(rc));
    else if (!r->failed) same_as_oracle(r, e, x, "new replica given the delta of site", 1, 0);
    wv_doc_free(x);
    free(b), free(p);
}

/* The expectations of a repro for replica slot s: text, JSON, weave. */
static void script_expect(FILE *f, unsigned s, const wv_atom_info *w, size_t nw, const char *text, const char *json) {
    fprintf(f, "expect s%u \"%s\"\n", s + 1, text);
    if (json) fprintf(f, "expect-json s%u %s\n", s + 1, json);
    fprintf(f, "expect-weave s%u ", s + 1);
    script_weave(f, w, nw);
}

static int verdict(run *r) {
    size_t total = 0;
    for (size_t i = 0; i < r->ntx; i++) total += r->tx[i].n;
    wv_atom_info *all = xrealloc(NULL, total * sizeof *all), *w;
    size_t n = 0, nw;
    for (size_t i = 0; i < r->ntx; i++, n += r->tx[i - 1].n) memcpy(all + n, r->tx[i].atoms, r->tx[i].n * sizeof *all);
    int bad = wvo_weave(all, n, &w, &nw);
    free(all);
    if (bad) return fail(r, "the oracle cannot build a tree from the atoms made");
    wvo_reading o;
    if (wvo_read(w, nw, &o) || o.json_rc == -1) {
        free(w);
        return fail(r, "the oracle cannot read the structures of the atoms made");
    }
    expected e = {w, nw, o.text, o.json, o.all, 0};
    for (unsigned s = 0; s < r->k && !r->failed; s++) {
        if (r->p[s]) same_as_oracle(r, &e, r->p[s], "p2p site", s + 1, s == 0);
        if (r->h[s] && r->p[s]) same_as_oracle(r, &e, r->h[s], "host-world site", s + 1, 0);
    }
    if (!r->failed && r->host) same_as_oracle(r, &e, wv_host_doc(r->host), "host replica", 0, 1);
    if (!r->failed) round_trips(r, &e);
    if (!r->failed && r->host) { /* readers replay the log in sequence order */
        wv_doc *replay;
        uint64_t v = 0;
        if (wv_doc_new(&replay, 1000, NULL)) exit(3);
        for (; v < wv_host_length(r->host) && !r->failed; v++) {
            const wv_atom_info *atoms;
            size_t na;
            if (wv_host_entry(r->host, v, NULL, &atoms, &na) || wv_apply(replay, atoms, na))
                fail(r, "replaying the log: entry %llu refused", (unsigned long long)v);
        }
        if (!r->failed) same_as_oracle(r, &e, replay, "log replay", 0, 0);
        wv_doc_free(replay);
    }
    if (r->script && r->quiescent) {
        fprintf(r->script, "# expected: the oracle's weave (fuzz/oracle.c) of all atoms made, its text and JSON\n");
        for (unsigned s = 0; s < r->k; s++)
            if (r->p[s]) script_expect(r->script, s, w, nw, o.text, o.json);
    } else if (r->script) {
        fprintf(r->script, "# the history stopped at the failing step; expected: each replica holds the oracle's\n"
                           "# weave (fuzz/oracle.c) of its own atoms, its text and JSON\n");
        for (unsigned s = 0; s < r->k; s++) {
            wv_iter it;
            wv_atom_info *own = NULL, *ow;
            size_t no = 0, cap = 0, nw2;
            if (!r->p[s]) continue;
            wv_iter_begin(&it, r->p[s]);
            for (;;) {
                if (no == cap) own = xrealloc(own, (cap = cap ? 2 * cap : 256) * sizeof *own);
                if (wv_iter_next(&it, &own[no]) != 1) break;
                no++;
            }
            wvo_reading oo;
            if (!wvo_weave(own, no, &ow, &nw2)) {
                if (!wvo_read(ow, nw2, &oo)) script_expect(r->script, s, ow, nw2, oo.text, oo.json);
                wvo_reading_free(&oo);
                free(ow);
            }
            free(own);
        }
    }
    wvo_reading_free(&o);
    free(w);
    return r->failed;
}

/* Misuse that must be refused: two copies of replica s1 at quiescence (one
 * site, one clock) each make an edit, so one id names two different atoms;
 * merging one into the other must fail with WV_E_CORRUPT and leave it as it
 * was (weave.h: wv_merge, "a site id was reused"; wv_doc_clone). The edits
 * differ in place as well as content (text at two positions, text against a
 * map entry, two keys), so the clashing ids stand apart in the weaves and only
 * the wefts tell the merge that both sides claim them. */
static int reuse_check(run *r) {
    uint64_t rng = r->seed ^ 0xc109e5ull;
    wv_doc *x = NULL, *y = NULL;
    int rc = wv_doc_clone(r->p[0], &x);
    if (!rc) rc = wv_doc_clone(r->p[0], &y);
    size_t len = wv_text_len(r->p[0]);
    unsigned how = (unsigned)(mix(&rng) % 3);
    const char *k1 = keys[mix(&rng) % NKEYS], *k2 = keys[mix(&rng) % NKEYS];
    if (!rc) rc = how == 2 ? wv_map_set(x, (wv_ref){0, 0}, k1, wv_int(1), NULL) : wv_text_insert(x, 0, "x", 1);
    if (!rc) rc = how == 0 ? wv_text_insert(y, len, "y", 1) : wv_map_set(y, (wv_ref){0, 0}, k2, wv_int(2), NULL);
    if (rc) {
        fail(r, "reuse check: setting up: %s", wv_error_name(rc));
    } else {
        uint64_t h = wv_weave_hash(x);
        uint32_t clock = wv_doc_clock(x);
        size_t atoms = wv_doc_atoms(x);
        rc = wv_merge(x, y);
        if (rc != WV_E_CORRUPT)
            fail(r, "merging two copies of s1 that both edited (one id, two atoms) returned %s, not WV_E_CORRUPT",
                 wv_error_name(rc));
        else if (wv_weave_hash(x) != h || wv_doc_clock(x) != clock || wv_doc_atoms(x) != atoms)
            fail(r, "a merge refused with WV_E_CORRUPT changed its destination");
        if (r->failed && r->script)
            fprintf(r->script, "# then: two clones of s1 (same site id, which `weave script` cannot make) edit apart\n"
                               "# (%s) and merging one into the other must return WV_E_CORRUPT\n",
                    how == 0 ? "ins 0 x / ins END y" : how == 1 ? "ins 0 x / set KEY 2" : "set KEY 1 / set KEY2 2");
    }
    wv_doc_free(x);
    wv_doc_free(y);
    return r->failed;
}

/* Runs ops in both worlds; returns 1 on divergence (reason in r->why). */
static int run_history(run *r, const op *ops, size_t nops) {
    int rc = wv_doc_new(&r->p[0], 1, NULL);
    if (rc) return fail(r, "new: %s", wv_error_name(rc));
    if (r->script) fprintf(r->script, "site s1 1\n");
    for (size_t i = 0; i < nops && !r->failed; i++, r->st.ops++) p2p_step(r, &ops[i]);
    /* quiescence: everyone into site 1, then back */
    for (int pass = 0; pass < 2 && !r->failed; pass++)
        for (unsigned s = 1; s < r->k && !r->failed; s++) {
            if (!r->p[s]) continue;
            wv_doc *dst = pass ? r->p[s] : r->p[0], *src = pass ? r->p[0] : r->p[s];
            if ((rc = wv_merge(dst, src))) fail(r, "final merge failed: %s", wv_error_name(rc));
            else if (r->script) fprintf(r->script, "merge s%u s%u\n", pass ? s + 1 : 1, pass ? 1 : s + 1);
            r->st.merges++;
        }
    r->quiescent = !r->failed;
    if (!r->failed) host_world(r);
    if (!r->failed || r->script) verdict(r);
    if (!r->failed) reuse_check(r);
    return r->failed;
}

static void run_free(run *r) {
    for (unsigned s = 0; s < MAXK; s++) wv_doc_free(r->p[s]), wv_doc_free(r->h[s]);
    wv_host_free(r->host);
    for (size_t i = 0; i < r->ntx; i++) free(r->tx[i].atoms);
    free(r->tx);
}

static int fails(uint64_t seed, unsigned k, uint32_t lock_n, const op *ops, size_t n, FILE *script,
                 char *why, size_t cap) {
    run r = {.k = k, .seed = seed, .lock_n = lock_n, .script = script};
    int bad = run_history(&r, ops, n);
    if (why && cap) snprintf(why, cap, "%s", r.why);
    run_free(&r);
    return bad;
}

int wvf_run(uint64_t seed, unsigned sites, unsigned nops, wvf_stats *st, char *why, size_t cap,
            const char *repro_path) {
    uint64_t rng = seed;
    unsigned k = sites < 2 ? 2 : sites > MAXK ? MAXK : sites;
    op *ops = xrealloc(NULL, (nops + 1) * sizeof *ops);
    for (unsigned i = 0; i < nops; i++) {
        /* text edits most (47%), structure edits next (25%), forks, merges */
        unsigned w = (unsigned)(mix(&rng) % 100);
        ops[i] = (op){w < 32 ? OP_INS : w < 47 ? OP_DEL : w < 72 ? OP_STRUCT : w < 80 ? OP_FORK : OP_MERGE,
                      (uint8_t)(mix(&rng) % k), (uint8_t)(mix(&rng) % k), (uint32_t)mix(&rng),
                      (uint32_t)mix(&rng), (uint32_t)mix(&rng)};
    }
    uint32_t lock_n = (uint32_t)(mix(&rng) % 4);
    run r = {.k = k, .seed = seed, .lock_n = lock_n};
    int bad = run_history(&r, ops, nops);
    r.st.runs = 1, r.st.diverged = (uint64_t)bad;
    if (st) {
        st->runs += r.st.runs, st->ops += r.st.ops, st->edits += r.st.edits, st->forks += r.st.forks;
        st->struct_edits += r.st.struct_edits;
        st->merges += r.st.merges, st->atoms += r.st.atoms, st->proposals += r.st.proposals;
        st->refusals += r.st.refusals, st->retries += r.st.retries, st->diverged += r.st.diverged;
    }
    if (why && cap) snprintf(why, cap, "%s", r.why);
    run_free(&r);
    if (bad && repro_path) {
        /* shrink: drop ever smaller runs of steps while the history still
         * fails; then again while a round drops anything (one step's removal
         * can make another's possible) */
        size_t n = nops, trials = 0, before;
        do {
            before = n;
            for (size_t chunk = n / 2 ? n / 2 : 1; trials < MAX_TRIALS; chunk /= 2) {
                for (size_t i = 0; i + chunk <= n && trials < MAX_TRIALS; trials++) {
                    op *t = xrealloc(NULL, (n + 1) * sizeof *t);
                    memcpy(t, ops, i * sizeof *t);
                    memcpy(t + i, ops + i + chunk, (n - i - chunk) * sizeof *t);
                    if (fails(seed, k, lock_n, t, n - chunk, NULL, NULL, 0)) {
                        free(ops);
                        ops = t, n -= chunk;
                    } else {
                        free(t);
                        i += chunk;
                    }
                }
                if (chunk == 1) break;
            }
        } while (n < before && trials < MAX_TRIALS);
        char shrunk_why[512];
        fails(seed, k, lock_n, ops, n, NULL, shrunk_why, sizeof shrunk_why);
        FILE *f = fopen(repro_path, "w");
        if (f) {
            fprintf(f, "# weave fuzz: seed %llu, %u sites, lock window %u: shrunk from %u to %zu steps\n"
                       "# %s\n# replay: weave script %s (exits 1 while the bug is there)\n",
                    (unsigned long long)seed, k, lock_n, nops, n, shrunk_why, repro_path);
            fails(seed, k, lock_n, ops, n, f, NULL, 0);
            fclose(f);
        }
    }
    free(ops);
    return bad;
}

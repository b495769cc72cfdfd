/* fuzz_ops.c — libFuzzer target: the input is a program of edits over up to
 * six replicas (new site, fork, insert, delete, structure edits, merge,
 * clone, drop, sync), interpreted one op at a time. After every op the
 * touched replicas must pass wv_check and hold exactly the weave the oracle
 * (fuzz/oracle.c) computes from their own atoms, with its root text, its
 * JSON (wv_json) and every map key's values (wv_map_conflicts); edits must
 * change the text like a splice, rejected edits must change nothing. At
 * the end the merge laws must hold on the replicas (commutative,
 * associative, idempotent) and merging everything into one and back must
 * leave every replica with the oracle's weave of the union of all atoms and
 * the same JSON. Any violation abort()s with a message.
 *
 * Program format (reading past the end gives zero bytes; the program stops
 * when the input is used up or after MAX_OPS ops):
 *   site id:  b; b & 0x80 ? 8 more bytes (big-endian 64-bit) : (b & 0x7f) + 1;
 *             bumped until nonzero and never used before in this run
 *   op byte % 10:
 *     0    new site       id                        wv_doc_new
 *     1    fork           src, mode, id             mode % 4 == 0: onto a site
 *                                                   src knows -> WV_E_SITE
 *     2,3  insert         dst, mode, pos:2, k, k chars (below)
 *                         mode % 16: 0,8 invalid UTF-8 spliced in; 1,9 pos
 *                         past the end -> WV_E_RANGE; 2 empty; 10 NULL text,
 *                         len > 0 -> WV_E_ARG; otherwise valid
 *     4    delete         dst, mode, pos:2, n:1     mode % 4 == 0: past the end
 *     5,6  merge          dst, src
 *     7    clone          i, mode                   mode odd: read-only snapshot
 *                                                   in a new slot, else in place
 *     8    drop           i
 *     9    sync           i, j                      merge both ways
 *   an op byte of 200 or more (instead of the above, taken modulo 10):
 *          structure      dst, r1:4, r2:4, r3:4, mode
 *                         mode % 8 == 0: a call the API must refuse
 *                         (mode / 8 picks which: a set on a non-map, an
 *                         unknown ref, a key too long or not UTF-8, a NaN,
 *                         a container into a set, an absent key, positions
 *                         past the end, bad paths, a STRING too long, NULL
 *                         arguments) with its documented code, changing
 *                         nothing; otherwise wvf_struct_edit (fuzz/harness.h)
 *                         with r1..r3: a valid edit of a container found by
 *                         walking dst, with its local checks
 *   char: b % 5 picks ASCII, 2-, 3-, 4-byte UTF-8 or a small alphabet, and
 *         1-3 more bytes pick the code point.
 * Replica indexes are taken modulo the number of replicas. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "harness.h"
#include "oracle.h"
#include "tests/snap.h"
#include "weave.h"

#define MAXR 6
#define MAX_OPS 200
#define MAX_ATOMS 2048 /* a replica this big gets no more local atoms */
#define MAX_SITES (MAX_OPS + 8)

/* ---- input -------------------------------------------------------------- */

typedef struct input {
    const uint8_t *p;
    size_t n, i;
} input;

static unsigned get8(input *in) { return in->i < in->n ? in->p[in->i++] : 0u; }
static unsigned get16(input *in) {
    unsigned hi = get8(in);
    return hi << 8 | get8(in);
}
static uint64_t get64(input *in) {
    uint64_t v = 0;
    for (int k = 0; k < 8; k++) v = v << 8 | get8(in);
    return v;
}

/* ---- failures ----------------------------------------------------------- */

static int cur_step;
static const char *cur_op = "setup";
static int trace_on = -1; /* WV_FUZZ_TRACE set in the environment */

static NORETURN PRINTF(1, 2) void fail(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "fuzz_ops: step %d (%s): ", cur_step, cur_op);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

static void expect_rc(int got, int want, const char *call) {
    if (got != want)
        fail("%s returned %d (%s), expected %d (%s)", call, got, wv_error_name(got), want,
             wv_error_name(want));
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) fail("out of memory");
    return p;
}

/* ---- atoms and text ------------------------------------------------------ */

typedef struct atoms {
    wv_atom_info *a;
    size_t n, cap;
} atoms;

static void collect(atoms *s, const wv_doc *doc) {
    wv_iter it;
    wv_atom_info a;
    int rc;
    wv_iter_begin(&it, doc);
    while ((rc = wv_iter_next(&it, &a)) == 1) {
        if (s->n == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 256;
            s->a = realloc(s->a, s->cap * sizeof *s->a);
            if (!s->a) fail("out of memory");
        }
        s->a[s->n++] = a;
    }
    if (rc != 0) fail("wv_iter_next returned %d on an unchanged doc", rc);
}

typedef struct text {
    char *s;
    size_t n; /* bytes */
} text;

static text read_text(const wv_doc *d) {
    text t;
    t.n = wv_text_read(d, NULL, 0);
    t.s = xmalloc(t.n + 1);
    size_t again = wv_text_read(d, t.s, t.n + 1);
    if (again != t.n) fail("wv_text_read returned %zu then %zu", t.n, again);
    return t;
}

/* Byte offset of code point index cp in valid UTF-8 s[0..n). */
static size_t cp_offset(const char *s, size_t n, size_t cp) {
    size_t i = 0;
    for (size_t k = 0; k < cp; k++) {
        if (i >= n) fail("cp_offset past the end");
        i++;
        while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80) i++;
    }
    return i;
}

/* Strict UTF-8 (RFC 3629): returns the number of code points, or -1. */
static long utf8_count(const unsigned char *s, size_t n) {
    long count = 0;
    size_t i = 0;
    while (i < n) {
        unsigned b = s[i];
        size_t len;
        uint32_t cp, min;
        if (b < 0x80) len = 1, cp = b, min = 0;
        else if (b >= 0xC2 && b <= 0xDF) len = 2, cp = b & 0x1F, min = 0x80;
        else if (b >= 0xE0 && b <= 0xEF) len = 3, cp = b & 0x0F, min = 0x800;
        else if (b >= 0xF0 && b <= 0xF4) len = 4, cp = b & 0x07, min = 0x10000;
        else return -1;
        if (n - i < len) return -1;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return -1;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
        i += len;
        count++;
    }
    return count;
}

static size_t put_utf8(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static uint32_t get_char(input *in) {
    static const uint32_t alphabet[] = {'a', 'b', 0xE9, 0x20AC, 0x1F600, 0x10FFFF, 0};
    unsigned b = get8(in);
    switch (b % 5) {
    case 0: return b >> 3 & 0x7F ? (b >> 3 & 0x1F) + 'a' - 1 : get8(in) & 0x7F;
    case 1: return 0x80 + get16(in) % (0x800 - 0x80);
    case 2: {
        uint32_t cp = 0x800 + get16(in) % (0x10000 - 0x800);
        return cp >= 0xD800 && cp <= 0xDFFF ? cp + 0x800 : cp;
    }
    case 3: return 0x10000 + (get16(in) << 8 | get8(in)) % 0x100000;
    default: return alphabet[(b >> 3) % (sizeof alphabet / sizeof *alphabet)];
    }
}

/* ---- checks --------------------------------------------------------------- */

typedef struct state {
    wv_doc *r[MAXR];
    int snapshot[MAXR]; /* a clone that must not make atoms (its site has a twin) */
    size_t nr;
    uint64_t used[MAX_SITES]; /* every site id handed out in this run */
    size_t nused;
} state;

/* The weave of `in` per the oracle; must be defined. */
static void oracle_of(const atoms *in, wv_atom_info **w, size_t *nw) {
    if (wvo_weave(in->a, in->n, w, nw) != 0)
        fail("the oracle rejects the atoms of replicas (%zu atoms)", in->n);
}

/* d's JSON of its root map (wv_json), malloc'd. */
static char *doc_json(const wv_doc *d, const char *what) {
    size_t len = 0, again = 0;
    int rc = wv_json(d, (wv_ref){0, 0}, NULL, 0, &len);
    if (rc) fail("%s: wv_json returned %s", what, wv_error_name(rc));
    char *j = xmalloc(len + 1);
    rc = wv_json(d, (wv_ref){0, 0}, j, len + 1, &again);
    if (rc || again != len) fail("%s: wv_json again: %s, %zu bytes then %zu", what, wv_error_name(rc), len, again);
    return j;
}

/* d holds the oracle's weave w: the same atoms in the same order, the same
 * root text and length, the same JSON (wv_json), and the same values of
 * every map key (wvf_json_all: wv_each, wv_map_conflicts, wv_json on refs). */
static void expect_oracle(const wv_atom_info *w, size_t nw, const wv_doc *d, const char *what) {
    char why[512];
    if (!wvo_equal_doc(w, nw, d, why, sizeof why))
        fail("%s differs from the oracle: %s", what, why);
    wvo_reading o;
    if (wvo_read(w, nw, &o) || o.json_rc) fail("%s: the oracle cannot read its weave (%d)", what, o.json_rc);
    text got = read_text(d);
    if (got.n != o.text_len || memcmp(got.s, o.text, o.text_len)) fail("%s: text differs from the oracle's", what);
    long vis = utf8_count((const unsigned char *)o.text, o.text_len);
    if ((long)wv_text_len(d) != vis) fail("%s: wv_text_len %zu, oracle %ld", what, wv_text_len(d), vis);
    free(got.s);
    char *j = doc_json(d, what), *k;
    size_t kl;
    if (strcmp(j, o.json)) fail("%s: JSON differs from the oracle's:\n  %s\noracle\n  %s", what, j, o.json);
    int rc = wvf_json_all(d, &k, &kl);
    if (rc) fail("%s: reading every key's values: %s", what, wv_error_name(rc));
    if (strcmp(k, o.all)) fail("%s: every key's values differ from the oracle's:\n  %s\noracle\n  %s", what, k, o.all);
    free(j), free(k);
    wvo_reading_free(&o);
}

static int by_site_clock(const void *pa, const void *pb) {
    const wv_atom_info *a = pa, *b = pb;
    if (a->site != b->site) return a->site < b->site ? -1 : 1;
    return a->clock < b->clock ? -1 : a->clock > b->clock;
}

/* Everything about one replica: wv_check, then the oracle's weave of its own
 * atoms, atom count, weft per site. To keep inputs fast, replicas above
 * FULL_CHECK_ATOMS atoms get the oracle part only on every 8th step (merges
 * are always checked against the oracle, and everything is at the end). */
#define FULL_CHECK_ATOMS 512
static void verify(const state *st, const wv_doc *d, const char *what) {
    char msg[512];
    int rc = wv_check(d, msg, sizeof msg);
    if (rc != WV_OK) fail("wv_check(%s) = %d: %s", what, rc, msg);
    if (wv_doc_atoms(d) > FULL_CHECK_ATOMS && cur_step % 8 != 0) return;
    atoms own = {0};
    collect(&own, d);
    if (own.n != wv_doc_atoms(d))
        fail("%s: wv_doc_atoms %zu, iterated %zu", what, wv_doc_atoms(d), own.n);
    /* The weft: per site, the highest clock among the atoms (0 if none). */
    wv_atom_info *byid = xmalloc(own.n * sizeof *byid);
    memcpy(byid, own.a, own.n * sizeof *byid);
    qsort(byid, own.n, sizeof *byid, by_site_clock);
    for (size_t i = 0; i < own.n; i++)
        if (i + 1 == own.n || byid[i + 1].site != byid[i].site)
            if (wv_doc_weft(d, byid[i].site) != byid[i].clock)
                fail("%s: weft of site %llu is %lu, atoms say %lu", what,
                     (unsigned long long)byid[i].site,
                     (unsigned long)wv_doc_weft(d, byid[i].site), (unsigned long)byid[i].clock);
    for (size_t k = 0; k < st->nused; k++) {
        wv_atom_info key = {0};
        key.site = st->used[k];
        key.clock = wv_doc_weft(d, st->used[k]);
        if (key.clock && !bsearch(&key, byid, own.n, sizeof *byid, by_site_clock))
            fail("%s: weft of site %llu is %lu, no such atom", what,
                 (unsigned long long)key.site, (unsigned long)key.clock);
    }
    free(byid);
    wv_atom_info *w;
    size_t nw;
    oracle_of(&own, &w, &nw);
    expect_oracle(w, nw, d, what);
    free(w);
    free(own.a);
}

/* snap.h's fingerprint, and the text too */
typedef struct seen {
    snap s;
    text t;
} seen;

static seen take(const wv_doc *d) { return (seen){snap_of(d), read_text(d)}; }

static void expect_unchanged(const seen *before, const wv_doc *d, const char *what) {
    seen now = take(d);
    if (!same_snap(now.s, before->s) || now.t.n != before->t.n || memcmp(now.t.s, before->t.s, now.t.n))
        fail("%s changed the replica: hash %016llx -> %016llx, clock %lu -> %lu, atoms %zu -> %zu",
             what, (unsigned long long)before->s.hash, (unsigned long long)now.s.hash,
             (unsigned long)before->s.clock, (unsigned long)now.s.clock, before->s.atoms, now.s.atoms);
    free(now.t.s);
}

static int site_used(const state *st, uint64_t s) {
    for (size_t k = 0; k < st->nused; k++)
        if (st->used[k] == s) return 1;
    return 0;
}

static uint64_t fresh_site(state *st, input *in) {
    unsigned b = get8(in);
    uint64_t s = b & 0x80 ? get64(in) : (uint64_t)(b & 0x7F) + 1;
    while (s == 0 || site_used(st, s)) s++;
    if (st->nused == MAX_SITES) fail("too many sites");
    st->used[st->nused++] = s;
    return s;
}

static uint32_t max_atom_clock(const wv_doc *d) {
    atoms all = {0};
    collect(&all, d);
    uint32_t top = 0;
    for (size_t i = 0; i < all.n; i++)
        if (all.a[i].clock > top) top = all.a[i].clock;
    free(all.a);
    return top;
}

/* ---- ops ------------------------------------------------------------------ */

static void op_new(state *st, input *in) {
    cur_op = "new";
    if (st->nr == MAXR) return;
    uint64_t site = fresh_site(st, in);
    wv_doc *d = NULL;
    expect_rc(wv_doc_new(&d, site, NULL), WV_OK, "wv_doc_new");
    if (wv_doc_site(d) != site || wv_doc_clock(d) != 0 || wv_doc_atoms(d) != 1 ||
        wv_text_len(d) != 0)
        fail("fresh replica: site %llu clock %lu atoms %zu len %zu",
             (unsigned long long)wv_doc_site(d), (unsigned long)wv_doc_clock(d), wv_doc_atoms(d),
             wv_text_len(d));
    st->snapshot[st->nr] = 0;
    st->r[st->nr++] = d;
    verify(st, d, "new replica");
}

static void op_fork(state *st, input *in) {
    cur_op = "fork";
    size_t i = get8(in) % st->nr;
    unsigned mode = get8(in);
    wv_doc *src = st->r[i], *out = NULL;
    seen before = take(src);
    if (mode % 4 == 0) { /* onto a site src knows: its own, or one with atoms there */
        uint64_t known = wv_doc_site(src);
        size_t pick = get8(in);
        for (size_t k = 0; k < st->nused; k++)
            if (wv_doc_weft(src, st->used[(pick + k) % st->nused]) > 0) {
                known = st->used[(pick + k) % st->nused];
                break;
            }
        if (pick % 2) known = wv_doc_site(src);
        expect_rc(wv_doc_fork(src, known, &out), WV_E_SITE, "wv_doc_fork onto a known site");
        if (out) fail("failed wv_doc_fork set *out");
        expect_unchanged(&before, src, "failed wv_doc_fork");
        expect_rc(wv_doc_fork(src, 0, &out), WV_E_SITE, "wv_doc_fork onto site 0");
        expect_unchanged(&before, src, "failed wv_doc_fork");
    } else if (st->nr < MAXR) {
        uint64_t site = fresh_site(st, in);
        expect_rc(wv_doc_fork(src, site, &out), WV_OK, "wv_doc_fork");
        if (wv_doc_clock(src) != before.s.clock + 1 || wv_doc_clock(out) != before.s.clock + 1)
            fail("fork: clocks %lu -> src %lu, new %lu", (unsigned long)before.s.clock,
                 (unsigned long)wv_doc_clock(src), (unsigned long)wv_doc_clock(out));
        if (wv_doc_site(out) != site) fail("fork: wrong site");
        if (wv_weave_hash(src) != before.s.hash || wv_weave_hash(out) != before.s.hash)
            fail("fork: weave hash changed");
        st->snapshot[st->nr] = 0;
        st->r[st->nr++] = out;
        verify(st, out, "forked replica");
    }
    free(before.t.s);
    verify(st, src, "fork source");
}

static const char *const bad_utf8[] = {
    "\x80", "\xBF", "\xC0\x80", "\xC1\xBF", "\xE0\x80\x80", "\xE0\x9F\xBF", "\xED\xA0\x80",
    "\xED\xBF\xBF", "\xF0\x80\x80\x80", "\xF0\x8F\xBF\xBF", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80",
    "\xF8\x88\x80\x80\x80", "\xFE", "\xFF", "\xC2", "\xE2\x82", "\xF0\x9F\x98", "\xC2\x41",
    "\xE2\x28\xA1",
};

static void op_insert(state *st, input *in) {
    cur_op = "insert";
    size_t i = get8(in) % st->nr;
    unsigned mode = get8(in) % 16;
    wv_doc *d = st->r[i];
    size_t len = wv_text_len(d), pos = get16(in) % (len + 1), k = 1 + get8(in) % 8;
    char buf[8 * 4 + 16];
    size_t bl = 0;
    for (size_t c = 0; c < k; c++) bl += put_utf8(get_char(in), buf + bl);

    int want = WV_OK;
    const char *ptr = buf;
    if (mode == 0 || mode == 8) { /* splice invalid bytes in at a char boundary */
        unsigned which = get8(in);
        char raw[8];
        const char *bad;
        size_t badlen;
        if (which % 4 == 3) { /* raw input bytes: invalid or not, as they come */
            badlen = 1 + which / 4 % 6;
            uint64_t bits = 0; /* gathered, then copied once: -O3 vectorised the byte loop */
            for (size_t c = 0; c < badlen; c++) bits |= (uint64_t)get8(in) << (8 * c);
            memcpy(raw, &bits, sizeof raw);
            bad = raw;
        } else {
            bad = bad_utf8[which / 4 % (sizeof bad_utf8 / sizeof *bad_utf8)];
            badlen = strlen(bad);
        }
        size_t at = cp_offset(buf, bl, get8(in) % (k + 1));
        memmove(buf + at + badlen, buf + at, bl - at);
        memcpy(buf + at, bad, badlen);
        bl += badlen;
        long m = utf8_count((const unsigned char *)buf, bl);
        if (m < 0) want = WV_E_UTF8;
        else k = (size_t)m;
    } else if (mode == 1 || mode == 9) {
        pos = len + 1 + get8(in) % 4;
        want = WV_E_RANGE;
    } else if (mode == 2) {
        bl = k = 0;
    } else if (mode == 10) {
        ptr = NULL;
        want = WV_E_ARG;
    }
    if (want == WV_OK && k > 0 && (st->snapshot[i] || wv_doc_atoms(d) >= MAX_ATOMS)) return;

    seen before = take(d);
    wv_iter it;
    wv_atom_info ai;
    wv_iter_begin(&it, d);
    int rc = wv_text_insert(d, pos, ptr, bl);
    expect_rc(rc, want, "wv_text_insert");
    if (want != WV_OK || k == 0) {
        expect_unchanged(&before, d, want ? "failed wv_text_insert" : "empty wv_text_insert");
    } else {
        if (wv_doc_clock(d) != before.s.clock + k || wv_doc_atoms(d) != before.s.atoms + k)
            fail("insert of %zu chars: clock %lu -> %lu, atoms %zu -> %zu", k,
                 (unsigned long)before.s.clock, (unsigned long)wv_doc_clock(d), before.s.atoms,
                 wv_doc_atoms(d));
        if (wv_iter_next(&it, &ai) != WV_E_MODIFIED) fail("iterator not invalidated by insert");
        text now = read_text(d);
        size_t at = cp_offset(before.t.s, before.t.n, pos);
        if (now.n != before.t.n + bl || memcmp(now.s, before.t.s, at) ||
            memcmp(now.s + at, buf, bl) ||
            memcmp(now.s + at + bl, before.t.s + at, before.t.n - at))
            fail("insert at %zu of %zu bytes: text is not the splice", pos, bl);
        free(now.s);
    }
    free(before.t.s);
    verify(st, d, "inserted into");
}

static void op_delete(state *st, input *in) {
    cur_op = "delete";
    size_t i = get8(in) % st->nr;
    unsigned mode = get8(in);
    wv_doc *d = st->r[i];
    size_t len = wv_text_len(d), pos = get16(in), n = get8(in) % 9;
    int want = WV_OK;
    if (mode % 4 == 0) { /* past the end */
        if (pos % 2) {
            pos = len + 1 + pos % 3;
        } else {
            pos = len - (len < pos % 3 ? len : pos % 3);
            n = len - pos + 1 + n % 3;
        }
        want = WV_E_RANGE;
    } else {
        pos %= len + 1;
        if (n > len - pos) n = len - pos;
        if (st->snapshot[i] && n > 0) return;
    }
    seen before = take(d);
    expect_rc(wv_text_delete(d, pos, n), want, "wv_text_delete");
    if (want != WV_OK || n == 0) {
        expect_unchanged(&before, d, want ? "failed wv_text_delete" : "empty wv_text_delete");
    } else {
        if (wv_doc_clock(d) != before.s.clock + n || wv_doc_atoms(d) != before.s.atoms + n)
            fail("delete of %zu chars: clock %lu -> %lu, atoms %zu -> %zu", n,
                 (unsigned long)before.s.clock, (unsigned long)wv_doc_clock(d), before.s.atoms,
                 wv_doc_atoms(d));
        text now = read_text(d);
        size_t a = cp_offset(before.t.s, before.t.n, pos);
        size_t b = cp_offset(before.t.s, before.t.n, pos + n);
        if (now.n != before.t.n - (b - a) || memcmp(now.s, before.t.s, a) ||
            memcmp(now.s + a, before.t.s + b, before.t.n - b))
            fail("delete %zu at %zu: text is not the splice", n, pos);
        free(now.s);
    }
    free(before.t.s);
    verify(st, d, "deleted from");
}

/* dst <- src, checked against the oracle of the union. */
static void merge_checked(state *st, wv_doc *dst, const wv_doc *src) {
    atoms u = {0};
    collect(&u, dst);
    collect(&u, src);
    uint32_t want_clock = wv_doc_clock(dst), top = max_atom_clock(src);
    want_clock = (top > want_clock ? top : want_clock) + 1;
    expect_rc(wv_merge(dst, src), WV_OK, "wv_merge");
    if (wv_doc_clock(dst) != want_clock)
        fail("merge: clock %lu, expected %lu", (unsigned long)wv_doc_clock(dst),
             (unsigned long)want_clock);
    wv_atom_info *w;
    size_t nw;
    oracle_of(&u, &w, &nw);
    expect_oracle(w, nw, dst, "merged replica vs the oracle of the union");
    free(w);
    free(u.a);
    verify(st, dst, "merged replica");
}

static void op_merge(state *st, input *in) {
    cur_op = "merge";
    size_t i = get8(in) % st->nr, j = get8(in) % st->nr;
    uint64_t hash_src = wv_weave_hash(st->r[j]);
    merge_checked(st, st->r[i], st->r[j]);
    if (i != j && wv_weave_hash(st->r[j]) != hash_src) fail("merge changed its source");
}

static void op_sync(state *st, input *in) {
    cur_op = "sync";
    size_t i = get8(in) % st->nr, j = get8(in) % st->nr;
    merge_checked(st, st->r[i], st->r[j]);
    merge_checked(st, st->r[j], st->r[i]);
    if (wv_weave_hash(st->r[i]) != wv_weave_hash(st->r[j])) fail("sync: hashes differ");
}

static wv_doc *clone_checked(const state *st, const wv_doc *src) {
    wv_doc *c = NULL;
    expect_rc(wv_doc_clone(src, &c), WV_OK, "wv_doc_clone");
    seen a = take(src);
    if (wv_doc_site(c) != wv_doc_site(src)) fail("clone: site differs");
    expect_unchanged(&a, c, "clone (vs its source)");
    for (size_t k = 0; k < st->nused; k++)
        if (wv_doc_weft(c, st->used[k]) != wv_doc_weft(src, st->used[k]))
            fail("clone: weft differs");
    free(a.t.s);
    verify(st, c, "clone");
    return c;
}

static void op_clone(state *st, input *in) {
    cur_op = "clone";
    size_t i = get8(in) % st->nr;
    unsigned mode = get8(in);
    if (mode % 2 && st->nr < MAXR) {
        st->r[st->nr] = clone_checked(st, st->r[i]);
        st->snapshot[st->nr++] = 1;
    } else {
        wv_doc *c = clone_checked(st, st->r[i]);
        wv_doc_free(st->r[i]);
        st->r[i] = c;
    }
}

static void op_drop(state *st, input *in) {
    cur_op = "drop";
    size_t i = get8(in) % st->nr;
    if (st->nr == 1) return;
    wv_doc_free(st->r[i]);
    st->r[i] = st->r[st->nr - 1];
    st->snapshot[i] = st->snapshot[st->nr - 1];
    st->nr--;
}

/* ---- structures ------------------------------------------------------------ */

static uint32_t get32(input *in) {
    uint32_t hi = get16(in);
    return hi << 16 | get16(in);
}

/* The skip-th container of type want (depth first from the root map), or
 * nothing. */
typedef struct finder {
    const wv_doc *d;
    wv_type want;
    unsigned skip;
    int found;
    wv_ref ref;
    size_t len;
} finder;

static int find_cb(void *ctx, const char *key, const wv_value *v) {
    finder *f = ctx;
    (void)key;
    if (v->type == f->want && f->skip-- == 0) {
        f->found = 1, f->ref = v->ref, f->len = v->len;
        return 1;
    }
    if (v->type == WV_T_MAP || v->type == WV_T_LIST) return wv_each(f->d, v->ref, find_cb, f) > 0;
    return 0;
}

static int find_container(const wv_doc *d, wv_type want, unsigned skip, wv_ref *ref, size_t *len) {
    finder f = {d, want, skip, 0, {0, 0}, 0};
    (void)wv_each(d, (wv_ref){0, 0}, find_cb, &f);
    if (f.found) *ref = f.ref, *len = f.len;
    return f.found;
}

/* A root-map key holding a scalar, escaped as a path component, or 0. */
static int scalar_key_cb(void *ctx, const char *key, const wv_value *v) {
    char *out = ctx;
    if (v->type >= WV_T_STR || strlen(key) > 200) return 0;
    size_t n = 0;
    for (; *key; key++) {
        if (*key == '~' || *key == '/') out[n++] = '~', out[n++] = *key == '~' ? '0' : '1';
        else out[n++] = *key;
    }
    out[n] = 0;
    return 1;
}

static char long_text[WV_STRING_MAX + 2];

/* A call the structure API must refuse, on replica d: the documented code
 * back, nothing changed (weave.h: "all or nothing, the replica unchanged on
 * error"). sel picks the misuse; a container it needs comes from d. */
static void struct_misuse(wv_doc *d, unsigned sel, unsigned pick) {
    static const char *const names[] = {"set on a non-map", "unknown ref", "key too long", "key not UTF-8",
                                        "NaN or infinite float", "container into a set", "delete of an absent key",
                                        "list position past the end", "str position past the end or not UTF-8",
                                        "bad path", "STRING too long", "NULL key or out"};
    unsigned which = sel % (sizeof names / sizeof *names);
    cur_op = names[which];
    seen before = take(d);
    wv_ref root = {0, 0}, c;
    size_t len = 0;
    wv_value v;
    char path[512];
    switch (which) {
    case 0: {
        static const wv_type others[] = {WV_T_LIST, WV_T_STR, WV_T_SET, WV_T_COUNTER};
        if (find_container(d, others[pick % 4], pick / 4 % 4, &c, &len))
            expect_rc(wv_map_set(d, c, "k", wv_int(1), NULL), WV_E_TYPE, "wv_map_set on a non-map");
        expect_rc(wv_set_add(d, root, wv_int(1)), WV_E_TYPE, "wv_set_add on the root map");
        expect_rc(wv_counter_add(d, root, 1), WV_E_TYPE, "wv_counter_add on the root map");
        break;
    }
    case 1: {
        wv_ref none = {wv_doc_site(d), wv_doc_clock(d) + 1 + pick % 5};
        expect_rc(wv_map_set(d, none, "k", wv_int(1), NULL), WV_E_NOTFOUND, "wv_map_set on an unknown ref");
        expect_rc(wv_list_insert(d, none, 0, wv_null(), NULL), WV_E_NOTFOUND, "wv_list_insert on an unknown ref");
        expect_rc(wv_get(d, none, &v), WV_E_NOTFOUND, "wv_get of an unknown ref");
        none.site = 0; /* site 0 holds only the root */
        expect_rc(wv_str_insert(d, none, 0, "a", 1), WV_E_NOTFOUND, "wv_str_insert on site 0");
        break;
    }
    case 2:
        memset(long_text, 'k', WV_KEY_MAX + 1);
        long_text[WV_KEY_MAX + 1] = 0;
        expect_rc(wv_map_set(d, root, long_text, wv_null(), NULL), WV_E_RANGE, "wv_map_set with a key too long");
        break;
    case 3: {
        static const char *const bad[] = {"\xff", "a\xc0\x80", "\xed\xa0\x80", "\xe2\x82"};
        expect_rc(wv_map_set(d, root, bad[pick % 4], wv_null(), NULL), WV_E_UTF8, "wv_map_set with a bad key");
        break;
    }
    case 4: {
        double x = pick % 2 ? (double)INFINITY : (double)NAN;
        if (pick % 4 >= 2) x = -x;
        expect_rc(wv_map_set(d, root, "f", wv_float(x), NULL), WV_E_ARG, "wv_map_set of a NaN or infinity");
        break;
    }
    case 5: {
        static wv_value (*const make[])(void) = {wv_new_list, wv_new_map, wv_new_counter};
        if (find_container(d, WV_T_SET, pick / 4 % 4, &c, &len))
            expect_rc(wv_set_add(d, c, make[pick % 3]()), WV_E_TYPE, "wv_set_add of a container");
        break;
    }
    case 6:
        expect_rc(wv_map_delete(d, root, "no such key"), WV_E_NOTFOUND, "wv_map_delete of an absent key");
        expect_rc(wv_path_delete(d, "no such key/x"), WV_E_NOTFOUND, "wv_path_delete under an absent key");
        break;
    case 7:
        if (!find_container(d, WV_T_LIST, pick / 4 % 4, &c, &len)) break;
        expect_rc(wv_list_insert(d, c, len + 1 + pick % 3, wv_null(), NULL), WV_E_RANGE, "wv_list_insert past the end");
        expect_rc(wv_list_delete(d, c, len - (len ? pick % len : 0), len + 1), WV_E_RANGE, "wv_list_delete past the end");
        break;
    case 8:
        if (!find_container(d, WV_T_STR, pick / 4 % 4, &c, &len)) break;
        expect_rc(wv_str_insert(d, c, len + 1 + pick % 3, "a", 1), WV_E_RANGE, "wv_str_insert past the end");
        expect_rc(wv_str_insert(d, c, 0, "a\xff", 2), WV_E_UTF8, "wv_str_insert of bad UTF-8");
        expect_rc(wv_str_delete(d, c, len, 1), WV_E_RANGE, "wv_str_delete past the end");
        break;
    case 9:
        expect_rc(wv_path_set(d, "a~2b", wv_null(), NULL), WV_E_ARG, "wv_path_set with a bad escape");
        expect_rc(wv_path_set(d, "", wv_null(), NULL), WV_E_ARG, "wv_path_set of the root");
        if (wv_each(d, root, scalar_key_cb, path) == 1) {
            strcat(path, "/x");
            expect_rc(wv_path_set(d, path, wv_null(), NULL), WV_E_TYPE, "wv_path_set under a scalar");
        }
        break;
    case 10:
        memset(long_text, 's', WV_STRING_MAX + 1);
        expect_rc(wv_map_set(d, root, "s", wv_string(long_text, WV_STRING_MAX + 1), NULL), WV_E_RANGE,
                  "wv_map_set of a STRING too long");
        break;
    default:
        expect_rc(wv_map_set(d, root, NULL, wv_null(), NULL), WV_E_ARG, "wv_map_set with a NULL key");
        { /* which of the two comes first is not documented */
            int rc = wv_map_get(d, root, "k", NULL);
            if (rc != WV_E_ARG && rc != WV_E_NOTFOUND) expect_rc(rc, WV_E_ARG, "wv_map_get with a NULL out");
        }
        break;
    }
    expect_unchanged(&before, d, names[which]);
    free(before.t.s);
}

static void op_struct(state *st, input *in) {
    cur_op = "structure";
    size_t i = get8(in) % st->nr;
    wv_doc *d = st->r[i];
    uint32_t r1 = get32(in), r2 = get32(in), r3 = get32(in);
    unsigned mode = get8(in);
    if (mode % 8 == 0) {
        struct_misuse(d, mode / 8, r1);
    } else {
        if (st->snapshot[i] || wv_doc_atoms(d) >= MAX_ATOMS) return;
        char line[512], why[512];
        wv_iter it;
        wv_atom_info ai;
        size_t held = wv_doc_atoms(d);
        wv_iter_begin(&it, d);
        if (wvf_struct_edit(d, r1, r2, r3, line, sizeof line, why, sizeof why))
            fail("structure edit `%s`: %s", line, why);
        if (wv_doc_atoms(d) != held && wv_iter_next(&it, &ai) != WV_E_MODIFIED)
            fail("iterator not invalidated by `%s`", line);
        if (trace_on) fprintf(stderr, "  %s\n", line);
    }
    verify(st, d, "structure edit");
}

/* ---- the merge laws at the end -------------------------------------------- */

static wv_doc *merged(const wv_doc *a, const wv_doc *b) {
    wv_doc *m = NULL;
    expect_rc(wv_doc_clone(a, &m), WV_OK, "wv_doc_clone");
    expect_rc(wv_merge(m, b), WV_OK, "wv_merge");
    return m;
}

static void check_laws(state *st) {
    size_t nr = st->nr;
    cur_op = "laws";
    for (size_t a = 0; a < nr; a++) {
        wv_doc *aa = merged(st->r[a], st->r[a]); /* idempotent */
        if (wv_weave_hash(aa) != wv_weave_hash(st->r[a])) fail("a+a != a for replica %zu", a);
        wv_doc_free(aa);
        for (size_t b = a + 1; b < nr; b++) {
            wv_doc *ab = merged(st->r[a], st->r[b]), *ba = merged(st->r[b], st->r[a]);
            if (wv_weave_hash(ab) != wv_weave_hash(ba)) fail("a+b != b+a for %zu, %zu", a, b);
            wv_doc *abb = merged(ab, st->r[b]);
            if (wv_weave_hash(abb) != wv_weave_hash(ab)) fail("(a+b)+b != a+b for %zu, %zu", a, b);
            wv_doc_free(ab);
            wv_doc_free(ba);
            wv_doc_free(abb);
        }
    }
    if (nr >= 3)
        for (size_t a = 0; a < nr; a++) { /* associative, on nr triples */
            const wv_doc *x = st->r[a], *y = st->r[(a + 1) % nr], *z = st->r[(a + 2) % nr];
            wv_doc *xy = merged(x, y), *xy_z = merged(xy, z), *yz = merged(y, z),
                   *x_yz = merged(x, yz);
            if (wv_weave_hash(xy_z) != wv_weave_hash(x_yz)) fail("(a+b)+c != a+(b+c) at %zu", a);
            wv_doc_free(xy);
            wv_doc_free(xy_z);
            wv_doc_free(yz);
            wv_doc_free(x_yz);
        }

    /* Everything into one and back: every replica ends with the oracle's
     * weave of the union of all atoms. */
    cur_op = "converge";
    atoms u = {0};
    for (size_t a = 0; a < nr; a++) collect(&u, st->r[a]);
    wv_doc *m = NULL;
    expect_rc(wv_doc_clone(st->r[0], &m), WV_OK, "wv_doc_clone");
    for (size_t a = 1; a < nr; a++) merge_checked(st, m, st->r[a]);
    wv_atom_info *w;
    size_t nw;
    oracle_of(&u, &w, &nw);
    expect_oracle(w, nw, m, "everything merged");
    char *mj = doc_json(m, "everything merged");
    for (size_t a = 0; a < nr; a++) {
        expect_rc(wv_merge(st->r[a], m), WV_OK, "wv_merge");
        if (wv_weave_hash(st->r[a]) != wv_weave_hash(m)) fail("replica %zu did not converge", a);
        char *j = doc_json(st->r[a], "a converged replica");
        if (strcmp(j, mj)) fail("replica %zu converged to another JSON:\n  %s\nvs\n  %s", a, j, mj);
        free(j);
    }
    free(mj);
    expect_oracle(w, nw, st->r[nr - 1], "a converged replica");
    verify(st, st->r[0], "a converged replica");
    free(w);
    free(u.a);
    wv_doc_free(m);
}

/* ---- entry point ------------------------------------------------------------ */

/* WV_FUZZ_TRACE set in the environment: print every op and the texts after it. */
static void trace_state(const state *st) {
    fprintf(stderr, "step %d %-7s", cur_step, cur_op);
    for (size_t i = 0; i < st->nr; i++) {
        text t = read_text(st->r[i]);
        char *j = doc_json(st->r[i], "trace");
        fprintf(stderr, " | %llu%s c%lu \"%.*s\" %.60s", (unsigned long long)wv_doc_site(st->r[i]),
                st->snapshot[i] ? "(ro)" : "", (unsigned long)wv_doc_clock(st->r[i]),
                (int)(t.n > 40 ? 40 : t.n), t.s, j);
        free(t.s);
        free(j);
    }
    fputc('\n', stderr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    input in = {data, size, 0};
    state st;
    memset(&st, 0, sizeof st);
    cur_step = 0;
    cur_op = "setup";
    wv_doc *bad = NULL;
    expect_rc(wv_doc_new(&bad, 0, NULL), WV_E_SITE, "wv_doc_new(site 0)");
    if (bad) fail("failed wv_doc_new set *out");
    expect_rc(wv_doc_new(&st.r[0], fresh_site(&st, &in), NULL), WV_OK, "wv_doc_new");
    st.nr = 1;
    if (trace_on < 0) trace_on = getenv("WV_FUZZ_TRACE") != NULL;

    for (cur_step = 1; cur_step <= MAX_OPS && in.i < in.n; cur_step++) {
        unsigned opb = get8(&in);
        if (opb >= 200) { /* the structure ops: 56 of the 256 op bytes */
            op_struct(&st, &in);
            if (trace_on) trace_state(&st);
            continue;
        }
        switch (opb % 10) {
        case 0: op_new(&st, &in); break;
        case 1: op_fork(&st, &in); break;
        case 2:
        case 3: op_insert(&st, &in); break;
        case 4: op_delete(&st, &in); break;
        case 5:
        case 6: op_merge(&st, &in); break;
        case 7: op_clone(&st, &in); break;
        case 8: op_drop(&st, &in); break;
        default: op_sync(&st, &in); break;
        }
        if (trace_on) trace_state(&st);
    }
    check_laws(&st);
    for (size_t i = 0; i < st.nr; i++) wv_doc_free(st.r[i]);
    return 0;
}

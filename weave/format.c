/* format.c — the binary format (docs/FORMAT.md): documents, deltas and wefts.
 *
 *   "WEAV" | version u8 | kind u8 | body | XXH3-64 of all before it, LE u64
 *
 * Integers are LEB128 varints. Atoms are written as segments, a document's
 * in weave order, a delta's in id order (each site's clocks ascending);
 * "prev" is the last non-delete atom written (the root at the start), which
 * is the cause of a typing run's first atom and the target of a delete far
 * more often than not, so both are implicit then:
 *
 *   H = n << 5 | pattern << 3 | explicit << 2 | 0   a run of n chars: one
 *       site, consecutive clocks, each caused by the one before
 *       [site, zigzag(clock - last clock)], [csite, clock - cclock],
 *       [dsite, zigzag(first delete clock - clock)], n chars as UTF-8
 *       pattern 1 / 2: each char is followed by one delete from dsite, the
 *       delete clocks ascending / descending by one (deleted ranges)
 *   H = n << 3 | explicit << 2 | 1                  n deletes of one target
 *       [tsite, tclock], n x [site, zigzag(clock - last clock)]
 *   (ids in [] inline in version 1 only)
 *   H = n << 3 | down << 2 | 2, H = n << 3 | 3      delete runs, structure atoms
 *
 * Version 1 writes the fields interleaved, each id (site, clock) inline.
 * Version 3 (64 atoms and more) writes each class of field to its own
 * stream (ST_*), varint streams as byte planes, each compressed with zstd
 * when that makes it smaller, and takes the ids out of the segments: each
 * slot (a run's chars, a pattern's deletes, a delete, a delete run, a
 * structure atom) gets its id from a list of pieces in id order, a piece
 * being the slot's index and its clock's gap past the site's slot before.
 * Typing is local in the document but not in time, so consecutive slots
 * of the weave are far apart in clocks and consecutive clocks near in the
 * weave: the ids cost less than half the bytes inline clocks did (whole
 * seph-blog1 at zstd level 1: 130 KB against 165 KB), and they are unique
 * by construction. One segment reader serves both versions (next_id);
 * version 2, ids inline in streams, is no longer read.
 *
 * Decoding checks header, checksum and every count against the bytes left
 * (in version 3, the decompressed bytes) before it allocates. A version 3
 * document is read as runs and checked run by run (fast_document); if that
 * reader is not sure, and for version 1, it is read atom by atom and
 * validated in full (_wv_validate).
 * A delta goes through wv_apply, which validates too.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_customMem: zstd allocates through the replica's hook */
#include <zstd.h>
#include <zstd_errors.h>
#include "internal.h"
#include "utf8.h"

#define VERSION_INTERLEAVED 1
#define VERSION_STREAMS 3 /* version 2 (ids inline in streams) is no longer read */
#define HEADER 6
#define TRAILER 8
enum { SEG_RUN = 0, SEG_DELETES = 1, SEG_DELETE_RUN = 2, SEG_ATOMS = 3 };
enum { PAT_NONE = 0, PAT_UP = 1, PAT_DOWN = 2 };
/* Field classes. Version 1 writes them interleaved in one stream, the body;
 * version 3 stores each as a stream of its own (varint streams as byte
 * planes), each compressed with zstd where that makes it smaller. CLOCK and
 * DEL hold version 1's clocks; in version 3 the pieces: CLOCK the slot
 * steps, DEL each site's slot count and clock gaps. */
enum { ST_HEAD, ST_SITE, ST_CLOCK, ST_CAUSE, ST_DEL, ST_ATOM, ST_TEXT, NST };
#define PLANES_MAX 10      /* a varint has at most 10 bytes */
#define STREAMS_MIN 64     /* fewer atoms: version 1 (streams cost ~20 bytes of headers) */
#define ZSTD_RATIO_LOG 15  /* no zstd frame expands more than 2^15 times (128 KB blocks, >= 4 bytes each) */
/* The zstd level when the replica's options leave it 0: zstd's fastest.
 * Higher levels buy a few percent of size at up to 20 times the saving time
 * (automerge-paper: 85 KB in 3 ms at 1, 72 KB in 58 ms at 19). */
#define LEVEL_DEFAULT 1

/* ---- writing ------------------------------------------------------------- */

/* A writer. Without an allocator it writes into p[0..cap) and counts on
 * past cap (the caller compares with cap at the end); with one it grows p
 * (doubling) and, once memory fails, sets err and only counts. A varint's
 * byte after the one written to w goes to w->next, or to w when that is
 * NULL: a stream of byte planes is the chain of its planes' writers. */
typedef struct wr {
    uint8_t *p;
    size_t n, cap;
    const wv_alloc *al;
    int err;
    struct wr *next;
} wr;

/* Array p of *cap items of `size` bytes, doubled (64 at first): the new
 * array, *cap updated; NULL (p and *cap as they were) when memory fails. */
static void *grow(const wv_alloc *al, void *p, size_t *cap, size_t size) {
    size_t n = *cap ? *cap * 2 : 64;
    void *q = wv_realloc(al, p, *cap * size, wv_mul(n, size));
    if (q) *cap = n;
    return q;
}

/* Room for `need` more bytes in a writer (w->n <= w->cap): 1, or 0 when it
 * does not grow or memory failed (it counts on). */
static int wr_room(wr *w, size_t need) {
    if (!w->al || w->err) return 0;
    size_t cap = w->cap ? w->cap : 64;
    while (cap - w->n < need && cap < SIZE_MAX) cap = cap <= SIZE_MAX / 2 ? cap * 2 : SIZE_MAX;
    if (cap - w->n < need) return w->err = WV_E_NOMEM, 0; /* no size_t holds it */
    if (cap != w->cap) { /* one allocation however far it grows */
        uint8_t *p = wv_realloc(w->al, w->p, w->cap, cap);
        if (!p) return w->err = WV_E_NOMEM, 0; /* p and cap stay */
        w->p = p, w->cap = cap;
    }
    return 1;
}

static inline void put(wr *w, uint8_t b) {
    if (w->n < w->cap || wr_room(w, 1)) w->p[w->n] = b;
    w->n++;
}
static inline void put_varint(wr *w, uint64_t v) {
    while (v >= 0x80) put(w, (uint8_t)(v | 0x80)), v >>= 7, w = w->next ? w->next : w;
    put(w, (uint8_t)v);
}
static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

static void put_bytes(wr *w, const uint8_t *p, size_t n) {
    if (w->cap - w->n < n && w->n <= w->cap) wr_room(w, n);
    if (w->n < w->cap) memcpy(w->p + w->n, p, w->cap - w->n < n ? w->cap - w->n : n);
    w->n += n;
}

static void put_header(wr *w, int version, int kind) {
    put(w, 'W'), put(w, 'E'), put(w, 'A'), put(w, 'V'), put(w, (uint8_t)version), put(w, (uint8_t)kind);
}

static int finish(wr *w, size_t *written) {
    wr_room(w, TRAILER);
    if (w->err) return w->err;
    if (w->n + TRAILER > w->cap) return WV_E_BUFFER;
    uint64_t h = XXH3_64bits(w->p, w->n);
    for (int i = 0; i < 8; i++) put(w, (uint8_t)(h >> (8 * i)));
    *written = w->n;
    return WV_OK;
}

static void put_sites(wr *w, const wv_sites *s) {
    put_varint(w, s->n - 1); /* the root's site (index 0, id 0) is implied */
    for (uint32_t i = 1; i < s->n; i++) put_varint(w, i == 1 ? s->ids[1] : s->ids[i] - s->ids[i - 1]);
}

static int same_id(wv_atom a, uint16_t site, uint32_t clock) { return a.site == site && a.clock == clock; }

/* Version 3's ids, as put_atoms meets them: each slot (a run's chars, a
 * pattern's deletes, a delete, a delete run, a structure atom) as an atom
 * of its site, clock = its lowest clock, cclock = its index, tag = its
 * length; sorted by id afterwards, they are written by put_ids. */
typedef struct slots_w {
    wv_atom *a;
    size_t n, cap;
    const wv_alloc *al;
    int err;
} slots_w;

/* Room for one more slot (s->n == s->cap): 1, or 0 with err set. */
static int slots_grow(slots_w *s) {
    wv_atom *a = s->err ? NULL : grow(s->al, s->a, &s->cap, sizeof *a);
    if (!a) return s->err = WV_E_NOMEM, 0;
    s->a = a;
    return 1;
}
static inline void put_slot(slots_w *s, uint16_t site, uint32_t lo, uint32_t len) {
    if (s->n == s->cap && !slots_grow(s)) return;
    s->a[s->n] = (wv_atom){lo, (uint32_t)s->n, site, 0, len};
    s->n++;
}

/* The ids of slots s[0..n), sorted by id, as version 3 writes them: per
 * site of the table (1 .. nsites - 1), its slot count to GAP, then for each
 * slot its index to CLOCK as zigzag(index - last index - 1) (last: -1 at
 * first) and to GAP its clock's distance past the site's previous slot
 * (past 0 at first). */
static void put_ids(wr *clock, wr *gap, const wv_atom *s, size_t n, uint32_t nsites) {
    int64_t last = -1;
    size_t i = 0;
    for (uint32_t site = 1; site < nsites; site++) {
        size_t k = i;
        while (k < n && s[k].site == site) k++;
        put_varint(gap, k - i);
        for (uint64_t end = 1; i < k; end = (uint64_t)s[i].clock + s[i].tag, i++) {
            put_varint(clock, zigzag((int64_t)s[i].cclock - last - 1)), last = s[i].cclock;
            put_varint(gap, s[i].clock - end);
        }
    }
}

/* A cursor over the atoms of chunks ch[0..nch), each holding one at least:
 * a document's own chunks, read in place, or one array. The cursors of one
 * walk share `ahead`: the chunks below it were prefetched, so a cursor
 * walking again over atoms another has passed does not ask for them twice. */
typedef struct cur {
    const wv_atom *a; /* the current chunk's atoms, */
    uint32_t k, len;  /* the place among them and their count (0 past the end) */
    const wv_chunk *ch;
    size_t c, nch;    /* the current chunk of ch[0..nch) */
    size_t *ahead;
} cur;

static void cur_chunk(cur *p, size_t c) {
    p->c = c, p->k = 0;
    p->a = c < p->nch ? p->ch[c].a : NULL, p->len = c < p->nch ? p->ch[c].len : 0;
    if (c + 1 > *p->ahead) *p->ahead = c + 1, _wv_prefetch_next(p->ch, c, p->nch);
}
static cur cur_start(const wv_chunk *ch, size_t nch, size_t *ahead) {
    cur p = {NULL, 0, 0, ch, 0, nch, ahead};
    *ahead = 0;
    cur_chunk(&p, 0);
    return p;
}
static inline int cur_more(const cur *p) { return p->k < p->len; }
static inline wv_atom cur_at(const cur *p) { return p->a[p->k]; }
static inline void cur_next(cur *p) {
    if (++p->k == p->len) cur_chunk(p, p->c + 1);
}
/* The atom m places past p's (m >= 1), or NULL past the end. */
static inline const wv_atom *cur_peek(const cur *p, unsigned m) {
    if (p->k + m < p->len) return &p->a[p->k + m];
    size_t c = p->c, k = (size_t)p->k + m;
    while (c < p->nch && k >= p->ch[c].len) k -= p->ch[c].len, c++;
    return c < p->nch ? &p->ch[c].a[k] : NULL;
}
static int is_kind(const wv_atom *a, unsigned kind) { return a && wv_atom_kind(*a) == kind; }

/* Writes the values of m chars x[0], x[step], ... as UTF-8 from o on;
 * returns the end. Four ASCII chars at a time cost one test. Called with
 * step a constant, so that each step gets its own loop. */
static inline uint8_t *put_chars(uint8_t *o, const wv_atom *x, uint32_t m, uint32_t step) {
    for (; m >= 4; m -= 4) {
        uint32_t v0 = wv_atom_value(x[0]), v1 = wv_atom_value(x[step]), v2 = wv_atom_value(x[2 * step]),
                 v3 = wv_atom_value(x[3 * step]);
        if ((v0 | v1 | v2 | v3) < 0x80) {
            o[0] = (uint8_t)v0, o[1] = (uint8_t)v1, o[2] = (uint8_t)v2, o[3] = (uint8_t)v3;
            o += 4, x += 4 * step;
            continue;
        }
        for (int i = 0; i < 4; i++, x += step) o += _wv_utf8_put(wv_atom_value(*x), (char *)o);
    }
    for (; m; m--, x += step) {
        uint32_t v = wv_atom_value(*x);
        if (v < 0x80) *o++ = (uint8_t)v;
        else o += _wv_utf8_put(v, (char *)o);
    }
    return o;
}

#ifdef __GNUC__
#define ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define ALWAYS_INLINE inline
#endif

/* Writes the values of n chars as UTF-8, from `at` on, one atom in `step`
 * (1 or 2: a pattern's deletes between). When w has room for four bytes a char
 * (it grows, or has them), the bytes go through a local pointer a chunk at
 * a time: a byte stored through w->p could alias w->n. Inline in put_atoms:
 * most runs are a char or a few, where a call and the cursor's copy cost
 * more than the chars. */
static ALWAYS_INLINE void put_text(wr *w, cur at, size_t n, uint32_t step) {
    char u[4];
    if (w->n > w->cap || (w->cap - w->n < 4 * n && !wr_room(w, 4 * n))) {
        for (; n--; cur_next(&at)) { /* counting on past cap */
            uint32_t v = wv_atom_value(cur_at(&at));
            if (v < 0x80) put(w, (uint8_t)v);
            else put_bytes(w, (const uint8_t *)u, _wv_utf8_put(v, u));
            if (step == 2 && n) cur_next(&at);
        }
        return;
    }
    uint8_t *o = w->p + w->n, *start = o;
    for (;;) {
        uint32_t k = at.k, m = step == 2 ? (at.len - k + 1) >> 1 : at.len - k; /* the chars in this chunk */
        if (m > n) m = (uint32_t)n;
        n -= m;
        o = step == 2 ? put_chars(o, at.a + k, m, 2) : put_chars(o, at.a + k, m, 1);
        if (!n) break;
        k += m * step;
        uint32_t over = k - at.len; /* on into the next chunk, past a delete at its end */
        cur_chunk(&at, at.c + 1);
        while (over >= at.len && at.c < at.nch) over -= at.len, cur_chunk(&at, at.c + 1);
        at.k = over;
    }
    w->n += (size_t)(o - start);
}

/* A run's extension inside one chunk's atoms a[k..end), its pattern fixed:
 * the place past the last char it takes, k when none. A char y of `site`
 * goes on the run when it is caused by the run's last char (clock c) and
 * has the next clock; with no pattern, when the atom after it is no delete;
 * with one, when exactly one delete follows it, from dsite, its clock one
 * past (up) or before the pattern's last (*dl, updated). The last atom or
 * two of a chunk, whose next atoms lie in the next chunk, are left to the
 * caller's step by step loop. An atom is compared as two words, its clock
 * and its cause's, and its sites and kind (masked), against a template's
 * bytes, whatever the byte order; the clocks' word steps by adding a word
 * of steps (a carry or borrow between its halves needs a clock to pass
 * 2^32 - 1 or 0, where no char's clock is: the compare fails first). */
static uint64_t word(const wv_atom *a, int i) {
    uint64_t w;
    memcpy(&w, (const uint8_t *)a + 8 * i, 8);
    return w;
}
/* The words of an atom's fields (an atom is clock, cclock, site, csite,
 * tag, in that order, unpadded), made with shifts: building them in memory
 * would cost a store forward stall where they are made per run. */
static int little_endian(void) {
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b;
}
static uint64_t clocks(uint32_t clock, uint32_t cclock) {
    return little_endian() ? (uint64_t)cclock << 32 | clock : (uint64_t)clock << 32 | cclock;
}
static uint64_t sites_tag(uint16_t site, uint16_t csite, uint32_t tag) {
    return little_endian() ? (uint64_t)tag << 32 | (uint64_t)csite << 16 | site
                           : (uint64_t)site << 48 | (uint64_t)csite << 32 | tag;
}
static uint64_t sites_kind(uint16_t site, uint16_t csite, unsigned kind) { return sites_tag(site, csite, wv_tag(kind, 0)); }
static uint32_t run_plain(const wv_atom *a, uint32_t k, uint32_t end, uint16_t site, uint32_t c) {
    const uint64_t mask = sites_kind(0xffff, 0xffff, WV_KIND_MASK), want = sites_kind(site, site, WV_KIND_CHAR),
                   one = clocks(1, 1);
    const wv_atom *p = a + k, *last = a + end - 1; /* k < end */
    for (uint64_t ids = clocks(c + 1, c); p < last; p++, ids += one)
        if (word(p, 0) != ids || (word(p, 1) & mask) != want || wv_atom_kind(p[1]) == WV_KIND_DELETE) break;
    return (uint32_t)(p - a);
}
static uint32_t run_pattern(const wv_atom *a, uint32_t k, uint32_t end, uint16_t site, uint16_t dsite,
                            uint32_t c, uint32_t *dl, int up) {
    const uint64_t mask = sites_kind(0xffff, 0xffff, WV_KIND_MASK), want = sites_kind(site, site, WV_KIND_CHAR),
                   dwant = sites_kind(dsite, site, WV_KIND_DELETE), one = clocks(1, 1),
                   dstep = up ? one : clocks(0, 1) - clocks(1, 0);
    const wv_atom *p = a + k, *last = a + (end > 2 ? end - 2 : 0);
    uint64_t ids = clocks(c + 1, c), dids = clocks(up ? *dl + 1 : *dl - 1, c + 1);
    for (; p < last; p += 2, ids += one, dids += dstep)
        if (word(p, 0) != ids || (word(p, 1) & mask) != want || word(p + 1, 0) != dids ||
            (word(p + 1, 1) & mask) != dwant || wv_atom_kind(p[2]) == WV_KIND_DELETE)
            break;
    uint32_t n = (uint32_t)(p - a - k) / 2;
    *dl = up ? *dl + n : *dl - n;
    return (uint32_t)(p - a);
}

/* Writes the atoms from `at` on (root excluded; weave or id order) as
 * segments, each field to the stream of its class (streams may be one and
 * the same): with ids NULL (version 1) ids inline; else the slots' ids go
 * to ids. */
static void put_atoms(wr *const *st, cur at, slots_w *ids) {
    wv_atom prev = {0}; /* the root */
    uint32_t last = 0;
    while (cur_more(&at)) {
        wv_atom x = cur_at(&at);
        cur from = at; /* x's place */
        if (wv_atom_kind(x) == WV_KIND_DELETE) {
            /* deletes of consecutive targets, each target deleted once */
            size_t m = 1;
            int down = 0;
            wv_atom before = x, y;
            for (cur_next(&at); cur_more(&at); cur_next(&at), m++, before = y) {
                y = cur_at(&at);
                if (wv_atom_kind(y) != WV_KIND_DELETE || y.site != x.site || y.csite != x.csite ||
                    y.cclock != x.cclock + m)
                    break;
                int d = y.clock == before.clock - 1;
                if (!d && y.clock != before.clock + 1) break;
                if (m == 1) down = d;
                else if (d != down) break;
            }
            if (m >= 2 && !same_id(prev, x.csite, x.cclock)) {
                put_varint(st[ST_HEAD], (uint64_t)m << 3 | (uint64_t)down << 2 | SEG_DELETE_RUN);
                put_varint(st[ST_SITE], x.csite);
                if (ids) {
                    put_varint(st[ST_CAUSE], x.clock - x.cclock);
                    put_slot(ids, x.site, down ? before.clock : x.clock, (uint32_t)m);
                } else {
                    put_varint(st[ST_CAUSE], zigzag((int64_t)x.cclock - last));
                    put_varint(st[ST_SITE], x.site), put_varint(st[ST_DEL], zigzag((int64_t)x.clock - last));
                }
                last = before.clock;
                continue;
            }
            m = 0;
            for (at = from; cur_more(&at); cur_next(&at), m++) {
                y = cur_at(&at);
                if (wv_atom_kind(y) != WV_KIND_DELETE || y.csite != x.csite || y.cclock != x.cclock) break;
            }
            int expl = !same_id(prev, x.csite, x.cclock);
            put_varint(st[ST_HEAD], (uint64_t)m << 3 | (uint64_t)expl << 2 | SEG_DELETES);
            if (expl) put_varint(st[ST_SITE], x.csite), put_varint(st[ST_CAUSE], x.cclock);
            for (cur p = from; m--; cur_next(&p)) {
                y = cur_at(&p);
                if (ids) put_slot(ids, y.site, y.clock, 1);
                else put_varint(st[ST_SITE], y.site), put_varint(st[ST_DEL], zigzag((int64_t)y.clock - last));
                last = y.clock;
            }
            continue;
        }
        if (wv_atom_kind(x) != WV_KIND_CHAR) { /* structure atoms, each in full */
            size_t m = 1;
            for (cur_next(&at); cur_more(&at); cur_next(&at), m++)
                if (wv_atom_kind(cur_at(&at)) == WV_KIND_CHAR || wv_atom_kind(cur_at(&at)) == WV_KIND_DELETE) break;
            put_varint(st[ST_HEAD], (uint64_t)m << 3 | SEG_ATOMS);
            for (cur p = from; m--; cur_next(&p)) {
                wv_atom y = cur_at(&p);
                put_varint(st[ST_ATOM], wv_atom_kind(y)), put_varint(st[ST_ATOM], wv_atom_value(y));
                if (ids) put_slot(ids, y.site, y.clock, 1);
                else put_varint(st[ST_SITE], y.site), put_varint(st[ST_CLOCK], zigzag((int64_t)y.clock - last));
                put_varint(st[ST_SITE], y.csite), put_varint(st[ST_CAUSE], y.clock - y.cclock);
                last = y.clock, prev = y;
            }
            continue;
        }
        /* A run from x: find its pattern, then extend it. at: the next
         * char's place. */
        int pat = PAT_NONE;
        uint16_t dsite = 0;
        uint32_t d0 = 0;
        const wv_atom *d1 = cur_peek(&at, 1), *d2 = cur_peek(&at, 2);
        cur_next(&at);
        if (is_kind(d1, WV_KIND_DELETE) && wv_atom_caused_by(*d1, x) && !is_kind(d2, WV_KIND_DELETE)) {
            pat = PAT_UP, dsite = d1->site, d0 = d1->clock;
            cur_next(&at);
        }
        size_t len = 1;
        wv_atom tail = x;
        uint32_t dlast = d0;
        while (cur_more(&at)) {
            if (pat == PAT_NONE || len >= 2) { /* the pattern is fixed: extend inside the chunk */
                uint32_t k0 = at.k, k = pat == PAT_NONE ? run_plain(at.a, k0, at.len, x.site, tail.clock)
                                                        : run_pattern(at.a, k0, at.len, x.site, dsite,
                                                                      tail.clock, &dlast, pat == PAT_UP);
                if (k != k0) /* k < at.len: a chunk's last atom is the step's */
                    tail = at.a[k - (pat ? 2 : 1)], len += (k - k0) >> (pat ? 1 : 0), at.k = k;
                if (k + (pat ? 2 : 1) < at.len) break; /* an atom, not the chunk's end, stopped it */
            }
            wv_atom y = cur_at(&at);
            if (wv_atom_kind(y) != WV_KIND_CHAR || y.site != x.site || y.clock != tail.clock + 1 ||
                !wv_atom_caused_by(y, tail))
                break;
            const wv_atom *e = cur_peek(&at, 1);
            if (pat == PAT_NONE) {
                if (is_kind(e, WV_KIND_DELETE)) break;
            } else {
                if (!is_kind(e, WV_KIND_DELETE) || e->site != dsite || !wv_atom_caused_by(*e, y) ||
                    is_kind(cur_peek(&at, 2), WV_KIND_DELETE))
                    break;
                if (len == 1 && e->clock == dlast - 1) pat = PAT_DOWN;
                if (e->clock != (pat == PAT_UP ? dlast + 1 : dlast - 1)) break;
                dlast = e->clock;
                cur_next(&at);
            }
            tail = y, len++;
            cur_next(&at);
        }
        int expl = !same_id(prev, x.csite, x.cclock);
        put_varint(st[ST_HEAD], (uint64_t)len << 5 | (uint64_t)pat << 3 | (uint64_t)expl << 2 | SEG_RUN);
        if (ids) put_slot(ids, x.site, x.clock, (uint32_t)len);
        else put_varint(st[ST_SITE], x.site), put_varint(st[ST_CLOCK], zigzag((int64_t)x.clock - last));
        if (expl) put_varint(st[ST_SITE], x.csite), put_varint(st[ST_CAUSE], x.clock - x.cclock);
        if (pat && ids) put_slot(ids, dsite, pat == PAT_UP ? d0 : dlast, (uint32_t)len);
        else if (pat) put_varint(st[ST_SITE], dsite), put_varint(st[ST_DEL], zigzag((int64_t)d0 - x.clock));
        put_text(st[ST_TEXT], from, len, pat ? 2 : 1);
        last = pat ? (pat == PAT_UP ? dlast : d0) : tail.clock; /* as the reader counts */
        prev = tail;
    }
}

/* zstd frees without a size and the hook wants one: each block carries it. */
#define ZHEAD 16
static void *zmalloc(void *ctx, size_t n) {
    uint8_t *p = n <= SIZE_MAX - ZHEAD ? wv_malloc(ctx, n + ZHEAD) : NULL;
    if (!p) return NULL;
    memcpy(p, &n, sizeof n);
    return p + ZHEAD;
}
static void zfree(void *ctx, void *q) {
    if (!q) return;
    size_t n;
    memcpy(&n, (uint8_t *)q - ZHEAD, sizeof n);
    wv_free(ctx, (uint8_t *)q - ZHEAD, n + ZHEAD);
}
static ZSTD_customMem zmem(const wv_alloc *al) { return (ZSTD_customMem){zmalloc, zfree, (void *)al}; }

#define SLOTS_FIRST ((size_t)1 << 20) /* put_streams' first room for slots, most */

/* Version 3's streams of the n atoms from `at` on: each is written (rawlen, [planes],
 * zlen, bytes), compressed at `level` (-1: stored; 0: the defaults) when
 * that is smaller. */
static int put_streams(wr *w, cur at, size_t n, uint32_t nsites, int level, const wv_alloc *al) {
    /* Stream i is written to the chain of writers pl[i][0..PLANES_MAX), one a
     * byte plane (pl[i][k]: byte k of every varint that has one); text's is
     * one writer. Plane 0 grows from a guess (text a byte an atom, the rest
     * a quarter), the others from nothing. */
    wr pl[NST][PLANES_MAX];
    wr *sp[NST];
    memset(pl, 0, sizeof pl);
    for (int i = 0; i < NST; i++) {
        for (int k = 0; k < PLANES_MAX; k++)
            pl[i][k] = (wr){NULL, 0, 0, al, WV_OK, i != ST_TEXT && k + 1 < PLANES_MAX ? &pl[i][k + 1] : NULL};
        sp[i] = &pl[i][0], wr_room(sp[i], i == ST_TEXT ? n : n / 4 + 64);
    }
    /* A slot holds one atom or more, so n slots never grow, and room a short
     * list leaves untouched costs no pages; the sort's scratch is that room
     * when it fits. Capped at 2^20 slots (16 MiB, the largest block mimalloc
     * serves from its segments instead of mapping, and unmapping, afresh). */
    slots_w ids = {NULL, 0, n < SLOTS_FIRST ? n + 1 : SLOTS_FIRST, al, WV_OK};
    if (!(ids.a = wv_malloc(al, wv_mul(ids.cap, sizeof *ids.a)))) ids.cap = 0; /* put_slot grows it then */
    put_atoms(sp, at, &ids);
    size_t sorted = 1; /* a delta's slots come in id order already */
    while (!ids.err && sorted < ids.n && wv_id_cmp(ids.a[sorted - 1], ids.a[sorted]) < 0) sorted++;
    int own = ids.cap - ids.n < ids.n;
    wv_atom *tmp = ids.err || sorted >= ids.n ? NULL : own ? wv_malloc(al, wv_mul(ids.n, sizeof *tmp)) : ids.a + ids.n;
    int rc = ids.err || (sorted < ids.n && !tmp) ? WV_E_NOMEM : WV_OK;
    if (tmp) _wv_sort_ids(ids.a, tmp, ids.n);
    if (tmp && own) wv_free(al, tmp, ids.n * sizeof *tmp);
    if (!rc) put_ids(sp[ST_CLOCK], sp[ST_DEL], ids.a, ids.n, nsites);
    wv_free(al, ids.a, ids.cap * sizeof *ids.a);
    size_t most = 0, raw[NST];
    unsigned np[NST];
    for (int i = 0; i < NST; i++) {
        raw[i] = 0, np[i] = 0;
        for (int k = 0; k < PLANES_MAX; k++) {
            raw[i] += pl[i][k].n, rc = rc ? rc : pl[i][k].err;
            if (pl[i][k].n) np[i] = (unsigned)k + 1; /* plane k + 1 holds bytes only if plane k does */
        }
        most = raw[i] > most ? raw[i] : most;
    }
    if (level == 0) level = LEVEL_DEFAULT;
    size_t zcap = level > 0 ? ZSTD_compressBound(most) : 0, size = most + 1 + zcap;
    uint8_t *planes = rc ? NULL : wv_malloc(al, size), *z = planes ? planes + most + 1 : NULL;
    if (!planes) rc = WV_E_NOMEM;
    ZSTD_CCtx *cx = !rc && level > 0 ? ZSTD_createCCtx_advanced(zmem(al)) : NULL;
    if (!rc && level > 0 && (!cx || ZSTD_isError(ZSTD_CCtx_setParameter(cx, ZSTD_c_compressionLevel, level))))
        rc = WV_E_NOMEM;
    for (int i = 0; !rc && i < NST; i++) {
        const uint8_t *src = pl[i][0].p;
        put_varint(w, raw[i]);
        if (i != ST_TEXT) {
            unsigned used = np[i] ? np[i] : 1;
            put_varint(w, used);
            for (unsigned k = 0; k < used; k++) put_varint(w, pl[i][k].n);
            if (used > 1) { /* the planes one after the other */
                size_t o = 0;
                for (unsigned k = 0; k < used; k++) memcpy(planes + o, pl[i][k].p, pl[i][k].n), o += pl[i][k].n;
                src = planes;
            }
        }
        size_t zn = 0;
        if (cx && raw[i]) {
            zn = ZSTD_compress2(cx, z, zcap, src, raw[i]);
            if (ZSTD_isError(zn)) {
                if (ZSTD_getErrorCode(zn) == ZSTD_error_memory_allocation) rc = WV_E_NOMEM;
                zn = 0;
            }
            if (zn >= raw[i]) zn = 0;
        }
        put_varint(w, zn);
        put_bytes(w, zn ? z : src, zn ? zn : raw[i]);
    }
    ZSTD_freeCCtx(cx);
    if (planes) wv_free(al, planes, size);
    for (int i = 0; i < NST; i++)
        for (int k = 0; k < PLANES_MAX; k++) wv_free(al, pl[i][k].p, pl[i][k].cap);
    return rc;
}

size_t wv_encode_bound(const wv_doc *d) {
    if (!d) return 0;
    /* version 1, or version 3 with every stream stored */
    return HEADER + TRAILER + 40 + NST * (3 * 10 + PLANES_MAX * 10) + (size_t)d->sites.n * 10 + d->natoms * 40;
}

/* wv_encode's and wv_encode_alloc's body: into w, a writer into the
 * caller's buffer or one that grows (w->al). */
static int encode(const wv_doc *d, int delta, const wv_weft_entry *since, size_t nsince, wr *w,
                  size_t *written) {
    /* The atoms to write: a document's in weave order, which its reader
     * needs, read in place from its chunks; a delta's in id order, where
     * each site's clocks ascend, so its ids cost little where weave order
     * scatters them. wv_apply takes atoms in any order. */
    wv_atom *a = NULL;
    size_t n = d->natoms - 1; /* all but the root, chunks[0].a[0] */
    cur at;
    wv_chunk one;
    size_t ahead;
    int rc = WV_OK;
    if (!delta) {
        at = cur_start(d->chunks, d->nchunks, &ahead);
        cur_next(&at);
    } else {
        uint32_t *th = wv_malloc(&d->alloc, wv_mul(d->sites.n, sizeof *th));
        wv_atom *tmp = NULL;
        a = wv_malloc(&d->alloc, wv_mul(d->natoms, sizeof *a));
        if (!th || !a) rc = WV_E_NOMEM;
        n = 0;
        if (!rc) {
            memset(th, 0, d->sites.n * sizeof *th);
            for (size_t i = 0; i < nsince; i++) {
                int32_t s = _wv_sites_find(&d->sites, since[i].site);
                if (s >= 0) th[s] = since[i].clock;
            }
            for (size_t c = 0; c < d->nchunks; c++)
                for (uint32_t k = 0; k < d->chunks[c].len; k++)
                    if (d->chunks[c].a[k].clock > th[d->chunks[c].a[k].site]) a[n++] = d->chunks[c].a[k];
        }
        if (!rc && n > 1 && !(tmp = wv_malloc(&d->alloc, n * sizeof *tmp))) rc = WV_E_NOMEM;
        if (tmp) _wv_sort_ids(a, tmp, n), wv_free(&d->alloc, tmp, n * sizeof *tmp);
        wv_free(&d->alloc, th, d->sites.n * sizeof *th);
        one = (wv_chunk){a, (uint32_t)n, 0, (uint32_t)n, 0};
        at = cur_start(&one, n ? 1 : 0, &ahead);
    }
    if (!rc) {
        int version = n < STREAMS_MIN ? VERSION_INTERLEAVED : VERSION_STREAMS;
        wr_room(w, 4096 + n); /* a growing writer's guess: a byte an atom (the traces take 0.3 to 2) */
        put_header(w, version, delta ? WV_BYTES_DELTA : WV_BYTES_DOCUMENT);
        put_sites(w, &d->sites);
        if (!delta) put_varint(w, d->self), put_varint(w, d->clock);
        put_varint(w, n);
        if (version == VERSION_INTERLEAVED) {
            wr *st[NST];
            for (int i = 0; i < NST; i++) st[i] = w;
            put_atoms(st, at, NULL);
        } else {
            rc = put_streams(w, at, n, d->sites.n, d->level, &d->alloc);
        }
        if (!rc) rc = finish(w, written);
    }
    wv_free(&d->alloc, a, d->natoms * sizeof *a);
    return rc;
}

int wv_encode(const wv_doc *d, int delta, const wv_weft_entry *since, size_t nsince, void *dst,
              size_t cap, size_t *written) {
    if (!d || !written || (!dst && cap) || (!since && nsince) || (!delta && nsince)) return WV_E_ARG;
    wr w = {dst, 0, cap, NULL, WV_OK, NULL};
    return encode(d, delta, since, nsince, &w, written);
}

int wv_encode_alloc(const wv_doc *d, int delta, const wv_weft_entry *since, size_t nsince,
                    const wv_alloc *al, void **out, size_t *len) {
    if (out) *out = NULL; /* on every error, as documented */
    if (!d || !out || !len || (!since && nsince) || (!delta && nsince)) return WV_E_ARG;
    if (!al) al = &_wv_libc_alloc;
    wr w = {NULL, 0, 0, al, WV_OK, NULL};
    size_t n = 0;
    int rc = encode(d, delta, since, nsince, &w, &n);
    uint8_t *p = rc || n == w.cap ? w.p : wv_realloc(al, w.p, w.cap, n); /* exactly n bytes */
    if (!rc && !p) rc = WV_E_NOMEM;
    if (rc) {
        wv_free(al, w.p, w.cap);
        return rc;
    }
    *out = p, *len = n;
    return WV_OK;
}

int wv_weft_encode(const wv_doc *d, void *dst, size_t cap, size_t *written) {
    if (!d || !written || (!dst && cap)) return WV_E_ARG;
    wr w = {dst, 0, cap, NULL, WV_OK, NULL};
    put_header(&w, VERSION_INTERLEAVED, WV_BYTES_WEFT);
    put_varint(&w, wv_doc_weft_all(d, NULL, 0));
    uint64_t last = 0;
    for (uint32_t i = 1; i < d->sites.n; i++) {
        if (!d->sites.weft[i]) continue;
        put_varint(&w, d->sites.ids[i] - last), put_varint(&w, d->sites.weft[i]);
        last = d->sites.ids[i];
    }
    return finish(&w, written);
}

/* ---- reading ------------------------------------------------------------- */

/* A reader of one stream. A varint stream stored as byte planes (np >= 1)
 * reads byte k of each varint from plane k: plane 0 is p[0..n), plane k > 0
 * is q[k - 1]. Otherwise (np == 0) a varint's bytes follow each other in p.
 * The first error sticks in err; reads after it return 0.
 * With planes, q[0].p[q[0].n] is readable (get_varint reads it before
 * it knows it needs it): the next plane's first byte, the byte after a
 * stream read in place (the trailer's at the last), the byte allocated
 * after the decompressed ones, or for np == 1 a plane of none (NO_PLANE). */
typedef struct plane {
    const uint8_t *p;
    size_t n, i;
} plane;

static const uint8_t NO_PLANE[1];

typedef struct rd {
    const uint8_t *p;
    size_t n, i;
    int err;
    unsigned np;
    plane q[PLANES_MAX - 1];
} rd;

static uint64_t rd_fail(rd *r, int code) {
    if (!r->err) r->err = code;
    return 0;
}

/* The rest of a varint whose first byte b has the continuation bit. In
 * planes, a varint that needs a plane past np or past a plane's end is
 * malformed (the planes disagree), not truncated. */
static uint64_t get_varint_rest(rd *r, uint8_t b) {
    uint64_t v = b & 0x7f;
    for (unsigned k = 1;; k++) {
        if (!r->np) {
            if (r->i >= r->n) return rd_fail(r, WV_E_TRUNCATED);
            b = r->p[r->i++];
        } else {
            if (k >= r->np || r->q[k - 1].i >= r->q[k - 1].n) return rd_fail(r, WV_E_FORMAT);
            b = r->q[k - 1].p[r->q[k - 1].i++];
        }
        if (k == 9 && b > 1) return rd_fail(r, WV_E_FORMAT); /* past 64 bits; so byte 9 is the last */
        v |= (uint64_t)(b & 0x7f) << (7 * k);
        if (!(b & 0x80)) return b ? v : rd_fail(r, WV_E_FORMAT); /* a last byte of 0: overlong */
    }
}

/* With planes, a second byte is taken without a branch on the first's
 * continuation bit, which is as likely set as not in many streams. */
static inline uint64_t get_varint(rd *r) {
    if (r->i >= r->n) return rd_fail(r, WV_E_TRUNCATED);
    uint8_t b = r->p[r->i++];
    if (!r->np) return b & 0x80 ? get_varint_rest(r, b) : b;
    plane *q = &r->q[0];
    unsigned more = b >> 7;
    uint8_t b1 = q->p[q->i];
    if (more & ((q->i >= q->n) | (b1 >> 7) | (b1 == 0))) return get_varint_rest(r, b); /* long, or malformed */
    q->i += more;
    return (b & 0x7fu) | (uint64_t)(b1 * more) << 7;
}
/* Up to n varints of r into v, as n calls of get_varint would read them,
 * stopping at the first error (r->err): the count read. The reader's state
 * is held in locals, so a varint of one or two bytes costs a few
 * instructions; longer ones, and any doubt, go through get_varint. */
static size_t get_varints(rd *r, uint64_t *v, size_t n) {
    const uint8_t *p = r->p, *p1 = r->q[0].p;
    size_t i = r->i, end = r->n, i1 = r->q[0].i, end1 = r->np >= 2 ? r->q[0].n : 0;
    size_t k = 0;
    if (r->err) return 0;
    for (; k < n && !r->err; k++) {
        uint8_t b = i < end ? p[i] : 0x80;
        if (!(b & 0x80)) {
            v[k] = b, i++;
            continue;
        }
        uint8_t b1 = i1 < end1 ? p1[i1] : 0x80;
        if (i < end && !(b1 & 0x80) && b1) {
            v[k] = (b & 0x7fu) | (uint64_t)b1 << 7, i++, i1++;
            continue;
        }
        r->i = i, r->q[0].i = i1;
        v[k] = get_varint(r);
        i = r->i, i1 = r->q[0].i;
    }
    r->i = i, r->q[0].i = i1;
    return r->err ? k - 1 : k;
}
static inline uint32_t get_u32(rd *r) {
    uint64_t v = get_varint(r);
    return v > UINT32_MAX ? (uint32_t)rd_fail(r, WV_E_FORMAT) : (uint32_t)v;
}
static size_t left(const rd *r) { return r->n - r->i; }
/* A signed clock step. Clocks are 32-bit, so |step| < 2^33 in any valid
 * input; refusing larger ones keeps all later arithmetic in range. */
static int64_t get_step(rd *r) {
    uint64_t v = get_varint(r);
    if (v >= (uint64_t)1 << 34) return (int64_t)rd_fail(r, WV_E_FORMAT);
    return unzigzag(v);
}

int wv_bytes_kind_of(const void *src, size_t len) {
    const uint8_t *p = src;
    if (!src && len) return WV_E_ARG;
    if (len < 4 || memcmp(p, "WEAV", 4)) return len < 4 && (!len || !memcmp(p, "WEAV", len)) ? WV_E_TRUNCATED : WV_E_FORMAT;
    if (len < HEADER) return WV_E_TRUNCATED;
    if (p[4] != VERSION_INTERLEAVED && p[4] != VERSION_STREAMS) return WV_E_VERSION;
    if (p[5] < WV_BYTES_DOCUMENT || p[5] > WV_BYTES_WEFT) return WV_E_FORMAT;
    if (p[5] == WV_BYTES_WEFT && p[4] != VERSION_INTERLEAVED) return WV_E_VERSION; /* wefts have no streams */
    if (len < HEADER + TRAILER) return WV_E_TRUNCATED;
    uint64_t h = 0;
    for (int i = 0; i < 8; i++) h |= (uint64_t)p[len - 8 + i] << (8 * i);
    if (XXH3_64bits(p, len - TRAILER) != h) return WV_E_CHECKSUM;
    return p[5];
}

/* Opens bytes of the wanted kind: r reads the body, *version is set. */
static int open_bytes(rd *r, const void *src, size_t len, int want, int *version) {
    int kind = wv_bytes_kind_of(src, len);
    if (kind < 0) return kind;
    if (want && kind != want) return WV_E_FORMAT;
    *r = (rd){.p = src, .n = len - TRAILER, .i = HEADER};
    *version = ((const uint8_t *)src)[4];
    return kind;
}

int wv_weft_decode(const void *src, size_t len, wv_weft_entry *dst, size_t cap, size_t *n) {
    if (!n || (!dst && cap)) return WV_E_ARG;
    rd r;
    int version, rc = open_bytes(&r, src, len, WV_BYTES_WEFT, &version);
    if (rc < 0) return rc;
    uint64_t count = get_varint(&r), site = 0;
    if (!r.err && count > left(&r) / 2) return WV_E_SIZE;
    for (uint64_t i = 0; i < count && !r.err; i++) {
        uint64_t step = get_varint(&r);
        uint32_t clock = get_u32(&r);
        if (step == 0 || step > UINT64_MAX - site || clock == 0) rd_fail(&r, WV_E_FORMAT);
        site += step;
        if (i < cap) dst[i] = (wv_weft_entry){site, clock};
    }
    if (left(&r)) rd_fail(&r, WV_E_FORMAT); /* bytes after the body */
    if (r.err) return r.err;
    *n = (size_t)count;
    return WV_OK;
}

/* The site table of a document or delta: ids into s (root's site added). */
static int get_sites(rd *r, wv_sites *s, const wv_alloc *al) {
    uint64_t n = get_varint(r), id = 0;
    if (r->err) return r->err;
    if (n > left(r)) return WV_E_SIZE;
    if (n + 1 > WV_SITES_MAX) return WV_E_LIMIT;
    int rc = _wv_sites_init(s, al);
    for (uint64_t i = 0; !rc && i < n; i++) {
        uint64_t step = get_varint(r);
        if (r->err) rc = r->err;
        else if (step == 0 || step > UINT64_MAX - id) rc = WV_E_FORMAT; /* sorted, no 0, no repeats */
        else {
            uint32_t pos;
            id += step;
            rc = _wv_sites_insert(s, id, &pos, al);
        }
    }
    if (rc) _wv_sites_free(s, al);
    return rc;
}

/* The readers of the field classes. Version 1: each is the body. Version 3:
 * each reads its stream where it lies: in the body when stored, in buf when
 * decompressed; a varint stream through its planes. */
typedef struct streams {
    rd one[NST];
    rd *st[NST];
    uint8_t *buf;
    size_t size;
    uint64_t raw; /* bytes the atoms are read from: all streams, or the body's rest */
} streams;

static void streams_free(streams *s, const wv_alloc *al) { wv_free(al, s->buf, s->size); }
/* Whether every byte of the body and of every stream (every plane) was read. */
static int streams_done(const streams *s, const rd *body) {
    for (int c = 0; c < NST; c++) {
        const rd *r = s->st[c];
        if (left(r)) return 0;
        for (unsigned k = 1; k < r->np; k++)
            if (r->q[k - 1].i != r->q[k - 1].n) return 0;
    }
    return !left(body);
}

/* Reads version 3's stream headers and bytes from the body (up to its end)
 * and decodes them. A declared size is checked against the bytes that carry
 * it before anything is allocated for it. */
static int get_streams(rd *body, int version, streams *s, const wv_alloc *al) {
    memset(s, 0, sizeof *s);
    for (int i = 0; i < NST; i++) s->st[i] = version == VERSION_STREAMS ? &s->one[i] : body;
    if (version != VERSION_STREAMS) return s->raw = left(body), WV_OK;
    struct { uint64_t raw, z; unsigned np; size_t plen[PLANES_MAX]; const uint8_t *src; } h[NST];
    size_t need = 0;
    for (int i = 0; i < NST; i++) {
        h[i].raw = get_varint(body), h[i].np = 1, h[i].plen[0] = (size_t)h[i].raw;
        if (i != ST_TEXT) {
            uint64_t np = get_varint(body), sum = 0;
            if (!body->err && (np == 0 || np > PLANES_MAX)) return WV_E_FORMAT;
            for (unsigned k = 0; k < np && !body->err; k++) {
                uint64_t pl = get_varint(body);
                if (pl > h[i].raw - sum) return WV_E_FORMAT; /* planes add up to more than the stream */
                h[i].plen[k] = (size_t)pl, sum += pl;
            }
            if (!body->err && sum != h[i].raw) return WV_E_FORMAT;
            h[i].np = (unsigned)np;
        }
        h[i].z = get_varint(body);
        if (body->err) return body->err;
        uint64_t stored = h[i].z ? h[i].z : h[i].raw;
        if (stored > left(body)) return WV_E_TRUNCATED;
        if (h[i].z && h[i].raw > h[i].z << ZSTD_RATIO_LOG) return WV_E_SIZE;
        h[i].src = body->p + body->i, body->i += (size_t)stored;
        if (h[i].z) need += (size_t)h[i].raw; /* stored streams are read in place */
        s->raw += h[i].raw;
    }
    s->size = need + 1; /* a byte after the last plane (rd) */
    if (!(s->buf = wv_malloc(al, s->size))) return WV_E_NOMEM;
    s->buf[need] = 0;
    ZSTD_DCtx *dx = NULL;
    int rc = WV_OK;
    uint8_t *at = s->buf;
    for (int i = 0; !rc && i < NST; i++) {
        const uint8_t *p = h[i].src;
        if (h[i].z) {
            if (!dx && !(dx = ZSTD_createDCtx_advanced(zmem(al)))) rc = WV_E_NOMEM;
            size_t got = rc ? 0 : ZSTD_decompressDCtx(dx, at, (size_t)h[i].raw, h[i].src, (size_t)h[i].z);
            if (!rc && ZSTD_isError(got))
                rc = ZSTD_getErrorCode(got) == ZSTD_error_memory_allocation ? WV_E_NOMEM : WV_E_FORMAT;
            else if (!rc && got != h[i].raw) rc = WV_E_FORMAT;
            if (h[i].raw) p = at, at += h[i].raw; /* else nothing is read: p may stay on the frame */
        }
        rd *r = &s->one[i];
        *r = (rd){.p = p, .n = h[i].plen[0], .np = i == ST_TEXT ? 0 : h[i].np, .q = {{NO_PLANE, 0, 0}}};
        for (unsigned k = 1; k < r->np; k++) p += h[i].plen[k - 1], r->q[k - 1] = (plane){p, h[i].plen[k], 0};
    }
    ZSTD_freeDCtx(dx);
    return rc;
}

/* Whether the streams hold the bytes n items need at least, per[c] varints
 * an item in stream c, each a byte at least (of the stream, or of its plane
 * 0); classes may share a reader, and their needs add up. */
static int fits(rd *const *st, uint64_t n, const uint8_t *per) {
    if (st[0] == st[NST - 1]) { /* version 1: one stream */
        unsigned need = 0;
        for (int c = 0; c < NST; c++) need += per[c];
        return n <= left(st[0]) / need;
    }
    for (int c = 0; c < NST; c++)
        if (per[c] && n > left(st[c]) / per[c]) return 0;
    return 1;
}
static int st_err(rd *const *st) {
    for (int c = 0; c < NST; c++)
        if (st[c]->err) return st[c]->err;
    return WV_OK;
}

/* Version 3's ids, read before the segments: the slots the segment headers
 * declare, in order (scan_slots), each given its site and lowest clock by
 * the pieces of CLOCK and DEL (get_ids). Every slot gets exactly one, and a
 * site's slots come in clock order, each past the end of the one before:
 * so no id repeats, and no clock is 0, by construction. */
typedef struct id_slot {
    uint32_t clock; /* its length until get_ids gives it a clock */
    uint16_t site;  /* 0 until then */
} id_slot;

typedef struct ids_r {
    id_slot *s;
    size_t n, cap, next; /* next: the next slot a segment takes */
} ids_r;

/* The slots the segment headers h declare for count atoms, their lengths
 * into out[0..*n): at most cap of them (each slot has a piece: a varint of
 * CLOCK). The segment reader checks the headers in full. */
static int scan_slots(rd h, uint64_t count, id_slot *out, size_t cap, size_t *n) {
    size_t k = 0;
    for (uint64_t seen = 0; seen < count;) {
        uint64_t v = get_varint(&h);
        if (h.err) return h.err;
        unsigned seg = (unsigned)(v & 3), pat = seg == SEG_RUN ? (unsigned)(v >> 3 & 3) : 0;
        uint64_t len = v >> (seg == SEG_RUN ? 5 : 3), atoms = pat ? 2 * len : len;
        uint64_t slots = seg == SEG_RUN ? 1 + (pat != 0) : seg == SEG_DELETE_RUN ? 1 : len;
        if (len == 0 || len > UINT32_MAX || atoms > count - seen || slots > cap - k) return WV_E_SIZE;
        uint32_t each = seg == SEG_RUN || seg == SEG_DELETE_RUN ? (uint32_t)len : 1;
        for (uint64_t i = 0; i < slots; i++) out[k + i] = (id_slot){each, 0};
        k += (size_t)slots, seen += atoms;
    }
    *n = k;
    return WV_OK;
}

/* Reads the ids into ids (allocated; the caller frees ids->s, ids->cap of
 * them) and each site's highest clock into top. */
static int get_ids(rd *const *st, uint64_t count, uint32_t nsites, ids_r *ids, uint32_t *top,
                   const wv_alloc *al) {
    size_t n, cap = left(st[ST_CLOCK]);
    if (!(ids->s = wv_malloc(al, wv_mul(cap, sizeof *ids->s))) && cap) return WV_E_NOMEM;
    ids->cap = cap;
    int rc = scan_slots(*st[ST_HEAD], count, ids->s, cap, &n);
    if (rc) return rc;
    ids->n = n, ids->next = 0;
    rd *slot = st[ST_CLOCK], *gap = st[ST_DEL];
    uint64_t given = 0;
    int64_t last = -1;
    /* A site's pieces are read BLOCK at a time: their slots found and
     * prefetched (in id order, a weave's slots are scattered), then given. */
    enum { BLOCK = 64 };
    uint64_t at[BLOCK], g[BLOCK];
    for (uint32_t site = 1; site < nsites; site++) {
        uint64_t k = get_varint(gap), end = 1;
        if (gap->err) break;
        if (k > n - given) return WV_E_FORMAT;
        for (uint64_t i = 0; i < k;) {
            size_t m = k - i < BLOCK ? (size_t)(k - i) : BLOCK;
            size_t ns = get_varints(slot, at, m), ng = get_varints(gap, g, m);
            for (size_t j = 0; j < m; j++) {
                if (j >= ns || j >= ng) return j >= ns ? slot->err : gap->err; /* in the order of reading */
                int64_t step = at[j] >= (uint64_t)1 << 34 ? INT64_MAX : unzigzag(at[j]);
                if (step < -1 - last || step >= (int64_t)n - last - 1) return WV_E_FORMAT; /* no such slot */
                last += 1 + step;
                at[j] = (uint64_t)last;
#ifdef __GNUC__
                __builtin_prefetch(&ids->s[last], 1);
#endif
            }
            for (size_t j = 0; j < m; j++) {
                id_slot *x = &ids->s[at[j]];
                uint64_t len = x->clock, lo = end + g[j];
                if (x->site || g[j] > UINT32_MAX || lo + len - 1 > UINT32_MAX) return WV_E_FORMAT; /* given twice, or past 2^32 - 1 */
                x->site = (uint16_t)site, x->clock = (uint32_t)lo;
                end = lo + len;
            }
            i += m;
        }
        if (k && top) top[site] = (uint32_t)(end - 1);
        given += k;
    }
    if (slot->err || gap->err) return slot->err ? slot->err : gap->err;
    if (given != n) return WV_E_FORMAT; /* a slot without an id */
    return WV_OK;
}

/* Decodes the atom segments, calling emit for each atom in order with its
 * cause known, or run (when not NULL) for a whole run of chars (it reads
 * the run's n chars from text), each with out as its first argument. Site
 * indexes are the table's; nsites bounds them. A document's bytes
 * (document: 1) hold no runs of deletes. */
typedef struct run_desc {
    uint32_t site, clock, csite, cclock, dsite, d; /* d: the first char's delete (pattern) */
    uint32_t n;
    unsigned pat;
} run_desc;

/* Where get_atoms' atoms go: its out, their first argument, is the sink. */
typedef int (*emit_fn)(void *, wv_atom);
typedef int (*run_fn)(void *, const run_desc *, rd *text);

/* The next slot's id (version 3), or an id read inline (version 1: a site
 * and a clock step past last, from the given class). */
static inline int next_id(rd *const *st, ids_r *ids, int cls, uint32_t last, uint32_t *site, int64_t *clock) {
    if (ids) {
        if (ids->next == ids->n) return WV_E_FORMAT; /* cannot happen: scan_slots counted them */
        id_slot x = ids->s[ids->next++];
        *site = x.site, *clock = x.clock;
        return WV_OK;
    }
    *site = get_u32(st[ST_SITE]), *clock = (int64_t)last + get_step(st[cls]);
    return st_err(st);
}

/* Inline, so that each caller's emit and run are direct calls. */
static ALWAYS_INLINE int get_atoms(rd *const *st, uint64_t count, uint32_t nsites, ids_r *ids, int document,
                                   void *out, emit_fn emit, run_fn run) {
    static const uint8_t per_delete[NST] = {[ST_SITE] = 1, [ST_DEL] = 1};
    static const uint8_t per_atom[2][NST] = {{[ST_ATOM] = 2, [ST_SITE] = 2, [ST_CLOCK] = 1, [ST_CAUSE] = 1},
                                             {[ST_ATOM] = 2, [ST_SITE] = 1, [ST_CAUSE] = 1}};
    rd *text = st[ST_TEXT];
    wv_atom prev = {0};
    uint32_t last = 0;
    uint64_t seen = 0;
    while (seen < count) { /* each segment checks its readers before using what they read */
        uint64_t h = get_varint(st[ST_HEAD]);
        if (st[ST_HEAD]->err) break;
        if ((h & 3) == SEG_DELETES) {
            uint64_t n = h >> 3;
            if (n == 0 || (ids ? n > ids->n - ids->next : !fits(st, n, per_delete)) || n > count - seen)
                return WV_E_SIZE;
            uint32_t tsite = prev.site, tclock = prev.clock;
            if (h & 4) tsite = get_u32(st[ST_SITE]), tclock = get_u32(st[ST_CAUSE]);
            if (st_err(st)) break;
            if (tsite >= nsites) return WV_E_FORMAT;
            if (tsite == 0 && tclock == 0) return WV_E_ATOM; /* deletes the root */
            for (uint64_t k = 0; k < n; k++) {
                uint32_t site;
                int64_t clock;
                int rc = next_id(st, ids, ST_DEL, last, &site, &clock);
                if (rc) return rc;
                if (site >= nsites || site == 0 || clock <= 0 || clock > UINT32_MAX) return WV_E_FORMAT;
                last = (uint32_t)clock;
                rc = emit(out, (wv_atom){last, tclock, (uint16_t)site, (uint16_t)tsite, wv_tag(WV_KIND_DELETE, 0)});
                if (rc) return rc;
            }
            seen += n;
        } else if ((h & 3) == SEG_RUN) {
            uint64_t n = h >> 5;
            unsigned pat = (unsigned)(h >> 3 & 3);
            if (n == 0 || n > left(text) || (pat ? 2 * n : n) > count - seen) return WV_E_SIZE; /* a byte per char at least */
            if (pat > PAT_DOWN) return WV_E_FORMAT;
            uint32_t site, csite = prev.site, cclock = prev.clock, dsite = 0;
            int64_t clock, d = 0;
            int rc = next_id(st, ids, ST_CLOCK, last, &site, &clock);
            if (rc) return rc;
            if (h & 4) {
                csite = get_u32(st[ST_SITE]);
                uint32_t back = get_u32(st[ST_CAUSE]);
                cclock = (uint32_t)(clock - back); /* checked below */
                if (!st[ST_SITE]->err && !st[ST_CAUSE]->err && (back == 0 || back > clock)) return WV_E_CLOCK;
            }
            if (pat && ids) { /* the slot's lowest clock: the last delete's when they go down */
                if ((rc = next_id(st, ids, ST_DEL, 0, &dsite, &d))) return rc;
                if (pat == PAT_DOWN) d += (int64_t)n - 1;
            } else if (pat) {
                dsite = get_u32(st[ST_SITE]), d = clock + get_step(st[ST_DEL]);
            }
            if (st[ST_SITE]->err || st[ST_CAUSE]->err || st[ST_DEL]->err) break; /* the streams a run reads */
            if (site == 0 || site >= nsites || csite >= nsites || (pat && (dsite == 0 || dsite >= nsites)))
                return WV_E_FORMAT;
            if (clock <= 0 || clock + (int64_t)n - 1 > UINT32_MAX) return WV_E_FORMAT;
            if (pat && (d <= 0 || d > UINT32_MAX || (pat == PAT_UP ? d + (int64_t)n - 1 > UINT32_MAX : d - (int64_t)n + 1 <= 0)))
                return WV_E_FORMAT;
            if (run) {
                run_desc rdesc = {site, (uint32_t)clock, csite, cclock, dsite, (uint32_t)d, (uint32_t)n, pat};
                rc = run(out, &rdesc, text);
                if (rc) return rc;
                prev.site = (uint16_t)site, prev.clock = (uint32_t)clock + (uint32_t)n - 1;
            } else {
                for (uint64_t k = 0; k < n; k++) {
                    uint32_t cp;
                    if (text->i >= text->n) return WV_E_TRUNCATED;
                    size_t at = text->i;
                    if (_wv_utf8_next((const char *)text->p, text->n, &at, &cp)) return WV_E_ATOM;
                    text->i = at;
                    wv_atom a = {(uint32_t)clock + (uint32_t)k, cclock, (uint16_t)site, (uint16_t)csite,
                                 wv_tag(WV_KIND_CHAR, cp)};
                    rc = emit(out, a);
                    if (!rc && pat) {
                        uint32_t dc = (uint32_t)(pat == PAT_UP ? d + (int64_t)k : d - (int64_t)k);
                        rc = emit(out, (wv_atom){dc, a.clock, (uint16_t)dsite, a.site, wv_tag(WV_KIND_DELETE, 0)});
                    }
                    if (rc) return rc;
                    cclock = a.clock, csite = a.site, prev = a;
                }
            }
            last = pat ? (uint32_t)(pat == PAT_UP ? d + (int64_t)n - 1 : d) : (uint32_t)clock + (uint32_t)n - 1;
            seen += pat ? 2 * n : n;
        } else if ((h & 3) == SEG_DELETE_RUN) {
            uint64_t n = h >> 3;
            int down = (int)(h >> 2 & 1);
            if (n < 2 || n > count - seen) return WV_E_SIZE;
            if (document) return WV_E_CORRUPT; /* a delete hugs its target there: no runs of them */
            uint32_t tsite = get_u32(st[ST_SITE]), site;
            int64_t t, d;
            if (ids) { /* the cause: the first delete's clock less the first target's */
                int rc = next_id(st, ids, ST_DEL, 0, &site, &d);
                if (rc) return rc;
                if (down) d += (int64_t)n - 1;
                t = d - (int64_t)get_u32(st[ST_CAUSE]);
            } else {
                t = (int64_t)last + get_step(st[ST_CAUSE]);
                site = get_u32(st[ST_SITE]), d = (int64_t)last + get_step(st[ST_DEL]);
            }
            if (st_err(st)) break;
            int64_t dend = down ? d - (int64_t)n + 1 : d + (int64_t)n - 1;
            if (tsite == 0 || tsite >= nsites || site == 0 || site >= nsites || t <= 0 ||
                t + (int64_t)n - 1 > UINT32_MAX || d <= 0 || d > UINT32_MAX || dend <= 0 || dend > UINT32_MAX)
                return WV_E_FORMAT;
            for (uint64_t k = 0; k < n; k++) {
                uint32_t dc = (uint32_t)(down ? d - (int64_t)k : d + (int64_t)k);
                int rc = emit(out, (wv_atom){dc, (uint32_t)(t + (int64_t)k), (uint16_t)site,
                                                  (uint16_t)tsite, wv_tag(WV_KIND_DELETE, 0)});
                if (rc) return rc;
            }
            last = (uint32_t)dend;
            seen += n;
        } else { /* SEG_ATOMS */
            uint64_t n = h >> 3;
            if (n == 0 || !fits(st, n, per_atom[ids != NULL]) || (ids && n > ids->n - ids->next) || n > count - seen)
                return WV_E_SIZE;
            if (h & 4) return WV_E_FORMAT;
            for (uint64_t k = 0; k < n; k++) {
                uint32_t kind = get_u32(st[ST_ATOM]), value = get_u32(st[ST_ATOM]), site = 0;
                int64_t clock = 0;
                int rc = next_id(st, ids, ST_CLOCK, last, &site, &clock);
                uint32_t csite = get_u32(st[ST_SITE]), back = get_u32(st[ST_CAUSE]);
                if (!rc) rc = st_err(st);
                if (rc) return rc;
                if (site == 0 || site >= nsites || csite >= nsites || clock <= 0 || clock > UINT32_MAX)
                    return WV_E_FORMAT;
                if (kind == WV_KIND_ROOT || kind > WV_KIND_LAST || !wv_kind_value_ok(kind, value)) return WV_E_ATOM;
                if (back == 0 || back > clock) return WV_E_CLOCK;
                wv_atom a = {(uint32_t)clock, (uint32_t)(clock - back), (uint16_t)site, (uint16_t)csite,
                             wv_tag(kind, value)};
                rc = emit(out, a);
                if (rc) return rc;
                last = a.clock, prev = a;
            }
            seen += n;
        }
    }
    int rc = st_err(st);
    if (rc) return rc;
    if (seen != count) return WV_E_SIZE;
    return WV_OK;
}

/* Documents: atoms go straight into a builder; a target's deleted bit is
 * settled when the next atom arrives, so each atom is pushed once, final. */
typedef struct doc_sink {
    wv_build *b;
    wv_atom pending;
    int has_pending;
    uint32_t *top; /* highest clock per site: the weft */
} doc_sink;

static int doc_emit(void *s, wv_atom a) {
    doc_sink *ds = s;
    if (a.clock > ds->top[a.site]) ds->top[a.site] = a.clock;
    if (wv_atom_kind(a) == WV_KIND_DELETE) {
        if (ds->has_pending && wv_atom_caused_by(a, ds->pending)) ds->pending.tag |= WV_DELETED_BIT;
    }
    if (ds->has_pending) _wv_build_push(ds->b, ds->pending);
    ds->pending = a, ds->has_pending = 1;
    return ds->b->err;
}

/* Deltas: atoms become wv_atom_info with global ids, for wv_apply. */
typedef struct info_sink {
    const wv_sites *sites;
    const wv_alloc *al;
    wv_atom_info *x;
    size_t n, cap;
} info_sink;

static int info_emit(void *s, wv_atom a) {
    info_sink *is = s;
    if (is->n == is->cap) { /* grows with the atoms met, not with the count declared */
        wv_atom_info *x = grow(is->al, is->x, &is->cap, sizeof *x);
        if (!x) return WV_E_NOMEM;
        is->x = x;
    }
    is->x[is->n++] = (wv_atom_info){is->sites->ids[a.site], a.clock, is->sites->ids[a.csite], a.cclock,
                                    (wv_kind)wv_atom_kind(a), wv_atom_value(a), 0};
    return WV_OK;
}

/* The most atoms a delta of `bytes` bytes (of body, or of streams) can hold:
 * two a byte (a char and its delete), plus runs of deletes of consecutive
 * targets, which cost a few bytes however long: each site may delete each
 * atom the bytes carry or the receiver holds. */
static uint64_t delta_atoms_max(uint64_t bytes, uint64_t nsites, uint64_t held) {
    uint64_t carried = 2 * bytes, targets = carried + held;
    if (targets && nsites > (UINT64_MAX - carried) / targets) return UINT64_MAX;
    return carried + nsites * targets;
}

/* Documents, fast path. A document is read a second way first: as runs,
 * with the invariants of DESIGN.md §1 checked run by run instead of atom by
 * atom. It keeps the path from the root as a stack of chains (a chain: atoms
 * c0 .. c0 + len - 1 of one site, each caused by the one before, as a run of
 * chars is), so a run costs one frame and a few comparisons; ids are unique
 * by construction (get_ids). It reads version 3 only and accepts only what
 * _wv_validate accepts; anything else (structure atoms, or any doubt)
 * answers FALLBACK, and the document is read again atom by atom and
 * validated in full, which gives the exact error.
 * Checks, as check.c's walk makes them: the cause is on the path (popping
 * closes what it passes); kinds may cause; clocks increase down each edge;
 * siblings in order (the chain's next atom is the last child of a link
 * inside it); a delete's target is the atom written just before it or is
 * already deleted, so every deleted bit is right by construction. */
#define FALLBACK 1

typedef struct chain {
    wv_atom last_child; /* the tail's, when has_child */
    uint32_t c0, len;
    uint16_t site;
    uint8_t kind, pat, has_child, has_delete;
} chain;

typedef struct fast_sink {
    wv_build *b;
    const wv_alloc *al;
    chain *stack;
    size_t depth, cap;
    /* The builder's chunk being filled, written directly: room slots free
     * from o on, w atoms (vis of them visible) written since its counts were
     * last told (fast_tell). Chunks change only when one is full. */
    wv_atom *o;
    uint32_t room, w, vis;
    /* The last atom written when it is a char a delete may yet target (a
     * run's last): its deleted bit is set in place. NULL otherwise. */
    wv_atom *last;
} fast_sink;

/* The frame holding atom (site, clock) on the path, popping those above it;
 * a chain cut inside keeps the link after the cut as its tail's last child. */
static chain *fast_find(fast_sink *f, uint32_t site, uint32_t clock) {
    for (; f->depth; f->depth--) {
        chain *t = &f->stack[f->depth - 1];
        if (t->site != site || clock - t->c0 >= t->len) continue;
        if (clock - t->c0 != t->len - 1) {
            t->last_child = (wv_atom){clock + 1, clock, (uint16_t)site, (uint16_t)site, wv_tag(WV_KIND_CHAR, 0)};
            t->has_child = 1, t->has_delete = t->pat, t->len = clock - t->c0 + 1;
        }
        return t;
    }
    return NULL;
}

/* Tells the builder what was written to its chunk. */
static void fast_tell(fast_sink *f) {
    if (f->w) _wv_build_wrote(f->b, f->w, f->vis);
    f->w = f->vis = 0;
}
/* Writes atom a (vis: 1 if visible) at the cursor, moving to the next
 * chunk when this one is full. */
static int fast_put(fast_sink *f, wv_atom a, uint32_t vis) {
    if (!f->room) {
        fast_tell(f);
        if (!(f->o = _wv_build_slots(f->b, &f->room))) return f->b->err;
    }
    *f->o++ = a;
    f->room--, f->w++, f->vis += vis;
    return WV_OK;
}

static int fast_run(void *s, const run_desc *r, rd *text) {
    fast_sink *f = s;
    chain *t = fast_find(f, r->csite, r->cclock);
    if (!t || r->clock <= r->cclock || !wv_kind_may_cause(t->kind, WV_KIND_CHAR)) return FALLBACK;
    wv_atom first = {r->clock, r->cclock, (uint16_t)r->site, (uint16_t)r->csite, wv_tag(WV_KIND_CHAR, 0)};
    if (t->has_child && wv_sibling_cmp(t->last_child, first) >= 0) return FALLBACK;
    t->has_child = 1, t->last_child = first;
    uint32_t tail = r->clock + r->n - 1, dtail = 0; /* dtail: the last char's delete */
    if (r->pat) {
        dtail = r->pat == PAT_UP ? r->d + (r->n - 1) : r->d - (r->n - 1);
        if ((r->pat == PAT_UP ? r->d : dtail) <= (r->pat == PAT_UP ? r->clock : tail)) return FALLBACK;
    }
    /* The cause is t's tail now (fast_find cuts t there). A run that goes on
     * from it (its site, the next clock) with t's kind of chars (all
     * deleted, or all visible and the tail too) lengthens t: a text's
     * pieces, cut by inserts, stay one frame, not one each. A later cut
     * inside t leaves what the frames would. */
    const uint8_t pat1 = (uint8_t)(r->pat != 0);
    const wv_atom dlast = {dtail, tail, (uint16_t)r->dsite, (uint16_t)r->site, wv_tag(WV_KIND_DELETE, 0)};
    if (r->clock == r->cclock + 1 && r->csite == r->site && t->kind == WV_KIND_CHAR && t->pat == pat1 &&
        (pat1 || !t->has_delete)) {
        t->len += r->n, t->last_child = dlast, t->has_child = t->has_delete = pat1;
    } else {
        if (f->depth == f->cap) {
            chain *stack = grow(f->al, f->stack, &f->cap, sizeof *stack);
            if (!stack) return WV_E_NOMEM;
            f->stack = stack;
        }
        f->stack[f->depth++] = (chain){dlast, r->clock, r->n, (uint16_t)r->site, WV_KIND_CHAR, pat1, pat1, pat1};
    }
    /* The atoms: each char and, in a pattern, its delete. ASCII chars go
     * in blocks written in place as words (word): a char's clocks step by
     * one add, its sites and tag are a template with the char's byte at the
     * value's place; a run's first char then gets the run's cause. A char
     * past ASCII and a pair across two chunks go one at a time. */
    const uint8_t *p = text->p;
    size_t i = text->i, end = text->n;
    const uint16_t site = (uint16_t)r->site, dsite = (uint16_t)r->dsite;
    const uint32_t n = r->n, dstep = r->pat == PAT_UP ? 1 : (uint32_t)-1;
    const uint32_t pat = r->pat != 0, tag = wv_tag(WV_KIND_CHAR, 0) | (pat ? WV_DELETED_BIT : 0);
    const uint32_t dtag = wv_tag(WV_KIND_DELETE, 0);
    const uint64_t one = clocks(1, 1), dwstep = r->pat == PAT_UP ? one : clocks(0, 1) - clocks(1, 0);
    const uint64_t cw1 = sites_tag(site, site, tag), dw1 = sites_tag(dsite, site, dtag);
    const unsigned vshift = little_endian() ? 32 : 0; /* the value's place in cw1 */
    uint32_t ck = r->clock, cause = r->cclock, dc = r->d;
    uint16_t csite = (uint16_t)r->csite;
    f->last = NULL;
    for (uint32_t k = 0; k < n;) {
        uint32_t m = (f->room >> pat) < n - k ? f->room >> pat : n - k;
        if (m > end - i) m = (uint32_t)(end - i);
        if (m == 0 || p[i] >= 0x80) {
            uint32_t cp;
            if (i >= end || _wv_utf8_next((const char *)p, end, &i, &cp)) return FALLBACK; /* the slow path says why */
            int rc = fast_put(f, (wv_atom){ck, cause, site, csite, tag | cp}, !pat);
            if (!rc && pat) rc = fast_put(f, (wv_atom){dc, ck, dsite, site, dtag}, 0), dc += dstep;
            if (rc) return rc;
            cause = ck++, csite = site, k++;
            continue;
        }
        uint8_t *o = (uint8_t *)f->o;
        uint64_t cw0 = clocks(ck, ck - 1), dw0 = clocks(dc, ck);
        uint32_t j = 0;
        if (pat) {
            for (; j < m && p[i + j] < 0x80; j++, o += 32, cw0 += one, dw0 += dwstep) {
                uint64_t c1 = cw1 | (uint64_t)p[i + j] << vshift;
                memcpy(o, &cw0, 8), memcpy(o + 8, &c1, 8), memcpy(o + 16, &dw0, 8), memcpy(o + 24, &dw1, 8);
            }
            dc += j * dstep;
        } else {
            for (; j < m && p[i + j] < 0x80; j++, o += 16, cw0 += one) {
                uint64_t c1 = cw1 | (uint64_t)p[i + j] << vshift;
                memcpy(o, &cw0, 8), memcpy(o + 8, &c1, 8);
            }
            f->vis += j;
        }
        if (k == 0) f->o->cclock = cause, f->o->csite = csite; /* j >= 1 here */
        ck += j, cause = ck - 1, csite = site;
        f->o += j << pat, f->room -= j << pat, f->w += j << pat;
        i += j, k += j;
    }
    if (!pat) f->last = f->o - 1;
    text->i = i;
    return WV_OK;
}

/* Sets the deleted bit of the char f->last, which a delete targets. It is
 * in the chunk being filled (the cursor moves on only to write), so its
 * count is still in f->vis. */
static void fast_unsee(fast_sink *f) {
    f->last->tag |= WV_DELETED_BIT;
    f->vis--;
}

static int fast_emit(void *s, wv_atom a) {
    fast_sink *f = s;
    if (wv_atom_kind(a) != WV_KIND_DELETE) return FALLBACK; /* structure atoms: the slow path */
    chain *t = fast_find(f, a.csite, a.cclock);
    if (!t || a.clock <= a.cclock || !wv_kind_may_cause(t->kind, WV_KIND_DELETE)) return FALLBACK;
    if (t->has_child && wv_sibling_cmp(t->last_child, a) >= 0) return FALLBACK;
    if (f->last && wv_atom_caused_by(a, *f->last)) fast_unsee(f);
    else if (!t->has_delete) return FALLBACK; /* its deleted bit is already written */
    t->has_child = t->has_delete = 1, t->last_child = a;
    f->last = NULL;
    return fast_put(f, a, 0);
}

/* Reads the atoms (version 3, ids read) as runs into b: WV_OK (valid in
 * full), FALLBACK, or an error of the bytes or of memory. */
static int fast_document(rd *const *st, uint64_t count, uint32_t nsites, ids_r *ids, wv_build *b,
                         const wv_alloc *al) {
    fast_sink f = {b, al, NULL, 0, 0, NULL, 0, 0, 0, NULL};
    int rc = (f.stack = grow(al, NULL, &f.cap, sizeof *f.stack)) ? WV_OK : WV_E_NOMEM;
    if (!rc) {
        f.stack[f.depth++] = (chain){{0}, 0, 1, 0, WV_KIND_ROOT, 0, 0, 0};
        _wv_build_push(b, (wv_atom){0, 0, 0, 0, wv_tag(WV_KIND_ROOT, 0)});
        rc = b->err;
    }
    if (!rc) rc = get_atoms(st, count, nsites, ids, 1, &f, fast_emit, fast_run);
    if (!rc) fast_tell(&f);
    wv_free(al, f.stack, f.cap * sizeof *f.stack);
    return rc;
}

/* The body of document bytes, framing and checksum already checked. */
static int decode_document(rd *rp, int version, wv_doc **out, const wv_options *opt) {
    rd r = *rp;
    wv_doc *d;
    int rc = wv_doc_new(&d, 1, opt); /* a shell; its parts are replaced below */
    if (rc) return rc;
    const wv_alloc *al = &d->alloc;
    wv_sites s = {0};
    if ((rc = get_sites(&r, &s, al))) {
        wv_doc_free(d);
        return rc;
    }
    uint64_t self = get_varint(&r), clock = get_varint(&r), count = get_varint(&r);
    streams st;
    memset(&st, 0, sizeof st);
    if (!rc) rc = r.err;
    if (!rc && (self == 0 || self >= s.n)) rc = WV_E_FORMAT;
    if (!rc && clock > UINT32_MAX) rc = WV_E_FORMAT;
    if (!rc) rc = get_streams(&r, version, &st, al);
    if (!rc && count > 2 * st.raw) rc = WV_E_SIZE;
    if (!rc && count > UINT32_MAX - 1) rc = WV_E_LIMIT;
    ids_r ids = {0}, *idp = version == VERSION_STREAMS ? &ids : NULL; /* version 1: ids inline */
    if (!rc && idp) rc = get_ids(st.st, count, s.n, idp, s.weft, al);
    wv_build b;
    _wv_build_init(&b, al, NULL, 0);
    if (!rc) _wv_build_expect(&b, count);
    int fast = 0;
    if (!rc && idp) { /* runs first; on FALLBACK again from the same bytes, atom by atom */
        rd saved[NST], body = r;
        for (int c = 0; c < NST; c++) saved[c] = *st.st[c];
        rc = fast_document(st.st, count, s.n, idp, &b, al);
        if (!rc && !streams_done(&st, &r)) rc = FALLBACK;
        fast = !rc;
        if (rc == FALLBACK) {
            r = body, ids.next = 0;
            for (int c = 0; c < NST; c++) *st.st[c] = saved[c];
            _wv_build_discard(&b);
            _wv_build_init(&b, al, NULL, 0);
            _wv_build_expect(&b, count);
            rc = WV_OK;
        }
    }
    doc_sink ds = {&b, {0}, 1, s.weft}; /* the root is pending first */
    ds.pending = (wv_atom){0, 0, 0, 0, wv_tag(WV_KIND_ROOT, 0)};
    if (!rc && !fast) rc = get_atoms(st.st, count, s.n, idp, 1, &ds, doc_emit, NULL);
    if (!rc && !fast && !streams_done(&st, &r)) rc = WV_E_FORMAT;
    streams_free(&st, al);
    wv_free(al, ids.s, ids.cap * sizeof *ids.s);
    if (!rc && !fast) {
        _wv_build_push(&b, ds.pending);
        rc = b.err;
    }
    if (!rc) {
        _wv_chunks_free(d); /* the shell's root chunk */
        rc = _wv_build_commit(d, &b, 0, 0);
    }
    if (rc) {
        _wv_build_discard(&b);
        _wv_sites_free(&s, al);
        wv_doc_free(d);
        return rc;
    }
    _wv_sites_free(&d->sites, al);
    d->sites = s;
    d->self = (uint16_t)self;
    d->clock = (uint32_t)clock;
    if (d->clock < _wv_sites_max_clock(&d->sites)) rc = WV_E_CLOCK;
    if (!rc && !fast) rc = _wv_validate(d, NULL, 0);
    if (rc) {
        wv_doc_free(d);
        return rc;
    }
    *out = d;
    return WV_OK;
}

int wv_decode(wv_doc **out, const void *src, size_t len, const wv_options *opt) {
    if (!out || (!src && len)) return WV_E_ARG;
    rd r;
    int version, rc = open_bytes(&r, src, len, WV_BYTES_DOCUMENT, &version);
    return rc < 0 ? rc : decode_document(&r, version, out, opt);
}

int wv_apply_bytes(wv_doc *d, const void *src, size_t len) {
    if (!d || (!src && len)) return WV_E_ARG;
    rd r;
    int version, kind = open_bytes(&r, src, len, 0, &version);
    if (kind < 0) return kind;
    if (kind == WV_BYTES_DOCUMENT) {
        wv_doc *other = NULL;
        wv_options opt;
        wv_options_default(&opt);
        opt.alloc = &d->alloc;
        int rc = decode_document(&r, version, &other, &opt); /* framing checked above */
        if (!rc) rc = wv_merge(d, other);
        wv_doc_free(other);
        return rc;
    }
    if (kind != WV_BYTES_DELTA) return WV_E_FORMAT;
    wv_sites s = {0};
    int rc = get_sites(&r, &s, &d->alloc);
    if (rc) return rc;
    uint64_t count = get_varint(&r);
    streams st;
    memset(&st, 0, sizeof st);
    rc = r.err;
    if (!rc) rc = get_streams(&r, version, &st, &d->alloc);
    if (!rc && count > delta_atoms_max(st.raw, s.n, d->natoms)) rc = WV_E_SIZE;
    ids_r ids = {0}, *idp = version == VERSION_STREAMS ? &ids : NULL; /* version 1: ids inline */
    if (!rc && idp) rc = get_ids(st.st, count, s.n, idp, NULL, &d->alloc);
    info_sink is = {&s, &d->alloc, NULL, 0, 0};
    if (!rc) rc = get_atoms(st.st, count, s.n, idp, 0, &is, info_emit, NULL);
    if (!rc && !streams_done(&st, &r)) rc = WV_E_FORMAT;
    streams_free(&st, &d->alloc);
    wv_free(&d->alloc, ids.s, ids.cap * sizeof *ids.s);
    if (!rc) rc = wv_apply(d, is.x, is.n);
    wv_free(&d->alloc, is.x, is.cap * sizeof *is.x);
    _wv_sites_free(&s, &d->alloc);
    return rc;
}

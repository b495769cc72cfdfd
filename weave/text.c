/* text.c — local text edits at visible positions, and reading the text.
 *
 * Insert after visible position p: the new atom's cause is the character at
 * p - 1 (the root for p = 0) and, being the newest atom, it goes right after
 * its cause's children that outrank a char (its deletes). A string is a run
 * of atoms each caused by the previous, inserted as one contiguous run.
 * Delete: one delete atom per character, right after its target.
 *
 * Both edit one chunk in place when the result fits it, else rewrite the
 * chunks they touch through a planned builder; either way every allocation
 * happens before the first change, so an error leaves the replica as it was.
 */
#include <string.h>
#include "internal.h"
#include "utf8.h"

/* Sizes of the rewrite of `total` atoms; heap only for long rewrites. */
typedef struct plan_buf {
    uint32_t stack[64], *p;
    size_t cap, n;
} plan_buf;

static int plan_make(plan_buf *pb, const wv_doc *d, size_t total, size_t h1, size_t h2) {
    pb->cap = WV_PLAN_MAX(total);
    pb->p = pb->stack;
    if (pb->cap > 64 && !(pb->p = wv_malloc(&d->alloc, wv_mul(pb->cap, sizeof *pb->p))))
        return WV_E_NOMEM;
    pb->n = _wv_plan(pb->p, total, h1, h2);
    return WV_OK;
}

static void plan_free(plan_buf *pb, const wv_doc *d) {
    if (pb->p != pb->stack) wv_free(&d->alloc, pb->p, pb->cap * sizeof *pb->p);
}

/* Writes chars decoded from s[*i..len) to dst, at most room of them, each
 * caused by *cause (then by the one before it) and clocked from *clock + 1;
 * advances *i, *cause and *clock. Returns the atoms written. */
static uint32_t put_run(wv_atom *dst, uint32_t room, uint16_t self, wv_atom *cause, uint32_t *clock,
                        const char *s, size_t len, size_t *i) {
    uint32_t k = 0, cp;
    for (; k < room && *i < len; k++) {
        if ((unsigned char)s[*i] < 0x80) cp = (unsigned char)s[(*i)++];
        else (void)_wv_utf8_next(s, len, i, &cp); /* validated by the caller */
        dst[k] = (wv_atom){++*clock, cause->clock, self, cause->site, wv_tag(WV_KIND_CHAR, cp)};
        *cause = dst[k];
    }
    return k;
}

static void created(wv_doc *d, size_t n) {
    d->clock += (uint32_t)n;
    d->sites.weft[d->self] = d->clock;
}

int wv_text_insert(wv_doc *d, size_t pos, const char *s, size_t len) {
    if (!d || (!s && len)) return WV_E_ARG;
    if (pos > d->nvis - d->nvis_struct) return WV_E_RANGE;
    pos += d->nvis_struct; /* the root text follows the structures */
    size_t m;
    if (_wv_utf8_count(s, len, &m)) return WV_E_UTF8;
    if (m == 0) return WV_OK;
    int rc = _wv_clock_reserve(d, m);
    if (rc) return rc;

    size_t vb = 0;   /* visible atoms before the cause's chunk */
    uint32_t vk = 0; /* and before the cause in its chunk */
    wv_pos cp = pos > d->nvis_struct ? _wv_locate_visible_at(d, pos - 1, &vb, &vk) : (wv_pos){0, 0};
    wv_atom cause = *_wv_at(d, cp);
    wv_pos p = _wv_next(d, cp);
    while (p.c < d->nchunks) { /* skip the cause's children that outrank a char */
        wv_atom x = *_wv_at(d, p);
        if (!wv_atom_caused_by(x, cause) ||
            wv_kind_priority(wv_atom_kind(x)) <= wv_kind_priority(WV_KIND_CHAR))
            break;
        p = _wv_block_end(d, p);
    }
    if (p.k == 0) p.c--, p.k = d->chunks[p.c].len; /* append to the chunk before */
    wv_chunk *ch = &d->chunks[p.c];
    /* before the new atoms: the cause (if visible) and its deletes, or in a
     * later chunk only deletes of the cause */
    uint32_t vk_at = p.c == cp.c ? vk + (uint32_t)wv_atom_visible(cause) : 0;
    size_t vb_at = p.c == cp.c ? vb : vb + vk + (size_t)wv_atom_visible(cause);
    if (d->nvis_struct && cause.clock == 0) { /* skipped the structures' chars too */
        vb_at = _wv_visible_before(d, p.c);
        vk_at = (uint32_t)(_wv_visible_before_pos(d, p) - vb_at);
    }

    if (ch->len + m <= WV_CHUNK_CAP) { /* in place */
        if ((rc = _wv_chunk_room(d, p.c, (uint32_t)m))) return rc;
        memmove(ch->a + p.k + m, ch->a + p.k, (ch->len - p.k) * sizeof *ch->a);
        uint32_t clock = d->clock;
        size_t i = 0;
        (void)put_run(ch->a + p.k, (uint32_t)m, d->self, &cause, &clock, s, len, &i);
        ch->len += (uint32_t)m;
        d->natoms += m;
        _wv_fen_add(d, p.c, (int32_t)m);
        d->version++;
        _wv_set_hint(d, (wv_pos){p.c, p.k + (uint32_t)m}, vb_at, vk_at + (uint32_t)m);
    } else { /* rewrite the chunk into planned chunks */
        plan_buf pb;
        wv_build b;
        if ((rc = plan_make(&pb, d, ch->len + m, p.k, p.k + m))) return rc;
        _wv_build_init(&b, &d->alloc, pb.p, pb.n);
        rc = _wv_build_reserve(&b, pb.n);
        if (!rc) {
            uint32_t clock = d->clock, room, k;
            size_t i = 0;
            wv_atom *dst;
            _wv_build_push_n(&b, ch->a, p.k);
            while (i < len && (dst = _wv_build_slots(&b, &room))) {
                k = put_run(dst, room, d->self, &cause, &clock, s, len, &i);
                _wv_build_wrote(&b, k, k);
            }
            _wv_build_push_n(&b, ch->a + p.k, ch->len - p.k);
            if ((rc = _wv_build_commit(d, &b, p.c, 1))) _wv_build_discard(&b);
        }
        plan_free(&pb, d);
        if (rc) return rc;
        _wv_set_hint(d, (wv_pos){p.c, p.k + (uint32_t)m}, vb_at, vk_at + (uint32_t)m);
    }
    created(d, m);
    return WV_OK;
}

/* Writes the n atoms of src to dst (room for n + *left), with a delete
 * atom after each of the first *left visible atoms, clocked from *clock + 1;
 * advances *clock and lowers *left by the targets found. Returns the atoms
 * written. */
static uint32_t put_deleting(wv_atom *dst, uint16_t self, uint32_t *clock, const wv_atom *src,
                             uint32_t n, size_t *left) {
    uint32_t w = 0, k = 0;
    for (; k < n && *left; k++) {
        wv_atom a = src[k];
        if (wv_atom_visible(a)) {
            a.tag |= WV_DELETED_BIT;
            dst[w++] = a;
            a = (wv_atom){++*clock, a.clock, self, a.site, wv_tag(WV_KIND_DELETE, 0)};
            --*left;
        }
        dst[w++] = a;
    }
    memcpy(dst + w, src + k, (n - k) * sizeof *src);
    return w + (n - k);
}

int wv_text_delete(wv_doc *d, size_t pos, size_t n) {
    if (!d) return WV_E_ARG;
    if (pos > d->nvis - d->nvis_struct || n > d->nvis - d->nvis_struct - pos) return WV_E_RANGE;
    if (n == 0) return WV_OK;
    pos += d->nvis_struct;
    int rc = _wv_clock_reserve(d, n);
    if (rc) return rc;

    size_t vb;
    uint32_t vk;
    wv_pos p0 = _wv_locate_visible_at(d, pos, &vb, &vk);
    wv_pos p1 = n == 1 ? p0 : _wv_locate_visible(d, pos + n - 1);
    uint32_t clock = d->clock;
    wv_chunk *ch = &d->chunks[p0.c];
    if (p0.c == p1.c && ch->len + n <= WV_CHUNK_CAP) { /* in place */
        if ((rc = _wv_chunk_room(d, p0.c, (uint32_t)n))) return rc;
        if (n == 1) { /* one char: shift the rest by one slot */
            wv_atom *t = &ch->a[p0.k];
            memmove(t + 2, t + 1, (ch->len - p0.k - 1) * sizeof *t);
            t->tag |= WV_DELETED_BIT;
            t[1] = (wv_atom){++clock, t->clock, d->self, t->site, wv_tag(WV_KIND_DELETE, 0)};
            ch->len++;
        } else {
            wv_atom tmp[WV_CHUNK_CAP]; /* the atoms from the first target on */
            uint32_t tail = ch->len - p0.k;
            size_t left = n;
            memcpy(tmp, ch->a + p0.k, tail * sizeof *tmp);
            ch->len = p0.k + put_deleting(ch->a + p0.k, d->self, &clock, tmp, tail, &left);
        }
        d->natoms += n;
        _wv_fen_add(d, p0.c, -(int32_t)n);
        d->version++;
        _wv_set_hint(d, p0, vb, vk);
    } else { /* rewrite chunks p0.c .. p1.c */
        size_t before_last = 0; /* atoms of the region before chunk p1.c */
        for (size_t c = p0.c; c < p1.c; c++) before_last += d->chunks[c].len;
        size_t total = before_last + d->chunks[p1.c].len + n;
        plan_buf pb;
        wv_build b;
        if ((rc = plan_make(&pb, d, total, p0.k + 1, before_last + p1.k + n + 1))) return rc;
        _wv_build_init(&b, &d->alloc, pb.p, pb.n);
        rc = _wv_build_reserve(&b, pb.n);
        if (!rc) {
            wv_atom tmp[2 * WV_CHUNK_CAP];
            size_t left = n;
            _wv_build_push_n(&b, d->chunks[p0.c].a, p0.k); /* before the first target */
            for (size_t c = p0.c; c <= p1.c; c++) {
                uint32_t from = c == p0.c ? p0.k : 0;
                _wv_build_push_n(&b, tmp, put_deleting(tmp, d->self, &clock, d->chunks[c].a + from,
                                                       d->chunks[c].len - from, &left));
            }
            if ((rc = _wv_build_commit(d, &b, p0.c, p1.c - p0.c + 1))) _wv_build_discard(&b);
        }
        plan_free(&pb, d);
        if (rc) return rc;
        _wv_set_hint(d, p0, vb, vk);
    }
    created(d, n);
    return WV_OK;
}

size_t wv_text_len(const wv_doc *d) { return d ? d->nvis - d->nvis_struct : 0; }

/* Bytes of UTF-8 for a code point; 0 for an atom that is not visible text. */
static inline size_t text_bytes(wv_atom a) {
    uint32_t v = wv_atom_value(a);
    return (size_t)wv_atom_visible(a) * (1 + (v >= 0x80) + (v >= 0x800) + (v >= 0x10000));
}

size_t wv_text_read(const wv_doc *d, char *dst, size_t cap) {
    size_t n = 0;
    if (!d) {
        if (cap) dst[0] = 0;
        return 0;
    }
    wv_pos p0 = d->nvis > d->nvis_struct ? _wv_locate_visible(d, d->nvis_struct) : (wv_pos){d->nchunks, 0};
    for (size_t c = p0.c; c < d->nchunks; c++) {
        const wv_chunk *ch = &d->chunks[c];
        if (!ch->vis) continue;
        _wv_prefetch_next(d->chunks, c, d->nchunks);
        const wv_atom *a = ch->a + (c == p0.c ? p0.k : 0), *e = ch->a + ch->len;
        if (n >= cap) { /* counting only */
            for (; a < e; a++) n += text_bytes(*a);
        } else if (cap - n > (size_t)(e - a) * 4) { /* the whole chunk fits, NUL too */
            if (ch->vis == ch->len) { /* visible chars only: all ASCII, a byte each */
                uint32_t any = 0;
                for (const wv_atom *x = a; x < e; x++) any |= wv_atom_value(*x);
                if (any < 0x80)
                    for (; a < e; a++) dst[n++] = (char)wv_atom_value(*a);
            }
            for (; a < e; a++) {
                uint32_t v = wv_atom_value(*a), vis = (uint32_t)wv_atom_visible(*a);
                if (v < 0x80) dst[n] = (char)v, n += vis; /* kept only when visible */
                else if (vis) n += _wv_utf8_put(v, dst + n);
            }
        } else {
            for (; a < e; a++) {
                size_t w = text_bytes(*a);
                if (w && n + w < cap) _wv_utf8_put(wv_atom_value(*a), dst + n);
                else if (w && n < cap) cap = n + 1; /* stop writing at the first char that does not fit */
                n += w;
            }
        }
    }
    if (cap) dst[n < cap ? n : cap - 1] = 0;
    return n;
}

/* ---- splicing: the structures' edits ------------------------------------- */

int _wv_splice(wv_doc *d, const wv_ins *ins, size_t k) {
    if (k == 0) return WV_OK;
    /* the old atoms of chunks c0..c1, as offsets from c0's first */
    size_t c0 = ins[0].at.c < d->nchunks ? ins[0].at.c : d->nchunks - 1;
    if (ins[0].at.k == 0 && c0 > 0) c0--; /* a delete there marks the atom before */
    size_t c1 = ins[k - 1].at.c < d->nchunks ? ins[k - 1].at.c : d->nchunks - 1;
    size_t old = 0, added = 0, off[2];
    for (size_t c = c0; c <= c1; c++) old += d->chunks[c].len;
    for (size_t i = 0; i < k; i++) added += ins[i].n;
    for (int e = 0; e < 2; e++) {
        wv_pos at = ins[e ? k - 1 : 0].at;
        off[e] = at.k;
        for (size_t c = c0; c < at.c; c++) off[e] += d->chunks[c].len; /* at.c <= nchunks */
    }
    plan_buf pb;
    wv_build b;
    int rc = plan_make(&pb, d, old + added, off[0], off[1] + added);
    if (rc) return rc;
    _wv_build_init(&b, &d->alloc, pb.p, pb.n);
    rc = _wv_build_reserve(&b, pb.n);
    if (!rc) {
        size_t i = 0;
        for (size_t c = c0; c <= c1 + 1; c++) {
            uint32_t len = c <= c1 ? d->chunks[c].len : 1;
            for (uint32_t j = 0; j < len; j++) {
                for (; i < k && (ins[i].at.c == c && ins[i].at.k == j); i++)
                    _wv_build_push_n(&b, ins[i].a, ins[i].n);
                if (c > c1) break;
                wv_atom a = d->chunks[c].a[j];
                /* a lone delete inserted right after its target marks it */
                wv_pos nx = j + 1 < len ? (wv_pos){c, j + 1} : (wv_pos){c + 1, 0};
                if (i < k && ins[i].n == 1 && wv_atom_kind(ins[i].a[0]) == WV_KIND_DELETE &&
                    ins[i].at.c == nx.c && ins[i].at.k == nx.k)
                    a.tag |= WV_DELETED_BIT;
                _wv_build_push(&b, a);
            }
        }
        if (i != k) rc = WV_E_ARG; /* positions not ascending within the chunks */
        if (rc || (rc = _wv_build_commit(d, &b, c0, c1 - c0 + 1))) _wv_build_discard(&b);
    }
    plan_free(&pb, d);
    return rc;
}

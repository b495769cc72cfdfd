/* doc.c — replica lifecycle (new, fork, free), accessors and iteration. */
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>
#include "internal.h"

void wv_options_default(wv_options *opt) {
    if (opt) memset(opt, 0, sizeof *opt);
}

static void doc_free_parts(wv_doc *d) {
    _wv_chunks_free(d);
    _wv_sites_free(&d->sites, &d->alloc);
}

void wv_doc_free(wv_doc *d) {
    if (!d) return;
    wv_alloc a = d->alloc;
    doc_free_parts(d);
    wv_free(&a, d, sizeof *d);
}

/* An empty shell: allocator set, no sites, no chunks. */
static wv_doc *doc_alloc(const wv_alloc *a) {
    wv_doc *d = wv_malloc(a, sizeof *d);
    if (!d) return NULL;
    memset(d, 0, sizeof *d);
    d->alloc = *a;
    return d;
}

int wv_doc_new(wv_doc **out, uint64_t site, const wv_options *opt) {
    if (!out) return WV_E_ARG;
    if (opt) {
        for (size_t i = 0; i < sizeof opt->reserved; i++)
            if (opt->reserved[i]) return WV_E_ARG;
        if (opt->alloc && (!opt->alloc->malloc || !opt->alloc->realloc || !opt->alloc->free))
            return WV_E_ARG;
        if (opt->level < -1 || opt->level > 22) return WV_E_ARG;
    }
    if (site == 0) return WV_E_SITE;
    wv_doc *d = doc_alloc(opt && opt->alloc ? opt->alloc : &_wv_default_alloc);
    if (!d) return WV_E_NOMEM;
    uint32_t pos, one = 1;
    wv_build b;
    _wv_build_init(&b, &d->alloc, &one, 1);
    int rc = _wv_sites_init(&d->sites, &d->alloc);
    if (!rc) rc = _wv_sites_insert(&d->sites, site, &pos, &d->alloc);
    if (!rc) rc = _wv_build_reserve(&b, 1);
    if (!rc) {
        _wv_build_push(&b, (wv_atom){0, 0, 0, 0, wv_tag(WV_KIND_ROOT, 0)});
        rc = _wv_build_commit(d, &b, 0, 0);
        if (rc) _wv_build_discard(&b);
    }
    if (rc) {
        wv_doc_free(d);
        return rc;
    }
    d->self = (uint16_t)pos;
    d->level = opt ? opt->level : 0;
    *out = d;
    return WV_OK;
}

/* *out := a copy of src's weave and sites, with a new site id inserted when
 * site != 0 (atoms renumbered around it) and self set to it. */
static int doc_copy(const wv_doc *src, uint64_t site, wv_doc **out) {
    wv_doc *d = doc_alloc(&src->alloc);
    if (!d) return WV_E_NOMEM;
    d->level = src->level;
    uint32_t pos = UINT32_MAX; /* renumber nothing without a new site */
    int rc = _wv_sites_copy(&d->sites, &src->sites, &d->alloc);
    if (!rc && site) rc = _wv_sites_insert(&d->sites, site, &pos, &d->alloc);
    wv_build b;
    _wv_build_init(&b, &d->alloc, NULL, 0);
    if (!rc) _wv_build_expect(&b, src->natoms);
    for (size_t c = 0; !rc && c < src->nchunks; c++) {
        const wv_chunk *ch = &src->chunks[c];
        _wv_prefetch_next(src->chunks, c, src->nchunks);
        for (uint32_t k = 0, room, vis; k < ch->len; k += room) {
            wv_atom *dst = _wv_build_slots(&b, &room);
            if (!dst) break;
            room = room < ch->len - k ? room : ch->len - k, vis = 0;
            for (uint32_t j = 0; j < room; j++) {
                wv_atom a = ch->a[k + j];
                a.site = (uint16_t)(a.site + (a.site >= pos));
                a.csite = (uint16_t)(a.csite + (a.csite >= pos));
                dst[j] = a;
                vis += (uint32_t)wv_atom_visible(a);
            }
            _wv_build_wrote(&b, room, vis);
        }
        rc = b.err;
    }
    if (!rc) rc = _wv_build_commit(d, &b, 0, 0);
    if (rc) {
        _wv_build_discard(&b);
        wv_doc_free(d);
        return rc;
    }
    d->self = site ? (uint16_t)pos : src->self;
    d->clock = src->clock;
    *out = d;
    return WV_OK;
}

int wv_doc_fork(wv_doc *src, uint64_t site, wv_doc **out) {
    if (!src || !out) return WV_E_ARG;
    if (site == 0 || _wv_sites_find(&src->sites, site) >= 0) return WV_E_SITE;
    if (src->clock == UINT32_MAX) return WV_E_LIMIT;
    int rc = doc_copy(src, site, out);
    if (!rc) (*out)->clock = ++src->clock;
    return rc;
}

int wv_doc_clone(const wv_doc *src, wv_doc **out) {
    if (!src || !out) return WV_E_ARG;
    return doc_copy(src, 0, out);
}

int _wv_replace_weave(wv_doc *d, int rc, wv_build *b, wv_sites *u, const uint16_t *map,
                      uint32_t clock) {
    if (!rc) rc = _wv_build_commit(d, b, 0, d->nchunks);
    if (rc) {
        _wv_build_discard(b);
        _wv_sites_free(u, &d->alloc);
        return rc;
    }
    d->self = map[d->self];
    _wv_sites_free(&d->sites, &d->alloc);
    d->sites = *u;
    d->clock = clock;
    return WV_OK;
}

uint64_t wv_doc_site(const wv_doc *d) { return d ? d->sites.ids[d->self] : 0; }
uint32_t wv_doc_clock(const wv_doc *d) { return d ? d->clock : 0; }
size_t wv_doc_atoms(const wv_doc *d) { return d ? d->natoms : 0; }

size_t wv_doc_bytes(const wv_doc *d) {
    if (!d) return 0;
    size_t slots = 0;
    for (size_t j = 0; j < d->nslabs; j++) slots += d->slabs[j].a ? d->slabs[j].slots : 0;
    for (size_t c = 0; c < d->nchunks; c++) slots += d->chunks[c].slab ? 0 : d->chunks[c].cap;
    return sizeof *d + slots * sizeof(wv_atom) + d->nslabs * sizeof *d->slabs +
           d->capchunks * sizeof *d->chunks + (WV_FEN_LEAVES(d->capchunks) + 1) * sizeof *d->fen +
           d->sites.cap * (sizeof *d->sites.ids + sizeof *d->sites.weft);
}

uint32_t wv_doc_weft(const wv_doc *d, uint64_t site) {
    int32_t i = d ? _wv_sites_find(&d->sites, site) : -1;
    return i < 0 ? 0 : d->sites.weft[i];
}

void wv_iter_begin(wv_iter *it, const wv_doc *d) {
    it->doc = d;
    it->chunk = it->index = 0;
    it->version = d ? d->version : 0;
}

int wv_iter_next(wv_iter *it, wv_atom_info *out) {
    const wv_doc *d = it->doc;
    if (!d) return 0;
    if (it->version != d->version) return WV_E_MODIFIED;
    if (it->chunk >= d->nchunks) return 0;
    wv_atom a = d->chunks[it->chunk].a[it->index];
    if (++it->index == d->chunks[it->chunk].len) it->chunk++, it->index = 0;
    out->site = d->sites.ids[a.site];
    out->clock = a.clock;
    out->cause_site = d->sites.ids[a.csite];
    out->cause_clock = a.cclock;
    out->kind = (wv_kind)wv_atom_kind(a);
    out->value = wv_atom_value(a);
    out->deleted = wv_atom_deleted(a);
    return 1;
}

uint64_t wv_weave_hash(const wv_doc *d) {
    if (!d) return 0;
    XXH3_state_t st;
    uint64_t buf[4 * 96]; /* 4 words an atom */
    size_t n = 0;
    (void)XXH3_64bits_reset(&st);
    for (size_t c = 0; c < d->nchunks; c++) {
        const wv_chunk *ch = &d->chunks[c];
        _wv_prefetch_next(d->chunks, c, d->nchunks);
        for (uint32_t k = 0; k < ch->len; k++) {
            wv_atom a = ch->a[k];
            buf[n++] = d->sites.ids[a.site];
            buf[n++] = d->sites.ids[a.csite];
            buf[n++] = (uint64_t)a.clock << 32 | a.cclock;
            buf[n++] = a.tag;
            if (n == sizeof buf / sizeof *buf) {
                (void)XXH3_64bits_update(&st, buf, sizeof buf);
                n = 0;
            }
        }
    }
    (void)XXH3_64bits_update(&st, buf, n * sizeof *buf);
    return XXH3_64bits_digest(&st);
}

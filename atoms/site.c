/* site.c — the sorted site table and its weft column (see site.h). */
#include <string.h>
#include "mem.h"
#include "site.h"

static int sites_reserve(wv_sites *s, uint32_t need, const wv_alloc *a) {
    if (need <= s->cap) return WV_OK;
    if (need > WV_SITES_MAX) return WV_E_LIMIT;
    uint32_t cap = s->cap ? s->cap : 4;
    while (cap < need) cap *= 2;
    if (cap > WV_SITES_MAX) cap = WV_SITES_MAX;
    uint64_t *ids = wv_malloc(a, (size_t)cap * sizeof *ids);
    uint32_t *weft = wv_malloc(a, (size_t)cap * sizeof *weft);
    if (!ids || !weft) {
        wv_free(a, ids, (size_t)cap * sizeof *ids);
        wv_free(a, weft, (size_t)cap * sizeof *weft);
        return WV_E_NOMEM;
    }
    if (s->n) {
        memcpy(ids, s->ids, s->n * sizeof *ids);
        memcpy(weft, s->weft, s->n * sizeof *weft);
    }
    wv_free(a, s->ids, (size_t)s->cap * sizeof *s->ids);
    wv_free(a, s->weft, (size_t)s->cap * sizeof *s->weft);
    s->ids = ids;
    s->weft = weft;
    s->cap = cap;
    return WV_OK;
}

int _wv_sites_init(wv_sites *s, const wv_alloc *a) {
    memset(s, 0, sizeof *s);
    int rc = sites_reserve(s, 1, a);
    if (rc) return rc;
    s->ids[0] = 0;
    s->weft[0] = 0;
    s->n = 1;
    return WV_OK;
}

void _wv_sites_free(wv_sites *s, const wv_alloc *a) {
    wv_free(a, s->ids, (size_t)s->cap * sizeof *s->ids);
    wv_free(a, s->weft, (size_t)s->cap * sizeof *s->weft);
    memset(s, 0, sizeof *s);
}

int _wv_sites_copy(wv_sites *dst, const wv_sites *src, const wv_alloc *a) {
    memset(dst, 0, sizeof *dst);
    int rc = sites_reserve(dst, src->n, a);
    if (rc) return rc;
    memcpy(dst->ids, src->ids, src->n * sizeof *src->ids);
    memcpy(dst->weft, src->weft, src->n * sizeof *src->weft);
    dst->n = src->n;
    return WV_OK;
}

/* First index whose id is >= id. */
static uint32_t lower_bound(const wv_sites *s, uint64_t id) {
    uint32_t lo = 0, hi = s->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->ids[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

int32_t _wv_sites_find(const wv_sites *s, uint64_t id) {
    uint32_t i = lower_bound(s, id);
    return i < s->n && s->ids[i] == id ? (int32_t)i : -1;
}

int _wv_sites_insert(wv_sites *s, uint64_t id, uint32_t *pos, const wv_alloc *a) {
    int rc = sites_reserve(s, s->n + 1, a);
    if (rc) return rc;
    uint32_t i = lower_bound(s, id);
    memmove(s->ids + i + 1, s->ids + i, (s->n - i) * sizeof *s->ids);
    memmove(s->weft + i + 1, s->weft + i, (s->n - i) * sizeof *s->weft);
    s->ids[i] = id;
    s->weft[i] = 0;
    s->n++;
    *pos = i;
    return WV_OK;
}

int _wv_sites_union(wv_sites *out, const wv_sites *a, const wv_sites *b,
                    uint16_t *map_a, uint16_t *map_b, const wv_alloc *al) {
    uint32_t n = 0, i = 0, j = 0;
    while (i < a->n || j < b->n) { /* count first: one exact allocation */
        if (j == b->n || (i < a->n && a->ids[i] < b->ids[j])) i++;
        else if (i == a->n || b->ids[j] < a->ids[i]) j++;
        else i++, j++;
        n++;
    }
    memset(out, 0, sizeof *out);
    int rc = sites_reserve(out, n, al);
    if (rc) return rc;
    for (i = j = n = 0; i < a->n || j < b->n; n++) {
        if (j == b->n || (i < a->n && a->ids[i] < b->ids[j])) {
            out->ids[n] = a->ids[i], out->weft[n] = a->weft[i], map_a[i++] = (uint16_t)n;
        } else if (i == a->n || b->ids[j] < a->ids[i]) {
            out->ids[n] = b->ids[j], out->weft[n] = b->weft[j], map_b[j++] = (uint16_t)n;
        } else {
            out->ids[n] = a->ids[i];
            out->weft[n] = a->weft[i] > b->weft[j] ? a->weft[i] : b->weft[j];
            map_a[i++] = (uint16_t)n, map_b[j++] = (uint16_t)n;
        }
    }
    out->n = n;
    return WV_OK;
}

uint32_t _wv_sites_max_clock(const wv_sites *s) {
    uint32_t m = 0;
    for (uint32_t i = 0; i < s->n; i++)
        if (s->weft[i] > m) m = s->weft[i];
    return m;
}

/* site.h — the site table and the weft it carries.
 * Internal: included by atoms/ and weave/ modules only.
 *
 * Sites are named globally by 64-bit ids chosen by the embedder; inside a
 * replica an atom names its site by a 16-bit index into this table. The table
 * is sorted by global id, so comparing indexes compares ids, and two replicas
 * holding the same atoms hold byte-identical weaves. Index 0 is the root's
 * pseudo-site, global id 0.
 *
 * The weft (version vector) is the table's second column: weft[i] is the
 * highest clock of site i's atoms held. A replica holds, for every site, all
 * of that site's atoms up to weft[i] and none above (replicas exchange whole
 * causal histories), so "holds atom (c, i)" is exactly c <= weft[i].
 *
 *   ids[0] == 0, ids strictly increasing, n <= WV_SITES_MAX
 */
#ifndef WV_SITE_H
#define WV_SITE_H

#include <stdint.h>
#include "weave.h"

#define WV_SITES_MAX 65536u /* indexes are u16 */

typedef struct wv_sites {
    uint64_t *ids;
    uint32_t *weft;
    uint32_t n, cap;
} wv_sites;

/* A table holding only the root's site. */
int _wv_sites_init(wv_sites *s, const wv_alloc *a);
void _wv_sites_free(wv_sites *s, const wv_alloc *a);
int _wv_sites_copy(wv_sites *dst, const wv_sites *src, const wv_alloc *a);
/* Index of global id, or -1. O(log n). */
int32_t _wv_sites_find(const wv_sites *s, uint64_t id);
/* Inserts a new global id (absent from s); *pos gets its index. Indexes at or
 * above *pos shift up by one: the caller renumbers its atoms. */
int _wv_sites_insert(wv_sites *s, uint64_t id, uint32_t *pos, const wv_alloc *a);
/* out := the union of a and b, weft entries the maxima; map_a[i] / map_b[i]
 * get the union index of a's / b's index i. Returns WV_OK, WV_E_NOMEM, or
 * WV_E_LIMIT past WV_SITES_MAX sites. */
int _wv_sites_union(wv_sites *out, const wv_sites *a, const wv_sites *b,
                    uint16_t *map_a, uint16_t *map_b, const wv_alloc *al);
/* Highest clock in the weft. */
uint32_t _wv_sites_max_clock(const wv_sites *s);

#endif /* WV_SITE_H */

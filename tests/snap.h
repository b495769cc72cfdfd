/* snap.h — what "the replica is unchanged" compares, for tests and fuzz
 * targets that check a refused call left a replica exactly as it was:
 * the weave's canonical hash, the replica's own site, its clock and atom
 * count. Included by tests/ and fuzz/ programs only. */
#ifndef WV_SNAP_H
#define WV_SNAP_H

#include "weave.h"

typedef struct snap {
    uint64_t hash, site;
    uint32_t clock;
    size_t atoms;
} snap;

static inline snap snap_of(const wv_doc *d) {
    return (snap){wv_weave_hash(d), wv_doc_site(d), wv_doc_clock(d), wv_doc_atoms(d)};
}

static inline int same_snap(snap a, snap b) {
    return a.hash == b.hash && a.site == b.site && a.clock == b.clock && a.atoms == b.atoms;
}

#endif /* WV_SNAP_H */

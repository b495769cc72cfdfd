/* atom.h — the atom record, its kinds and the child order.
 * Internal: included by atoms/ and weave/ modules only.
 *
 * An atom is one unit of history. In memory it is a fixed 16-byte record so a
 * weave is a flat array that merge, encode and causal-block scans stream
 * through in order:
 *
 *   clock   u32  Lamport timestamp; 0 only for the root
 *   cclock  u32  the cause's clock, inline so causal-block detection is a
 *                forward scan that never dereferences the cause
 *   site    u16  creating site, as an index into the replica's site table
 *   csite   u16  the cause's site index
 *   tag     u32  value:24 | kind:7 | deleted:1
 *
 * Site indexes order like global site ids (the table is kept sorted), so
 * child order compares indexes directly. Invariants (checked by wv_check):
 *   clock > cclock                               (for every atom but the root)
 *   deleted == some DELETE atom has this as cause
 */
#ifndef WV_ATOM_H
#define WV_ATOM_H

#include <stdint.h>
#include "weave.h"

typedef struct wv_atom {
    uint32_t clock;
    uint32_t cclock;
    uint16_t site;
    uint16_t csite;
    uint32_t tag;
} wv_atom;

_Static_assert(sizeof(wv_atom) == 16, "an atom is 16 bytes");

#define WV_VALUE_BITS 24
#define WV_VALUE_MAX ((1u << WV_VALUE_BITS) - 1)
#define WV_KIND_SHIFT 24
#define WV_KIND_MASK 0x7fu
#define WV_DELETED_BIT 0x80000000u

static inline uint32_t wv_atom_value(wv_atom a) { return a.tag & WV_VALUE_MAX; }
static inline unsigned wv_atom_kind(wv_atom a) { return (a.tag >> WV_KIND_SHIFT) & WV_KIND_MASK; }
static inline int wv_atom_deleted(wv_atom a) { return (a.tag & WV_DELETED_BIT) != 0; }
static inline uint32_t wv_tag(unsigned kind, uint32_t value) {
    return (uint32_t)kind << WV_KIND_SHIFT | (value & WV_VALUE_MAX);
}

/* A visible text character: a CHAR atom no delete targets. One compare. */
static inline int wv_atom_visible(wv_atom a) {
    return (a.tag & (WV_DELETED_BIT | WV_KIND_MASK << WV_KIND_SHIFT)) ==
           (uint32_t)WV_KIND_CHAR << WV_KIND_SHIFT;
}

static inline int wv_atom_same_id(wv_atom a, wv_atom b) {
    return a.clock == b.clock && a.site == b.site;
}
/* Is b's cause the atom a? */
static inline int wv_atom_caused_by(wv_atom b, wv_atom a) {
    return b.cclock == a.clock && b.csite == a.site;
}

/* Child-order priority: higher sorts first among siblings. Deletes hug their
 * target; containers (to come) rank between deletes and chars. */
static inline int wv_kind_priority(unsigned kind) {
    switch (kind) {
    case WV_KIND_DELETE: return 3;
    case WV_KIND_CHAR: return 1;
    default: return 0;
    }
}

/* Child order of two siblings (same cause) by DESIGN.md §1: priority highest
 * first, then clock highest first, then lower site first. <0: a goes first.
 * Both atoms' site indexes must come from the same table. */
static inline int wv_sibling_cmp(wv_atom a, wv_atom b) {
    int pa = wv_kind_priority(wv_atom_kind(a)), pb = wv_kind_priority(wv_atom_kind(b));
    if (pa != pb) return pa > pb ? -1 : 1;
    if (a.clock != b.clock) return a.clock > b.clock ? -1 : 1;
#ifdef WV_PLANT_BUG_TIEBREAK
    if (a.site != b.site) return a.site > b.site ? -1 : 1;
#else
    if (a.site != b.site) return a.site < b.site ? -1 : 1;
#endif
    return 0;
}

#endif /* WV_ATOM_H */

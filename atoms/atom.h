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

#define WV_KIND_LAST WV_KIND_INC

/* A value kind: what a list element, map entry or set member holds. */
static inline int wv_kind_is_value(unsigned kind) {
    return kind >= WV_KIND_STR && kind <= WV_KIND_STRING;
}

/* Child-order priority: higher sorts first among siblings. Deletes hug their
 * target; a payload comes next, before the value an entry or element holds,
 * which comes before further entries, and chars and list elements (the
 * sequences) come last, so a sequence's next item follows its predecessor's
 * value. */
static const uint8_t wv_kind_priorities[WV_KIND_LAST + 1] = {
    [WV_KIND_CHAR] = 1, [WV_KIND_DELETE] = 7, [WV_KIND_DATA] = 6,
    [WV_KIND_STR] = 5, [WV_KIND_LIST] = 5, [WV_KIND_MAP] = 5, [WV_KIND_SET] = 5, [WV_KIND_COUNTER] = 5,
    [WV_KIND_NULL] = 5, [WV_KIND_BOOL] = 5, [WV_KIND_INT] = 5, [WV_KIND_FLOAT] = 5, [WV_KIND_STRING] = 5,
    [WV_KIND_ELEM] = 1, [WV_KIND_ENTRY] = 4, [WV_KIND_MARK] = 4, [WV_KIND_INC] = 4,
};
static inline int wv_kind_priority(unsigned kind) {
    return kind <= WV_KIND_LAST ? wv_kind_priorities[kind] : 0;
}

/* Is `value` valid for an atom of `kind` (any kind number)? */
static inline int wv_kind_value_ok(unsigned kind, uint32_t value) {
    if (kind == WV_KIND_CHAR) return value <= 0x10ffff && (value < 0xd800 || value > 0xdfff);
    switch (kind) {
    case WV_KIND_DATA: return 1;
    case WV_KIND_SET: case WV_KIND_BOOL: return value <= 1;
    case WV_KIND_INT: case WV_KIND_INC: return value <= 8;
    case WV_KIND_FLOAT: return value == 8;
    case WV_KIND_STRING: return value <= WV_STRING_MAX;
    case WV_KIND_ENTRY: return value <= WV_KEY_MAX;
    case WV_KIND_DELETE: case WV_KIND_STR: case WV_KIND_LIST: case WV_KIND_MAP:
    case WV_KIND_COUNTER: case WV_KIND_NULL: case WV_KIND_ELEM: case WV_KIND_MARK: return value == 0;
    default: return 0; /* ROOT (only atom 0) and unknown kinds */
    }
}

/* May an atom of kind `child` have a cause of kind `parent`? The grammar of
 * the weave; merge, apply, decode and wv_check refuse anything else
 * (WV_E_ATOM), so readers meet only well-formed trees. A bit per child
 * kind: validation asks this once an atom. */
#define WV_K(kind) (1u << WV_KIND_##kind)
#define WV_K_VALUES (WV_K(STR) | WV_K(LIST) | WV_K(MAP) | WV_K(SET) | WV_K(COUNTER) | WV_K_SCALARS)
#define WV_K_SCALARS (WV_K(NULL) | WV_K(BOOL) | WV_K(INT) | WV_K(FLOAT) | WV_K(STRING))
static const uint32_t wv_kind_children[WV_KIND_LAST + 1] = {
    [WV_KIND_ROOT] = WV_K(CHAR) | WV_K(ENTRY),
    [WV_KIND_CHAR] = WV_K(CHAR) | WV_K(DELETE),
    [WV_KIND_DATA] = WV_K(DATA),
    [WV_KIND_STR] = WV_K(CHAR),
    [WV_KIND_LIST] = WV_K(ELEM),
    [WV_KIND_MAP] = WV_K(ENTRY),
    [WV_KIND_SET] = WV_K(ELEM) | WV_K(MARK),
    [WV_KIND_COUNTER] = WV_K(INC),
    [WV_KIND_INT] = WV_K(DATA),
    [WV_KIND_FLOAT] = WV_K(DATA),
    [WV_KIND_STRING] = WV_K(DATA),
    [WV_KIND_ELEM] = WV_K(DELETE) | WV_K(ELEM) | WV_K_VALUES,
    [WV_KIND_ENTRY] = WV_K(DELETE) | WV_K(DATA) | WV_K_VALUES,
    [WV_KIND_MARK] = WV_K(DELETE) | WV_K_SCALARS,
    [WV_KIND_INC] = WV_K(DATA),
};

static inline int wv_kind_may_cause(unsigned parent, unsigned child) {
    return parent <= WV_KIND_LAST && child <= WV_KIND_LAST && (wv_kind_children[parent] >> child & 1);
}

/* Id order: site index, then clock. <0: a goes first. */
static inline int wv_id_cmp(wv_atom a, wv_atom b) {
    if (a.site != b.site) return a.site < b.site ? -1 : 1;
    return a.clock < b.clock ? -1 : a.clock > b.clock;
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

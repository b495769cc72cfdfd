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
static inline int wv_kind_priority(unsigned kind) {
    if (kind == WV_KIND_DELETE) return 7;
    if (kind == WV_KIND_DATA) return 6;
    if (wv_kind_is_value(kind)) return 5;
    if (kind == WV_KIND_ENTRY || kind == WV_KIND_MARK || kind == WV_KIND_INC) return 4;
    return 1; /* CHAR, ELEM */
}

/* Is `value` valid for an atom of `kind` (any kind number)? */
static inline int wv_kind_value_ok(unsigned kind, uint32_t value) {
    switch (kind) {
    case WV_KIND_CHAR: return value <= 0x10ffff && (value < 0xd800 || value > 0xdfff);
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
 * (WV_E_ATOM), so readers meet only well-formed trees. */
static inline int wv_kind_may_cause(unsigned parent, unsigned child) {
    switch (parent) {
    case WV_KIND_ROOT: return child == WV_KIND_CHAR || child == WV_KIND_ENTRY;
    case WV_KIND_CHAR: return child == WV_KIND_CHAR || child == WV_KIND_DELETE;
    case WV_KIND_DATA: return child == WV_KIND_DATA;
    case WV_KIND_STR: return child == WV_KIND_CHAR;
    case WV_KIND_LIST: return child == WV_KIND_ELEM;
    case WV_KIND_MAP: return child == WV_KIND_ENTRY;
    case WV_KIND_SET: return child == WV_KIND_ELEM || child == WV_KIND_MARK;
    case WV_KIND_COUNTER: return child == WV_KIND_INC;
    case WV_KIND_ELEM: return child == WV_KIND_DELETE || child == WV_KIND_ELEM || wv_kind_is_value(child);
    case WV_KIND_ENTRY: return child == WV_KIND_DELETE || child == WV_KIND_DATA || wv_kind_is_value(child);
    case WV_KIND_MARK: return child == WV_KIND_DELETE || (wv_kind_is_value(child) && child >= WV_KIND_NULL);
    case WV_KIND_INT: case WV_KIND_FLOAT: case WV_KIND_STRING: case WV_KIND_INC:
        return child == WV_KIND_DATA;
    default: return 0; /* DELETE, NULL, BOOL and the containers' other kinds */
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

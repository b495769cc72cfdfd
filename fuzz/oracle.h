/* oracle.h — a naive, independent model of the weave (DESIGN.md §1), for
 * tests and fuzzers to check the library against.
 *
 * Given a set of atoms it builds the causal tree, sorts every node's children
 * by child order (priority highest first: delete above containers above
 * chars; then clock highest first; then lower global site id first), walks
 * the tree in pre-order and reports the atoms in that order. It is written to
 * be obviously right, not fast, and shares no code with weave/: it only uses
 * the public types of weave.h. */
#ifndef WV_ORACLE_H
#define WV_ORACLE_H

#include <stddef.h>
#include <stdint.h>
#include "weave.h"

/* Computes the weave that `atoms` (any order, with or without the root, the
 * `deleted` field ignored; identical duplicates allowed) form. On success
 * returns 0 and sets *out to a malloc'd array of *nout atoms (the caller
 * frees it): the root first, then every atom in weave order, `deleted` set
 * iff some DELETE atom has it as its cause. Returns -1 (and sets *out to NULL,
 * *nout to 0) when an atom's cause is missing, when one id appears twice with
 * different content, when an atom other than the root has the root's id (site
 * 0, clock 0) or the root has other content, when some atom cannot be reached
 * from the root (a cycle), or when memory runs out. */
int wvo_weave(const wv_atom_info *atoms, size_t n, wv_atom_info **out, size_t *nout);

/* 1 if doc's weave (walked with wv_iter_*) holds exactly these n atoms in this
 * order with equal fields (site, clock, cause_site, cause_clock, kind, value,
 * deleted); otherwise 0, with a one-line description of the first difference
 * written into why (NUL-terminated, truncated to cap; why may be NULL when
 * cap is 0). */
int wvo_equal_doc(const wv_atom_info *weave, size_t n, const wv_doc *doc, char *why,
                  size_t cap);

/* The visible text of a weave (CHAR atoms not deleted, in order) as UTF-8,
 * like snprintf: writes at most cap bytes including a terminating NUL (when
 * cap > 0) and returns the full length in bytes without the NUL. dst may be
 * NULL when cap is 0. Values that are not Unicode scalar values are written
 * as U+FFFD. */
size_t wvo_text(const wv_atom_info *weave, size_t n, char *dst, size_t cap);

/* Writes a one-line description of an atom, "[site|clock <- csite:cclock
 * kind value del]", into buf (like snprintf). For messages. */
void wvo_describe(const wv_atom_info *a, char *buf, size_t cap);

#endif /* WV_ORACLE_H */

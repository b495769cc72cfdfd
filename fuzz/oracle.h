/* oracle.h — a naive, independent model of the weave (DESIGN.md §1), for
 * tests and fuzzers to check the library against.
 *
 * Given a set of atoms it builds the causal tree, sorts every node's children
 * by child order (priority highest first: delete, then payload data, then a
 * held value (container or scalar), then a container's entries, marks and
 * increments, then chars and list elements; then clock highest first; then
 * lower global site id first), walks the tree in pre-order and reports the
 * atoms in that order. From that weave it reads the root text and
 * materialises the structures as JSON (DESIGN.md §4, weave.h "Structures").
 * It is written to be obviously right, not fast, and shares no code with
 * weave/: it only uses the public types of weave.h. */
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

/* The visible root text of a weave (CHAR atoms not deleted whose cause is
 * the root or a root-text char, in order; a STR's chars are not part of it)
 * as UTF-8,
 * like snprintf: writes at most cap bytes including a terminating NUL (when
 * cap > 0) and returns the full length in bytes without the NUL. dst may be
 * NULL when cap is 0. Values that are not Unicode scalar values are written
 * as U+FFFD. Expects w[0] to be the root; aborts when out of memory. */
size_t wvo_text(const wv_atom_info *weave, size_t n, char *dst, size_t cap);

/* The root map of a weave (wvo_weave's output: pre-order, causes first,
 * `deleted` set) as JSON, by weave.h's rules, read from the tree alone:
 * - a holder's (entry's, element's, mark's) value is the one made in its
 *   own edit: its value-kind child whose id follows the holder's (after an
 *   entry's key); a payload (key, number, STRING bytes) the chain of DATA
 *   atoms with the ids after its owner's. A holder whose value is missing
 *   or whose payload is short reads as absent;
 * - map (the root, a MAP): its keys in byte order (a prefix first), each
 *   with its winner, the first live (not deleted, readable) entry of the
 *   key in weave order;
 * - list: the ELEMs chained from it (an ELEM caused by the list or by one of
 *   its ELEMs) in weave order, live ones;
 * - set: the distinct JSON texts of the scalars held by its live ELEM
 *   children, in byte order; remove-wins (value 1): minus the texts held by
 *   its live MARK children;
 * - counter: the sum of its INC children (int64, wrapping);
 * - str: its visible chars; STRING: its payload bytes; both as JSON strings
 *   (RFC 8259: \" \\ \b \f \n \r \t, other controls as \u00xx in lower
 *   case, bytes that are not UTF-8 as \ufffd);
 * - null, true/false, int (payload of 0..8 bytes, sign-extended), float (the
 *   shortest of %.15g/%.16g/%.17g that reads back exactly, ".0" appended
 *   when that reads as an integer).
 * Returns 0 with a malloc'd NUL-terminated string in *out (*len bytes; the
 * caller frees it), -1 when the weave is not a pre-order tree, -2 when
 * containers nest deeper than 256 (the library's WV_E_LIMIT). Aborts when
 * out of memory. */
int wvo_json(const wv_atom_info *weave, size_t n, char **out, size_t *len);

/* As wvo_json, but every map shows each key's values, not just its winner:
 * "key":[winner,other,...], the live entries of the key in weave order
 * (what wv_map_conflicts lists). */
int wvo_json_all(const wv_atom_info *weave, size_t n, char **out, size_t *len);

/* The three reads above in one pass over the tree (what a checker wants
 * after every step): the root text (wvo_text), wvo_json's JSON and return
 * code, and wvo_json_all's JSON (NULL unless json_rc is 0). All malloc'd,
 * NUL-terminated; wvo_reading_free frees them. Returns 0, or -1 (nothing
 * allocated) when the weave is not a pre-order tree. Aborts when out of
 * memory. */
typedef struct wvo_reading {
    char *text, *json, *all;
    size_t text_len, json_len, all_len;
    int json_rc;
} wvo_reading;

int wvo_read(const wv_atom_info *weave, size_t n, wvo_reading *out);
void wvo_reading_free(wvo_reading *r);

/* Writes a one-line description of an atom, "[site|clock <- csite:cclock
 * kind value del]", into buf (like snprintf). For messages. */
void wvo_describe(const wv_atom_info *a, char *buf, size_t cap);

#endif /* WV_ORACLE_H */

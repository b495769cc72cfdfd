/* trace.h — reader for editing traces (josephg/editing-traces JSON format).
 *
 * An editing trace is a recorded history of text edits: a list of
 * transactions, each a list of splice patches [pos, deleted, "inserted"],
 * plus the text that replaying them must produce. Two kinds exist
 * (TRACES-README.md in the traces directory documents both):
 * - sequential: patches apply in order to one document that starts empty;
 * - concurrent: each transaction is made by one agent on the state named by
 *   its parents (indexes of earlier transactions, [] = the empty document).
 *
 * wvt_load() reads a .json or .json.gz file, validates it, and returns a
 * wvt_trace whose arrays and strings it owns; wvt_free() releases them.
 *
 * Conventions
 * - Positions and counts (pos, del, ins_chars) are Unicode code points;
 *   ins_len and end_len are UTF-8 bytes. All text is valid UTF-8 without
 *   embedded NULs (the JSON parser guarantees both) and is NUL-terminated.
 * - No global state: distinct traces may be loaded and used from different
 *   threads. A loaded trace is immutable and may be read concurrently.
 */
#ifndef WV_TOOLS_TRACE_H
#define WV_TOOLS_TRACE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One splice: at code point pos, remove del code points, then insert ins.
 * ins points into storage owned by the trace; it is ins_len UTF-8 bytes
 * (ins_chars code points) followed by a NUL. Either part may be empty. */
typedef struct wvt_patch {
    size_t pos, del;
    const char *ins;
    size_t ins_len;   /* UTF-8 bytes, not counting the NUL */
    size_t ins_chars; /* code points */
} wvt_patch;

/* One transaction: patches applied one after another, each positioned
 * against the state left by the previous one. In a concurrent trace the
 * first patch applies to the state named by parents: every parent index is
 * smaller than this transaction's own index; none means the empty document,
 * several mean those states merged. Sequential traces: agent 0, no parents
 * (parents NULL, nparents 0). */
typedef struct wvt_txn {
    int agent;              /* 0 .. num_agents-1; 0 for sequential traces */
    const size_t *parents;  /* indexes into wvt_trace.txns */
    size_t nparents;
    const wvt_patch *patches;
    size_t npatches;
} wvt_txn;

/* A loaded trace. All pointers point into storage owned by the trace and
 * stay valid until wvt_free(). A zeroed wvt_trace is a valid empty value. */
typedef struct wvt_trace {
    int concurrent;          /* 1 if "kind" == "concurrent", else 0 */
    int num_agents;          /* "numAgents"; 1 for sequential traces */
    const char *end_content; /* the final text, UTF-8, NUL-terminated */
    size_t end_len;          /* bytes of end_content, not counting the NUL */
    const wvt_txn *txns;
    size_t ntxns;
    size_t npatches;         /* total over all txns */
    void *priv_;             /* owned storage; do not touch */
} wvt_trace;

/* Loads the trace at path, plain JSON or gzip-compressed JSON (detected from
 * the content, not the name), into *out.
 *
 * Returns 0 on success. Returns -1 on failure and then: *out is all zeroes,
 * nothing is left allocated, and if err is not NULL and errcap > 0, err holds
 * a one-line NUL-terminated message of at most errcap bytes (truncated if
 * needed) that names the path and the problem, e.g.
 *   "t.json: txns[12].patches[0][1] is not a non-negative integer".
 * Failures: path or out NULL; the file cannot be opened or read; a corrupt
 * or truncated gzip stream; invalid JSON, reported with its line and column
 * (1-based, the column in bytes), where invalid also covers a key repeated
 * in the top-level object or in a transaction object (repeats inside
 * ignored values are not looked for), nesting deeper than 64 levels, and
 * \u0000 or a lone surrogate in a string; a top level that is not an
 * object; "kind" present but not "concurrent"; "startContent" present but
 * not the empty string; "endContent" missing or not a string; "txns" missing
 * or not an array; a transaction that is not an object or whose "patches" is
 * not an array; a patch that is not [pos, del, ins] with pos and del
 * non-negative integers and ins a string; and, in concurrent traces only,
 * "numAgents" not a positive integer, "agent" not an integer in
 * 0 .. numAgents-1, or "parents" not an array of integers each smaller than
 * the transaction's own index; and running out of memory.
 * Other keys ("time", "timestamp", "numChildren", ...) are ignored, as are
 * "agent" and "parents" in sequential traces, but their values must still be
 * valid JSON. Keys may come in any order. When a file has several problems,
 * the one reported is the first met in reading it (a value of the wrong type
 * is checked for syntax errors first), except that missing top-level keys
 * and a bad numAgents are reported once the top-level object has been read. */
int wvt_load(const char *path, wvt_trace *out, char *err, size_t errcap);

/* Releases everything a trace owns and zeroes *t. Accepts NULL and zeroed
 * traces, so calling it twice on the same trace is harmless. */
void wvt_free(wvt_trace *t);

#ifdef __cplusplus
}
#endif

#endif /* WV_TOOLS_TRACE_H */

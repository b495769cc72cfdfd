/* weave_host.h — public API of the durable site host: the lock-sequenced log
 * of DESIGN.md §3 (wv_host_* in weave.h, in memory) persisted in SQLite.
 *
 * One database file holds many documents. Each document is a log of
 * transactions (entries 0 .. x - 1; each entry: the proposing site and its
 * atoms) and the counter x, plus periodic snapshots (wv_encode document
 * bytes) so that loading does not replay the whole log. lock(v, n) and the
 * append are ONE SQLite transaction (BEGIN IMMEDIATE; a conditional
 * `UPDATE docs SET x = x + 1 WHERE ... AND x >= v AND x - n <= v`; the
 * append; COMMIT): the database, not the process, decides who wins, so any
 * number of connections in any number of processes may propose to the same
 * document concurrently. A proposal is acknowledged when wvh_propose returns
 * WV_OK, which it does only after COMMIT returned, with the WAL synced
 * (synchronous=FULL): an acknowledged transaction survives the process being
 * killed at any moment, and power loss.
 *
 * Conventions (as weave.h)
 * - Every fallible call returns int: WV_OK (0) or a negative code — one of
 *   weave.h's WV_E_* where it fits, or one of the WVH_E_* below — and on
 *   error leaves the database and every replica it was given unchanged.
 *   wvh_errmsg gives the detail of the last error on a handle.
 * - A wvh_db is one SQLite connection: thread-compatible (one thread at a
 *   time; open one handle per thread). Handles are independent; no global
 *   state. Free functions accept NULL. A handle keeps the host's replicas of
 *   the 8 documents it used last, caught up on use by reading only the new
 *   entries; one replica in memory per document per handle.
 * - Document names: 1 to WVH_NAME_MAX bytes, none below 0x20 nor 0x7f
 *   (WV_E_ARG otherwise). Site ids: any but 0 and UINT64_MAX (the host's
 *   own replica's id).
 * - Callbacks must not call wvh_* on the handle that is calling them
 *   (WV_E_ARG if they do).
 */
#ifndef WEAVE_HOST_H
#define WEAVE_HOST_H

#include <stddef.h>
#include <stdint.h>
#include <weave/weave.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(WVH_BUILDING_LIBRARY) && defined(__GNUC__)
#define WVH_API __attribute__((visibility("default")))
#else
#define WVH_API
#endif

/* The host's own error codes, beside weave.h's. Pinned: they never change
 * meaning. Codes of weave.h used here: WV_E_ARG, WV_E_NOMEM, WV_E_BUSY (lock
 * window passed), WV_E_RANGE (v > x), WV_E_LIMIT, wv_apply's validation
 * codes (WV_E_CAUSE, WV_E_DUPLICATE, WV_E_CLOCK, WV_E_ATOM), and
 * WV_E_CORRUPT (the database's rows are readable but inconsistent: a
 * snapshot that disagrees with its log, a log whose entries do not
 * integrate). */
enum wvh_error {
    WVH_E_DB = -100,     /* SQLite failed (I/O, disk full, ...): see wvh_errmsg */
    WVH_E_NOTDB = -101,  /* not a weave host database: a foreign or damaged file,
                            another application's database, a newer schema,
                            or a malformed row */
    WVH_E_NODOC = -102,  /* no document of that name */
    WVH_E_EXISTS = -103, /* a document of that name exists already */
    WVH_E_LOCKED = -104, /* the database stayed locked by another connection
                            past the busy timeout; nothing changed, retry */
    WVH_E_READONLY = -105, /* a write on a handle opened with WVH_READONLY */
};

/* Name ("WVH_E_NODOC", "WV_E_BUSY", ...) and one-sentence message of any
 * code, the host's or weave.h's. Never NULL. */
WVH_API const char *wvh_error_name(int code);
WVH_API const char *wvh_error_message(int code);

#define WVH_NAME_MAX 255
/* Most atoms one transaction may carry (WV_E_LIMIT beyond). */
#define WVH_TXN_MAX_ATOMS (1u << 20)

/* Flags of wvh_open. */
#define WVH_CREATE 1u   /* create the file, and the schema in an empty file */
#define WVH_READONLY 2u /* open read only: writes return WVH_E_READONLY */

/* Options of wvh_open_ex. Initialise with wvh_options_default(). */
typedef struct wvh_options {
    unsigned flags;          /* WVH_CREATE, WVH_READONLY (default 0) */
    int busy_timeout_ms;     /* how long a call waits for another connection's
                                lock before WVH_E_LOCKED (default 10000) */
    uint32_t snapshot_every; /* wvh_propose writes a snapshot (in the same
                                transaction) when the new x is a multiple of
                                it; 0: never (default 256) */
    const wv_alloc *alloc;   /* allocator of the replicas the host builds
                                (NULL: weave's default). Must outlive the
                                handle and every replica wvh_load returns.
                                SQLite allocates through its own. */
    uint8_t reserved[32];    /* must be zero */
} wvh_options;

WVH_API void wvh_options_default(wvh_options *opt);

/* A connection to a host database. Opaque. */
typedef struct wvh_db wvh_db;

/* Opens (WVH_CREATE: creates) the database at path, in WAL mode with the
 * busy timeout and synchronous=FULL, and checks that it is a weave host
 * database of a schema version this library reads (PRAGMA application_id
 * 'WVH1', user_version), creating the schema in an empty file when
 * WVH_CREATE is given. Any number of processes may open — and create — the
 * same file at once: one creates the schema, the others find it. Returns WV_OK and sets *out, or WV_E_ARG, WV_E_NOMEM,
 * WVH_E_NOTDB (a text file, a truncated or damaged database, another
 * application's database, a newer schema, an empty file without
 * WVH_CREATE), WVH_E_LOCKED, WVH_E_DB (cannot open: no such file without
 * WVH_CREATE, permissions, ...). On error *out is NULL. wvh_open_ex takes
 * options (NULL: defaults) and writes the detail of an error (the SQLite
 * message, what was found instead of a weave host database) into msg,
 * NUL-terminated, truncated to cap (msg may be NULL when cap is 0). */
WVH_API int wvh_open(wvh_db **out, const char *path, unsigned flags);
WVH_API int wvh_open_ex(wvh_db **out, const char *path, const wvh_options *opt, char *msg,
                        size_t cap);

/* Closes the connection and frees its cached replicas. NULL is a no-op. */
WVH_API void wvh_close(wvh_db *db);

/* Detail of the last error on db (the SQLite message, the malformed row, the
 * violated rule), or "" after success. Valid until the next call on db.
 * Never NULL (NULL db: ""). */
WVH_API const char *wvh_errmsg(const wvh_db *db);

/* Creates an empty document (x = 0). WVH_E_EXISTS if the name is taken. */
WVH_API int wvh_doc_create(wvh_db *db, const char *doc);

/* Calls fn for each document name, in name order, inside one read
 * transaction. Returns WV_OK, or the first non-zero value fn returns (which
 * stops the listing), or an error. */
WVH_API int wvh_doc_list(wvh_db *db, int (*fn)(const char *doc, void *ctx), void *ctx);

/* The log length x of doc. WVH_E_NODOC if there is no such document. */
WVH_API int wvh_length(wvh_db *db, const char *doc, uint64_t *x);

/* lock(v, n) and append, in one SQLite transaction. `atoms` are one
 * transaction of site `site` (as wv_host_propose): non-empty, all of
 * `site`, none already in the log, causes in the log or among them. It is
 * validated against the document at x (wv_apply on the connection's cached
 * replica, brought up to x inside the same transaction) and appended iff
 * x - n <= v <= x. Returns
 *   WV_OK        appended and committed (durable); *seq (may be NULL) = its
 *                log position, the old x;
 *   WV_E_BUSY    v < x - n: read the entries from v on (wvh_read),
 *                integrate them (wv_apply), retry with the new v;
 *   WV_E_RANGE   v > x;
 *   WV_E_ARG     NULL arguments, an empty transaction, atoms of another
 *                site, a bad site or name;
 *   WV_E_DUPLICATE, WV_E_CAUSE, WV_E_CLOCK, WV_E_ATOM, WV_E_LIMIT,
 *   WV_E_NOMEM   the transaction is invalid (or memory ran out);
 *   WVH_E_NODOC, WVH_E_LOCKED, WVH_E_READONLY, WVH_E_DB, WVH_E_NOTDB,
 *   WV_E_CORRUPT.
 * Nothing is appended unless it returns WV_OK. The `deleted` field of the
 * atoms is ignored (stored as 0). */
WVH_API int wvh_propose(wvh_db *db, const char *doc, uint64_t site, uint64_t v, uint32_t n,
                        const wv_atom_info *atoms, size_t natoms, uint64_t *seq);

/* One log entry, as wvh_read delivers it: entry `seq`, proposed by `site`;
 * the atoms are valid during the call only. Return 0 to go on, anything
 * else to stop. */
typedef int (*wvh_entry_fn)(uint64_t seq, uint64_t site, const wv_atom_info *atoms, size_t n,
                            void *ctx);

/* Delivers the entries [from, x) of doc in order, inside one read
 * transaction (a consistent view: entries appended meanwhile are not
 * included). Sets *next (may be NULL) to the position after the last entry
 * fn returned 0 for: x when all went well; s if fn stopped at entry s (it
 * counts as not read) or an error came at entry s; from if nothing was
 * read. Every row is validated before it is delivered (WVH_E_NOTDB with a
 * message for a malformed one). Returns
 * WV_OK, the non-zero value fn returned, WV_E_RANGE (from > x),
 * WVH_E_NODOC, WVH_E_LOCKED, WVH_E_DB, WVH_E_NOTDB, WV_E_NOMEM. */
WVH_API int wvh_read(wvh_db *db, const char *doc, uint64_t from, wvh_entry_fn fn, void *ctx,
                     uint64_t *next);

/* The document as of the whole log (latest snapshot, then the entries after
 * it), as a new replica *out at global site `site`, with *x (may be NULL)
 * the log length it reflects. For a writer resuming at its own site: the
 * replica holds its logged atoms and its clock is above all of them, so its
 * next atoms are new (a merge: clock = highest clock + 1). site 0 gives the
 * host's own replica (site UINT64_MAX), for reading only. The caller frees
 * *out with wv_doc_free. Returns WV_OK, WV_E_ARG, WVH_E_NODOC, WV_E_NOMEM,
 * WVH_E_NOTDB / WV_E_CORRUPT (a malformed row or snapshot), WVH_E_LOCKED,
 * WVH_E_DB. */
WVH_API int wvh_load(wvh_db *db, const char *doc, uint64_t site, wv_doc **out, uint64_t *x);

/* The document as of the first `upto` entries, replayed from empty (no
 * snapshot, no cache): the reference wvh_load is checked against.
 * WV_E_RANGE if upto > x. Otherwise as wvh_load. */
WVH_API int wvh_replay(wvh_db *db, const char *doc, uint64_t upto, uint64_t site, wv_doc **out);

/* Writes a snapshot of doc at the current x (replacing older ones), unless
 * the latest is at x already. *x (may be NULL) gets that x. wvh_propose
 * also writes one every snapshot_every entries. Returns WV_OK, WVH_E_NODOC,
 * WVH_E_READONLY, WVH_E_LOCKED, WVH_E_DB, WVH_E_NOTDB, WV_E_CORRUPT,
 * WV_E_NOMEM. */
WVH_API int wvh_snapshot(wvh_db *db, const char *doc, uint64_t *x);

/* Sets how often wvh_propose writes snapshots on this handle (0: never). */
WVH_API void wvh_set_snapshot_every(wvh_db *db, uint32_t k);

/* Validates everything stored for doc (NULL: every document): the log is
 * entries 0 .. x - 1 with no gap, every row well formed, the log replayed
 * from empty integrates entry by entry with no duplicate id, every snapshot
 * decodes and equals the replay at its x, and the result passes wv_check.
 * O(log size). Returns WV_OK, or the first problem's code with its detail in
 * wvh_errmsg (WVH_E_NOTDB, WV_E_CORRUPT, WV_E_DUPLICATE, ...). */
WVH_API int wvh_check(wvh_db *db, const char *doc);

#ifdef __cplusplus
}
#endif
#endif /* WEAVE_HOST_H */

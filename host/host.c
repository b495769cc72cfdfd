/* host.c — the durable site host (weave_host.h): the lock-sequenced log of
 * DESIGN.md §3 in a SQLite database, many documents per file.
 *
 * Schema (version 1; PRAGMA application_id = 0x57564831 'WVH1',
 * PRAGMA user_version = 1):
 *   docs(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, x INTEGER)
 *        x: the log length; ids are never reused
 *   log(doc, seq, site, atoms BLOB)      PRIMARY KEY (doc, seq), WITHOUT ROWID
 *        the entries 0 .. x - 1 of each document, no gap
 *   snapshots(doc, x, bytes BLOB)        PRIMARY KEY (doc, x), WITHOUT ROWID
 *        wv_encode document bytes of the host's replica after entries [0, x)
 * Site ids are stored as the int64 of the same 64 bits.
 *
 * Atom BLOB, format 1 (all integers little-endian):
 *   u8 format (1) | u32 count n (1 <= n <= WVH_TXN_MAX_ATOMS)
 *   n records of 21 bytes: u32 clock | u64 cause site | u32 cause clock |
 *                          u8 kind | u32 value      (the site is the row's)
 *   u64 XXH3-64 of every byte before it
 * Every row is validated (size, format, count, checksum, field ranges)
 * before its atoms are used; wv_apply validates them against the document.
 *
 * Cache: each connection keeps up to CACHE_DOCS replicas of the host's view
 * of a document (site UINT64_MAX), each with the x it reflects. Invariant:
 * a cached replica is exactly the replay of its document's first x entries
 * as committed in the database — it is only ever advanced by committed rows
 * read inside a transaction, or by a proposal whose transaction then
 * commits; when anything fails after a proposal was integrated, the entry is
 * dropped (rebuilt from the latest snapshot on next use).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sqlite3.h>
#include <xxhash.h>
#include "weave_host.h"

#define APP_ID 0x57564831    /* 'WVH1' */
#define SCHEMA_VERSION 1
#define BLOB_FORMAT 1
#define REC_BYTES 21u
#define BLOB_BYTES(n) (5u + REC_BYTES * (size_t)(n) + 8u)
#define HOST_SITE UINT64_MAX /* the site id of the host's own replicas */
#define CACHE_DOCS 8

enum {
    S_BEGIN, S_BEGIN_IMM, S_COMMIT, S_ROLLBACK,
    S_DOC, S_LOCK, S_APPEND, S_ENTRIES, S_SNAP_LATEST, S_SNAP_PUT, S_SNAP_PRUNE,
    S_CREATE, S_LIST, S_DOCS_ALL, S_LOG_SPAN, S_SNAP_LIST, S_SNAP_AT,
    S_COUNT
};

static const char *const sql_text[S_COUNT] = {
    [S_BEGIN] = "BEGIN",
    [S_BEGIN_IMM] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_DOC] = "SELECT id, x FROM docs WHERE name = ?1",
    /* lock(v, n): passes iff x - n <= v <= x, decided by the database. */
    [S_LOCK] = "UPDATE docs SET x = x + 1 WHERE id = ?1 AND x >= ?2 AND x - ?3 <= ?2",
    [S_APPEND] = "INSERT INTO log(doc, seq, site, atoms) VALUES (?1, ?2, ?3, ?4)",
    [S_ENTRIES] = "SELECT seq, site, atoms FROM log WHERE doc = ?1 AND seq >= ?2 AND seq < ?3 "
                  "ORDER BY seq",
    [S_SNAP_LATEST] = "SELECT x, bytes FROM snapshots WHERE doc = ?1 AND x <= ?2 "
                      "ORDER BY x DESC LIMIT 1",
    [S_SNAP_PUT] = "INSERT OR REPLACE INTO snapshots(doc, x, bytes) VALUES (?1, ?2, ?3)",
    [S_SNAP_PRUNE] = "DELETE FROM snapshots WHERE doc = ?1 AND x < ?2",
    [S_CREATE] = "INSERT INTO docs(name, x) VALUES (?1, 0)",
    [S_LIST] = "SELECT name FROM docs ORDER BY name",
    [S_DOCS_ALL] = "SELECT id, name, x FROM docs ORDER BY name",
    [S_LOG_SPAN] = "SELECT count(*), min(seq), max(seq) FROM log WHERE doc = ?1",
    [S_SNAP_LIST] = "SELECT x FROM snapshots WHERE doc = ?1 ORDER BY x",
    [S_SNAP_AT] = "SELECT bytes FROM snapshots WHERE doc = ?1 AND x = ?2",
};

static const char schema_sql[] =
    "CREATE TABLE docs(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,"
    " x INTEGER NOT NULL DEFAULT 0 CHECK (x >= 0));"
    "CREATE TABLE log(doc INTEGER NOT NULL REFERENCES docs(id), seq INTEGER NOT NULL,"
    " site INTEGER NOT NULL, atoms BLOB NOT NULL, PRIMARY KEY (doc, seq)) WITHOUT ROWID;"
    "CREATE TABLE snapshots(doc INTEGER NOT NULL REFERENCES docs(id), x INTEGER NOT NULL,"
    " bytes BLOB NOT NULL, PRIMARY KEY (doc, x)) WITHOUT ROWID;"
    "PRAGMA application_id = 1465272369;" /* APP_ID */
    "PRAGMA user_version = 1;";           /* SCHEMA_VERSION */

typedef struct cached {
    int64_t id;       /* docs.id; 0: empty slot */
    uint64_t x;       /* the replica is the replay of entries [0, x) */
    wv_doc *doc;
    uint64_t used;    /* LRU tick */
} cached;

struct wvh_db {
    sqlite3 *sql;
    sqlite3_stmt *st[S_COUNT];
    unsigned flags;
    uint32_t snapshot_every;
    int has_alloc;
    wv_alloc alloc;
    wv_options dopt;  /* options of the replicas built here */
    int busy;         /* a call is in progress (re-entry from a callback) */
    cached cache[CACHE_DOCS];
    uint64_t tick;
    wv_atom_info *atoms; /* decode buffer */
    size_t atoms_cap;
    char msg[512];
};

/* ---- memory ---------------------------------------------------------------- */

static void *mem_alloc(const wvh_db *db, size_t n) {
    if (db->has_alloc) return db->alloc.malloc(db->alloc.ctx, n ? n : 1);
    return malloc(n ? n : 1);
}

static void mem_free(const wvh_db *db, void *p, size_t n) {
    if (!p) return;
    if (db->has_alloc) db->alloc.free(db->alloc.ctx, p, n ? n : 1);
    else free(p);
}

/* ---- errors ---------------------------------------------------------------- */

static const struct { int code; const char *name, *msg; } host_errors[] = {
    {WVH_E_DB, "WVH_E_DB", "the database failed (I/O error, disk full, ...)"},
    {WVH_E_NOTDB, "WVH_E_NOTDB", "not a weave host database (foreign, damaged, newer schema or malformed row)"},
    {WVH_E_NODOC, "WVH_E_NODOC", "no document of that name"},
    {WVH_E_EXISTS, "WVH_E_EXISTS", "a document of that name exists already"},
    {WVH_E_LOCKED, "WVH_E_LOCKED", "the database stayed locked past the busy timeout; retry"},
    {WVH_E_READONLY, "WVH_E_READONLY", "the database is open read only"},
};

const char *wvh_error_name(int code) {
    for (size_t i = 0; i < sizeof host_errors / sizeof *host_errors; i++)
        if (host_errors[i].code == code) return host_errors[i].name;
    return wv_error_name(code);
}

const char *wvh_error_message(int code) {
    for (size_t i = 0; i < sizeof host_errors / sizeof *host_errors; i++)
        if (host_errors[i].code == code) return host_errors[i].msg;
    return wv_error_message(code);
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(wvh_db *db, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(db->msg, sizeof db->msg, fmt, ap);
    va_end(ap);
    return code;
}

/* Maps a SQLite result code to ours. */
static int map_sqlite(int rc) {
    switch (rc & 0xff) {
    case SQLITE_OK: return WV_OK;
    case SQLITE_NOMEM: return WV_E_NOMEM;
    case SQLITE_BUSY: case SQLITE_LOCKED: return WVH_E_LOCKED;
    case SQLITE_CORRUPT: case SQLITE_NOTADB: case SQLITE_FORMAT: case SQLITE_SCHEMA:
        return WVH_E_NOTDB;
    case SQLITE_READONLY: return WVH_E_READONLY;
    default: return WVH_E_DB;
    }
}

/* The failure of the last SQLite call on db, with its message. */
static int sql_fail(wvh_db *db, int rc, const char *what) {
    return fail(db, map_sqlite(rc), "%s: %s (SQLite %d)", what, sqlite3_errmsg(db->sql), rc);
}

/* ---- statements ---------------------------------------------------------- */

static sqlite3_stmt *stmt(wvh_db *db, int s) {
    sqlite3_reset(db->st[s]);
    sqlite3_clear_bindings(db->st[s]);
    return db->st[s];
}

/* Runs a statement without results (BEGIN, COMMIT, ...). */
static int exec1(wvh_db *db, int s) {
    sqlite3_stmt *q = stmt(db, s);
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? WV_OK : sql_fail(db, rc, sql_text[s]);
}

/* Ends a transaction after an error: the database is as before it. */
static void rollback(wvh_db *db) {
    if (!sqlite3_get_autocommit(db->sql)) {
        sqlite3_stmt *q = stmt(db, S_ROLLBACK);
        sqlite3_step(q);
        sqlite3_reset(q);
    }
}

/* Resets every statement so that no read stays open. */
static void reset_all(wvh_db *db) {
    for (int i = 0; i < S_COUNT; i++)
        if (db->st[i]) sqlite3_reset(db->st[i]);
}

/* ---- arguments ----------------------------------------------------------- */

static int name_ok(const char *doc) {
    if (!doc) return 0;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)doc; *p; p++, n++)
        if (*p < 0x20 || *p == 0x7f || n >= WVH_NAME_MAX) return 0;
    return n > 0;
}

/* Every public call starts with enter (argument checks, re-entry guard, the
 * message cleared) and ends through leave (on error: statements reset, the
 * transaction rolled back, a message set). */
static int enter(wvh_db *db, const char *doc) {
    if (!db) return WV_E_ARG;
    if (db->busy) return fail(db, WV_E_ARG, "called from a callback of the same handle");
    db->msg[0] = 0;
    if (doc && !name_ok(doc)) return fail(db, WV_E_ARG, "invalid document name");
    db->busy = 1;
    return WV_OK;
}

static int leave(wvh_db *db, int rc) {
    if (rc) {
        reset_all(db);
        rollback(db);
        if (!db->msg[0]) snprintf(db->msg, sizeof db->msg, "%s", wvh_error_message(rc));
    }
    db->busy = 0;
    return rc;
}

/* ---- the atom BLOB --------------------------------------------------------- */

static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = v << 8 | p[i];
    return v;
}
static uint64_t get64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* Writes the BLOB of n atoms (n <= WVH_TXN_MAX_ATOMS) into dst, which has
 * BLOB_BYTES(n) bytes. */
static void blob_encode(unsigned char *dst, const wv_atom_info *a, size_t n) {
    unsigned char *p = dst;
    *p++ = BLOB_FORMAT;
    put32(p, (uint32_t)n), p += 4;
    for (size_t i = 0; i < n; i++, p += REC_BYTES) {
        put32(p, a[i].clock);
        put64(p + 4, a[i].cause_site);
        put32(p + 12, a[i].cause_clock);
        p[16] = (unsigned char)a[i].kind;
        put32(p + 17, a[i].value);
    }
    put64(p, XXH3_64bits(dst, (size_t)(p - dst)));
}

/* Validates and decodes the BLOB of a row of `site` into db->atoms; *n gets
 * the count. Returns WV_OK, WV_E_NOMEM, or WVH_E_NOTDB with a message. */
static int blob_decode(wvh_db *db, const char *doc, uint64_t seq, uint64_t site,
                       const unsigned char *b, size_t len, size_t *n) {
    if (len < BLOB_BYTES(1) || b[0] != BLOB_FORMAT)
        return fail(db, WVH_E_NOTDB, "document '%s', entry %llu: malformed atoms (%zu bytes%s)",
                    doc, (unsigned long long)seq, len,
                    len && b[0] != BLOB_FORMAT ? ", unknown format" : "");
    uint32_t count = get32(b + 1);
    if (count == 0 || count > WVH_TXN_MAX_ATOMS || len != BLOB_BYTES(count))
        return fail(db, WVH_E_NOTDB, "document '%s', entry %llu: atom count %u does not fit %zu bytes",
                    doc, (unsigned long long)seq, count, len);
    if (get64(b + len - 8) != XXH3_64bits(b, len - 8))
        return fail(db, WVH_E_NOTDB, "document '%s', entry %llu: atoms checksum mismatch", doc,
                    (unsigned long long)seq);
    if (site == 0 || site == HOST_SITE)
        return fail(db, WVH_E_NOTDB, "document '%s', entry %llu: invalid site id", doc,
                    (unsigned long long)seq);
    if (count > db->atoms_cap) {
        size_t cap = db->atoms_cap ? db->atoms_cap : 64;
        while (cap < count) cap *= 2;
        wv_atom_info *a = mem_alloc(db, cap * sizeof *a);
        if (!a) return fail(db, WV_E_NOMEM, "out of memory decoding entry %llu", (unsigned long long)seq);
        mem_free(db, db->atoms, db->atoms_cap * sizeof *db->atoms);
        db->atoms = a, db->atoms_cap = cap;
    }
    const unsigned char *p = b + 5;
    for (size_t i = 0; i < count; i++, p += REC_BYTES) {
        wv_atom_info *a = &db->atoms[i];
        a->site = site;
        a->clock = get32(p);
        a->cause_site = get64(p + 4);
        a->cause_clock = get32(p + 12);
        a->kind = (wv_kind)p[16];
        a->value = get32(p + 17);
        a->deleted = 0;
        if (a->clock == 0 || p[16] == WV_KIND_ROOT || p[16] > 127 || a->value > 0xffffff)
            return fail(db, WVH_E_NOTDB, "document '%s', entry %llu: malformed atom %zu", doc,
                        (unsigned long long)seq, i);
    }
    *n = count;
    return WV_OK;
}

/* ---- documents ------------------------------------------------------------- */

/* Looks doc up inside the current transaction: *id and *x. */
static int doc_find(wvh_db *db, const char *doc, int64_t *id, uint64_t *x) {
    sqlite3_stmt *q = stmt(db, S_DOC);
    sqlite3_bind_text(q, 1, doc, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_DONE) return fail(db, WVH_E_NODOC, "no document '%s'", doc);
    if (rc != SQLITE_ROW) return sql_fail(db, rc, "looking up a document");
    *id = sqlite3_column_int64(q, 0);
    int64_t v = sqlite3_column_int64(q, 1);
    sqlite3_reset(q);
    if (*id <= 0 || v < 0) return fail(db, WVH_E_NOTDB, "document '%s': malformed row", doc);
    *x = (uint64_t)v;
    return WV_OK;
}

/* Entries are integrated in batches: one wv_apply (a linear pass over the
 * weave) per BATCH_ATOMS atoms rather than one per entry, so a replay costs
 * O(log / BATCH_ATOMS × weave) and not O(entries × weave). The weave of a
 * set of atoms does not depend on how they arrive, so batching changes
 * nothing but the cost. Ids are checked per entry before its atoms join
 * the batch: a transaction carries only atoms new to the log, so each
 * atom's clock must be above its site's highest clock so far (in the
 * replica and in the earlier entries of the batch). */
#define BATCH_ATOMS 65536u

typedef struct site_top {
    uint64_t site;
    uint32_t clock;
} site_top;

typedef struct batch {
    const char *doc;
    wv_doc *d;
    wv_atom_info *a;  /* the atoms of entries first .. first + nent - 1 */
    size_t n, cap;
    size_t *ends;     /* ends[i]: atoms of the batch up to entry first + i */
    size_t nent, capent;
    uint64_t first;
    site_top *tops;   /* highest clock per site among the batch's atoms */
    size_t ntops, captops;
} batch;

static void batch_free(wvh_db *db, batch *b) {
    mem_free(db, b->a, b->cap * sizeof *b->a);
    mem_free(db, b->ends, b->capent * sizeof *b->ends);
    mem_free(db, b->tops, b->captops * sizeof *b->tops);
}

/* Grows *p (cap elements of size sz) to hold at least need. */
static int grow(wvh_db *db, void **p, size_t *cap, size_t need, size_t sz) {
    if (need <= *cap) return WV_OK;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) ncap *= 2;
    void *q = mem_alloc(db, ncap * sz);
    if (!q) return fail(db, WV_E_NOMEM, "out of memory integrating the log");
    if (*cap) memcpy(q, *p, *cap * sz);
    mem_free(db, *p, *cap * sz);
    *p = q, *cap = ncap;
    return WV_OK;
}

static site_top *batch_top(batch *b, uint64_t site) {
    for (size_t i = 0; i < b->ntops; i++)
        if (b->tops[i].site == site) return &b->tops[i];
    return NULL;
}

/* Integrates the batch into b->d. On error d may hold part of it. */
static int batch_flush(wvh_db *db, batch *b) {
    if (!b->n) return WV_OK;
    int rc = wv_apply(b->d, b->a, b->n);
    if (rc == WV_E_NOMEM) return fail(db, rc, "out of memory integrating the log");
    /* Refused: entry by entry, to name the one at fault. */
    for (size_t i = 0, at = 0; rc && i < b->nent; at = b->ends[i++]) {
        int r = wv_apply(b->d, b->a + at, b->ends[i] - at);
        if (r == WV_E_NOMEM) return fail(db, r, "out of memory integrating the log");
        if (r)
            return fail(db, WV_E_CORRUPT, "document '%s', entry %llu does not integrate: %s (%s)",
                        b->doc, (unsigned long long)(b->first + i), wv_error_message(r),
                        wv_error_name(r));
    }
    if (rc) return fail(db, WV_E_CORRUPT, "document '%s': the log does not integrate", b->doc);
    b->n = b->nent = b->ntops = 0;
    return WV_OK;
}

/* Adds entry `seq` (its n atoms in db->atoms) to the batch. */
static int batch_add(wvh_db *db, batch *b, uint64_t seq, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const wv_atom_info *a = &db->atoms[i];
        site_top *t = batch_top(b, a->site);
        uint32_t top = wv_doc_weft(b->d, a->site);
        if (t && t->clock > top) top = t->clock;
        if (a->clock <= top)
            return fail(db, WV_E_CORRUPT, "document '%s', entry %llu: atom %llu:%u is logged twice",
                        b->doc, (unsigned long long)seq, (unsigned long long)a->site, a->clock);
    }
    int rc;
    if ((rc = grow(db, (void **)&b->a, &b->cap, b->n + n, sizeof *b->a)) ||
        (rc = grow(db, (void **)&b->ends, &b->capent, b->nent + 1, sizeof *b->ends)) ||
        (rc = grow(db, (void **)&b->tops, &b->captops, b->ntops + 1, sizeof *b->tops)))
        return rc;
    /* Every atom of an entry is of the entry's site. */
    site_top *t = batch_top(b, db->atoms[0].site);
    if (!t) t = &b->tops[b->ntops++], *t = (site_top){db->atoms[0].site, 0};
    for (size_t i = 0; i < n; i++)
        if (db->atoms[i].clock > t->clock) t->clock = db->atoms[i].clock;
    if (!b->nent) b->first = seq;
    memcpy(b->a + b->n, db->atoms, n * sizeof *b->a);
    b->n += n;
    b->ends[b->nent++] = b->n;
    return b->n >= BATCH_ATOMS ? batch_flush(db, b) : WV_OK;
}

/* Entry visitor of read_entries: atoms in db->atoms. */
typedef int (*visit_fn)(wvh_db *db, uint64_t seq, uint64_t site, size_t n, void *ctx);

/* Reads the entries [from, to) of doc `id` in order, inside the current
 * transaction, validating each row (no gap, well formed) before visit. */
static int read_entries(wvh_db *db, const char *doc, int64_t id, uint64_t from, uint64_t to,
                        visit_fn visit, void *ctx) {
    if (from >= to) return WV_OK;
    sqlite3_stmt *q = stmt(db, S_ENTRIES);
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_int64(q, 2, (int64_t)from);
    sqlite3_bind_int64(q, 3, (int64_t)to);
    uint64_t want = from;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(q, 0);
        if (seq < 0 || (uint64_t)seq != want)
            return fail(db, WVH_E_NOTDB, "document '%s': log entry %llu is missing", doc,
                        (unsigned long long)want);
        if (sqlite3_column_type(q, 2) != SQLITE_BLOB)
            return fail(db, WVH_E_NOTDB, "document '%s', entry %llu: atoms are not a BLOB", doc,
                        (unsigned long long)want);
        const unsigned char *b = sqlite3_column_blob(q, 2);
        size_t len = (size_t)sqlite3_column_bytes(q, 2);
        uint64_t site = (uint64_t)sqlite3_column_int64(q, 1);
        size_t n = 0;
        int err = blob_decode(db, doc, want, site, b, len, &n);
        if (!err) err = visit(db, want, site, n, ctx);
        if (err) {
            sqlite3_reset(q);
            return err;
        }
        want++;
    }
    if (rc != SQLITE_DONE) return sql_fail(db, rc, "reading the log");
    if (want != to)
        return fail(db, WVH_E_NOTDB, "document '%s': log entry %llu is missing", doc,
                    (unsigned long long)want);
    return WV_OK;
}

static int visit_integrate(wvh_db *db, uint64_t seq, uint64_t site, size_t n, void *ctx) {
    (void)site;
    return batch_add(db, ctx, seq, n);
}

/* Integrates the entries [from, to) of doc `id` into d. On error d may hold
 * part of them: the caller discards it. */
static int integrate_entries(wvh_db *db, const char *doc, int64_t id, uint64_t from, uint64_t to,
                             wv_doc *d) {
    batch b = {.doc = doc, .d = d};
    int rc = read_entries(db, doc, id, from, to, visit_integrate, &b);
    if (!rc) rc = batch_flush(db, &b);
    batch_free(db, &b);
    return rc;
}

/* Decodes snapshot bytes into *out (site HOST_SITE). */
static int snap_decode(wvh_db *db, const char *doc, uint64_t x, const void *b, size_t len,
                       wv_doc **out) {
    int rc = wv_decode(out, b, len, &db->dopt);
    if (rc == WV_E_NOMEM) return fail(db, rc, "out of memory loading a snapshot");
    if (rc)
        return fail(db, WVH_E_NOTDB, "document '%s': the snapshot at %llu does not load: %s (%s)",
                    doc, (unsigned long long)x, wv_error_message(rc), wv_error_name(rc));
    if (wv_doc_site(*out) != HOST_SITE) {
        wv_doc_free(*out);
        *out = NULL;
        return fail(db, WVH_E_NOTDB, "document '%s': the snapshot at %llu is not the host's replica",
                    doc, (unsigned long long)x);
    }
    return WV_OK;
}

/* The replica of doc `id` at x = `upto`, built in the current transaction
 * from the latest snapshot at or before upto (when use_snap) and the entries
 * after it. */
static int build(wvh_db *db, const char *doc, int64_t id, uint64_t upto, int use_snap,
                 wv_doc **out) {
    wv_doc *d = NULL;
    uint64_t from = 0;
    int rc;
    if (use_snap) {
        sqlite3_stmt *q = stmt(db, S_SNAP_LATEST);
        sqlite3_bind_int64(q, 1, id);
        sqlite3_bind_int64(q, 2, (int64_t)upto);
        rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            int64_t sx = sqlite3_column_int64(q, 0);
            const void *b = sqlite3_column_blob(q, 1);
            size_t len = (size_t)sqlite3_column_bytes(q, 1);
            if (sx < 0) rc = fail(db, WVH_E_NOTDB, "document '%s': malformed snapshot row", doc);
            else rc = snap_decode(db, doc, (uint64_t)sx, b, len, &d);
            sqlite3_reset(q);
            if (rc) return rc;
            from = (uint64_t)sx;
        } else if (rc != SQLITE_DONE) {
            return sql_fail(db, rc, "reading a snapshot");
        }
    }
    if (!d && (rc = wv_doc_new(&d, HOST_SITE, &db->dopt)))
        return fail(db, rc, "cannot create a replica: %s", wv_error_message(rc));
    rc = integrate_entries(db, doc, id, from, upto, d);
    if (rc) {
        wv_doc_free(d);
        return rc;
    }
    *out = d;
    return WV_OK;
}

static void cache_drop(cached *c) {
    wv_doc_free(c->doc);
    memset(c, 0, sizeof *c);
}

/* The cached replica of doc `id` brought up to x, inside the current
 * transaction (whose view has x entries). On error the slot is dropped. */
static int cache_get(wvh_db *db, const char *doc, int64_t id, uint64_t x, cached **out) {
    cached *c = NULL, *victim = &db->cache[0];
    for (int i = 0; i < CACHE_DOCS; i++) {
        if (db->cache[i].id == id) c = &db->cache[i];
        if (db->cache[i].used < victim->used) victim = &db->cache[i];
    }
    if (c && c->x > x) cache_drop(c), victim = c; /* the database went back: rebuild */
    if (!c || !c->doc) {
        c = victim;
        cache_drop(c);
        wv_doc *d = NULL;
        int rc = build(db, doc, id, x, 1, &d);
        if (rc) return rc;
        c->id = id, c->x = x, c->doc = d;
    } else if (c->x < x) {
        int rc = integrate_entries(db, doc, id, c->x, x, c->doc);
        if (rc) {
            cache_drop(c);
            return rc;
        }
        c->x = x;
    }
    c->used = ++db->tick;
    *out = c;
    return WV_OK;
}

/* Writes a snapshot of d at x for doc `id` and drops older ones, inside the
 * current write transaction. */
static int snap_write(wvh_db *db, int64_t id, uint64_t x, const wv_doc *d) {
    size_t len;
    void *buf;
    int rc = wv_encode_alloc(d, 0, NULL, 0, db->has_alloc ? &db->alloc : NULL, &buf, &len);
    if (rc) return fail(db, rc, "cannot encode a snapshot: %s", wv_error_message(rc));
    sqlite3_stmt *q = stmt(db, S_SNAP_PUT);
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_int64(q, 2, (int64_t)x);
    sqlite3_bind_blob64(q, 3, buf, len, SQLITE_STATIC);
    int s = sqlite3_step(q);
    sqlite3_reset(q);
    mem_free(db, buf, len);
    if (s != SQLITE_DONE) return sql_fail(db, s, "writing a snapshot");
    q = stmt(db, S_SNAP_PRUNE);
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_int64(q, 2, (int64_t)x);
    s = sqlite3_step(q);
    sqlite3_reset(q);
    return s == SQLITE_DONE ? WV_OK : sql_fail(db, s, "pruning snapshots");
}

/* ---- opening ---------------------------------------------------------------- */

void wvh_options_default(wvh_options *opt) {
    if (!opt) return;
    memset(opt, 0, sizeof *opt);
    opt->busy_timeout_ms = 10000;
    opt->snapshot_every = 256;
}

/* One integer from a PRAGMA or SELECT; returns the SQLite code. */
static int query_int(sqlite3 *sql, const char *text, int64_t *v) {
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(sql, text, -1, &q, NULL);
    if (rc) return rc;
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) *v = sqlite3_column_int64(q, 0), rc = SQLITE_OK;
    else if (rc == SQLITE_DONE) *v = 0, rc = SQLITE_OK;
    sqlite3_finalize(q);
    return rc;
}

/* Reads application_id, user_version and the number of schema objects. */
/* One consistent view (a read transaction, unless one is open already):
 * read one by one, they could straddle another process's schema creation. */
static int probe(sqlite3 *sql, int64_t *app, int64_t *ver, int64_t *objs) {
    int own = sqlite3_get_autocommit(sql);
    int rc = own ? sqlite3_exec(sql, "BEGIN", NULL, NULL, NULL) : SQLITE_OK;
    if (!rc) rc = query_int(sql, "PRAGMA application_id", app);
    if (!rc) rc = query_int(sql, "PRAGMA user_version", ver);
    if (!rc) rc = query_int(sql, "SELECT count(*) FROM sqlite_master", objs);
    if (own && !sqlite3_get_autocommit(sql)) {
        int end = sqlite3_exec(sql, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
        if (!rc) rc = end;
    }
    return rc;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Switches the file to WAL mode (persistent; a no-op when it is already).
 * The switch needs every other connection away for an instant, and SQLite
 * does not call the busy handler for it, so it is retried here for up to
 * the busy timeout. */
static int set_wal(wvh_db *db, int timeout_ms) {
    double end = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        sqlite3_stmt *q;
        int rc = sqlite3_prepare_v2(db->sql, "PRAGMA journal_mode=WAL", -1, &q, NULL);
        if (rc) return sql_fail(db, rc, "setting WAL mode");
        rc = sqlite3_step(q);
        const char *mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 0) : NULL;
        int wal = mode && !strcmp(mode, "wal");
        sqlite3_finalize(q);
        if (wal) return WV_OK;
        if (rc == SQLITE_ROW) return fail(db, WVH_E_DB, "the file cannot be put in WAL mode");
        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
            return sql_fail(db, rc, "setting WAL mode");
        if (now_ms() >= end) return sql_fail(db, rc, "setting WAL mode");
        nanosleep(&(struct timespec){0, 2000000}, NULL); /* 2 ms */
    }
}

/* Decides what the file is; creates the schema in an empty one (create). */
static int check_schema(wvh_db *db, int create) {
    int64_t app, ver, objs;
    int rc = probe(db->sql, &app, &ver, &objs);
    if (rc) return sql_fail(db, rc, "reading the database header");
    if (app == 0 && ver == 0 && objs == 0) {
        if (!create)
            return fail(db, WVH_E_NOTDB, "an empty database, not a weave host database "
                                         "(open with WVH_CREATE to create one)");
        /* Created in the file's current journal mode; WAL comes after. */
        rc = sqlite3_exec(db->sql, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc) return sql_fail(db, rc, "creating the schema");
        rc = probe(db->sql, &app, &ver, &objs); /* another process may have won */
        if (!rc && app == 0 && ver == 0 && objs == 0)
            rc = sqlite3_exec(db->sql, schema_sql, NULL, NULL, NULL);
        if (!rc) rc = sqlite3_exec(db->sql, "COMMIT", NULL, NULL, NULL);
        if (rc) {
            int e = sql_fail(db, rc, "creating the schema");
            sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
            return e;
        }
        if (app == 0 && ver == 0 && objs == 0) app = APP_ID, ver = SCHEMA_VERSION;
        else if ((rc = probe(db->sql, &app, &ver, &objs)))
            return sql_fail(db, rc, "reading the database header");
    }
    if (app == 0)
        return fail(db, WVH_E_NOTDB, "a SQLite database of another application "
                                     "(no application_id; weave host's is 0x%08x)", APP_ID);
    if (app != APP_ID)
        return fail(db, WVH_E_NOTDB, "a SQLite database of another application "
                                     "(application_id 0x%08llx; weave host's is 0x%08x)",
                    (unsigned long long)(uint32_t)app, APP_ID);
    if (ver > SCHEMA_VERSION)
        return fail(db, WVH_E_NOTDB, "schema version %lld is newer than this library's (%d)",
                    (long long)ver, SCHEMA_VERSION);
    if (ver != SCHEMA_VERSION)
        return fail(db, WVH_E_NOTDB, "unknown schema version %lld", (long long)ver);
    return WV_OK;
}

static void close_handle(wvh_db *db) {
    for (int i = 0; i < CACHE_DOCS; i++) cache_drop(&db->cache[i]);
    for (int i = 0; i < S_COUNT; i++) sqlite3_finalize(db->st[i]);
    sqlite3_close_v2(db->sql);
    mem_free(db, db->atoms, db->atoms_cap * sizeof *db->atoms);
    wvh_db copy = *db;
    mem_free(&copy, db, sizeof *db);
}

int wvh_open_ex(wvh_db **out, const char *path, const wvh_options *opt, char *msg, size_t cap) {
    if (msg && cap) msg[0] = 0;
    if (out) *out = NULL;
    wvh_options o;
    wvh_options_default(&o);
    if (opt) o = *opt;
    static const uint8_t zero[sizeof o.reserved];
    if (!out || !path || memcmp(o.reserved, zero, sizeof zero) ||
        (o.flags & ~(WVH_CREATE | WVH_READONLY)) ||
        (o.flags & WVH_CREATE && o.flags & WVH_READONLY) ||
        (o.alloc && (!o.alloc->malloc || !o.alloc->realloc || !o.alloc->free))) {
        if (msg && cap) snprintf(msg, cap, "invalid argument");
        return WV_E_ARG;
    }
    wvh_db tmp = {0};
    if (o.alloc) tmp.has_alloc = 1, tmp.alloc = *o.alloc;
    wvh_db *db = mem_alloc(&tmp, sizeof *db);
    if (!db) {
        if (msg && cap) snprintf(msg, cap, "out of memory");
        return WV_E_NOMEM;
    }
    *db = tmp;
    db->flags = o.flags;
    db->snapshot_every = o.snapshot_every;
    wv_options_default(&db->dopt);
    if (db->has_alloc) db->dopt.alloc = &db->alloc; /* copied by each replica */

    int fl = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE;
    fl |= o.flags & WVH_READONLY ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    if (o.flags & WVH_CREATE) fl |= SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path, &db->sql, fl, NULL);
    if (rc) {
        rc = db->sql ? sql_fail(db, rc, "opening the database") : fail(db, WV_E_NOMEM, "out of memory");
        if (rc == WVH_E_DB && (sqlite3_errcode(db->sql) & 0xff) == SQLITE_CANTOPEN)
            snprintf(db->msg, sizeof db->msg, "cannot open the file%s",
                     o.flags & WVH_CREATE ? "" : " (no such file? WVH_CREATE creates it)");
        goto failed;
    }
    sqlite3_extended_result_codes(db->sql, 1);
    sqlite3_busy_timeout(db->sql, o.busy_timeout_ms > 0 ? o.busy_timeout_ms : 0);
    if ((rc = check_schema(db, !!(o.flags & WVH_CREATE)))) goto failed;
    if (!(o.flags & WVH_READONLY)) {
        if ((rc = set_wal(db, o.busy_timeout_ms))) goto failed;
    }
    /* FULL: a commit returns only after the WAL is synced, so an
     * acknowledged proposal survives power loss, not just a killed process
     * (NORMAL would give the latter only). */
    rc = sqlite3_exec(db->sql, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
    if (rc) {
        rc = sql_fail(db, rc, "setting synchronous=FULL");
        goto failed;
    }
    for (int i = 0; i < S_COUNT; i++) {
        rc = sqlite3_prepare_v3(db->sql, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &db->st[i], NULL);
        if (rc) {
            int e = map_sqlite(rc);
            if (e == WVH_E_DB) e = WVH_E_NOTDB; /* no such table, no such column */
            rc = fail(db, e, "not the weave host schema: %s", sqlite3_errmsg(db->sql));
            goto failed;
        }
    }
    *out = db;
    return WV_OK;
failed:
    if (msg && cap) snprintf(msg, cap, "%s", db->msg);
    close_handle(db);
    return rc;
}

int wvh_open(wvh_db **out, const char *path, unsigned flags) {
    wvh_options o;
    wvh_options_default(&o);
    o.flags = flags;
    return wvh_open_ex(out, path, &o, NULL, 0);
}

void wvh_close(wvh_db *db) {
    if (db) close_handle(db);
}

const char *wvh_errmsg(const wvh_db *db) { return db ? db->msg : ""; }

void wvh_set_snapshot_every(wvh_db *db, uint32_t k) {
    if (db) db->snapshot_every = k;
}

/* ---- documents ------------------------------------------------------------- */

int wvh_doc_create(wvh_db *db, const char *doc) {
    int rc = enter(db, doc);
    if (rc) return rc;
    if (!doc) return leave(db, fail(db, WV_E_ARG, "no document name"));
    if (db->flags & WVH_READONLY) return leave(db, fail(db, WVH_E_READONLY, "open read only"));
    sqlite3_stmt *q = stmt(db, S_CREATE);
    sqlite3_bind_text(q, 1, doc, -1, SQLITE_STATIC);
    int s = sqlite3_step(q);
    sqlite3_reset(q);
    if (s == SQLITE_CONSTRAINT_UNIQUE)
        return leave(db, fail(db, WVH_E_EXISTS, "document '%s' exists already", doc));
    return leave(db, s == SQLITE_DONE ? WV_OK : sql_fail(db, s, "creating a document"));
}

int wvh_doc_list(wvh_db *db, int (*fn)(const char *doc, void *ctx), void *ctx) {
    int rc = enter(db, NULL);
    if (rc) return rc;
    if (!fn) return leave(db, WV_E_ARG);
    if ((rc = exec1(db, S_BEGIN))) return leave(db, rc);
    sqlite3_stmt *q = stmt(db, S_LIST);
    int s;
    while ((s = sqlite3_step(q)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(q, 0);
        if (!name) return leave(db, fail(db, WVH_E_NOTDB, "a document without a name"));
        int r = fn(name, ctx);
        if (r) {
            sqlite3_reset(q);
            exec1(db, S_COMMIT);
            db->busy = 0;
            return r;
        }
    }
    if (s != SQLITE_DONE) return leave(db, sql_fail(db, s, "listing documents"));
    return leave(db, exec1(db, S_COMMIT));
}

int wvh_length(wvh_db *db, const char *doc, uint64_t *x) {
    int rc = enter(db, doc);
    if (rc) return rc;
    if (!doc || !x) return leave(db, WV_E_ARG);
    int64_t id;
    return leave(db, doc_find(db, doc, &id, x)); /* one statement: its own read transaction */
}

/* ---- proposing ------------------------------------------------------------- */

int wvh_propose(wvh_db *db, const char *doc, uint64_t site, uint64_t v, uint32_t n,
                const wv_atom_info *atoms, size_t natoms, uint64_t *seq) {
    int rc = enter(db, doc);
    if (rc) return rc;
    if (!doc || !atoms || natoms == 0)
        return leave(db, fail(db, WV_E_ARG, "an empty transaction"));
    if (site == 0 || site == HOST_SITE)
        return leave(db, fail(db, WV_E_ARG, "invalid site id %llu", (unsigned long long)site));
    for (size_t i = 0; i < natoms; i++)
        if (atoms[i].site != site)
            return leave(db, fail(db, WV_E_ARG, "atom %zu is not of site %llu", i, (unsigned long long)site));
    if (natoms > WVH_TXN_MAX_ATOMS)
        return leave(db, fail(db, WV_E_LIMIT, "more than %u atoms in one transaction", WVH_TXN_MAX_ATOMS));
    if (v > INT64_MAX) return leave(db, fail(db, WV_E_RANGE, "v is past the log"));
    if (db->flags & WVH_READONLY) return leave(db, fail(db, WVH_E_READONLY, "open read only"));
    size_t blen = BLOB_BYTES(natoms);
    unsigned char *blob = mem_alloc(db, blen);
    if (!blob) return leave(db, fail(db, WV_E_NOMEM, "out of memory"));
    blob_encode(blob, atoms, natoms);

    int64_t id;
    uint64_t x;
    cached *c = NULL;
    int applied = 0;
    if ((rc = exec1(db, S_BEGIN_IMM)) || (rc = doc_find(db, doc, &id, &x))) goto done;
    if (v > x) {
        rc = fail(db, WV_E_RANGE, "v = %llu is past the log's end (x = %llu)",
                  (unsigned long long)v, (unsigned long long)x);
        goto done;
    }
    sqlite3_stmt *q = stmt(db, S_LOCK);
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_int64(q, 2, (int64_t)v);
    sqlite3_bind_int64(q, 3, (int64_t)n);
    int s = sqlite3_step(q);
    sqlite3_reset(q);
    if (s != SQLITE_DONE) {
        rc = sql_fail(db, s, "lock");
        goto done;
    }
    if (sqlite3_changes(db->sql) != 1) {
        rc = fail(db, WV_E_BUSY, "lock(%llu, %u) refused: x = %llu", (unsigned long long)v, n,
                  (unsigned long long)x);
        goto done;
    }
    if ((rc = cache_get(db, doc, id, x, &c))) goto done;
    uint32_t top = wv_doc_weft(c->doc, site);
    for (size_t i = 0; i < natoms; i++)
        if (atoms[i].clock <= top) {
            rc = fail(db, WV_E_DUPLICATE, "atom %llu:%u is in the log already",
                      (unsigned long long)site, atoms[i].clock);
            goto done;
        }
    if ((rc = wv_apply(c->doc, atoms, natoms))) {
        fail(db, rc, "invalid transaction: %s", wv_error_message(rc));
        goto done;
    }
    applied = 1; /* from here on, failure drops the cached replica */
    c->x = x + 1;
    q = stmt(db, S_APPEND);
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_int64(q, 2, (int64_t)x);
    sqlite3_bind_int64(q, 3, (int64_t)site);
    sqlite3_bind_blob64(q, 4, blob, blen, SQLITE_STATIC);
    s = sqlite3_step(q);
    sqlite3_reset(q);
    if (s == SQLITE_CONSTRAINT_PRIMARYKEY) { /* rows past x: the file was altered */
        rc = fail(db, WVH_E_NOTDB, "document '%s': the log holds an entry %llu past x", doc,
                  (unsigned long long)x);
        goto done;
    }
    if (s != SQLITE_DONE) {
        rc = sql_fail(db, s, "appending to the log");
        goto done;
    }
    if (db->snapshot_every && (x + 1) % db->snapshot_every == 0 &&
        (rc = snap_write(db, id, x + 1, c->doc)))
        goto done;
    rc = exec1(db, S_COMMIT);
done:
    mem_free(db, blob, blen);
    if (rc) {
        if (applied) cache_drop(c);
        return leave(db, rc);
    }
    if (seq) *seq = x;
    return leave(db, WV_OK);
}

/* ---- reading ---------------------------------------------------------------- */

typedef struct read_ctx {
    wvh_entry_fn fn;
    void *ctx;
    int stopped;
    uint64_t next;
} read_ctx;

static int visit_user(wvh_db *db, uint64_t seq, uint64_t site, size_t n, void *ctx) {
    read_ctx *r = ctx;
    int rc = r->fn(seq, site, db->atoms, n, r->ctx);
    if (rc) {
        r->stopped = 1;
        return rc;
    }
    r->next = seq + 1;
    return WV_OK;
}

int wvh_read(wvh_db *db, const char *doc, uint64_t from, wvh_entry_fn fn, void *ctx,
             uint64_t *next) {
    int rc = enter(db, doc);
    if (rc) return rc;
    if (!doc || !fn) return leave(db, WV_E_ARG);
    if (next) *next = from;
    int64_t id;
    uint64_t x;
    if ((rc = exec1(db, S_BEGIN)) || (rc = doc_find(db, doc, &id, &x))) return leave(db, rc);
    if (from > x)
        return leave(db, fail(db, WV_E_RANGE, "from = %llu is past the log's end (x = %llu)",
                              (unsigned long long)from, (unsigned long long)x));
    read_ctx r = {fn, ctx, 0, from};
    rc = read_entries(db, doc, id, from, x, visit_user, &r);
    if (next) *next = r.next;
    if (r.stopped) {
        reset_all(db);
        rollback(db); /* ends the read transaction */
        db->busy = 0;
        return rc;
    }
    if (!rc) rc = exec1(db, S_COMMIT);
    return leave(db, rc);
}

/* *out := a replica of d at `site` (0: a copy of d itself). */
static int replica_at(wvh_db *db, const wv_doc *d, uint64_t site, wv_doc **out) {
    int rc;
    if (site == 0) {
        rc = wv_doc_clone(d, out);
    } else {
        wv_doc *r;
        rc = wv_doc_new(&r, site, &db->dopt);
        if (!rc && (rc = wv_merge(r, d))) wv_doc_free(r);
        if (!rc) *out = r;
    }
    return rc ? fail(db, rc, "cannot build the replica: %s", wv_error_message(rc)) : WV_OK;
}

int wvh_load(wvh_db *db, const char *doc, uint64_t site, wv_doc **out, uint64_t *x) {
    int rc = enter(db, doc);
    if (rc) return rc;
    if (!doc || !out || site == HOST_SITE) return leave(db, WV_E_ARG);
    int64_t id;
    uint64_t len;
    cached *c;
    if ((rc = exec1(db, S_BEGIN)) || (rc = doc_find(db, doc, &id, &len)) ||
        (rc = cache_get(db, doc, id, len, &c)) || (rc = exec1(db, S_COMMIT)))
        return leave(db, rc);
    if ((rc = replica_at(db, c->doc, site, out))) return leave(db, rc);
    if (x) *x = len;
    return leave(db, WV_OK);
}

int wvh_replay(wvh_db *db, const char *doc, uint64_t upto, uint64_t site, wv_doc **out) {
    int rc = enter(db, doc);
    if (rc) return rc;
    if (!doc || !out || site == HOST_SITE) return leave(db, WV_E_ARG);
    int64_t id;
    uint64_t x;
    wv_doc *d = NULL;
    if ((rc = exec1(db, S_BEGIN)) || (rc = doc_find(db, doc, &id, &x))) return leave(db, rc);
    if (upto > x)
        return leave(db, fail(db, WV_E_RANGE, "upto = %llu is past the log's end (x = %llu)",
                              (unsigned long long)upto, (unsigned long long)x));
    if ((rc = build(db, doc, id, upto, 0, &d)) || (rc = exec1(db, S_COMMIT))) {
        wv_doc_free(d);
        return leave(db, rc);
    }
    if (site == 0) {
        *out = d;
        return leave(db, WV_OK);
    }
    rc = replica_at(db, d, site, out);
    wv_doc_free(d);
    return leave(db, rc);
}

int wvh_snapshot(wvh_db *db, const char *doc, uint64_t *x) {
    int rc = enter(db, doc);
    if (rc) return rc;
    if (!doc) return leave(db, WV_E_ARG);
    if (db->flags & WVH_READONLY) return leave(db, fail(db, WVH_E_READONLY, "open read only"));
    int64_t id;
    uint64_t len;
    cached *c;
    if ((rc = exec1(db, S_BEGIN_IMM)) || (rc = doc_find(db, doc, &id, &len))) return leave(db, rc);
    sqlite3_stmt *q = stmt(db, S_SNAP_AT);
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_int64(q, 2, (int64_t)len);
    int s = sqlite3_step(q);
    sqlite3_reset(q);
    if (s != SQLITE_ROW && s != SQLITE_DONE) return leave(db, sql_fail(db, s, "reading snapshots"));
    if (s == SQLITE_DONE &&
        ((rc = cache_get(db, doc, id, len, &c)) || (rc = snap_write(db, id, len, c->doc))))
        return leave(db, rc);
    if ((rc = exec1(db, S_COMMIT))) return leave(db, rc);
    if (x) *x = len;
    return leave(db, WV_OK);
}

/* ---- checking --------------------------------------------------------------- */

/* Compares the snapshot of doc `id` at sx with d (the replay at sx). */
static int check_snapshot(wvh_db *db, const char *doc, int64_t id, uint64_t sx, const wv_doc *d) {
    sqlite3_stmt *q = stmt(db, S_SNAP_AT);
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_int64(q, 2, (int64_t)sx);
    int s = sqlite3_step(q);
    if (s != SQLITE_ROW) return sql_fail(db, s, "reading a snapshot");
    wv_doc *snap;
    int rc = snap_decode(db, doc, sx, sqlite3_column_blob(q, 0), (size_t)sqlite3_column_bytes(q, 0), &snap);
    sqlite3_reset(q);
    if (rc) return rc;
    int same = wv_weave_hash(snap) == wv_weave_hash(d) && wv_doc_atoms(snap) == wv_doc_atoms(d);
    wv_doc_free(snap);
    if (!same)
        return fail(db, WV_E_CORRUPT, "document '%s': the snapshot at %llu differs from the log's replay",
                    doc, (unsigned long long)sx);
    return WV_OK;
}

typedef struct check_ctx {
    batch b;
    int64_t id;
    uint64_t *snaps; /* snapshot positions, ascending */
    size_t nsnaps, k; /* k: the next to compare */
} check_ctx;

static int visit_check(wvh_db *db, uint64_t seq, uint64_t site, size_t n, void *ctx) {
    (void)site;
    check_ctx *k = ctx;
    int rc = batch_add(db, &k->b, seq, n);
    if (!rc && k->k < k->nsnaps && k->snaps[k->k] == seq + 1) rc = batch_flush(db, &k->b);
    for (; !rc && k->k < k->nsnaps && k->snaps[k->k] == seq + 1; k->k++)
        rc = check_snapshot(db, k->b.doc, k->id, seq + 1, k->b.d);
    return rc;
}

static int check_doc(wvh_db *db, const char *doc, int64_t id, uint64_t x) {
    sqlite3_stmt *q = stmt(db, S_LOG_SPAN);
    sqlite3_bind_int64(q, 1, id);
    int s = sqlite3_step(q);
    if (s != SQLITE_ROW) return sql_fail(db, s, "counting the log");
    int64_t count = sqlite3_column_int64(q, 0), lo = sqlite3_column_int64(q, 1),
            hi = sqlite3_column_int64(q, 2);
    sqlite3_reset(q);
    if ((uint64_t)count != x || (count && (lo != 0 || hi != count - 1)))
        return fail(db, WVH_E_NOTDB, "document '%s': the log does not match x = %llu: it holds %lld entries (%lld..%lld)",
                    doc, (unsigned long long)x, (long long)count, (long long)lo, (long long)hi);
    check_ctx k = {.b = {.doc = doc}, .id = id};
    size_t cap = 0;
    int rc = WV_OK;
    q = stmt(db, S_SNAP_LIST);
    sqlite3_bind_int64(q, 1, id);
    while ((s = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t sx = sqlite3_column_int64(q, 0);
        if (sx < 0 || (uint64_t)sx > x) {
            rc = fail(db, WVH_E_NOTDB, "document '%s': a snapshot at %lld, past the log", doc, (long long)sx);
            break;
        }
        if (k.nsnaps == cap) {
            size_t ncap = cap ? 2 * cap : 8;
            uint64_t *p = mem_alloc(db, ncap * sizeof *p);
            if (!p) {
                rc = fail(db, WV_E_NOMEM, "out of memory");
                break;
            }
            if (k.nsnaps) memcpy(p, k.snaps, k.nsnaps * sizeof *p);
            mem_free(db, k.snaps, cap * sizeof *p);
            k.snaps = p, cap = ncap;
        }
        k.snaps[k.nsnaps++] = (uint64_t)sx;
    }
    sqlite3_reset(q);
    if (!rc && s != SQLITE_DONE && s != SQLITE_ROW) rc = sql_fail(db, s, "listing snapshots");
    if (!rc && (rc = wv_doc_new(&k.b.d, HOST_SITE, &db->dopt))) fail(db, rc, "cannot create a replica");
    for (; !rc && k.k < k.nsnaps && k.snaps[k.k] == 0; k.k++) rc = check_snapshot(db, doc, id, 0, k.b.d);
    if (!rc) rc = read_entries(db, doc, id, 0, x, visit_check, &k);
    if (!rc) rc = batch_flush(db, &k.b);
    if (!rc) {
        char msg[256];
        int c = wv_check(k.b.d, msg, sizeof msg);
        if (c == WV_E_NOMEM) rc = fail(db, c, "out of memory checking the weave");
        else if (c) rc = fail(db, WV_E_CORRUPT, "document '%s': the replayed weave is invalid: %s", doc, msg);
    }
    wv_doc_free(k.b.d);
    batch_free(db, &k.b);
    mem_free(db, k.snaps, cap * sizeof *k.snaps);
    return rc;
}

int wvh_check(wvh_db *db, const char *doc) {
    int rc = enter(db, doc);
    if (rc) return rc;
    if ((rc = exec1(db, S_BEGIN))) return leave(db, rc);
    /* The file itself first: quick_check returns the single row "ok". */
    sqlite3_stmt *qc;
    int s = sqlite3_prepare_v2(db->sql, "PRAGMA quick_check", -1, &qc, NULL);
    if (s) return leave(db, sql_fail(db, s, "PRAGMA quick_check"));
    s = sqlite3_step(qc);
    const char *t = s == SQLITE_ROW ? (const char *)sqlite3_column_text(qc, 0) : NULL;
    if (!t || strcmp(t, "ok"))
        rc = s == SQLITE_ROW || s == SQLITE_DONE
                 ? fail(db, WVH_E_NOTDB, "the database file is damaged: %s", t ? t : "no result")
                 : sql_fail(db, s, "PRAGMA quick_check");
    sqlite3_finalize(qc);
    if (rc) return leave(db, rc);
    if (doc) {
        int64_t id;
        uint64_t x;
        if (!(rc = doc_find(db, doc, &id, &x))) rc = check_doc(db, doc, id, x);
    } else {
        /* Collect the documents first: check_doc uses the statements. */
        sqlite3_stmt *q = stmt(db, S_DOCS_ALL);
        s = SQLITE_DONE;
        typedef struct item { int64_t id; uint64_t x; char *name; size_t len; } item;
        item *items = NULL;
        size_t n = 0, cap = 0;
        while (!rc && (s = sqlite3_step(q)) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(q, 1);
            int64_t x = sqlite3_column_int64(q, 2);
            if (!name || x < 0) {
                rc = fail(db, WVH_E_NOTDB, "a malformed document row");
                break;
            }
            if (n == cap) {
                size_t ncap = cap ? 2 * cap : 16;
                item *p = mem_alloc(db, ncap * sizeof *p);
                if (!p) {
                    rc = fail(db, WV_E_NOMEM, "out of memory");
                    break;
                }
                if (n) memcpy(p, items, n * sizeof *p);
                mem_free(db, items, cap * sizeof *p);
                items = p, cap = ncap;
            }
            size_t len = strlen(name) + 1;
            char *copy = mem_alloc(db, len);
            if (!copy) {
                rc = fail(db, WV_E_NOMEM, "out of memory");
                break;
            }
            memcpy(copy, name, len);
            items[n++] = (item){sqlite3_column_int64(q, 0), (uint64_t)x, copy, len};
        }
        sqlite3_reset(q);
        if (!rc && s != SQLITE_DONE) rc = sql_fail(db, s, "listing documents");
        for (size_t i = 0; !rc && i < n; i++) rc = check_doc(db, items[i].name, items[i].id, items[i].x);
        for (size_t i = 0; i < n; i++) mem_free(db, items[i].name, items[i].len);
        mem_free(db, items, cap * sizeof *items);
    }
    if (!rc) rc = exec1(db, S_COMMIT);
    return leave(db, rc);
}

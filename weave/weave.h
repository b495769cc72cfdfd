/* weave.h — public API of weave, a causal-tree (weave) CRDT engine.
 *
 * A replica (wv_doc) holds a document and its whole history as one weave: the
 * pre-order walk of a causal tree of atoms, stored as a flat sequence of
 * 16-byte records. Replicas of the same document edit locally and offline,
 * then merge weaves; any order of merges yields byte-identical weaves.
 * DESIGN.md in the source tree gives the model; README.md gives examples.
 *
 * Conventions
 * - Every fallible call returns int: WV_OK (0) or a negative WV_E_* code, and
 *   on error leaves every replica it was given exactly as it was.
 * - No global state. A wv_doc is thread-compatible: use it from one thread at
 *   a time; distinct docs are independent. Reading calls take const docs and
 *   may run concurrently with each other.
 * - Free functions accept NULL.
 * - Positions and lengths of text count Unicode code points.
 */
#ifndef WEAVE_H
#define WEAVE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(WV_BUILDING_LIBRARY) && defined(__GNUC__)
#define WV_API __attribute__((visibility("default")))
#else
#define WV_API
#endif

#define WV_VERSION_MAJOR 0
#define WV_VERSION_MINOR 1
#define WV_VERSION_PATCH 0

/* Error codes. The values are pinned: they never change meaning. */
enum wv_error {
    WV_OK = 0,
    WV_E_NOMEM = -1,     /* an allocation failed */
    WV_E_ARG = -2,       /* invalid argument (NULL handle, bad flag) */
    WV_E_RANGE = -3,     /* position or length outside the document */
    WV_E_UTF8 = -4,      /* text is not valid UTF-8 */
    WV_E_SITE = -5,      /* site id 0, or a fork onto a site already known */
    WV_E_LIMIT = -6,     /* a limit is reached: a clock, site or atom count would
                            overflow, or a builder or JSON nests too deep */
    WV_E_CORRUPT = -7,   /* a weave breaks an invariant, or two weaves disagree */
    WV_E_MODIFIED = -8,  /* an iterator's doc changed since the iterator began */
    WV_E_CAUSE = -9,     /* an atom's cause is neither held nor delivered with it */
    WV_E_DUPLICATE = -10,/* an id arrives twice with different content, or an id the
                            weft covers differs from (or is absent in) the replica */
    WV_E_CLOCK = -11,    /* an atom's clock is not above its cause's */
    WV_E_ATOM = -12,     /* a malformed atom: unknown kind, bad value, site 0,
                            a delete of the root or of a delete */
    WV_E_BUSY = -13,     /* site host: the log moved past the lock window */
    WV_E_TRUNCATED = -14,/* encoded bytes end early */
    WV_E_FORMAT = -15,   /* not weave bytes: bad magic, unknown kind, malformed field */
    WV_E_VERSION = -16,  /* weave bytes of a format version this library cannot read */
    WV_E_CHECKSUM = -17, /* encoded bytes damaged: XXH3 checksum mismatch */
    WV_E_SIZE = -18,     /* an impossible size or count in encoded bytes */
    WV_E_BUFFER = -19,   /* the destination buffer is too small */
    WV_E_TYPE = -20,     /* a structure call on a value of another type */
    WV_E_NOTFOUND = -21, /* no such container, key, index or path */
};

/* Name of an error code ("WV_E_NOMEM"), or "WV_E_UNKNOWN". Never NULL. */
WV_API const char *wv_error_name(int code);
/* One-sentence description of an error code. Never NULL. */
WV_API const char *wv_error_message(int code);

/* Allocator hook, per replica. Sizes are passed back on realloc and free so
 * that sized allocators (arenas, counting test allocators) need no headers.
 * malloc and realloc return NULL on failure; free accepts NULL. */
typedef struct wv_alloc {
    void *(*malloc)(void *ctx, size_t size);
    void *(*realloc)(void *ctx, void *ptr, size_t old_size, size_t new_size);
    void (*free)(void *ctx, void *ptr, size_t size);
    void *ctx;
} wv_alloc;

/* Options for wv_doc_new. Initialise with wv_options_default(). */
typedef struct wv_options {
    const wv_alloc *alloc;  /* NULL: mimalloc (through its API, never as an
                               override of the host's malloc). Copied. */
    int level;              /* zstd level of this replica's wv_encode: 0 for
                               the default (1, zstd's fastest), 1..22, or -1
                               to store streams uncompressed */
    uint8_t reserved[28];   /* must be zero */
} wv_options;

WV_API void wv_options_default(wv_options *opt);

/* A replica: one site's copy of a document. Opaque. */
typedef struct wv_doc wv_doc;

/* Creates an empty replica (only the root atom) for global site id `site`
 * (any value but 0, which names the root). Its clock starts at 0, so its
 * first atom has clock 1. `opt` may be NULL for defaults.
 * Returns WV_OK and sets *out, or WV_E_ARG, WV_E_SITE, WV_E_NOMEM. */
WV_API int wv_doc_new(wv_doc **out, uint64_t site, const wv_options *opt);

/* Frees a replica and everything it owns. NULL is a no-op. */
WV_API void wv_doc_free(wv_doc *doc);

/* Forks `src` into a new replica *out at global site id `site`, using src's
 * allocator. Forking is an event: src's clock ticks, and the new replica
 * starts at that clock. `site` must be new to src (WV_E_SITE otherwise);
 * that it is new to every other replica is the embedder's contract.
 * On error, src is unchanged (its clock too) and *out is untouched. */
WV_API int wv_doc_fork(wv_doc *src, uint64_t site, wv_doc **out);

/* Copies `src` exactly, same site, clock and weave, into *out. For
 * snapshots: a clone and its original must not both go on editing, or they
 * would create atoms with the same ids (WV_E_CORRUPT when merged).
 * Returns WV_OK, WV_E_ARG, WV_E_NOMEM; src is never changed. */
WV_API int wv_doc_clone(const wv_doc *src, wv_doc **out);

/* Merges src's weave into dst (src is read only; dst == src is allowed).
 * Linear in the sizes of both weaves. Afterwards dst holds the union of both
 * atom sets, and its clock is max(dst clock, highest clock in src) + 1.
 * Merging is commutative, associative and idempotent: every order of merges
 * of the same histories yields byte-identical weaves.
 * Returns WV_OK, WV_E_NOMEM, WV_E_LIMIT, or WV_E_CORRUPT when the two weaves
 * disagree about an atom both claim to hold (they are not replicas of one
 * document, or a site id was reused). On error dst is unchanged. */
WV_API int wv_merge(wv_doc *dst, const wv_doc *src);

/* Accessors. */
WV_API uint64_t wv_doc_site(const wv_doc *doc);   /* own global site id */
WV_API uint32_t wv_doc_clock(const wv_doc *doc);  /* Lamport clock */
WV_API size_t wv_doc_atoms(const wv_doc *doc);    /* atoms held, root included */
WV_API size_t wv_doc_bytes(const wv_doc *doc);    /* bytes retained by the replica */
/* Highest clock of `site`'s atoms held here (the weft's entry), 0 if none. */
WV_API uint32_t wv_doc_weft(const wv_doc *doc, uint64_t site);

/* XXH3-64 of the weave in canonical form: each atom as (site id, clock,
 * cause site id, cause clock, kind, value, deleted) with global site ids, in
 * weave order. Equal hashes <=> byte-identical weaves (up to hash collisions),
 * whatever order each replica learned its sites in. Returns 0 for NULL. */
WV_API uint64_t wv_weave_hash(const wv_doc *doc);

/* Verifies every invariant of the weave (DESIGN.md §1: ancestors first,
 * clocks increasing down the tree, contiguous causal blocks, child order, no
 * duplicate ids, weft equal to the atoms held) and of the indexes kept beside
 * it. Returns WV_OK, or WV_E_CORRUPT and writes a description of the first
 * violation found into msg (NUL-terminated, truncated to cap; msg may be NULL
 * when cap is 0). O(n log n); meant for tests, fuzzing and debugging. */
WV_API int wv_check(const wv_doc *doc, char *msg, size_t cap);

/* ---- Text --------------------------------------------------------------- */

/* Number of visible characters (code points). */
WV_API size_t wv_text_len(const wv_doc *doc);

/* Inserts `len` bytes of UTF-8 at visible position pos (0 <= pos <=
 * wv_text_len). Creates one atom per code point, left to right, each caused
 * by the one before; the first is caused by the character at pos - 1 (the
 * root when pos is 0). Returns WV_OK, WV_E_ARG (NULL text with len > 0),
 * WV_E_RANGE, WV_E_UTF8, WV_E_LIMIT, WV_E_NOMEM; nothing changes on error. */
WV_API int wv_text_insert(wv_doc *doc, size_t pos, const char *utf8, size_t len);

/* Deletes n visible characters from pos (pos + n <= wv_text_len): creates one
 * delete atom per character, left to right. Deleted characters stay in the
 * weave as tombstones. Returns WV_OK, WV_E_RANGE, WV_E_LIMIT, WV_E_NOMEM;
 * nothing changes on error. */
WV_API int wv_text_delete(wv_doc *doc, size_t pos, size_t n);

/* Writes the visible text as UTF-8 into dst, like snprintf: at most cap bytes
 * including a terminating NUL (when cap > 0), and returns the full length in
 * bytes without the NUL. dst may be NULL when cap is 0. */
WV_API size_t wv_text_read(const wv_doc *doc, char *dst, size_t cap);

/* ---- Reading the weave -------------------------------------------------- */

/* Atom kinds. Values are pinned (they appear in encodings). */
typedef enum wv_kind {
    WV_KIND_ROOT = 0,    /* atom 0 of every weave */
    WV_KIND_CHAR = 1,    /* value: a Unicode code point */
    WV_KIND_DELETE = 2,  /* hides its cause: a char, list element, map entry or set marker */
    /* Structures (see "Structures" below). A payload (a key, a string, the
     * bytes of a number) is a chain of DATA atoms under its owner, each
     * caused by the one before, 3 bytes each, the owner's value giving the
     * length in bytes. */
    WV_KIND_DATA = 3,    /* value: b0 | b1 << 8 | b2 << 16 */
    WV_KIND_STR = 4,     /* text container: chars as the root text */
    WV_KIND_LIST = 5,    /* sequence of ELEMs */
    WV_KIND_MAP = 6,     /* ENTRYs */
    WV_KIND_SET = 7,     /* ELEMs (members) and MARKs; value: 0 add-wins, 1 remove-wins */
    WV_KIND_COUNTER = 8, /* INCs */
    WV_KIND_NULL = 9,
    WV_KIND_BOOL = 10,   /* value: 0 or 1 */
    WV_KIND_INT = 11,    /* value: payload bytes 0..8, int64 little-endian, sign-extended */
    WV_KIND_FLOAT = 12,  /* value: 8, IEEE 754 binary64 little-endian */
    WV_KIND_STRING = 13, /* immutable UTF-8 string; value: payload bytes */
    WV_KIND_ELEM = 14,   /* list element / set member: holds one value */
    WV_KIND_ENTRY = 15,  /* map entry: key (payload; value: its bytes), then one value */
    WV_KIND_MARK = 16,   /* remove-wins set: a removal of the value it holds */
    WV_KIND_INC = 17,    /* counter increment; payload and value as INT */
} wv_kind;

typedef struct wv_atom_info {
    uint64_t site;        /* creating site (global id; 0 for the root) */
    uint32_t clock;       /* Lamport timestamp (0 for the root) */
    uint64_t cause_site;  /* the cause's id (the root's own id for the root) */
    uint32_t cause_clock;
    wv_kind kind;
    uint32_t value;       /* code point for chars; see wv_kind for the rest */
    int deleted;          /* 1 if a delete atom targets this atom */
} wv_atom_info;

/* ---- Deltas: exchanging atoms ------------------------------------------ */

/* One entry of a weft (version vector): a site and the highest clock of its
 * atoms held. A replica holds every atom of `site` with clock <= `clock`. */
typedef struct wv_weft_entry {
    uint64_t site;
    uint32_t clock;
} wv_weft_entry;

/* Writes the replica's weft, one entry per site that has atoms, by ascending
 * site id, into dst (at most cap entries); returns the number of entries
 * (call again with a larger dst when it exceeds cap). */
WV_API size_t wv_doc_weft_all(const wv_doc *doc, wv_weft_entry *dst, size_t cap);

/* The delta past a weft: the atoms held whose clock is above since's entry
 * for their site (0 for sites absent from since; since may be NULL when
 * nsince is 0, giving every atom but the root). Writes them in weave order,
 * so every cause precedes its effects, into dst (at most cap atoms; dst may
 * be NULL when cap is 0) and sets *count to how many there are: call again
 * with a larger dst when *count > cap. O(n). Returns WV_OK, WV_E_ARG or
 * WV_E_NOMEM. */
WV_API int wv_delta(const wv_doc *doc, const wv_weft_entry *since, size_t nsince,
                    wv_atom_info *dst, size_t cap, size_t *count);

/* Integrates atoms made elsewhere (a delta from wv_delta, a host log entry),
 * in any order, in one linear pass over the weave. The `deleted` field is
 * ignored. Atoms the replica already holds must match exactly and are
 * skipped. Afterwards the replica holds the union, and receiving is an event:
 * its clock becomes max(own clock, highest clock received) + 1.
 * Every atom is validated before anything changes: WV_E_ATOM, WV_E_CLOCK,
 * WV_E_CAUSE (a cause neither held nor among the atoms), WV_E_DUPLICATE,
 * WV_E_LIMIT, WV_E_NOMEM, WV_E_ARG (NULL atoms with n > 0). All or nothing:
 * on error the replica is unchanged. */
WV_API int wv_apply(wv_doc *doc, const wv_atom_info *atoms, size_t n);

/* ---- Iteration ---------------------------------------------------------- */

/* Iterates the weave in order, root first. The fields are private. Any change
 * to the doc invalidates the iterator: wv_iter_next then returns
 * WV_E_MODIFIED instead of reading stale memory. */
typedef struct wv_iter {
    const wv_doc *doc;
    size_t chunk, index;
    uint64_t version;
} wv_iter;

WV_API void wv_iter_begin(wv_iter *it, const wv_doc *doc);
/* Returns 1 and fills *out, 0 at the end, or WV_E_MODIFIED. */
WV_API int wv_iter_next(wv_iter *it, wv_atom_info *out);

/* ---- Binary format (docs/FORMAT.md) ------------------------------------------ */

/* Three kinds of bytes, each with a versioned header and an XXH3-64
 * checksum: a document (a whole replica: site table, its own site and
 * clock, the weave), a delta (the atoms past a weft, for a peer) and a weft
 * (what a peer holds). Encodings are deterministic: equal replicas at the
 * same level (wv_options.level) encode to equal bytes with a given zstd.
 * From 64 atoms on, the fields are written as streams compressed with zstd
 * (version 3): the editing traces cost 0.33 to 0.94 bytes per edit at the
 * default level (1); higher levels trade saving time for a few percent of
 * size. Decoding
 * validates everything before it changes anything. */
typedef enum wv_bytes_kind {
    WV_BYTES_DOCUMENT = 1,
    WV_BYTES_DELTA = 2,
    WV_BYTES_WEFT = 3,
} wv_bytes_kind;

/* Upper bound of wv_encode's output for this replica (any since). */
WV_API size_t wv_encode_bound(const wv_doc *doc);

/* Encodes the whole replica (since NULL and nsince 0: a document) or the
 * delta past `since` (a delta; since may be empty: every atom) into dst.
 * Sets *written. Returns WV_OK, WV_E_ARG, WV_E_NOMEM, or WV_E_BUFFER when
 * cap is too small (wv_encode_bound is always enough). */
WV_API int wv_encode(const wv_doc *doc, int delta, const wv_weft_entry *since, size_t nsince,
                     void *dst, size_t cap, size_t *written);

/* Encodes as wv_encode does into memory it allocates from `al` (NULL: the
 * C library's malloc): *out gets exactly *len bytes, which the caller
 * releases with free(), or with al->free(al->ctx, *out, *len). No bound to
 * allocate first (wv_encode_bound is 40 bytes an atom; documents take
 * 0.3 to 2). Returns WV_OK, WV_E_ARG or WV_E_NOMEM; on error *out is NULL
 * and nothing is left allocated. */
WV_API int wv_encode_alloc(const wv_doc *doc, int delta, const wv_weft_entry *since, size_t nsince,
                           const wv_alloc *al, void **out, size_t *len);

/* Encodes the replica's weft (wv_doc_weft_all) as weft bytes. */
WV_API int wv_weft_encode(const wv_doc *doc, void *dst, size_t cap, size_t *written);

/* Decodes weft bytes into dst (at most cap entries); *n gets the count. */
WV_API int wv_weft_decode(const void *src, size_t len, wv_weft_entry *dst, size_t cap, size_t *n);

/* The kind of encoded bytes (after checking header and checksum), or a
 * negative error: WV_E_TRUNCATED, WV_E_FORMAT, WV_E_VERSION, WV_E_CHECKSUM. */
WV_API int wv_bytes_kind_of(const void *src, size_t len);

/* Loads document bytes into a new replica (its own site and clock restored).
 * Bulk: the weave is copied in order and then validated, never integrated
 * atom by atom. Errors: WV_E_TRUNCATED, WV_E_FORMAT, WV_E_VERSION,
 * WV_E_CHECKSUM, WV_E_SIZE (counts are capped by the input's size before
 * anything is allocated), WV_E_CAUSE, WV_E_DUPLICATE, WV_E_CLOCK, WV_E_ATOM,
 * WV_E_CORRUPT (atoms valid but not in weave order), WV_E_NOMEM. */
WV_API int wv_decode(wv_doc **out, const void *src, size_t len, const wv_options *opt);

/* Applies document or delta bytes to a replica: a document is merged
 * (wv_merge), a delta integrated (wv_apply). All or nothing: on any error
 * (wv_decode's, or wv_apply's) the replica is exactly as before. */
WV_API int wv_apply_bytes(wv_doc *doc, const void *src, size_t len);

/* ---- Structures: maps, lists, sets, counters, strs (DESIGN.md §4) ------- */

/* A replica also holds a JSON-like document on the same weave: the root is a
 * map (its entries hang under the root atom beside the root text, which the
 * wv_text_* calls keep editing). Containers and values are atoms; their
 * content hangs under them, so one merge serves text and structures alike.
 *
 * Concurrency (README "Structures"):
 * - map: a write supersedes every value of its key its writer had seen;
 *   concurrent writes are all kept (a multi-value register): reads return
 *   the winner, the first in weave order (the newest, ties to the lower
 *   site), and wv_map_conflicts lists them all. Delete removes the values
 *   its writer had seen: a concurrent write survives.
 * - list: elements in sequence like text; deleting an element hides its value.
 * - set of scalars: add-wins (concurrent add and remove: present) or, chosen
 *   at creation, remove-wins (absent).
 * - counter: every increment counts, concurrent ones too.
 * - deleting a container (its map entry or list element) hides everything
 *   under it, concurrent edits inside it too.
 *
 * Cost: every call below finds its container by id with a scan of the weave
 * and its content with a scan of the container's causal block: O(n). */

/* A value's identity: the id of its atom, stable across merges and
 * encodings. {0, 0} is the root map. */
typedef struct wv_ref {
    uint64_t site;
    uint32_t clock;
} wv_ref;

typedef enum wv_type {
    WV_T_NULL = 0, WV_T_BOOL, WV_T_INT, WV_T_FLOAT, WV_T_STRING,  /* scalars */
    WV_T_STR, WV_T_LIST, WV_T_MAP, WV_T_SET, WV_T_COUNTER,        /* containers */
} wv_type;

/* A value to write, or one read. Writing a container type creates a new,
 * empty container (a STR with `str`/`len` as its text, a SET with
 * `remove_wins` as its policy). Reading fills `ref`, and: `boolean`,
 * `integer` (INT, and a COUNTER's total), `number` (FLOAT), `len` (STRING:
 * bytes, STR: chars, LIST: elements, MAP: keys, SET: members); `str` is NULL
 * when read (copy text out with wv_value_text). */
typedef struct wv_value {
    wv_type type;
    int boolean;
    int remove_wins;
    int64_t integer;
    double number;
    const char *str;
    size_t len;
    wv_ref ref;
} wv_value;

/* Longest map key and STRING scalar, in bytes. */
#define WV_KEY_MAX 1024u
#define WV_STRING_MAX 65536u

static inline wv_value wv_null(void) { wv_value v = {WV_T_NULL, 0, 0, 0, 0, 0, 0, {0, 0}}; return v; }
static inline wv_value wv_bool(int b) { wv_value v = wv_null(); v.type = WV_T_BOOL; v.boolean = !!b; return v; }
static inline wv_value wv_int(int64_t i) { wv_value v = wv_null(); v.type = WV_T_INT; v.integer = i; return v; }
static inline wv_value wv_float(double f) { wv_value v = wv_null(); v.type = WV_T_FLOAT; v.number = f; return v; }
/* An immutable string scalar (s: len bytes of UTF-8). */
static inline wv_value wv_string(const char *s, size_t len) {
    wv_value v = wv_null(); v.type = WV_T_STRING; v.str = s; v.len = len; return v;
}
/* A new str (collaborative text) holding s (len bytes of UTF-8). */
static inline wv_value wv_new_str(const char *s, size_t len) {
    wv_value v = wv_null(); v.type = WV_T_STR; v.str = s; v.len = len; return v;
}
static inline wv_value wv_new_list(void) { wv_value v = wv_null(); v.type = WV_T_LIST; return v; }
static inline wv_value wv_new_map(void) { wv_value v = wv_null(); v.type = WV_T_MAP; return v; }
static inline wv_value wv_new_set(int remove_wins) {
    wv_value v = wv_null(); v.type = WV_T_SET; v.remove_wins = !!remove_wins; return v;
}
static inline wv_value wv_new_counter(void) { wv_value v = wv_null(); v.type = WV_T_COUNTER; return v; }

/* Edits. Each is one local edit: all or nothing, the replica unchanged on
 * error. `created` (may be NULL) gets the new value's ref. Common errors:
 * WV_E_ARG (NULL doc or key), WV_E_NOTFOUND (no live container with that
 * ref), WV_E_TYPE (a container of another type; a container in a set),
 * WV_E_UTF8, WV_E_RANGE (a key or STRING too long, a position past the
 * end), WV_E_ARG (a FLOAT that is NaN or infinite), WV_E_LIMIT, WV_E_NOMEM. */
WV_API int wv_map_set(wv_doc *doc, wv_ref map, const char *key, wv_value v, wv_ref *created);
/* WV_E_NOTFOUND when the key has no value. */
WV_API int wv_map_delete(wv_doc *doc, wv_ref map, const char *key);
WV_API int wv_list_insert(wv_doc *doc, wv_ref list, size_t pos, wv_value v, wv_ref *created);
WV_API int wv_list_delete(wv_doc *doc, wv_ref list, size_t pos, size_t n);
WV_API int wv_str_insert(wv_doc *doc, wv_ref str, size_t pos, const char *utf8, size_t len);
WV_API int wv_str_delete(wv_doc *doc, wv_ref str, size_t pos, size_t n);
/* Sets hold scalars; adding a member present already, or removing one
 * absent, changes nothing and returns WV_OK. */
WV_API int wv_set_add(wv_doc *doc, wv_ref set, wv_value v);
WV_API int wv_set_remove(wv_doc *doc, wv_ref set, wv_value v);
/* A counter's total wraps around at 64 bits, two's complement, the same on
 * every replica whatever order the increments arrive in. */
WV_API int wv_counter_add(wv_doc *doc, wv_ref counter, int64_t delta);

/* Reads. WV_E_NOTFOUND when the container, key or index has no value. */
WV_API int wv_get(const wv_doc *doc, wv_ref ref, wv_value *out);
WV_API int wv_map_get(const wv_doc *doc, wv_ref map, const char *key, wv_value *out);
/* Every value the key holds, the winner first, into dst (at most cap);
 * *n gets how many there are (1 without a conflict, 0 when unset). */
WV_API int wv_map_conflicts(const wv_doc *doc, wv_ref map, const char *key, wv_value *dst,
                            size_t cap, size_t *n);
WV_API int wv_list_get(const wv_doc *doc, wv_ref list, size_t pos, wv_value *out);
/* 1 if the set holds v, 0 if not, or a negative error. */
WV_API int wv_set_has(const wv_doc *doc, wv_ref set, wv_value v);
/* The text of a STR or the bytes of a STRING, like snprintf: at most cap
 * bytes with a NUL; *len gets the full length in bytes. */
WV_API int wv_value_text(const wv_doc *doc, wv_ref ref, char *dst, size_t cap, size_t *len);
/* Calls fn for each member of a container: a map's keys in byte order (each
 * key's winner; key NUL-terminated, valid during the call), a list's
 * elements in order, a set's members in the order of their JSON text (key
 * NULL). Stops when fn returns non-zero and returns that value. fn must
 * not change the doc. */
typedef int (*wv_each_fn)(void *ctx, const char *key, const wv_value *v);
WV_API int wv_each(const wv_doc *doc, wv_ref container, wv_each_fn fn, void *ctx);

/* The value at ref (the root map for {0, 0}) as JSON, like snprintf into
 * dst; *len gets the full length. Deterministic: equal weaves give equal
 * bytes. Maps print their keys in byte order (winners only), sets their
 * members sorted by their JSON text, strs and STRINGs as strings, counters
 * as their total, floats in the fewest of 15 to 17 significant digits that
 * read back exactly (with ".0" when that looks like an integer). Returns
 * WV_OK, WV_E_NOTFOUND, WV_E_NOMEM, WV_E_ARG, or WV_E_LIMIT when values nest
 * more than 256 deep. */
WV_API int wv_json(const wv_doc *doc, wv_ref ref, char *dst, size_t cap, size_t *len);

/* Paths: keys and list indexes from the root map, separated by '/', as in
 * JSON Pointer ("items/3/title", a leading '/' optional, "~1" for '/' and
 * "~0" for '~' in keys; "" is the root). wv_path_set writes a map key, or
 * replaces a list element (an index equal to the length, or "-", appends);
 * wv_path_delete deletes a key or element. */
WV_API int wv_path_get(const wv_doc *doc, const char *path, wv_value *out);
WV_API int wv_path_set(wv_doc *doc, const char *path, wv_value v, wv_ref *created);
WV_API int wv_path_delete(wv_doc *doc, const char *path);

/* A builder writes nested values in document order, the way one reads them:
 *
 *   wv_builder b;
 *   wv_builder_begin(&b, doc, root);            // a map or a list
 *   wv_builder_key(&b, "title");  wv_builder_put(&b, wv_new_str("Notes", 5));
 *   wv_builder_key(&b, "items");  wv_builder_put(&b, wv_new_list());  // enters it
 *       wv_builder_put(&b, wv_new_map());                              // appends, enters
 *           wv_builder_key(&b, "done"); wv_builder_put(&b, wv_bool(0));
 *       wv_builder_up(&b);
 *   wv_builder_up(&b);
 *   int rc = wv_builder_end(&b);                // the first error, or WV_OK
 *
 * put writes under the pending key in a map, appends in a list, adds in a
 * set, and enters the container it creates; up returns to the enclosing
 * container. The first error sticks: later calls do nothing. The key is
 * read when put is called, not copied. The fields are private. */
#define WV_BUILDER_DEPTH 32
typedef struct wv_builder {
    wv_doc *doc;
    wv_ref at[WV_BUILDER_DEPTH];
    wv_type type[WV_BUILDER_DEPTH];
    size_t len[WV_BUILDER_DEPTH];
    uint32_t depth;
    int err;
    const char *key;
} wv_builder;

WV_API void wv_builder_begin(wv_builder *b, wv_doc *doc, wv_ref container);
WV_API void wv_builder_key(wv_builder *b, const char *key);
WV_API void wv_builder_put(wv_builder *b, wv_value v);
WV_API void wv_builder_up(wv_builder *b);
WV_API int wv_builder_end(wv_builder *b);

/* ---- Site host: the lock-sequenced log (DESIGN.md §3) ------------------- */

/* A sequencer for sites that cannot talk to each other directly. It keeps a
 * global log of transactions and its length x. A site proposes its pending
 * atoms with lock(v, n), v being the log length it has read: the proposal is
 * appended iff v >= x - n (n = 0: only if fully up to date). Refused, the
 * site reads the entries from v on, integrates them with wv_apply (its
 * pending atoms keep their ids: in a causal tree, rebase is integration) and
 * proposes again with the new v; it then succeeds. Readers replay the log in
 * sequence order. The host validates every transaction against its own
 * replica of the log's document. Thread-compatible, like a wv_doc. */
typedef struct wv_host wv_host;

typedef struct wv_host_stats {
    uint64_t proposals; /* calls of wv_host_propose */
    uint64_t accepted;  /* appended to the log */
    uint64_t refused;   /* WV_E_BUSY: the lock window had passed */
    uint64_t retries;   /* proposals by a site whose previous one was refused */
    uint64_t rejected;  /* invalid transactions (any other error) */
} wv_host_stats;

/* Creates an empty host (log length 0). opt as for wv_doc_new (NULL: defaults). */
WV_API int wv_host_new(wv_host **out, const wv_options *opt);
WV_API void wv_host_free(wv_host *host);

/* lock(v, n) and append: `atoms` are one transaction of site `site`, all its
 * own atoms, not yet in the log, whose causes are in the log or among them.
 * Returns WV_OK (the transaction is entry x - 1 now), WV_E_BUSY when
 * v < x - n (read and retry), WV_E_RANGE when v > x, WV_E_ARG (NULL host,
 * atoms of another site, an empty transaction), or wv_apply's validation
 * errors (WV_E_CAUSE, WV_E_DUPLICATE, WV_E_CLOCK, WV_E_ATOM, WV_E_NOMEM).
 * Nothing changes unless it returns WV_OK. */
WV_API int wv_host_propose(wv_host *host, uint64_t site, uint64_t v, uint32_t n,
                           const wv_atom_info *atoms, size_t natoms);

/* The log's length x: entries are numbered 0 .. x - 1. */
WV_API uint64_t wv_host_length(const wv_host *host);

/* Entry i of the log: the proposing site and its atoms, valid until the host
 * is freed. Returns WV_OK or WV_E_RANGE. */
WV_API int wv_host_entry(const wv_host *host, uint64_t i, uint64_t *site,
                         const wv_atom_info **atoms, size_t *natoms);

WV_API void wv_host_stats_get(const wv_host *host, wv_host_stats *out);

/* The host's replica of the document the log describes (read only). */
WV_API const wv_doc *wv_host_doc(const wv_host *host);

#ifdef __cplusplus
}
#endif
#endif /* WEAVE_H */

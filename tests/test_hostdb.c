/* test_hostdb.c — the durable site host (host/weave_host.h): documents and
 * names; two connections racing on one document (refused, read, retry);
 * the lock rule for windows n = 0..3 against the in-memory wv_host as the
 * model; many documents; snapshots (load equals a replay from empty, and
 * load really starts at the snapshot); invalid proposals leave the database
 * unchanged; a failure after the cached replica integrated a proposal does
 * not let it run ahead; damaged rows and foreign files give clear errors;
 * failed allocations leave everything unchanged and leak nothing.
 * Files go to a fresh directory under $TMPDIR (or /tmp), removed at the end. */
#include <sqlite3.h>
#include <xxhash.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "failalloc.h"
#include "test.h"
#include "weave_host.h"

static char dir[256];
static int nfiles;

/* A fresh file name in the test directory. */
static const char *path_new(char *buf, size_t cap) {
    snprintf(buf, cap, "%s/db%d", dir, nfiles++);
    return buf;
}

static void rm_db(const char *p) {
    char b[320];
    unlink(p);
    snprintf(b, sizeof b, "%s-wal", p), unlink(b);
    snprintf(b, sizeof b, "%s-shm", p), unlink(b);
}

/* Runs SQL on the database through a connection of its own. */
static void sql_exec(const char *path, const char *text) {
    sqlite3 *s;
    REQUIRE(sqlite3_open(path, &s) == SQLITE_OK);
    sqlite3_busy_timeout(s, 5000);
    char *err = NULL;
    int rc = sqlite3_exec(s, text, NULL, NULL, &err);
    if (rc) fprintf(stderr, "sql_exec: %s: %s\n", text, err ? err : "?");
    REQUIRE(rc == SQLITE_OK);
    sqlite3_free(err);
    REQUIRE(sqlite3_close(s) == SQLITE_OK);
}

typedef struct sink {
    wv_doc *d;
    int rc;
    uint64_t entries;
    uint64_t last_site;
} sink;

static int apply_cb(uint64_t seq, uint64_t site, const wv_atom_info *atoms, size_t n, void *ctx) {
    (void)seq;
    sink *s = ctx;
    s->entries++;
    s->last_site = site;
    s->rc = wv_apply(s->d, atoms, n);
    return s->rc ? 1 : 0;
}

/* Reads doc from *v on into d. */
static void catch_up(wvh_db *db, const char *doc, wv_doc *d, uint64_t *v) {
    sink s = {d, 0, 0, 0};
    REQUIRE_OK(wvh_read(db, doc, *v, apply_cb, &s, v));
}

static wvh_db *open_ok(const char *path, unsigned flags) {
    wvh_db *db;
    int rc = wvh_open(&db, path, flags);
    if (rc) fprintf(stderr, "wvh_open %s: %s\n", path, wvh_error_name(rc));
    REQUIRE(rc == WV_OK);
    return db;
}

static uint64_t length(wvh_db *db, const char *doc) {
    uint64_t x = UINT64_MAX;
    REQUIRE_OK(wvh_length(db, doc, &x));
    return x;
}

/* Hash of the document as wvh_load gives it, and as a replay from empty. */
static uint64_t load_hash(wvh_db *db, const char *doc) {
    wv_doc *d;
    REQUIRE_OK(wvh_load(db, doc, 0, &d, NULL));
    uint64_t h = wv_weave_hash(d);
    wv_doc_free(d);
    return h;
}
static uint64_t replay_hash(wvh_db *db, const char *doc) {
    wv_doc *d;
    REQUIRE_OK(wvh_replay(db, doc, length(db, doc), 0, &d));
    uint64_t h = wv_weave_hash(d);
    CHECK_DOC(d);
    wv_doc_free(d);
    return h;
}

/* ---- documents, names, open flags ------------------------------------------------ */

static int count_cb(const char *doc, void *ctx) {
    (void)doc;
    ++*(int *)ctx;
    return 0;
}

static int stop_cb(const char *doc, void *ctx) {
    (void)doc, (void)ctx;
    return 7;
}

static void test_docs(void) {
    char p[300];
    path_new(p, sizeof p);
    wvh_db *db;
    CHECK_RC(wvh_open(&db, p, 0), WVH_E_DB); /* no such file, no WVH_CREATE */
    CHECK(db == NULL);
    CHECK_RC(wvh_open(&db, p, WVH_CREATE | WVH_READONLY), WV_E_ARG);
    CHECK_RC(wvh_open(&db, p, 64), WV_E_ARG);
    CHECK_RC(wvh_open(NULL, p, WVH_CREATE), WV_E_ARG);
    db = open_ok(p, WVH_CREATE);
    REQUIRE_OK(wvh_doc_create(db, "notes"));
    REQUIRE_OK(wvh_doc_create(db, "a doc with spaces, é"));
    CHECK_RC(wvh_doc_create(db, "notes"), WVH_E_EXISTS);
    CHECK(strstr(wvh_errmsg(db), "notes") != NULL);
    char longname[WVH_NAME_MAX + 2];
    memset(longname, 'n', sizeof longname - 1), longname[sizeof longname - 1] = 0;
    CHECK_RC(wvh_doc_create(db, longname), WV_E_ARG);
    longname[WVH_NAME_MAX] = 0;
    CHECK_RC(wvh_doc_create(db, longname), WV_OK);
    CHECK_RC(wvh_doc_create(db, ""), WV_E_ARG);
    CHECK_RC(wvh_doc_create(db, "tab\there"), WV_E_ARG);
    CHECK_RC(wvh_doc_create(db, NULL), WV_E_ARG);
    CHECK_RC(wvh_doc_create(NULL, "x"), WV_E_ARG);
    int n = 0;
    REQUIRE_OK(wvh_doc_list(db, count_cb, &n));
    CHECK(n == 3);
    CHECK_RC(wvh_doc_list(db, stop_cb, NULL), 7);
    CHECK(length(db, "notes") == 0);
    uint64_t x;
    CHECK_RC(wvh_length(db, "absent", &x), WVH_E_NODOC);
    wv_doc *d;
    CHECK_RC(wvh_load(db, "absent", 1, &d, NULL), WVH_E_NODOC);
    CHECK_RC(wvh_load(db, "notes", UINT64_MAX, &d, NULL), WV_E_ARG);
    REQUIRE_OK(wvh_load(db, "notes", 5, &d, &x));
    CHECK(x == 0 && wv_doc_site(d) == 5 && wv_text_len(d) == 0);
    wv_doc_free(d);
    CHECK_RC(wvh_snapshot(db, "absent", NULL), WVH_E_NODOC);
    REQUIRE_OK(wvh_check(db, NULL));
    wvh_close(db);
    wvh_close(NULL);

    db = open_ok(p, 0); /* reopened: the documents are there */
    n = 0;
    REQUIRE_OK(wvh_doc_list(db, count_cb, &n));
    CHECK(n == 3);
    wvh_close(db);
    db = open_ok(p, WVH_READONLY);
    CHECK_RC(wvh_doc_create(db, "more"), WVH_E_READONLY);
    REQUIRE_OK(wv_doc_new(&d, 1, NULL));
    REQUIRE_OK(wv_text_insert(d, 0, "hi", 2));
    size_t np;
    wv_atom_info *a = test_pending(d, 0, &np);
    CHECK_RC(wvh_propose(db, "notes", 1, 0, 0, a, np, NULL), WVH_E_READONLY);
    CHECK_RC(wvh_snapshot(db, "notes", NULL), WVH_E_READONLY);
    CHECK(length(db, "notes") == 0);
    free(a);
    wv_doc_free(d);
    wvh_close(db);
    CHECK(strcmp(wvh_error_name(WVH_E_NOTDB), "WVH_E_NOTDB") == 0);
    CHECK(strcmp(wvh_error_name(WV_E_BUSY), "WV_E_BUSY") == 0);
    CHECK(strlen(wvh_error_message(WVH_E_LOCKED)) > 10);
    rm_db(p);
}

/* ---- two connections racing ---------------------------------------------------- */

static void test_race(void) {
    char p[300];
    path_new(p, sizeof p);
    wvh_db *A = open_ok(p, WVH_CREATE), *B = open_ok(p, 0);
    REQUIRE_OK(wvh_doc_create(A, "d"));
    wv_doc *a, *b;
    REQUIRE_OK(wvh_load(A, "d", 1, &a, NULL));
    REQUIRE_OK(wvh_load(B, "d", 2, &b, NULL));
    REQUIRE_OK(wv_text_insert(a, 0, "alpha", 5));
    REQUIRE_OK(wv_text_insert(b, 0, "beta", 4));
    size_t na, nb;
    wv_atom_info *pa = test_pending(a, 0, &na), *pb = test_pending(b, 0, &nb);
    uint64_t va = 0, vb = 0, seq = 99;
    CHECK_RC(wvh_propose(A, "d", 1, 1, 0, pa, na, &seq), WV_E_RANGE); /* read past the end */
    REQUIRE_OK(wvh_propose(A, "d", 1, va, 0, pa, na, &seq));
    CHECK(seq == 0);
    va = 1;
    CHECK_RC(wvh_propose(B, "d", 2, vb, 0, pb, nb, &seq), WV_E_BUSY); /* B is behind */
    CHECK(strstr(wvh_errmsg(B), "refused") != NULL);
    CHECK(seq == 0 && length(B, "d") == 1);
    catch_up(B, "d", b, &vb); /* integrate, keep the pending atoms' ids, retry */
    CHECK(vb == 1);
    REQUIRE_OK(wvh_propose(B, "d", 2, vb, 0, pb, nb, &seq));
    CHECK(seq == 1 && length(A, "d") == 2);
    /* A is one behind: n = 0 refuses, n = 1 accepts. */
    REQUIRE_OK(wv_text_insert(a, 0, "!", 1));
    size_t n2;
    wv_atom_info *p2 = test_pending(a, wv_doc_weft(a, 1) - 1, &n2);
    CHECK_RC(wvh_propose(A, "d", 1, va, 0, p2, n2, NULL), WV_E_BUSY);
    REQUIRE_OK(wvh_propose(A, "d", 1, va, 1, p2, n2, &seq));
    CHECK(seq == 2);
    catch_up(A, "d", a, &va);
    catch_up(B, "d", b, &vb);
    CHECK(va == 3 && vb == 3);
    CHECK(wv_weave_hash(a) == wv_weave_hash(b));
    CHECK(load_hash(A, "d") == wv_weave_hash(a) && replay_hash(B, "d") == wv_weave_hash(a));
    REQUIRE_OK(wvh_check(B, "d"));
    free(pa), free(pb), free(p2);
    wv_doc_free(a), wv_doc_free(b);
    wvh_close(A), wvh_close(B);
    rm_db(p);
}

/* ---- the lock rule against the in-memory host --------------------------------------- */

typedef struct model_site {
    wv_doc *d;
    uint64_t v;     /* entries read */
    uint32_t sent;  /* own atoms up to this clock are in the log */
} model_site;

/* Compares a log entry with the in-memory host's entry of the same number. */
static int same_entry(uint64_t seq, uint64_t site, const wv_atom_info *atoms, size_t n, void *ctx) {
    uint64_t hs;
    const wv_atom_info *ha;
    size_t hn;
    if (wv_host_entry(ctx, seq, &hs, &ha, &hn) || hs != site || hn != n) { CHECK(0); return 1; }
    for (size_t i = 0; i < n; i++)
        if (atoms[i].site != ha[i].site || atoms[i].clock != ha[i].clock ||
            atoms[i].cause_site != ha[i].cause_site || atoms[i].cause_clock != ha[i].cause_clock ||
            atoms[i].kind != ha[i].kind || atoms[i].value != ha[i].value || atoms[i].deleted)
            { CHECK(0); return 1; }
    return 0;
}

/* Sites edit at random and propose through random connections with random
 * windows; the in-memory wv_host gets the same proposals and must give the
 * same answers, and the same log. */
static void test_model(void) {
    enum { K = 4, CONNS = 3 };
    char p[300];
    path_new(p, sizeof p);
    wvh_db *c[CONNS];
    c[0] = open_ok(p, WVH_CREATE);
    for (int i = 1; i < CONNS; i++) c[i] = open_ok(p, 0);
    wvh_set_snapshot_every(c[0], 5);
    wvh_set_snapshot_every(c[1], 0);
    wvh_set_snapshot_every(c[2], 3);
    REQUIRE_OK(wvh_doc_create(c[0], "m"));
    wv_host *h;
    REQUIRE_OK(wv_host_new(&h, NULL));
    model_site s[K];
    for (int i = 0; i < K; i++) {
        REQUIRE_OK(wv_doc_new(&s[i].d, (uint64_t)i + 10, NULL));
        s[i].v = 0, s[i].sent = 0;
    }
    int busy = 0, ok = 0, per_n[4] = {0};
    for (int step = 0; step < 400; step++) {
        int i = (int)rng_below(K);
        model_site *m = &s[i];
        uint64_t site = (uint64_t)i + 10;
        if (rng_below(2)) test_random_edit(m->d);
        size_t np;
        wv_atom_info *a = test_pending(m->d, m->sent, &np);
        if (np) {
            uint32_t n = (uint32_t)rng_below(4);
            uint64_t seq = UINT64_MAX;
            int want = wv_host_propose(h, site, m->v, n, a, np);
            int got = wvh_propose(c[rng_below(CONNS)], "m", site, m->v, n, a, np, &seq);
            CHECK(got == want);
            if (got != want) fprintf(stderr, "  step %d: got %s, want %s\n", step, wvh_error_name(got), wvh_error_name(want));
            if (got == WV_OK) {
                ok++, per_n[n]++;
                CHECK(seq == wv_host_length(h) - 1);
                m->sent = wv_doc_weft(m->d, site);
            } else if (got == WV_E_BUSY) {
                busy++;
            }
        }
        free(a);
        if (rng_below(3) == 0) catch_up(c[rng_below(CONNS)], "m", m->d, &m->v);
    }
    CHECK(busy > 20 && ok > 100 && per_n[0] && per_n[3]);
    for (int i = 0; i < K; i++) { /* flush what is left, in both hosts */
        size_t np;
        wv_atom_info *a = test_pending(s[i].d, s[i].sent, &np);
        if (np) {
            catch_up(c[0], "m", s[i].d, &s[i].v);
            REQUIRE_OK(wv_host_propose(h, (uint64_t)i + 10, s[i].v, 0, a, np));
            REQUIRE_OK(wvh_propose(c[1], "m", (uint64_t)i + 10, s[i].v, 0, a, np, NULL));
        }
        free(a);
    }
    uint64_t x = length(c[1], "m");
    CHECK(x == wv_host_length(h));
    /* The same log, entry by entry. */
    wv_doc *d;
    REQUIRE_OK(wv_doc_new(&d, 999, NULL));
    uint64_t v = 0;
    catch_up(c[2], "m", d, &v);
    CHECK(v == x && wv_weave_hash(d) == wv_weave_hash(wv_host_doc(h)));
    uint64_t next = 0;
    REQUIRE_OK(wvh_read(c[0], "m", 0, same_entry, h, &next));
    CHECK(next == x);
    for (int i = 0; i < CONNS; i++) CHECK(load_hash(c[i], "m") == wv_weave_hash(wv_host_doc(h)));
    CHECK(replay_hash(c[0], "m") == wv_weave_hash(wv_host_doc(h)));
    for (int i = 0; i < K; i++) {
        catch_up(c[0], "m", s[i].d, &s[i].v);
        CHECK(wv_weave_hash(s[i].d) == wv_weave_hash(wv_host_doc(h)));
        wv_doc_free(s[i].d);
    }
    REQUIRE_OK(wvh_check(c[1], "m"));
    wv_doc_free(d);
    wv_host_free(h);
    for (int i = 0; i < CONNS; i++) wvh_close(c[i]);
    rm_db(p);
}

/* ---- many documents ---------------------------------------------------------------- */

static void test_many_docs(void) {
    enum { DOCS = 40 };
    char p[300];
    path_new(p, sizeof p);
    wvh_db *A = open_ok(p, WVH_CREATE), *B = open_ok(p, 0);
    wvh_set_snapshot_every(A, 4);
    wv_doc *d[DOCS];
    uint64_t v[DOCS] = {0};
    uint32_t sent[DOCS] = {0};
    char name[DOCS][16];
    for (int i = 0; i < DOCS; i++) {
        snprintf(name[i], sizeof name[i], "doc-%02d", i);
        REQUIRE_OK(wvh_doc_create(i % 2 ? A : B, name[i]));
        REQUIRE_OK(wv_doc_new(&d[i], (uint64_t)i + 1, NULL));
    }
    /* Interleaved writes: more documents than a connection caches. */
    for (int step = 0; step < 600; step++) {
        int i = (int)rng_below(DOCS);
        wvh_db *db = rng_below(2) ? A : B;
        test_random_edit(d[i]);
        size_t np;
        wv_atom_info *a = test_pending(d[i], sent[i], &np);
        int rc;
        while ((rc = wvh_propose(db, name[i], (uint64_t)i + 1, v[i], 0, a, np, NULL)) == WV_E_BUSY)
            catch_up(db, name[i], d[i], &v[i]);
        REQUIRE_OK(rc);
        v[i]++; /* the only writer of its document: nothing unread */
        sent[i] = wv_doc_weft(d[i], (uint64_t)i + 1);
        free(a);
    }
    int n = 0;
    REQUIRE_OK(wvh_doc_list(B, count_cb, &n));
    CHECK(n == DOCS);
    for (int i = 0; i < DOCS; i++) {
        CHECK(length(A, name[i]) == v[i]);
        CHECK(load_hash(B, name[i]) == wv_weave_hash(d[i]));
        CHECK(replay_hash(A, name[i]) == wv_weave_hash(d[i]));
        wv_doc_free(d[i]);
    }
    REQUIRE_OK(wvh_check(A, NULL));
    wvh_close(A), wvh_close(B);
    rm_db(p);
}

/* ---- snapshots --------------------------------------------------------------------- */

/* Writes `txns` random transactions of site `site` to doc through db. */
static void fill(wvh_db *db, const char *doc, uint64_t site, int txns) {
    wv_doc *d;
    uint64_t v;
    REQUIRE_OK(wvh_load(db, doc, site, &d, &v));
    for (int t = 0; t < txns; t++) {
        uint32_t mark = wv_doc_weft(d, site);
        test_random_edit(d);
        size_t np;
        wv_atom_info *a = test_pending(d, mark, &np);
        int rc;
        while ((rc = wvh_propose(db, doc, site, v, 0, a, np, NULL)) == WV_E_BUSY) catch_up(db, doc, d, &v);
        REQUIRE_OK(rc);
        v++;
        free(a);
    }
    wv_doc_free(d);
}

static int64_t sql_int(const char *path, const char *text) {
    sqlite3 *s;
    sqlite3_stmt *q;
    REQUIRE(sqlite3_open(path, &s) == SQLITE_OK);
    REQUIRE(sqlite3_prepare_v2(s, text, -1, &q, NULL) == SQLITE_OK);
    REQUIRE(sqlite3_step(q) == SQLITE_ROW);
    int64_t v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(s);
    return v;
}

static void test_snapshots(void) {
    char p[300];
    path_new(p, sizeof p);
    wvh_db *A = open_ok(p, WVH_CREATE);
    wvh_set_snapshot_every(A, 10);
    REQUIRE_OK(wvh_doc_create(A, "s"));
    uint64_t sx = 99;
    REQUIRE_OK(wvh_snapshot(A, "s", &sx)); /* of the empty document */
    CHECK(sx == 0);
    fill(A, "s", 1, 25);
    fill(A, "s", 2, 12);
    /* Automatic snapshots at 10, 20, 30; only the latest is kept. */
    CHECK(sql_int(p, "SELECT count(*) FROM snapshots") == 1);
    CHECK(sql_int(p, "SELECT max(x) FROM snapshots") == 30);
    REQUIRE_OK(wvh_snapshot(A, "s", &sx));
    CHECK(sx == 37 && sql_int(p, "SELECT max(x) FROM snapshots") == 37);
    REQUIRE_OK(wvh_snapshot(A, "s", &sx)); /* at x already: nothing to do */
    fill(A, "s", 3, 5);
    uint64_t full = replay_hash(A, "s");
    CHECK(load_hash(A, "s") == full);
    wvh_db *B = open_ok(p, 0); /* a cold cache: snapshot + tail */
    CHECK(load_hash(B, "s") == full);
    wv_doc *at;
    REQUIRE_OK(wvh_replay(B, "s", 37, 0, &at)); /* a prefix */
    wv_doc *old;
    uint64_t x;
    CHECK_RC(wvh_replay(B, "s", 43, 0, &old), WV_E_RANGE);
    REQUIRE_OK(wvh_check(B, "s"));
    wvh_close(B);
    /* Load really starts at the snapshot: damage an entry before it. Load
     * still works, replay from empty and check do not. */
    sql_exec(p, "UPDATE log SET atoms = x'00' WHERE seq = 3");
    B = open_ok(p, 0);
    REQUIRE_OK(wvh_load(B, "s", 0, &old, &x));
    CHECK(x == 42 && wv_weave_hash(old) == full);
    wv_doc_free(old);
    CHECK_RC(wvh_replay(B, "s", 42, 0, &old), WVH_E_NOTDB);
    CHECK(strstr(wvh_errmsg(B), "entry 3") != NULL);
    CHECK_RC(wvh_check(B, NULL), WVH_E_NOTDB);
    wvh_close(B);
    /* A snapshot that disagrees with the log: check says so. */
    wvh_close(A);
    rm_db(p);
    path_new(p, sizeof p);
    A = open_ok(p, WVH_CREATE);
    wvh_set_snapshot_every(A, 0);
    REQUIRE_OK(wvh_doc_create(A, "s"));
    REQUIRE_OK(wvh_doc_create(A, "t"));
    fill(A, "s", 1, 6);
    fill(A, "t", 1, 6);
    REQUIRE_OK(wvh_snapshot(A, "s", NULL));
    wvh_close(A);
    sql_exec(p, "UPDATE snapshots SET x = 3");
    A = open_ok(p, 0);
    CHECK_RC(wvh_check(A, NULL), WV_E_CORRUPT);
    CHECK(strstr(wvh_errmsg(A), "snapshot") != NULL);
    wvh_close(A);
    sql_exec(p, "UPDATE snapshots SET bytes = x'0102030405'");
    A = open_ok(p, 0);
    CHECK_RC(wvh_load(A, "s", 0, &old, NULL), WVH_E_NOTDB);
    CHECK(strstr(wvh_errmsg(A), "snapshot") != NULL);
    /* The snapshot of another document of the same file is not this one's. */
    wvh_close(A);
    sql_exec(p, "DELETE FROM snapshots");
    A = open_ok(p, 0);
    REQUIRE_OK(wvh_check(A, NULL));
    wvh_close(A);
    wv_doc_free(at);
    rm_db(p);
}

/* ---- invalid proposals ----------------------------------------------------------- */

static void test_invalid(void) {
    char p[300];
    path_new(p, sizeof p);
    wvh_db *A = open_ok(p, WVH_CREATE);
    REQUIRE_OK(wvh_doc_create(A, "i"));
    wv_doc *a;
    REQUIRE_OK(wv_doc_new(&a, 1, NULL));
    REQUIRE_OK(wv_text_insert(a, 0, "abc", 3));
    size_t n;
    wv_atom_info *pa = test_pending(a, 0, &n);
    REQUIRE_OK(wvh_propose(A, "i", 1, 0, 0, pa, n, NULL));
    uint64_t hash = load_hash(A, "i");
    wv_atom_info bad[] = {
        {1, 9, 1, 7, WV_KIND_CHAR, 'x', 0}, /* cause not in the log */
        {1, 9, 2, 1, WV_KIND_CHAR, 'x', 0}, /* cause at an unknown site */
        {1, 3, 1, 3, WV_KIND_CHAR, 'x', 0}, /* already in the log */
        {1, 9, 1, 9, WV_KIND_CHAR, 'x', 0}, /* clock not above cause */
        {1, 9, 1, 2, (wv_kind)9, 'x', 0},   /* no such kind */
    };
    int want[] = {WV_E_CAUSE, WV_E_CAUSE, WV_E_DUPLICATE, WV_E_CLOCK, WV_E_ATOM};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_RC(wvh_propose(A, "i", 1, 1, 0, &bad[i], 1, NULL), want[i]);
        CHECK(*wvh_errmsg(A));
    }
    CHECK_RC(wvh_propose(A, "i", 1, 1, 0, pa, n, NULL), WV_E_DUPLICATE); /* proposed again */
    CHECK_RC(wvh_propose(A, "i", 2, 1, 0, pa, n, NULL), WV_E_ARG);       /* another site's */
    CHECK_RC(wvh_propose(A, "i", 1, 1, 0, pa, 0, NULL), WV_E_ARG);       /* empty */
    CHECK_RC(wvh_propose(A, "i", 0, 1, 0, pa, n, NULL), WV_E_ARG);
    CHECK_RC(wvh_propose(A, "i", 1, 2, 0, pa, n, NULL), WV_E_RANGE);
    CHECK_RC(wvh_propose(A, "nope", 1, 0, 0, pa, n, NULL), WVH_E_NODOC);
    CHECK_RC(wvh_propose(NULL, "i", 1, 1, 0, pa, n, NULL), WV_E_ARG);
    CHECK(length(A, "i") == 1 && load_hash(A, "i") == hash);
    CHECK(sql_int(p, "SELECT count(*) FROM log") == 1);
    /* The cached replica is intact: a valid proposal goes through. */
    REQUIRE_OK(wv_text_insert(a, 3, "d", 1));
    free(pa);
    pa = test_pending(a, 3, &n);
    REQUIRE_OK(wvh_propose(A, "i", 1, 1, 0, pa, n, NULL));
    REQUIRE_OK(wvh_check(A, NULL));
    free(pa);
    wv_doc_free(a);
    wvh_close(A);
    rm_db(p);
}

/* A proposal integrated into the cached replica, then refused by the
 * database (a trigger aborts the append, or the snapshot written in the same
 * transaction): nothing is logged, and the cache does not run ahead — the
 * same atoms are accepted once the trigger is gone. */
static void test_cache_rollback(void) {
    static const char *traps[] = {
        "CREATE TRIGGER trap BEFORE INSERT ON log WHEN NEW.site = 7 "
        "BEGIN SELECT RAISE(ABORT, 'planted failure'); END",
        "CREATE TRIGGER trap BEFORE INSERT ON snapshots "
        "BEGIN SELECT RAISE(ABORT, 'planted failure'); END",
    };
    for (size_t t = 0; t < 2; t++) {
        char p[300];
        path_new(p, sizeof p);
        wvh_db *A = open_ok(p, WVH_CREATE);
        wvh_set_snapshot_every(A, 2);
        REQUIRE_OK(wvh_doc_create(A, "c"));
        fill(A, "c", 1, 1);
        sql_exec(p, traps[t]);
        wv_doc *d;
        uint64_t v;
        REQUIRE_OK(wvh_load(A, "c", 7, &d, &v));
        REQUIRE_OK(wv_text_insert(d, 0, "seven", 5));
        size_t n;
        wv_atom_info *a = test_pending(d, wv_doc_weft(d, 7), &n);
        free(a);
        a = test_pending(d, 0, &n);
        CHECK_RC(wvh_propose(A, "c", 7, v, 0, a, n, NULL), WVH_E_DB);
        CHECK(strstr(wvh_errmsg(A), "planted") != NULL);
        CHECK(length(A, "c") == 1);
        sql_exec(p, "DROP TRIGGER trap");
        REQUIRE_OK(wvh_propose(A, "c", 7, v, 0, a, n, NULL));
        CHECK(length(A, "c") == 2);
        CHECK(load_hash(A, "c") == replay_hash(A, "c"));
        REQUIRE_OK(wvh_check(A, NULL));
        free(a);
        wv_doc_free(d);
        wvh_close(A);
        rm_db(p);
    }
}

/* ---- processes ------------------------------------------------------------------ */

/* Several processes open (WVH_CREATE) a file that does not exist yet, all at
 * once: one creates the schema, none fails, each creates its document and
 * proposes to a shared one. */
static void test_processes(void) {
    enum { PROCS = 4 };
    char p[300];
    path_new(p, sizeof p);
    pid_t pid[PROCS];
    for (int i = 0; i < PROCS; i++) {
        pid[i] = fork();
        REQUIRE(pid[i] >= 0);
        if (pid[i] == 0) {
            wvh_db *db;
            char name[16], msg[512];
            snprintf(name, sizeof name, "p%d", i);
            int rc = wvh_open_ex(&db, p, &(wvh_options){.flags = WVH_CREATE, .busy_timeout_ms = 10000},
                                 msg, sizeof msg);
            if (rc) fprintf(stderr, "  process %d: wvh_open: %s: %s\n", i, wvh_error_name(rc), msg);
            if (!rc) rc = wvh_doc_create(db, name);
            if (!rc && (rc = wvh_doc_create(db, "shared")) == WVH_E_EXISTS) rc = 0;
            if (!rc) {
                wv_doc *d;
                uint64_t v, site = (uint64_t)i + 1;
                rc = wvh_load(db, "shared", site, &d, &v);
                for (int t = 0; !rc && t < 20; t++) {
                    uint32_t mark = wv_doc_weft(d, site);
                    test_random_edit(d);
                    size_t n;
                    wv_atom_info *a = test_pending(d, mark, &n);
                    while ((rc = wvh_propose(db, "shared", site, v, 1, a, n, NULL)) == WV_E_BUSY) {
                        sink k = {d, 0, 0, 0};
                        rc = wvh_read(db, "shared", v, apply_cb, &k, &v);
                        if (rc) break;
                    }
                    free(a);
                }
                wv_doc_free(d);
            }
            if (rc) fprintf(stderr, "  process %d: %s: %s\n", i, wvh_error_name(rc), wvh_errmsg(db));
            wvh_close(db);
            _exit(rc ? 1 : 0);
        }
    }
    for (int i = 0; i < PROCS; i++) {
        int st;
        REQUIRE(waitpid(pid[i], &st, 0) == pid[i]);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    wvh_db *db = open_ok(p, 0);
    int n = 0;
    REQUIRE_OK(wvh_doc_list(db, count_cb, &n));
    CHECK(n == PROCS + 1);
    CHECK(length(db, "shared") == 20 * PROCS);
    CHECK(load_hash(db, "shared") == replay_hash(db, "shared"));
    REQUIRE_OK(wvh_check(db, NULL));
    wvh_close(db);
    rm_db(p);
}

/* ---- locks and re-entry ---------------------------------------------------------- */

typedef struct reenter_ctx {
    wvh_db *db;
    int rc;
} reenter_ctx;

static int reenter_cb(uint64_t seq, uint64_t site, const wv_atom_info *atoms, size_t n, void *ctx) {
    (void)seq, (void)site, (void)atoms, (void)n;
    reenter_ctx *r = ctx;
    uint64_t x;
    r->rc = wvh_length(r->db, "l", &x);
    return 0;
}

/* Another connection holds the write lock past the busy timeout:
 * WVH_E_LOCKED, nothing changed, and the same proposal succeeds later. A
 * callback calling back into its own handle gets WV_E_ARG. */
static void test_locked(void) {
    char p[300];
    path_new(p, sizeof p);
    wvh_options o;
    wvh_options_default(&o);
    o.flags = WVH_CREATE;
    o.busy_timeout_ms = 50;
    wvh_db *A;
    REQUIRE_OK(wvh_open_ex(&A, p, &o, NULL, 0));
    REQUIRE_OK(wvh_doc_create(A, "l"));
    fill(A, "l", 1, 2);
    wv_doc *d;
    uint64_t v;
    REQUIRE_OK(wvh_load(A, "l", 2, &d, &v));
    REQUIRE_OK(wv_text_insert(d, 0, "locked", 6));
    size_t n;
    wv_atom_info *a = test_pending(d, 0, &n);
    sqlite3 *s;
    REQUIRE(sqlite3_open(p, &s) == SQLITE_OK);
    REQUIRE(sqlite3_exec(s, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
    CHECK_RC(wvh_propose(A, "l", 2, v, 0, a, n, NULL), WVH_E_LOCKED);
    CHECK(*wvh_errmsg(A));
    CHECK_RC(wvh_doc_create(A, "m"), WVH_E_LOCKED);
    CHECK(length(A, "l") == 2); /* readers are not blocked (WAL) */
    REQUIRE(sqlite3_exec(s, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(s);
    REQUIRE_OK(wvh_propose(A, "l", 2, v, 0, a, n, NULL));
    CHECK(length(A, "l") == 3);
    reenter_ctx r = {A, 0};
    REQUIRE_OK(wvh_read(A, "l", 0, reenter_cb, &r, NULL));
    CHECK(r.rc == WV_E_ARG);
    CHECK(length(A, "l") == 3); /* the handle works after it */
    REQUIRE_OK(wvh_check(A, NULL));
    free(a);
    wv_doc_free(d);
    wvh_close(A);
    rm_db(p);
}

/* ---- damaged rows ------------------------------------------------------------------- */

static int count_entries(uint64_t seq, uint64_t site, const wv_atom_info *atoms, size_t n, void *ctx) {
    (void)seq, (void)site, (void)atoms, (void)n;
    ++*(int *)ctx;
    return 0;
}

static void test_damaged_rows(void) {
    static const struct { const char *sql, *msg; int code; } cases[] = {
        {"UPDATE log SET atoms = x'0102' WHERE seq = 2", "entry 2", WVH_E_NOTDB},
        {"UPDATE log SET atoms = 'text' WHERE seq = 2", "entry 2", WVH_E_NOTDB},
        {"UPDATE log SET atoms = zeroblob(34) WHERE seq = 2", "entry 2", WVH_E_NOTDB},
        /* one byte flipped: the checksum */
        {"UPDATE log SET atoms = CAST(substr(atoms, 1, 8) || x'ee' || substr(atoms, 10) AS BLOB) "
         "WHERE seq = 2",
         "checksum", WVH_E_NOTDB},
        /* a count that does not fit the bytes */
        {"UPDATE log SET atoms = CAST(x'01ffffff00' || substr(atoms, 6) AS BLOB) WHERE seq = 2", "count", WVH_E_NOTDB},
        {"UPDATE log SET site = 0 WHERE seq = 2", "site", WVH_E_NOTDB},
        {"DELETE FROM log WHERE seq = 2", "does not match x", WVH_E_NOTDB},
        {"UPDATE docs SET x = x + 5", "does not match x", WVH_E_NOTDB},
        /* rows past x: reading [0, x) is fine, check and the next append are not */
        {"UPDATE docs SET x = x - 2", "does not match x", WVH_E_NOTDB},
        /* entry 0's atoms logged again as entry 2 */
        {"UPDATE log SET atoms = (SELECT atoms FROM log WHERE seq = 0), site = "
         "(SELECT site FROM log WHERE seq = 0) WHERE seq = 2", "twice", WV_E_CORRUPT},
        /* an entry whose cause is nowhere */
        {"DELETE FROM log WHERE seq = 0; UPDATE log SET seq = seq - 1; UPDATE docs SET x = x - 1",
         "does not integrate", WV_E_CORRUPT},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        char p[300];
        path_new(p, sizeof p);
        wvh_db *A = open_ok(p, WVH_CREATE);
        wvh_set_snapshot_every(A, 0);
        REQUIRE_OK(wvh_doc_create(A, "r"));
        /* Six entries, each typed after the one before: each depends on it. */
        for (uint64_t e = 0; e < 6; e++) {
            wv_doc *w;
            uint64_t v;
            REQUIRE_OK(wvh_load(A, "r", 1 + e % 2, &w, &v));
            uint32_t mark = wv_doc_weft(w, 1 + e % 2);
            REQUIRE_OK(wv_text_insert(w, wv_text_len(w), "word", 4));
            size_t np;
            wv_atom_info *a = test_pending(w, mark, &np);
            REQUIRE_OK(wvh_propose(A, "r", 1 + e % 2, v, 0, a, np, NULL));
            free(a);
            wv_doc_free(w);
        }
        wvh_close(A);
        sql_exec(p, cases[c].sql);
        A = open_ok(p, 0);
        int n = 0;
        uint64_t next = 0;
        int rc = wvh_read(A, "r", 0, count_entries, &n, &next);
        wv_doc *d = NULL;
        int rc2 = wvh_load(A, "r", 0, &d, NULL);
        int rc3 = wvh_check(A, NULL);
        if (rc3 != cases[c].code || !strstr(wvh_errmsg(A), cases[c].msg))
            fprintf(stderr, "  case %zu: %s: %s\n", c, wvh_error_name(rc3), wvh_errmsg(A));
        CHECK(rc3 == cases[c].code && strstr(wvh_errmsg(A), cases[c].msg));
        int past_x = strstr(cases[c].sql, "x - 2") != NULL;
        CHECK(past_x ? rc2 == WV_OK && d : rc2 == cases[c].code && d == NULL);
        wv_doc_free(d);
        if (cases[c].code == WVH_E_NOTDB) {
            CHECK(rc == (past_x ? WV_OK : WVH_E_NOTDB));
            CHECK(next == (uint64_t)n); /* the entries before it were delivered */
            CHECK(n == (strstr(cases[c].sql, "x + 5") ? 6 : past_x ? 4 : 2));
        }
        /* Writing on a damaged document fails cleanly too, changing nothing. */
        wv_atom_info one = {3, 100, 0, 0, WV_KIND_CHAR, 'z', 0};
        uint64_t x = length(A, "r");
        CHECK(wvh_propose(A, "r", 3, x, 0, &one, 1, NULL) == cases[c].code);
        CHECK(length(A, "r") == x);
        wvh_close(A);
        rm_db(p);
    }
}

/* ---- mutated rows with valid checksums ------------------------------------------ */

static void set_blob(const char *path, int64_t seq, const void *b, size_t n) {
    sqlite3 *s;
    sqlite3_stmt *q;
    REQUIRE(sqlite3_open(path, &s) == SQLITE_OK);
    sqlite3_busy_timeout(s, 5000);
    REQUIRE(sqlite3_exec(s, "PRAGMA synchronous=OFF", NULL, NULL, NULL) == SQLITE_OK); /* a test: speed */
    REQUIRE(sqlite3_prepare_v2(s, "UPDATE log SET atoms = ?1 WHERE seq = ?2", -1, &q, NULL) == SQLITE_OK);
    sqlite3_bind_blob(q, 1, b, (int)n, SQLITE_TRANSIENT);
    sqlite3_bind_int64(q, 2, seq);
    REQUIRE(sqlite3_step(q) == SQLITE_DONE);
    sqlite3_finalize(q);
    REQUIRE(sqlite3_close(s) == SQLITE_OK);
}

static unsigned char *get_blob(const char *path, int64_t seq, size_t *n) {
    sqlite3 *s;
    sqlite3_stmt *q;
    REQUIRE(sqlite3_open(path, &s) == SQLITE_OK);
    REQUIRE(sqlite3_prepare_v2(s, "SELECT atoms FROM log WHERE seq = ?1", -1, &q, NULL) == SQLITE_OK);
    sqlite3_bind_int64(q, 1, seq);
    REQUIRE(sqlite3_step(q) == SQLITE_ROW);
    *n = (size_t)sqlite3_column_bytes(q, 0);
    unsigned char *b = malloc(*n);
    REQUIRE(b);
    memcpy(b, sqlite3_column_blob(q, 0), *n);
    sqlite3_finalize(q);
    sqlite3_close(s);
    return b;
}

/* Random fields in a row, its checksum made valid again (the format's own
 * check passed): reading, loading and checking give WV_OK (the mutation
 * happened to be valid), WVH_E_NOTDB or WV_E_CORRUPT — never anything
 * else, never a crash or a sanitizer report. */
static void test_mutated_rows(void) {
    char p[300];
    path_new(p, sizeof p);
    wvh_db *db = open_ok(p, WVH_CREATE);
    wvh_set_snapshot_every(db, 0);
    REQUIRE_OK(wvh_doc_create(db, "z"));
    fill(db, "z", 1, 6);
    fill(db, "z", 2, 6);
    wvh_close(db);
    int outcome[3] = {0};
    for (int iter = 0; iter < 300; iter++) {
        int64_t seq = (int64_t)rng_below(12);
        size_t n;
        unsigned char *orig = get_blob(p, seq, &n), *b = malloc(n);
        REQUIRE(b);
        memcpy(b, orig, n);
        size_t k = 1 + rng_below(3);
        for (size_t j = 0; j < k; j++) {
            size_t at = rng_below(n - 8);
            unsigned flip = 1u << rng_below(8);
            b[at] = (unsigned char)(rng_below(4) ? rng() : (b[at] ^ flip));
        }
        uint64_t h = XXH3_64bits(b, n - 8);
        for (int i = 0; i < 8; i++) b[n - 8 + (size_t)i] = (unsigned char)(h >> (8 * i));
        set_blob(p, seq, b, n);
        db = open_ok(p, 0);
        int cnt = 0;
        int rcs[3];
        rcs[0] = wvh_read(db, "z", 0, count_entries, &cnt, NULL);
        wv_doc *d = NULL;
        rcs[1] = wvh_load(db, "z", 0, &d, NULL);
        wv_doc_free(d);
        rcs[2] = wvh_check(db, NULL);
        for (int i = 0; i < 3; i++) {
            int ok = rcs[i] == WV_OK || rcs[i] == WVH_E_NOTDB || rcs[i] == WV_E_CORRUPT;
            if (!ok) fprintf(stderr, "  mutation %d: %s: %s\n", iter, wvh_error_name(rcs[i]), wvh_errmsg(db));
            CHECK(ok);
        }
        /* check accepts a log only if loading it works. */
        CHECK(rcs[2] != WV_OK || rcs[1] == WV_OK);
        outcome[rcs[2] == WV_OK ? 0 : rcs[2] == WVH_E_NOTDB ? 1 : 2]++;
        wvh_close(db);
        set_blob(p, seq, orig, n);
        free(orig), free(b);
    }
    printf("mutated rows: %d valid, %d WVH_E_NOTDB, %d WV_E_CORRUPT\n", outcome[0], outcome[1], outcome[2]);
    CHECK(outcome[1] > 10 && outcome[2] > 10); /* both kinds of refusal were reached */
    db = open_ok(p, 0);
    REQUIRE_OK(wvh_check(db, NULL));
    wvh_close(db);
    rm_db(p);
}

/* ---- foreign and damaged files --------------------------------------------------- */

static void write_file(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    REQUIRE(f);
    REQUIRE(fwrite(b, 1, n, f) == n);
    REQUIRE(fclose(f) == 0);
}

static unsigned char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    REQUIRE(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    REQUIRE(len > 0);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len);
    REQUIRE(b && fread(b, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* Opening path must fail with WVH_E_NOTDB and a message, or open and then
 * fail wvh_check with WVH_E_NOTDB; never succeed, never crash. */
static void expect_notdb(const char *path, const char *what) {
    wvh_db *db;
    char msg[512];
    int rc = wvh_open_ex(&db, path, NULL, msg, sizeof msg);
    if (rc == WV_OK) {
        rc = wvh_check(db, NULL);
        snprintf(msg, sizeof msg, "%s", wvh_errmsg(db));
        wvh_close(db);
    }
    if (rc != WVH_E_NOTDB) fprintf(stderr, "  %s: %s: %s\n", what, wvh_error_name(rc), msg);
    CHECK(rc == WVH_E_NOTDB && msg[0]);
}

static void test_foreign_files(void) {
    char p[300], q[300];
    path_new(p, sizeof p);
    write_file(p, "hello, this is a text file\n", 27);
    expect_notdb(p, "text file");
    write_file(p, "", 0);
    expect_notdb(p, "empty file");
    wvh_db *db = open_ok(p, WVH_CREATE); /* an empty file becomes a database */
    REQUIRE_OK(wvh_doc_create(db, "e"));
    wvh_close(db);
    rm_db(p);

    path_new(p, sizeof p);
    sql_exec(p, "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes VALUES (1, 'x')");
    expect_notdb(p, "another application's database");
    CHECK_RC(wvh_open(&db, p, WVH_CREATE), WVH_E_NOTDB); /* never adopted */
    sql_exec(p, "PRAGMA application_id = 1234");
    expect_notdb(p, "another application_id");
    rm_db(p);

    /* A newer schema of ours. */
    path_new(p, sizeof p);
    db = open_ok(p, WVH_CREATE);
    wvh_close(db);
    sql_exec(p, "PRAGMA user_version = 2");
    char msg[512];
    CHECK_RC(wvh_open_ex(&db, p, NULL, msg, sizeof msg), WVH_E_NOTDB);
    CHECK(strstr(msg, "newer") != NULL);
    sql_exec(p, "PRAGMA user_version = 1; DROP TABLE snapshots");
    expect_notdb(p, "a table missing");
    rm_db(p);

    /* A real database, truncated, and with garbage after its header. */
    path_new(p, sizeof p);
    db = open_ok(p, WVH_CREATE);
    REQUIRE_OK(wvh_doc_create(db, "t"));
    { /* 150 transactions of 300 chars: many pages, few commits (each syncs) */
        wv_doc *w;
        uint64_t v;
        char text[301];
        REQUIRE_OK(wvh_load(db, "t", 1, &w, &v));
        for (int t = 0; t < 150; t++, v++) {
            for (int i = 0; i < 300; i++) text[i] = (char)('a' + rng_below(26));
            uint32_t mark = wv_doc_weft(w, 1);
            REQUIRE_OK(wv_text_insert(w, rng_below(wv_text_len(w) + 1), text, 300));
            size_t np;
            wv_atom_info *a = test_pending(w, mark, &np);
            REQUIRE_OK(wvh_propose(db, "t", 1, v, 0, a, np, NULL));
            free(a);
        }
        wv_doc_free(w);
    }
    wvh_close(db); /* the last connection checkpoints the WAL into the file */
    size_t n;
    unsigned char *b = read_file(p, &n);
    CHECK(n >= 8 * 4096);
    for (int cut = 1; cut <= 4; cut++) {
        path_new(q, sizeof q);
        write_file(q, b, n * (size_t)cut / 5 / 4096 * 4096 + (cut == 4 ? 100 : 0));
        expect_notdb(q, "truncated");
        rm_db(q);
    }
    path_new(q, sizeof q);
    unsigned char *g = malloc(n);
    REQUIRE(g);
    memcpy(g, b, n);
    for (size_t i = 100; i < n; i++) g[i] = (unsigned char)rng();
    write_file(q, g, n);
    expect_notdb(q, "garbage after the header");
    for (size_t i = 0; i < n; i++) g[i] = (unsigned char)rng();
    write_file(q, g, n);
    expect_notdb(q, "random bytes");
    rm_db(q);
    free(g);
    free(b);
    rm_db(p);
    CHECK_RC(wvh_open(&db, dir, 0), WVH_E_DB); /* a directory */
}

/* ---- failed allocations --------------------------------------------------------- */

enum { OP_SNAPSHOT, OP_PROPOSE_COLD, OP_PROPOSE_WARM, OP_LOAD, OP_REPLAY, OP_READ, OP_CHECK };

typedef struct oom_case {
    int op;
    const wv_atom_info *atoms;
    size_t n;
    uint64_t v;
} oom_case;

static int count_atoms(uint64_t seq, uint64_t site, const wv_atom_info *atoms, size_t n, void *ctx) {
    (void)seq, (void)site, (void)atoms;
    *(size_t *)ctx += n;
    return 0;
}

/* Runs op on a fresh handle allocating through fa, failing its k-th
 * allocation, for k = 0, 1, ... until it succeeds. Each failure must be
 * WV_E_NOMEM with the file unchanged (x, snapshots) and nothing leaked; a
 * warm handle must then work without the failure. Returns how many failed. */
static int oom_run(const char *p, const oom_case *c, failalloc *fa, wv_alloc *hook) {
    int failures = 0;
    for (long k = 0; k < 100000; k++) {
        wvh_options o;
        wvh_options_default(&o);
        o.alloc = hook;
        o.snapshot_every = 41; /* the proposal (at x = 40) also writes a snapshot */
        *fa = (failalloc){.countdown = -1};
        wvh_db *db;
        REQUIRE_OK(wvh_open_ex(&db, p, &o, NULL, 0));
        uint64_t x0 = length(db, "o");
        int64_t snaps0 = sql_int(p, "SELECT count(*) FROM snapshots");
        wv_doc *d = NULL;
        if (c->op == OP_PROPOSE_WARM) { /* the cached replica built first */
            REQUIRE_OK(wvh_load(db, "o", 0, &d, NULL));
            wv_doc_free(d), d = NULL;
        }
        size_t count = 0;
        fa->countdown = k;
        int rc = WV_OK;
        switch (c->op) {
        case OP_SNAPSHOT: rc = wvh_snapshot(db, "o", NULL); break;
        case OP_PROPOSE_COLD:
        case OP_PROPOSE_WARM: rc = wvh_propose(db, "o", 2, c->v, 0, c->atoms, c->n, NULL); break;
        case OP_LOAD: rc = wvh_load(db, "o", 3, &d, NULL); break;
        case OP_REPLAY: rc = wvh_replay(db, "o", x0, 3, &d); break;
        case OP_READ: rc = wvh_read(db, "o", 0, count_atoms, &count, NULL); break;
        case OP_CHECK: rc = wvh_check(db, NULL); break;
        }
        fa->countdown = -1;
        wv_doc_free(d);
        if (rc) {
            failures++;
            if (rc != WV_E_NOMEM) fprintf(stderr, "  op %d, allocation %ld: %s\n", c->op, k, wvh_error_name(rc));
            CHECK(rc == WV_E_NOMEM);
            CHECK(length(db, "o") == x0);
            CHECK(sql_int(p, "SELECT count(*) FROM snapshots") == snaps0);
            if (c->op == OP_PROPOSE_WARM) {
                /* The failed proposal left the cached replica as it was. */
                REQUIRE_OK(wvh_propose(db, "o", 2, c->v, 0, c->atoms, c->n, NULL));
                CHECK(load_hash(db, "o") == replay_hash(db, "o"));
                wvh_close(db);
                sql_exec(p, "DELETE FROM log WHERE seq = 40; UPDATE docs SET x = 40; "
                            "DELETE FROM snapshots WHERE x = 41");
                db = NULL;
            }
        }
        wvh_close(db);
        CHECK(fa->live_blocks == 0); /* nothing leaked */
        if (!rc) return failures;
    }
    CHECK(0); /* never succeeded */
    return failures;
}

static void test_oom(void) {
    char p[300];
    path_new(p, sizeof p);
    wvh_db *db = open_ok(p, WVH_CREATE);
    REQUIRE_OK(wvh_doc_create(db, "o"));
    fill(db, "o", 1, 40);
    wv_doc *w;
    uint64_t v;
    REQUIRE_OK(wvh_load(db, "o", 2, &w, &v));
    REQUIRE_OK(wv_text_insert(w, 0, "oom", 3));
    size_t n;
    wv_atom_info *a = test_pending(w, 0, &n);
    uint64_t before = load_hash(db, "o");
    wvh_close(db);
    failalloc fa;
    wv_alloc hook;
    wv_options unused = fa_options(&fa, &hook);
    (void)unused;
    /* The order matters: the snapshot at 40 is written, then a proposal
     * (warm, then cold, each failing until it succeeds) makes x = 41. */
    static const int ops[] = {OP_SNAPSHOT, OP_PROPOSE_WARM, OP_PROPOSE_COLD, OP_LOAD,
                              OP_REPLAY, OP_READ, OP_CHECK};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        if (ops[i] == OP_PROPOSE_COLD) { /* undo the warm one's success */
            sql_exec(p, "DELETE FROM log WHERE seq = 40; UPDATE docs SET x = 40; "
                        "DELETE FROM snapshots WHERE x = 41");
            db = open_ok(p, 0);
            CHECK(load_hash(db, "o") == before);
            wvh_close(db);
        }
        oom_case c = {ops[i], a, n, v};
        int failures = oom_run(p, &c, &fa, &hook);
        CHECK(failures >= (ops[i] == OP_READ ? 1 : 2)); /* the paths that allocate were taken */
    }
    db = open_ok(p, 0);
    CHECK(length(db, "o") == 41 && load_hash(db, "o") == replay_hash(db, "o"));
    REQUIRE_OK(wvh_check(db, NULL));
    wvh_close(db);
    free(a);
    wv_doc_free(w);
    rm_db(p);
}

/* Runs one test, printing its time: the commits sync, so the disk sets it. */
static void run(const char *name, void (*fn)(void)) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    fn();
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%-16s %6.2f s\n", name, (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
}

int main(void) {
    test_init();
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/wvh-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(dir));
    run("docs", test_docs);
    run("race", test_race);
    run("model", test_model);
    run("many_docs", test_many_docs);
    run("snapshots", test_snapshots);
    run("invalid", test_invalid);
    run("cache_rollback", test_cache_rollback);
    run("locked", test_locked);
    run("processes", test_processes);
    run("damaged_rows", test_damaged_rows);
    run("mutated_rows", test_mutated_rows);
    run("foreign_files", test_foreign_files);
    run("oom", test_oom);
    CHECK(rmdir(dir) == 0); /* every test removed its files */
    return test_done("test_hostdb");
}

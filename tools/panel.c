/* panel.c — documents and site panels of `weave serve` (see panel.h): the
 * client's text turned into edits through views, cursor mapping, sync with
 * the durable host, and persistence of every panel in serve_panels. */
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "host/weave_host.h"
#include "json.h"
#include "panel.h"
#include "utf8.h"

/* ---- types -------------------------------------------------------------------- */

typedef struct sv_id {
    uint64_t site;
    uint32_t clock;
} sv_id;

/* A text the client may hold: n code points and the id of each.
 * tok == 0: no view. */
typedef struct sv_view {
    uint64_t tok;
    size_t n;
    uint32_t *cps;
    sv_id *ids;
} sv_view;

/* One panel. Invariants: the replica holds log entries [0, v) (and maybe
 * more); every atom of `site` with clock <= proposed is in the log, every
 * later one is pending; shown is the replica's visible text as last
 * returned; sent, when set, is the text the client last sent, with the ids
 * its characters got. */
typedef struct sv_panel {
    uint64_t site;
    int connected;
    uint64_t v;
    uint32_t proposed;
    wv_doc *doc;
    sv_view shown, sent;
    char status[200]; /* the last sync's problem, "" when it went through */
} sv_panel;

typedef struct sv_docstate {
    char *name;
    sv_panel **p; /* by site, ascending */
    size_t n;
} sv_docstate;

struct sv_state {
    wvh_db *db;
    sqlite3 *sql;
    char *def; /* the default document */
    uint64_t next_tok; /* view tokens: unique across panels and runs */
    uint64_t refused;  /* proposals refused with WV_E_BUSY, this run */
    sv_docstate **d;
    size_t nd;
};

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fputs("weave serve: out of memory\n", stderr);
        exit(3);
    }
    return p;
}

static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) {
        fputs("weave serve: out of memory\n", stderr);
        exit(3);
    }
    return p;
}

static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

static int fail(strbuf *out, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int fail(strbuf *out, int status, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    out->len = 0;
    sb_put(out, "{\"error\":", 9);
    json_str(out, msg, strlen(msg));
    sb_put(out, "}", 1);
    return status;
}

static void view_free(sv_view *w) {
    free(w->cps);
    free(w->ids);
    memset(w, 0, sizeof *w);
}

static void panel_free(sv_panel *p) {
    if (!p) return;
    wv_doc_free(p->doc);
    view_free(&p->shown);
    view_free(&p->sent);
    free(p);
}

/* ---- the weave walked once: id -> index, visible positions ---------------- */

typedef struct walk {
    wv_atom_info *at; /* every atom in weave order, root first */
    size_t n;
    size_t *vis;      /* vis[i]: visible chars before atom i */
    size_t nvis;
    size_t *slot;     /* open addressing, id -> index + 1; 0 empty */
    size_t mask;
} walk;

static size_t id_hash(uint64_t site, uint32_t clock) {
    uint64_t h = (site * 0x9e3779b97f4a7c15ull) ^ (clock * 0xc2b2ae3d27d4eb4full);
    return (size_t)(h ^ (h >> 29));
}

static void walk_free(walk *w) {
    free(w->at);
    free(w->vis);
    free(w->slot);
    memset(w, 0, sizeof *w);
}

static void walk_build(walk *w, const wv_doc *doc) {
    size_t n = wv_doc_atoms(doc), cap = 16;
    wv_iter it;
    walk_free(w);
    while (cap < 2 * n) cap *= 2;
    w->at = xmalloc(n * sizeof *w->at);
    w->vis = xmalloc(n * sizeof *w->vis);
    w->slot = calloc(cap, sizeof *w->slot);
    if (!w->slot) exit(3);
    w->mask = cap - 1;
    wv_iter_begin(&it, doc);
    while (w->n < n && wv_iter_next(&it, &w->at[w->n]) == 1) {
        const wv_atom_info *a = &w->at[w->n];
        w->vis[w->n] = w->nvis;
        if (a->kind == WV_KIND_CHAR && !a->deleted) w->nvis++;
        size_t h = id_hash(a->site, a->clock) & w->mask;
        while (w->slot[h]) h = (h + 1) & w->mask;
        w->slot[h] = ++w->n;
    }
}

/* Index of atom id in the walk, or SIZE_MAX. */
static size_t walk_find(const walk *w, sv_id id) {
    for (size_t h = id_hash(id.site, id.clock) & w->mask; w->slot[h]; h = (h + 1) & w->mask) {
        const wv_atom_info *a = &w->at[w->slot[h] - 1];
        if (a->site == id.site && a->clock == id.clock) return w->slot[h] - 1;
    }
    return SIZE_MAX;
}

/* The visible position just after character id: after it if it is visible,
 * else where it was (after the visible characters before it). */
static size_t walk_after(const walk *w, sv_id id) {
    size_t i = walk_find(w, id);
    if (i == SIZE_MAX) return 0; /* cannot happen: replicas only grow */
    return w->vis[i] + (w->at[i].kind == WV_KIND_CHAR && !w->at[i].deleted);
}

static int walk_visible(const walk *w, size_t i) {
    return w->at[i].kind == WV_KIND_CHAR && !w->at[i].deleted;
}

/* The replica's visible text as a view (token not set). */
static void view_of(sv_view *v, const walk *w) {
    view_free(v);
    v->cps = xmalloc(w->nvis * sizeof *v->cps);
    v->ids = xmalloc(w->nvis * sizeof *v->ids);
    for (size_t i = 0; i < w->n; i++)
        if (walk_visible(w, i)) {
            v->cps[v->n] = w->at[i].value;
            v->ids[v->n++] = (sv_id){w->at[i].site, w->at[i].clock};
        }
}

static int view_same(const sv_view *a, const sv_view *b) {
    if (a->n != b->n) return 0;
    for (size_t i = 0; i < a->n; i++)
        if (a->cps[i] != b->cps[i] || a->ids[i].site != b->ids[i].site || a->ids[i].clock != b->ids[i].clock)
            return 0;
    return 1;
}

/* ---- persistence ---------------------------------------------------------------- */

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS serve_panels("
    " doc TEXT NOT NULL, site INTEGER NOT NULL, connected INTEGER NOT NULL,"
    " v INTEGER NOT NULL, proposed INTEGER NOT NULL, tok INTEGER NOT NULL,"
    " replica BLOB NOT NULL, PRIMARY KEY (doc, site))";

/* Writes panels p[0..k) of doc in one transaction. Returns 0 or -1 (rolled
 * back; message in err). */
static int save(sv_state *s, const char *doc, sv_panel **p, size_t k, char *err, size_t cap) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_exec(s->sql, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(s->sql,
                                "INSERT OR REPLACE INTO serve_panels(doc, site, connected, v, proposed, tok, replica)"
                                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                                -1, &st, NULL);
    for (size_t i = 0; rc == SQLITE_OK && i < k; i++) {
        size_t len = 0;
        void *bytes = NULL;
        if (wv_encode_alloc(p[i]->doc, 0, NULL, 0, NULL, &bytes, &len)) {
            snprintf(err, cap, "cannot encode the replica of site %llu", (unsigned long long)p[i]->site);
            rc = SQLITE_ERROR;
            break;
        }
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, doc, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)p[i]->site);
        sqlite3_bind_int(st, 3, p[i]->connected);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)p[i]->v);
        sqlite3_bind_int64(st, 5, p[i]->proposed);
        sqlite3_bind_int64(st, 6, (sqlite3_int64)p[i]->shown.tok);
        sqlite3_bind_blob(st, 7, bytes, (int)len, SQLITE_TRANSIENT);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        free(bytes);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_OK) rc = sqlite3_exec(s->sql, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        if (!err[0]) snprintf(err, cap, "saving the panels: %s", sqlite3_errmsg(s->sql));
        sqlite3_exec(s->sql, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Gives the panel its shown view of the replica, token `tok` (0: a fresh
 * one). */
static void panel_show(sv_state *s, sv_panel *p, uint64_t tok) {
    walk w = {0};
    walk_build(&w, p->doc);
    view_of(&p->shown, &w);
    p->shown.tok = tok ? tok : s->next_tok++;
    walk_free(&w);
}

static sv_docstate *doc_find(const sv_state *s, const char *name) {
    for (size_t i = 0; i < s->nd; i++)
        if (!strcmp(s->d[i]->name, name)) return s->d[i];
    return NULL;
}

static sv_docstate *doc_add(sv_state *s, const char *name) {
    sv_docstate *d = xmalloc(sizeof *d);
    memset(d, 0, sizeof *d);
    d->name = xstrdup(name);
    s->d = xrealloc(s->d, (s->nd + 1) * sizeof *s->d);
    s->d[s->nd++] = d;
    return d;
}

static sv_panel *panel_find(const sv_docstate *d, uint64_t site) {
    for (size_t i = 0; i < d->n; i++)
        if (d->p[i]->site == site) return d->p[i];
    return NULL;
}

static void panel_add(sv_docstate *d, sv_panel *p) {
    size_t i = d->n;
    d->p = xrealloc(d->p, (d->n + 1) * sizeof *d->p);
    while (i > 0 && d->p[i - 1]->site > p->site) d->p[i] = d->p[i - 1], i--;
    d->p[i] = p;
    d->n++;
}

/* Loads every row of serve_panels. Returns 0 or -1 with err. */
static int load_rows(sv_state *s, char *err, size_t cap) {
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->sql,
                                "SELECT doc, site, connected, v, proposed, tok, replica FROM serve_panels"
                                " ORDER BY doc, site",
                                -1, &st, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, cap, "reading serve_panels: %s", sqlite3_errmsg(s->sql));
        return -1;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        sqlite3_int64 site = sqlite3_column_int64(st, 1), v = sqlite3_column_int64(st, 3),
                      proposed = sqlite3_column_int64(st, 4), tok = sqlite3_column_int64(st, 5);
        const void *blob = sqlite3_column_blob(st, 6);
        int len = sqlite3_column_bytes(st, 6);
        sv_panel *p;
        int drc;
        if (!name || site <= 0 || v < 0 || proposed < 0 || proposed > UINT32_MAX || tok < 0 || !blob) {
            snprintf(err, cap, "serve_panels: a malformed row");
            sqlite3_finalize(st);
            return -1;
        }
        p = xmalloc(sizeof *p);
        memset(p, 0, sizeof *p);
        drc = wv_decode(&p->doc, blob, (size_t)len, NULL);
        if (drc || wv_doc_site(p->doc) != (uint64_t)site) {
            snprintf(err, cap, "serve_panels: the replica of %s/%lld does not load: %s", name, (long long)site,
                     drc ? wv_error_message(drc) : "another site");
            panel_free(p);
            sqlite3_finalize(st);
            return -1;
        }
        p->site = (uint64_t)site;
        p->connected = sqlite3_column_int(st, 2) != 0;
        p->v = (uint64_t)v;
        p->proposed = (uint32_t)proposed;
        if ((uint64_t)tok >= s->next_tok) s->next_tok = (uint64_t)tok + 1;
        panel_show(s, p, (uint64_t)tok);
        sv_docstate *d = doc_find(s, name);
        panel_add(d ? d : doc_add(s, name), p);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, cap, "reading serve_panels: %s", sqlite3_errmsg(s->sql));
        return -1;
    }
    return 0;
}

/* The highest site id any panel of d or the host's log knows. */
static uint64_t max_site(sv_state *s, const sv_docstate *d) {
    uint64_t m = 0;
    wv_doc *host = NULL;
    for (size_t i = 0; i < d->n; i++) {
        size_t nw = wv_doc_weft_all(d->p[i]->doc, NULL, 0);
        wv_weft_entry *w = xmalloc(nw * sizeof *w);
        wv_doc_weft_all(d->p[i]->doc, w, nw);
        for (size_t k = 0; k < nw; k++)
            if (w[k].site > m) m = w[k].site;
        free(w);
        if (d->p[i]->site > m) m = d->p[i]->site;
    }
    if (!wvh_load(s->db, d->name, 0, &host, NULL)) {
        size_t nw = wv_doc_weft_all(host, NULL, 0);
        wv_weft_entry *w = xmalloc(nw * sizeof *w);
        wv_doc_weft_all(host, w, nw);
        for (size_t k = 0; k < nw; k++)
            if (w[k].site > m && w[k].site != UINT64_MAX) m = w[k].site;
        free(w);
        wv_doc_free(host);
    }
    return m;
}

/* A new connected panel at `site`: the document as the whole log. */
static int panel_new(sv_state *s, const char *doc, uint64_t site, sv_panel **out, char *err, size_t cap) {
    sv_panel *p = xmalloc(sizeof *p);
    memset(p, 0, sizeof *p);
    int rc = wvh_load(s->db, doc, site, &p->doc, &p->v);
    if (rc) {
        snprintf(err, cap, "loading %s for site %llu: %s (%s)", doc, (unsigned long long)site,
                 wvh_error_message(rc), wvh_errmsg(s->db));
        free(p);
        return -1;
    }
    p->site = site;
    p->connected = 1;
    p->proposed = wv_doc_weft(p->doc, site);
    panel_show(s, p, 0);
    *out = p;
    return 0;
}

static int pull_entry(uint64_t seq, uint64_t site, const wv_atom_info *atoms, size_t n, void *ctx);

/* The last log entry from v on proposed by the panel's own site. */
typedef struct own_scan {
    uint64_t site, last;
    int found;
} own_scan;

static int find_own(uint64_t seq, uint64_t site, const wv_atom_info *atoms, size_t n, void *ctx) {
    own_scan *o = ctx;
    (void)atoms, (void)n;
    if (site == o->site) o->last = seq, o->found = 1;
    return 0;
}

typedef struct pull_upto {
    sv_panel *p;
    uint64_t last;
} pull_upto;

static int pull_until(uint64_t seq, uint64_t site, const wv_atom_info *atoms, size_t n, void *ctx) {
    pull_upto *u = ctx;
    int rc = pull_entry(seq, site, atoms, n, u->p);
    return rc ? rc : seq >= u->last; /* 1: stop after the last own entry */
}

/* A panel whose own atoms are in the log past v was saved before its last
 * proposal was acknowledged (the server stopped in between): its row lacks
 * atoms the log has, and its clock may be below theirs, so its next edit
 * would reuse their ids. Integrate the log up to its last own entry now,
 * before any edit. Returns 1 if the panel changed. */
static int recover(sv_state *s, const char *doc, sv_panel *p) {
    own_scan o = {p->site, 0, 0};
    pull_upto u = {p, 0};
    if (wvh_read(s->db, doc, p->v, find_own, &o, NULL) || !o.found) return 0;
    u.last = o.last;
    wvh_read(s->db, doc, p->v, pull_until, &u, NULL);
    return 1;
}

int sv_open(sv_state **out, const char *path, const char *doc, char *err, size_t cap) {
    sv_state *s = xmalloc(sizeof *s);
    sv_docstate *d;
    int rc;
    memset(s, 0, sizeof *s);
    /* Tokens never repeat across runs: this run's start above any earlier
     * (load_rows raises it above every stored token too). */
    s->next_tok = now_ms();
    err[0] = 0;
    *out = NULL;
    rc = wvh_open(&s->db, path, WVH_CREATE);
    if (rc) {
        snprintf(err, cap, "%s: %s", path, wvh_error_message(rc));
        goto fail;
    }
    if (sqlite3_open_v2(path, &s->sql, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_busy_timeout(s->sql, 10000) != SQLITE_OK ||
        sqlite3_exec(s->sql, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->sql, schema, NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, cap, "%s: %s", path, s->sql ? sqlite3_errmsg(s->sql) : "cannot open");
        goto fail;
    }
    if (load_rows(s, err, cap)) goto fail;
    rc = wvh_doc_create(s->db, doc);
    if (rc && rc != WVH_E_EXISTS) {
        snprintf(err, cap, "creating document %s: %s (%s)", doc, wvh_error_message(rc), wvh_errmsg(s->db));
        goto fail;
    }
    s->def = xstrdup(doc);
    d = doc_find(s, doc);
    if (!d) d = doc_add(s, doc);
    while (d->n < 2) {
        sv_panel *p;
        if (panel_new(s, doc, max_site(s, d) + 1, &p, err, cap)) goto fail;
        panel_add(d, p);
    }
    if (save(s, doc, d->p, d->n, err, cap)) goto fail;
    for (size_t i = 0; i < s->nd; i++) {
        uint64_t x;
        if (wvh_length(s->db, s->d[i]->name, &x)) continue;
        for (size_t k = 0; k < s->d[i]->n; k++) {
            sv_panel *p = s->d[i]->p[k];
            /* A read position past the log (the log was replaced): read it
             * again; entries the replica holds integrate as no-ops. */
            if (p->v > x) p->v = 0;
            if (recover(s, s->d[i]->name, p)) {
                panel_show(s, p, 0);
                if (save(s, s->d[i]->name, &p, 1, err, cap)) goto fail;
            }
        }
    }
    *out = s;
    return 0;
fail:
    sv_close(s);
    return -1;
}

void sv_close(sv_state *s) {
    if (!s) return;
    for (size_t i = 0; i < s->nd; i++) {
        for (size_t k = 0; k < s->d[i]->n; k++) panel_free(s->d[i]->p[k]);
        free(s->d[i]->p);
        free(s->d[i]->name);
        free(s->d[i]);
    }
    free(s->d);
    free(s->def);
    sqlite3_close(s->sql);
    wvh_close(s->db);
    free(s);
}

/* ---- sync with the host ------------------------------------------------------ */

static int pull_entry(uint64_t seq, uint64_t site, const wv_atom_info *atoms, size_t n, void *ctx) {
    sv_panel *p = ctx;
    int rc = wv_apply(p->doc, atoms, n);
    if (rc) return rc;
    if (site == p->site)
        for (size_t i = 0; i < n; i++)
            if (atoms[i].clock > p->proposed) p->proposed = atoms[i].clock;
    p->v = seq + 1;
    return 0;
}

/* The panel's own atoms not in the log yet (malloc'd; *k of them). */
static wv_atom_info *pending(const sv_panel *p, size_t *k) {
    size_t nw = wv_doc_weft_all(p->doc, NULL, 0), i, count = 0;
    wv_weft_entry *w = xmalloc((nw + 1) * sizeof *w);
    wv_atom_info *a = NULL;
    wv_doc_weft_all(p->doc, w, nw);
    for (i = 0; i < nw && w[i].site != p->site; i++) {}
    if (i == nw) w[nw++] = (wv_weft_entry){p->site, 0};
    w[i].clock = p->proposed;
    *k = 0;
    if (!wv_delta(p->doc, w, nw, NULL, 0, &count) && count) {
        a = xmalloc(count * sizeof *a);
        if (wv_delta(p->doc, w, nw, a, count, k)) *k = 0;
    }
    free(w);
    return a;
}

static void status_of(sv_state *s, sv_panel *p, const char *what, int rc) {
    snprintf(p->status, sizeof p->status, "%s: %s%s%s", what, wvh_error_message(rc),
             wvh_errmsg(s->db)[0] ? " — " : "", wvh_errmsg(s->db));
}

/* Proposes the pending atoms under lock(v, 0); refused (WV_E_BUSY: the log
 * moved past v), reads and integrates the entries from v on and proposes
 * again; then reads what the log has past v. WV_E_DUPLICATE (the atoms are
 * in the log already: the server stopped between an acknowledged proposal
 * and saving the panel) also reads once, which raises `proposed` past them.
 * Problems (a fork's atoms that build on atoms still pending elsewhere, a
 * locked database) are left in p->status and retried at the next sync. */
static void sync_panel(sv_state *s, const char *doc, sv_panel *p) {
    int rc = WV_OK, dup = 0, attempt;
    p->status[0] = 0;
    for (attempt = 0; attempt < 16; attempt++) {
        size_t k;
        uint64_t seq;
        wv_atom_info *a = pending(p, &k);
        if (!k) {
            free(a);
            break;
        }
        rc = wvh_propose(s->db, doc, p->site, p->v, 0, a, k, &seq);
        if (rc == WV_OK) {
            for (size_t i = 0; i < k; i++)
                if (a[i].clock > p->proposed) p->proposed = a[i].clock;
            if (seq == p->v) p->v = seq + 1;
        }
        free(a);
        if (rc == WV_OK) break;
        if (rc == WV_E_BUSY || (rc == WV_E_DUPLICATE && !dup++)) {
            if (rc == WV_E_BUSY) s->refused++;
            rc = wvh_read(s->db, doc, p->v, pull_entry, p, NULL);
            if (rc) {
                status_of(s, p, "reading the log", rc);
                return;
            }
            continue;
        }
        if (rc == WV_E_CAUSE)
            snprintf(p->status, sizeof p->status,
                     "waiting: these edits build on atoms not in the log yet (a panel this one was forked "
                     "from has not synced them)");
        else status_of(s, p, "proposing", rc);
        break;
    }
    if (attempt == 16) snprintf(p->status, sizeof p->status, "the log kept moving: will retry");
    rc = wvh_read(s->db, doc, p->v, pull_entry, p, NULL);
    if (rc) status_of(s, p, "reading the log", rc);
}

/* ---- requests -------------------------------------------------------------------- */

static void put_hash(strbuf *out, const wv_doc *doc, char hex[17]) {
    snprintf(hex, 17, "%016llx", (unsigned long long)wv_weave_hash(doc));
    sb_put(out, "\"", 1);
    sb_put(out, hex, 16);
    sb_put(out, "\"", 1);
}

/* Most atoms a weave view sends: past it the page shows the beginning. */
#define VIEW_MAX_ATOMS 20000

/* The panel as JSON: sel (may be NULL) is the mapped selection; the weave
 * itself is included unless the client's hash says it has it. */
static void panel_json(strbuf *out, const sv_panel *p, const walk *w, const size_t *sel, const char *client_hash) {
    char hex[17];
    size_t pend = 0;
    for (size_t i = 0; i < w->n; i++)
        if (w->at[i].site == p->site && w->at[i].clock > p->proposed) pend++;
    sb_printf(out, "{\"site\":%llu,\"connected\":%s,\"v\":%llu,\"pending\":%zu,\"tok\":%llu,\"sent\":%llu,",
              (unsigned long long)p->site, p->connected ? "true" : "false", (unsigned long long)p->v, pend,
              (unsigned long long)p->shown.tok, (unsigned long long)(p->sent.tok ? p->sent.tok : p->shown.tok));
    sb_put(out, "\"text\":", 7);
    json_cps(out, p->shown.cps, p->shown.n);
    if (sel) sb_printf(out, ",\"sel\":[%zu,%zu]", sel[0], sel[1]);
    else sb_put(out, ",\"sel\":null", 11);
    sb_put(out, ",\"status\":", 10);
    json_str(out, p->status, strlen(p->status));
    sb_put(out, ",\"hash\":", 8);
    put_hash(out, p->doc, hex);
    if (client_hash && !strcmp(client_hash, hex)) {
        sb_put(out, "}", 1);
        return;
    }
    /* atoms: [site, clock, kind, code point, deleted, index of the cause],
     * the first VIEW_MAX_ATOMS of them (a cause precedes its effects, so
     * the indexes stay inside); atoms_total: how many the weave holds. */
    size_t *path = xmalloc((w->n + 1) * sizeof *path), depth = 0;
    size_t shown = w->n < VIEW_MAX_ATOMS ? w->n : VIEW_MAX_ATOMS;
    sb_printf(out, ",\"atoms_total\":%zu,\"atoms\":[", w->n);
    for (size_t i = 0; i < shown; i++) {
        const wv_atom_info *a = &w->at[i];
        long long parent = -1;
        if (i) {
            while (depth > 1 && !(w->at[path[depth - 1]].site == a->cause_site &&
                                  w->at[path[depth - 1]].clock == a->cause_clock))
                depth--;
            parent = (long long)path[depth - 1];
        }
        path[depth++] = i;
        sb_printf(out, "%s[%llu,%u,%d,%u,%d,%lld]", i ? "," : "", (unsigned long long)a->site, a->clock,
                  (int)a->kind, a->value, a->deleted ? 1 : 0, parent);
    }
    sb_put(out, "]}", 2);
    free(path);
}

static void reset(strbuf *b) {
    b->len = 0;
    sb_put(b, "", 0);
}

int sv_state_json(sv_state *s, const char *doc, strbuf *out) {
    sv_docstate *d = doc_find(s, doc ? doc : s->def);
    uint64_t x = 0;
    walk w = {0};
    reset(out);
    if (!d) return fail(out, 404, "no document named %s", doc ? doc : s->def);
    wvh_length(s->db, d->name, &x);
    sb_put(out, "{\"doc\":", 7);
    json_str(out, d->name, strlen(d->name));
    sb_put(out, ",\"docs\":[", 9);
    for (size_t i = 0; i < s->nd; i++) {
        if (i) sb_put(out, ",", 1);
        json_str(out, s->d[i]->name, strlen(s->d[i]->name));
    }
    sb_printf(out, "],\"x\":%llu,\"refused\":%llu,\"panels\":[", (unsigned long long)x,
              (unsigned long long)s->refused);
    for (size_t i = 0; i < d->n; i++) {
        if (i) sb_put(out, ",", 1);
        walk_build(&w, d->p[i]->doc);
        panel_json(out, d->p[i], &w, NULL, NULL);
    }
    sb_put(out, "]}", 2);
    walk_free(&w);
    return 200;
}

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Runs the client's new text c[0..nc) against base view b as edits at the
 * panel's site; *sent gets the client's text with its ids. Returns WV_OK or
 * the library's error (the replica may then hold part of the edit). */
static int apply_text(sv_state *s, sv_panel *p, const sv_view *b, const uint32_t *c, size_t nc, sv_view *sent) {
    size_t pre = 0, suf = 0, nins, ndel, *pos = NULL, npos = 0;
    walk w = {0};
    int rc = WV_OK;
    while (pre < b->n && pre < nc && b->cps[pre] == c[pre]) pre++;
    while (suf < b->n - pre && suf < nc - pre && b->cps[b->n - 1 - suf] == c[nc - 1 - suf]) suf++;
    ndel = b->n - pre - suf;
    nins = nc - pre - suf;
    if (ndel) {
        /* Delete the base's characters that are still visible, last first,
         * as runs of consecutive positions. */
        walk_build(&w, p->doc);
        pos = xmalloc(ndel * sizeof *pos);
        for (size_t i = pre; i < pre + ndel; i++) {
            size_t j = walk_find(&w, b->ids[i]);
            if (j != SIZE_MAX && walk_visible(&w, j)) pos[npos++] = w.vis[j];
        }
        qsort(pos, npos, sizeof *pos, cmp_size);
        for (size_t end = npos; rc == WV_OK && end > 0;) {
            size_t start = end - 1;
            while (start > 0 && pos[start - 1] + 1 == pos[start]) start--;
            rc = wv_text_delete(p->doc, pos[start], end - start);
            end = start;
        }
        free(pos);
    }
    view_free(sent);
    sent->cps = xmalloc(nc * sizeof *sent->cps);
    sent->ids = xmalloc(nc * sizeof *sent->ids);
    sent->n = nc;
    memcpy(sent->cps, c, nc * sizeof *c);
    memcpy(sent->ids, b->ids, pre * sizeof *sent->ids);
    memcpy(sent->ids + pre + nins, b->ids + b->n - suf, suf * sizeof *sent->ids);
    if (nins && rc == WV_OK) {
        strbuf u = {0};
        char e[4];
        walk_build(&w, p->doc);
        size_t at = pre ? walk_after(&w, b->ids[pre - 1]) : 0;
        for (size_t i = pre; i < pre + nins; i++) sb_put(&u, e, _wv_utf8_put(c[i], e));
        rc = wv_text_insert(p->doc, at, u.s, u.len);
        if (rc == WV_OK) {
            /* The new characters are the visible ones at [at, at + nins). */
            size_t k = 0;
            walk_build(&w, p->doc);
            for (size_t i = 0; i < w.n && k < nins; i++)
                if (walk_visible(&w, i) && w.vis[i] >= at)
                    sent->ids[pre + k++] = (sv_id){w.at[i].site, w.at[i].clock};
        }
        sb_free(&u);
    }
    sent->tok = ndel || nins ? s->next_tok++ : b->tok; /* the same text, the same token */
    walk_free(&w);
    return rc;
}

int sv_request_run(sv_state *s, sv_action a, const sv_request *rq, strbuf *out) {
    sv_docstate *d = doc_find(s, rq->doc);
    sv_panel *p, *child = NULL;
    const sv_view *base = NULL;
    uint32_t *cps = NULL;
    size_t ncp = 0, sel[2];
    char err[300] = "";
    walk w = {0};
    int status = 200, rc = WV_OK;
    reset(out);
    if (!d) return fail(out, 404, "no document named %s", rq->doc);
    p = panel_find(d, rq->site);
    if (!p) return fail(out, 404, "no panel at site %llu in %s", (unsigned long long)rq->site, rq->doc);
    if (rq->has_sel && !rq->has_text) return fail(out, 400, "sel needs text and base");
    if (rq->has_text) {
        if (rq->base && rq->base == p->shown.tok) base = &p->shown;
        else if (rq->base && rq->base == p->sent.tok) base = &p->sent;
        else
            return fail(out, 409, "base %llu is no text this panel knows: reload it",
                        (unsigned long long)rq->base);
        if (_wv_utf8_count(rq->text, rq->text_len, &ncp)) return fail(out, 400, "text is not UTF-8");
        if (rq->has_sel && (rq->sel[0] > rq->sel[1] || rq->sel[1] > ncp))
            return fail(out, 400, "sel is outside the text");
        cps = xmalloc(ncp * sizeof *cps);
        for (size_t i = 0, k = 0; k < ncp; k++) _wv_utf8_next(rq->text, rq->text_len, &i, &cps[k]);
    }
    /* Validated: from here on the request changes state. */
    uint32_t clock0 = wv_doc_clock(p->doc);
    size_t atoms0 = wv_doc_atoms(p->doc);
    int connected0 = p->connected;
    uint64_t v0 = p->v, tok0 = p->shown.tok;
    uint32_t proposed0 = p->proposed;
    if (rq->has_text) {
        sv_view sent = {0};
        rc = apply_text(s, p, base, cps, ncp, &sent);
        view_free(&p->sent);
        p->sent = sent;
        if (rc) {
            view_free(&p->sent);
            status = fail(out, 500, "the edit failed: %s", wv_error_message(rc));
        }
    }
    if (status == 200 && a == SV_FORK) {
        uint64_t site = max_site(s, d) + 1;
        child = xmalloc(sizeof *child);
        memset(child, 0, sizeof *child);
        rc = wv_doc_fork(p->doc, site, &child->doc);
        if (rc) {
            free(child);
            child = NULL;
            status = fail(out, 500, "fork failed: %s", wv_error_message(rc));
        } else {
            child->site = site;
            child->connected = p->connected;
            child->v = p->v;
            child->proposed = 0;
            panel_show(s, child, 0);
            panel_add(d, child);
        }
    }
    if (status == 200) {
        if (a == SV_CONNECT) p->connected = 1;
        if (a == SV_DISCONNECT) p->connected = 0;
        if (p->connected || a == SV_MERGE) sync_panel(s, d->name, p);
        else p->status[0] = 0;
        if (child && child->connected) sync_panel(s, d->name, child);
    }
    /* The reply: the text now, the selection mapped through the ids. */
    walk_build(&w, p->doc);
    {
        sv_view now = {0};
        view_of(&now, &w);
        if (view_same(&now, &p->shown)) view_free(&now);
        else {
            view_free(&p->shown);
            p->shown = now;
            p->shown.tok = p->sent.tok && view_same(&p->shown, &p->sent) ? p->sent.tok : s->next_tok++;
        }
    }
    if (child) panel_show(s, child, 0);
    for (int k = 0; k < 2 && rq->has_sel && status == 200; k++)
        sel[k] = rq->sel[k] ? walk_after(&w, p->sent.ids[rq->sel[k] - 1]) : 0;
    if (status == 200 && (child || clock0 != wv_doc_clock(p->doc) || atoms0 != wv_doc_atoms(p->doc) ||
                          connected0 != p->connected || v0 != p->v || tok0 != p->shown.tok ||
                          proposed0 != p->proposed)) {
        sv_panel *both[2] = {p, child};
        if (save(s, d->name, both, child ? 2 : 1, err, sizeof err)) status = fail(out, 500, "%s", err);
    }
    if (status == 200) {
        uint64_t x = 0;
        wvh_length(s->db, d->name, &x);
        sb_printf(out, "{\"x\":%llu,\"panel\":", (unsigned long long)x);
        panel_json(out, p, &w, rq->has_sel ? sel : NULL, rq->hash);
        if (child) {
            walk cw = {0};
            walk_build(&cw, child->doc);
            sb_put(out, ",\"created\":", 11);
            panel_json(out, child, &cw, NULL, NULL);
            walk_free(&cw);
        }
        sb_put(out, "}", 1);
    }
    walk_free(&w);
    free(cps);
    return status;
}

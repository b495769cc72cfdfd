/* hostdb.c — `weave host SUBCOMMAND DB ...`: the durable site host
 * (host/weave_host.h) from the command line.
 *
 *   create DB DOC...        new documents (the file is created if absent)
 *   list DB                 one line per document: X NAME
 *   write DB DOC --site S --txns N [--n W] [--edits K] [--seed X]
 *                           [--snapshot-every K]
 *       a writer: resumes at site S from the database (wvh_load), then N
 *       times: 1..K random local edits, proposed with lock(v, W); refused, it
 *       reads the entries it lacks, integrates them and retries. After each
 *       COMMIT it prints `ack SEQ SITE CLOCK...` (flushed); at the end it
 *       reads the whole log and prints `final X HASH` (its own replica's
 *       wv_weave_hash, 16 hex digits, as of log length X)
 *   read DB DOC [--site S] [--upto X] [--replay]
 *       `x: X`, `hash: H`, `chars: C` lines, then the text and a newline;
 *       from wvh_load (snapshot + tail), or with --replay / --upto from a
 *       replay of the log from empty (wvh_replay)
 *   log DB DOC [--from V]   one line per entry: SEQ SITE CLOCK...
 *   snapshot DB DOC...      writes a snapshot at the current x of each
 *   check DB [DOC]          wvh_check: every row, every snapshot, the replay
 *
 * Exit status: 0; 1 when check finds a problem; 2 with one line on stderr
 * for any other error (usage, the database's, the library's).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "weave_host.h"

static const char host_usage[] =
    "usage: weave host create DB DOC...\n"
    "       weave host list DB\n"
    "       weave host write DB DOC --site S --txns N [--n W] [--edits K] [--seed X] [--snapshot-every K]\n"
    "       weave host read DB DOC [--site S] [--upto X] [--replay]\n"
    "       weave host log DB DOC [--from V]\n"
    "       weave host snapshot DB DOC...\n"
    "       weave host check DB [DOC]\n";

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int fail(const char *fmt, ...) {
    va_list ap;
    fputs("weave host: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

/* A host error: code name and the handle's detail. */
static int host_fail(wvh_db *db, const char *what, int rc) {
    return fail("%s: %s (%s)", what, db && *wvh_errmsg(db) ? wvh_errmsg(db) : wvh_error_message(rc),
                wvh_error_name(rc));
}

typedef struct opts {
    char **pos;
    int npos;
    uint64_t site, txns, n, edits, seed, snapshot_every, upto, from;
    int has_site, has_txns, has_upto, has_snap, replay;
} opts;

static int number(const char *w, uint64_t *out) {
    if (!w || !w[0] || w[0] == '-' || w[0] == '+') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(w, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

static int parse(int argc, char **argv, opts *o) {
    memset(o, 0, sizeof *o);
    o->n = 0, o->edits = 3;
    o->pos = calloc((size_t)argc + 1, sizeof *o->pos);
    if (!o->pos) return fail("out of memory");
    const struct { const char *name; uint64_t *v; int *given; } num[] = {
        {"--site", &o->site, &o->has_site},
        {"--txns", &o->txns, &o->has_txns},
        {"--n", &o->n, NULL},
        {"--edits", &o->edits, NULL},
        {"--seed", &o->seed, NULL},
        {"--snapshot-every", &o->snapshot_every, &o->has_snap},
        {"--upto", &o->upto, &o->has_upto},
        {"--from", &o->from, NULL},
    };
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];
        if (!strcmp(w, "--replay")) {
            o->replay = 1;
            continue;
        }
        size_t k = 0;
        while (k < sizeof num / sizeof *num && strcmp(w, num[k].name)) k++;
        if (k < sizeof num / sizeof *num) {
            if (i + 1 >= argc || number(argv[i + 1], num[k].v)) return fail("%s needs a number", w);
            if (num[k].given) *num[k].given = 1;
            i++;
        } else if (w[0] == '-' && w[1] == '-') {
            return fail("unknown option %s", w);
        } else {
            o->pos[o->npos++] = argv[i];
        }
    }
    return 0;
}

static int open_db(const char *path, unsigned flags, wvh_db **db) {
    char msg[512];
    int rc = wvh_open_ex(db, path, &(wvh_options){.flags = flags, .busy_timeout_ms = 30000,
                                                   .snapshot_every = 256}, msg, sizeof msg);
    return rc ? fail("%s: %s (%s)", path, msg, wvh_error_name(rc)) : 0;
}

/* ---- create, list, snapshot, check ----------------------------------------------- */

static int cmd_create(wvh_db *db, const opts *o) {
    for (int i = 1; i < o->npos; i++) {
        int rc = wvh_doc_create(db, o->pos[i]);
        if (rc) return host_fail(db, o->pos[i], rc);
    }
    return 0;
}

static int list_one(const char *doc, void *ctx) {
    strbuf *names = ctx;
    sb_put(names, doc, strlen(doc) + 1);
    return 0;
}

static int cmd_list(wvh_db *db, const opts *o) {
    (void)o;
    /* Names first, lengths after: a callback may not call back into db. */
    strbuf names = {0};
    int rc = wvh_doc_list(db, list_one, &names);
    for (size_t at = 0; !rc && at < names.len; at += strlen(names.s + at) + 1) {
        uint64_t x;
        rc = wvh_length(db, names.s + at, &x);
        if (rc == WVH_E_NODOC) continue; /* removed meanwhile */
        if (!rc) printf("%llu %s\n", (unsigned long long)x, names.s + at);
    }
    sb_free(&names);
    return rc ? host_fail(db, "list", rc) : 0;
}

static int cmd_snapshot(wvh_db *db, const opts *o) {
    for (int i = 1; i < o->npos; i++) {
        uint64_t x;
        int rc = wvh_snapshot(db, o->pos[i], &x);
        if (rc) return host_fail(db, o->pos[i], rc);
        printf("snapshot %s at %llu\n", o->pos[i], (unsigned long long)x);
    }
    return 0;
}

static int cmd_check(wvh_db *db, const opts *o) {
    const char *doc = o->npos > 1 ? o->pos[1] : NULL;
    int rc = wvh_check(db, doc);
    if (rc == WVH_E_LOCKED || rc == WVH_E_DB || rc == WV_E_NOMEM || rc == WV_E_ARG ||
        rc == WVH_E_NODOC)
        return host_fail(db, "check", rc);
    if (rc) {
        host_fail(db, "check", rc);
        return 1;
    }
    printf("ok\n");
    return 0;
}

/* ---- read, log ------------------------------------------------------------------ */

static int cmd_read(wvh_db *db, const opts *o) {
    wv_doc *d = NULL;
    uint64_t x;
    int rc;
    if (o->replay || o->has_upto) {
        if (o->has_upto) x = o->upto;
        else if ((rc = wvh_length(db, o->pos[1], &x))) return host_fail(db, o->pos[1], rc);
        rc = wvh_replay(db, o->pos[1], x, o->site, &d);
    } else {
        rc = wvh_load(db, o->pos[1], o->site, &d, &x);
    }
    if (rc) return host_fail(db, o->pos[1], rc);
    size_t len;
    char *text = cli_text(d, &len);
    printf("x: %llu\nhash: %016llx\nchars: %zu\n", (unsigned long long)x,
           (unsigned long long)wv_weave_hash(d), wv_text_len(d));
    fwrite(text, 1, len, stdout);
    putchar('\n');
    free(text);
    wv_doc_free(d);
    return 0;
}

static int print_entry(uint64_t seq, uint64_t site, const wv_atom_info *atoms, size_t n, void *ctx) {
    (void)ctx;
    printf("%llu %llu", (unsigned long long)seq, (unsigned long long)site);
    for (size_t i = 0; i < n; i++) printf(" %u", atoms[i].clock);
    putchar('\n');
    return 0;
}

static int cmd_log(wvh_db *db, const opts *o) {
    int rc = wvh_read(db, o->pos[1], o->from, print_entry, NULL, NULL);
    return rc ? host_fail(db, o->pos[1], rc) : 0;
}

/* ---- write: a writer process ----------------------------------------------------- */

/* One random local edit: a delete of 1-4 chars or an insert of a short word. */
static int random_edit(wv_doc *d, uint64_t *rng) {
    static const char *words[] = {"a", "bc", "def", "\xc3\xa9", "xyzw", "\xe2\x82\xac",
                                  "\xf0\x9f\x98\x80", " ", "weave "};
    size_t len = wv_text_len(d);
    if (len && cli_rng_below(rng, 3) == 0) {
        size_t pos = cli_rng_below(rng, len), n = 1 + cli_rng_below(rng, 4);
        return wv_text_delete(d, pos, n < len - pos ? n : len - pos);
    }
    const char *w = words[cli_rng_below(rng, sizeof words / sizeof *words)];
    return wv_text_insert(d, cli_rng_below(rng, len + 1), w, strlen(w));
}

/* Entries collected by catch_up, integrated with one wv_apply (one pass
 * over the weave) rather than one per entry. */
typedef struct collect {
    wv_atom_info *a;
    size_t n, cap;
} collect;

static int collect_entry(uint64_t seq, uint64_t site, const wv_atom_info *atoms, size_t n, void *ctx) {
    (void)seq, (void)site;
    collect *c = ctx;
    if (c->n + n > c->cap) {
        size_t cap = c->cap ? c->cap : 256;
        while (cap < c->n + n) cap *= 2;
        wv_atom_info *a = realloc(c->a, cap * sizeof *a);
        if (!a) return 1;
        c->a = a, c->cap = cap;
    }
    memcpy(c->a + c->n, atoms, n * sizeof *atoms);
    c->n += n;
    return 0;
}

/* Reads the entries from *v on into d. Returns 0 or 2 after a message. */
static int catch_up(wvh_db *db, const char *doc, wv_doc *d, uint64_t *v) {
    collect c = {0};
    uint64_t from = *v;
    int rc;
    while ((rc = wvh_read(db, doc, from, collect_entry, &c, v)) == WVH_E_LOCKED) c.n = 0;
    if (rc == 1) rc = WV_E_NOMEM;
    else if (rc) return free(c.a), host_fail(db, doc, rc);
    else rc = wv_apply(d, c.a, c.n);
    free(c.a);
    if (rc)
        return fail("%s: integrating entries %llu to %llu: %s (%s)", doc, (unsigned long long)from,
                    (unsigned long long)*v, wv_error_message(rc), wv_error_name(rc));
    return 0;
}

static int cmd_write(wvh_db *db, const opts *o) {
    const char *doc = o->pos[1];
    if (!o->has_site || !o->has_txns || o->n > UINT32_MAX || o->edits == 0)
        return fail("write needs --site S and --txns N (and --n W < 2^32, --edits K > 0)");
    if (o->has_snap) wvh_set_snapshot_every(db, (uint32_t)(o->snapshot_every > UINT32_MAX ? 0 : o->snapshot_every));
    wv_doc *d;
    uint64_t v, seq;
    int rc = wvh_load(db, doc, o->site, &d, &v);
    if (rc) return host_fail(db, doc, rc);
    uint64_t rng = o->seed ^ (o->site * 0x9e3779b97f4a7c15ull) ^ v;
    size_t cap = 16;
    wv_weft_entry *weft = malloc(cap * sizeof *weft);
    wv_atom_info *pend = NULL;
    size_t pcap = 0;
    int st = weft ? 0 : fail("out of memory");
    for (uint64_t t = 0; !st && t < o->txns; t++) {
        /* The own atoms after `mark` are this transaction's. */
        uint32_t mark = wv_doc_weft(d, o->site);
        size_t k = 1 + cli_rng_below(&rng, (size_t)o->edits);
        for (size_t e = 0; !st && e < k; e++)
            if ((rc = random_edit(d, &rng))) st = fail("edit: %s", wv_error_message(rc));
        if (st) break;
        size_t nw;
        while ((nw = wv_doc_weft_all(d, weft, cap)) > cap) {
            wv_weft_entry *w = realloc(weft, 2 * nw * sizeof *w);
            if (!w) return fail("out of memory");
            weft = w, cap = 2 * nw;
        }
        for (size_t i = 0; i < nw; i++)
            if (weft[i].site == o->site) weft[i].clock = mark;
        size_t np;
        if ((rc = wv_delta(d, weft, nw, pend, pcap, &np))) st = fail("delta: %s", wv_error_message(rc));
        if (!st && np > pcap) {
            free(pend);
            pcap = 2 * np;
            pend = malloc(pcap * sizeof *pend);
            if (!pend) return fail("out of memory");
            rc = wv_delta(d, weft, nw, pend, pcap, &np);
            if (rc) st = fail("delta: %s", wv_error_message(rc));
        }
        while (!st) {
            rc = wvh_propose(db, doc, o->site, v, (uint32_t)o->n, pend, np, &seq);
            if (rc == WV_OK) break;
            if (rc == WV_E_BUSY) st = catch_up(db, doc, d, &v);
            else if (rc != WVH_E_LOCKED) st = host_fail(db, doc, rc);
        }
        if (st) break;
        if (seq == v) v = seq + 1; /* nothing unread before it */
        printf("ack %llu %llu", (unsigned long long)seq, (unsigned long long)o->site);
        for (size_t i = 0; i < np; i++) printf(" %u", pend[i].clock);
        putchar('\n');
        fflush(stdout);
    }
    if (!st) st = catch_up(db, doc, d, &v);
    if (!st) {
        char msg[256];
        if (wv_check(d, msg, sizeof msg)) st = fail("%s: the writer's replica is invalid: %s", doc, msg);
        else printf("final %llu %016llx\n", (unsigned long long)v, (unsigned long long)wv_weave_hash(d));
    }
    free(weft);
    free(pend);
    wv_doc_free(d);
    return st;
}

/* ---- dispatch ---------------------------------------------------------------------- */

int cli_host(int argc, char **argv) {
    static const struct {
        const char *name;
        int (*fn)(wvh_db *, const opts *);
        int min, max; /* positional arguments after the subcommand */
        unsigned flags;
    } cmds[] = {
        {"create", cmd_create, 2, 1 << 20, WVH_CREATE},
        {"list", cmd_list, 1, 1, 0},
        {"write", cmd_write, 2, 2, 0},
        {"read", cmd_read, 2, 2, WVH_READONLY},
        {"log", cmd_log, 2, 2, WVH_READONLY},
        {"snapshot", cmd_snapshot, 2, 1 << 20, 0},
        {"check", cmd_check, 1, 2, WVH_READONLY},
    };
    if (argc < 1) return fputs(host_usage, stderr), 2;
    if (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) return fputs(host_usage, stdout), 0;
    size_t c = 0;
    while (c < sizeof cmds / sizeof *cmds && strcmp(argv[0], cmds[c].name)) c++;
    if (c == sizeof cmds / sizeof *cmds) return fputs(host_usage, stderr), 2;
    opts o;
    int st = parse(argc - 1, argv + 1, &o);
    if (!st && (o.npos < cmds[c].min || o.npos > cmds[c].max)) st = (fputs(host_usage, stderr), 2);
    wvh_db *db = NULL;
    if (!st) st = open_db(o.pos[0], cmds[c].flags, &db);
    if (!st) st = cmds[c].fn(db, &o);
    wvh_close(db);
    free(o.pos);
    if (fflush(stdout) && !st) st = fail("cannot write the output");
    return st;
}

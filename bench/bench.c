/* bench.c — weave-bench: workloads 1–5 of bench/WORKLOADS.md, for weave.
 *
 *   weave-bench [--smoke] [--runs R] [--only N] [--traces DIR] [--json FILE]
 *
 * Every workload checks its own result and the program exits 1 with a
 * message on any mismatch or library error. Times are wall-clock medians of
 * R runs (CLOCK_MONOTONIC), in ms. One Markdown table per workload goes to
 * stdout, progress and skips to stderr; --json writes the same rows (same
 * field names as the table columns) plus machine information.
 *
 * Choices WORKLOADS.md leaves open (the Node harness must make the same):
 * - random single-char inserts (workloads 4 and 5) draw the position first,
 *   then the char: pos = below(len + 1), ch = 'a' + below(26);
 * - workload 5: the fork (site 2) is made from the n-char document before
 *   its 10,000 timed inserts, and its n / 100 concurrent inserts use seed 23;
 *   the merge is doc <- fork;
 * - sites: workloads 1, 4, 5 edit at site 1 (forks at site 2); workload 2
 *   gives agent a site a + 1; workload 3 as WORKLOADS.md says.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <weave/weave.h>
#include "trace.h"

#if defined(__clang__)
#define COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define COMPILER "gcc " __VERSION__
#else
#define COMPILER __VERSION__
#endif

#ifndef WV_BENCH_BUILDTYPE
#define WV_BENCH_BUILDTYPE "unknown"
#endif

/* ---- options and small helpers -------------------------------------------- */

typedef struct options {
    int smoke, runs, only;
    const char *traces, *json;
} options;

static options opt = {0, 5, 0, "../shared/traces", NULL};

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static void die(const char *fmt, ...);
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("weave-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void ck(int rc, const char *what) {
    if (rc) die("%s failed: %s (%s)", what, wv_error_name(rc), wv_error_message(rc));
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory (%zu bytes)", n);
    return p;
}

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) die("out of memory (%zu x %zu bytes)", n, size);
    return p;
}

static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Resident set size of this process (VmRSS), in MB (2^20 bytes). */
static double rss_mb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) {
            kb = strtod(line + 6, NULL);
            break;
        }
    fclose(f);
    return kb / 1024.0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static size_t nruns(void) { return (size_t)opt.runs; }

/* mulberry32, exactly as WORKLOADS.md gives it. */
static uint32_t rng_next(uint32_t *s) {
    uint32_t z = (*s += 0x6D2B79F5u);
    z = (z ^ (z >> 15)) * (z | 1u);
    z ^= z + (z ^ (z >> 7)) * (z | 61u);
    return z ^ (z >> 14);
}

static uint32_t below(uint32_t *s, size_t n) { return rng_next(s) % (uint32_t)n; }

static char rand_char(uint32_t *s) { return (char)('a' + below(s, 26)); }

/* ---- text: UTF-8, the order-independent char hash, checks ----------------- */

#define CHAR_HASH_MUL 2654435761u

/* Decodes one code point of valid UTF-8 at s[*i], advancing *i. */
static uint32_t utf8_next(const char *s, size_t *i) {
    const unsigned char *u = (const unsigned char *)s + *i;
    if (u[0] < 0x80) return (*i)++, u[0];
    if (u[0] < 0xE0) return *i += 2, (uint32_t)(u[0] & 0x1F) << 6 | (u[1] & 0x3F);
    if (u[0] < 0xF0) return *i += 3, (uint32_t)(u[0] & 0x0F) << 12 | (uint32_t)(u[1] & 0x3F) << 6 | (u[2] & 0x3F);
    return *i += 4, (uint32_t)(u[0] & 0x07) << 18 | (uint32_t)(u[1] & 0x3F) << 12 |
                        (uint32_t)(u[2] & 0x3F) << 6 | (u[3] & 0x3F);
}

static size_t utf8_put(uint32_t cp, char *out) {
    if (cp < 0x80) return out[0] = (char)cp, 1;
    if (cp < 0x800) return out[0] = (char)(0xC0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3F)), 2;
    if (cp < 0x10000)
        return out[0] = (char)(0xE0 | cp >> 12), out[1] = (char)(0x80 | (cp >> 6 & 0x3F)),
               out[2] = (char)(0x80 | (cp & 0x3F)), 3;
    out[0] = (char)(0xF0 | cp >> 18), out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F)), out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Sum over code points of cp * 2654435761 mod 2^32; *chars gets the count. */
static uint32_t char_hash(const char *s, size_t len, size_t *chars) {
    uint32_t h = 0;
    size_t i = 0, n = 0;
    while (i < len) h += utf8_next(s, &i) * CHAR_HASH_MUL, n++;
    if (chars) *chars = n;
    return h;
}

static char *doc_text(const wv_doc *d, size_t *len) { /* one pass: 4 bytes a char at most */
    size_t cap = wv_text_len(d) * 4 + 1;
    char *s = xmalloc(cap);
    if ((*len = wv_text_read(d, s, cap)) >= cap) die("wv_text_read: %zu bytes for %zu chars", *len, cap / 4);
    return s;
}

/* Takes s (from doc_text) and frees it. */
static void expect_bytes(char *s, size_t len, const char *want, size_t wlen, const char *what) {
    if (len != wlen || memcmp(s, want, len)) {
        size_t i = 0;
        while (i < len && i < wlen && s[i] == want[i]) i++;
        die("%s: text differs from the expected text at byte %zu (%zu bytes, expected %zu)", what, i,
            len, wlen);
    }
    free(s);
}

static void expect_text(const wv_doc *d, const char *want, size_t wlen, const char *what) {
    size_t len;
    char *s = doc_text(d, &len);
    expect_bytes(s, len, want, wlen, what);
}

/* Convergence: equal weave hashes and equal texts. */
static void expect_same(const wv_doc *a, const wv_doc *b, const char *what) {
    if (wv_weave_hash(a) != wv_weave_hash(b))
        die("%s: weave hashes differ (%016llx vs %016llx)", what, (unsigned long long)wv_weave_hash(a),
            (unsigned long long)wv_weave_hash(b));
    size_t len;
    char *s = doc_text(a, &len);
    expect_text(b, s, len, what);
    free(s);
}

static void expect_valid(const wv_doc *d, const char *what) {
    char msg[512];
    if (wv_check(d, msg, sizeof msg)) die("%s: wv_check: %s", what, msg);
}

static wv_weft_entry *weft_of(const wv_doc *d, size_t *n) {
    size_t cap = 16;
    wv_weft_entry *w = xmalloc(cap * sizeof *w);
    while ((*n = wv_doc_weft_all(d, w, cap)) > cap) {
        free(w);
        cap = *n;
        w = xmalloc(cap * sizeof *w);
    }
    return w;
}

/* Encodes a document (delta 0) or the delta past `since` (delta 1) into
 * malloc'd memory of exactly its size, as an application saving would. */
static unsigned char *encode(const wv_doc *d, int delta, const wv_weft_entry *since, size_t nsince,
                             size_t *len) {
    void *buf;
    ck(wv_encode_alloc(d, delta, since, nsince, NULL, &buf, len), "wv_encode_alloc");
    return buf;
}

static wv_doc *doc_new(uint64_t site) {
    wv_doc *d;
    ck(wv_doc_new(&d, site, NULL), "wv_doc_new");
    return d;
}

static wv_doc *doc_clone(const wv_doc *src) {
    wv_doc *d;
    ck(wv_doc_clone(src, &d), "wv_doc_clone");
    return d;
}

static double bytes_per_atom(const wv_doc *d) {
    return (double)wv_doc_bytes(d) / (double)wv_doc_atoms(d);
}

/* n random single-char inserts: pos = below(len + 1), then ch = 'a' + below(26).
 * Returns the char hash of the inserted chars. */
static uint32_t random_inserts(wv_doc *d, uint32_t seed, size_t n) {
    uint32_t h = 0;
    for (size_t i = 0; i < n; i++) {
        size_t pos = below(&seed, wv_text_len(d) + 1);
        char c = rand_char(&seed);
        h += (uint32_t)(unsigned char)c * CHAR_HASH_MUL;
        ck(wv_text_insert(d, pos, &c, 1), "wv_text_insert");
    }
    return h;
}

/* ---- result tables: Markdown on stdout, JSON at the end -------------------- */

typedef enum col_type { C_STR, C_INT, C_NUM } col_type;

typedef struct column {
    const char *key;
    col_type type;
    int prec; /* decimals shown (C_NUM) */
} column;

typedef struct cell {
    int set;
    char *s;
    double v;
} cell;

typedef struct table {
    int workload;
    const char *title;
    const column *cols;
    size_t ncols;
    cell *cells; /* nrows * ncols */
    size_t nrows, caprows;
} table;

#define MAX_TABLES 8
#define MAX_SKIPS 32
static table tables[MAX_TABLES];
static size_t ntables;
static char *skips[MAX_SKIPS];
static size_t nskips;

static table *table_new(int workload, const char *title, const column *cols, size_t ncols) {
    if (ntables == MAX_TABLES) die("too many tables");
    table *t = &tables[ntables++];
    *t = (table){workload, title, cols, ncols, NULL, 0, 0};
    return t;
}

static void row_new(table *t) {
    if (t->nrows == t->caprows) {
        t->caprows = t->caprows ? 2 * t->caprows : 8;
        cell *c = realloc(t->cells, t->caprows * t->ncols * sizeof *c);
        if (!c) die("out of memory");
        t->cells = c;
    }
    memset(&t->cells[t->nrows * t->ncols], 0, t->ncols * sizeof *t->cells);
    t->nrows++;
}

static cell *cell_of(table *t, const char *key) {
    for (size_t i = 0; i < t->ncols; i++)
        if (!strcmp(t->cols[i].key, key)) return &t->cells[(t->nrows - 1) * t->ncols + i];
    die("internal: table %d has no column %s", t->workload, key);
    return NULL;
}

static void put_num(table *t, const char *key, double v) {
    cell *c = cell_of(t, key);
    c->set = 1, c->v = v;
}

static void put_str(table *t, const char *key, const char *s) {
    cell *c = cell_of(t, key);
    c->set = 1, c->s = xstrdup(s);
}

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static void skip(const char *fmt, ...);
static void skip(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    printf("_skipped: %s_\n\n", buf);
    fprintf(stderr, "weave-bench: skipped: %s\n", buf);
    fflush(stdout);
    if (nskips < MAX_SKIPS) skips[nskips++] = xstrdup(buf);
}

/* Integer with thousands separators. */
static void fmt_grouped(double v, char *out, size_t cap) {
    char digits[32];
    unsigned long long u = (unsigned long long)((v < 0 ? -v : v) + 0.5);
    int n = snprintf(digits, sizeof digits, "%llu", u);
    size_t o = 0;
    if (v < 0 && o + 1 < cap) out[o++] = '-';
    for (int i = 0; i < n && o + 2 < cap; i++) {
        if (i && (n - i) % 3 == 0) out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = 0;
}

static void fmt_cell(const column *c, const cell *v, char *out, size_t cap) {
    if (!v->set) snprintf(out, cap, "—");
    else if (c->type == C_STR) snprintf(out, cap, "%s", v->s);
    else if (c->type == C_INT) fmt_grouped(v->v, out, cap);
    else snprintf(out, cap, "%.*f", c->prec, v->v);
}

static void table_print(const table *t) {
    char buf[128];
    printf("### %d. %s\n\n|", t->workload, t->title);
    for (size_t i = 0; i < t->ncols; i++) printf(" %s |", t->cols[i].key);
    printf("\n|");
    for (size_t i = 0; i < t->ncols; i++) printf("%s|", t->cols[i].type == C_STR ? "---" : "---:");
    printf("\n");
    for (size_t r = 0; r < t->nrows; r++) {
        printf("|");
        for (size_t i = 0; i < t->ncols; i++) {
            fmt_cell(&t->cols[i], &t->cells[r * t->ncols + i], buf, sizeof buf);
            printf(" %s |", buf);
        }
        printf("\n");
    }
    printf("\n");
    fflush(stdout);
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static void cpu_model(char *out, size_t cap) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    snprintf(out, cap, "unknown");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) || !colon) continue;
        colon++;
        while (*colon == ' ' || *colon == '\t') colon++;
        colon[strcspn(colon, "\n")] = 0;
        snprintf(out, cap, "%s", colon);
        break;
    }
    fclose(f);
}

static void write_json(const char *path, double total_ms) {
    FILE *f = fopen(path, "w");
    if (!f) die("cannot write %s", path);
    char cpu[256], date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cpu_model(cpu, sizeof cpu);
    fprintf(f, "{\n  \"tool\": \"weave-bench\",\n  \"weave_version\": \"%d.%d.%d\",\n", WV_VERSION_MAJOR,
            WV_VERSION_MINOR, WV_VERSION_PATCH);
    fprintf(f, "  \"machine\": {\"date\": \"%s\", \"nproc\": %ld, \"cpu\": ", date, sysconf(_SC_NPROCESSORS_ONLN));
    json_str(f, cpu);
    fprintf(f, ", \"compiler\": ");
    json_str(f, COMPILER);
    fprintf(f, ", \"build_type\": ");
    json_str(f, WV_BENCH_BUILDTYPE);
#ifdef NDEBUG
    fprintf(f, ", \"ndebug\": true},\n");
#else
    fprintf(f, ", \"ndebug\": false},\n");
#endif
    fprintf(f, "  \"config\": {\"runs\": %d, \"smoke\": %s, \"only\": %d, \"traces\": ", opt.runs,
            opt.smoke ? "true" : "false", opt.only);
    json_str(f, opt.traces);
    fprintf(f, "},\n  \"total_ms\": %.1f,\n  \"skipped\": [", total_ms);
    for (size_t i = 0; i < nskips; i++) {
        fprintf(f, "%s", i ? ", " : "");
        json_str(f, skips[i]);
    }
    fprintf(f, "],\n  \"results\": [");
    int first = 1;
    for (size_t ti = 0; ti < ntables; ti++) {
        const table *t = &tables[ti];
        for (size_t r = 0; r < t->nrows; r++) {
            fprintf(f, "%s\n    {\"workload\": %d, \"table\": ", first ? "" : ",", t->workload);
            json_str(f, t->title);
            first = 0;
            for (size_t i = 0; i < t->ncols; i++) {
                const cell *c = &t->cells[r * t->ncols + i];
                fprintf(f, ", \"%s\": ", t->cols[i].key);
                if (!c->set) fprintf(f, "null");
                else if (t->cols[i].type == C_STR) json_str(f, c->s);
                else if (t->cols[i].type == C_INT) fprintf(f, "%.0f", c->v);
                else fprintf(f, "%.*f", t->cols[i].prec + 3, c->v);
            }
            fprintf(f, "}");
        }
    }
    fprintf(f, "\n  ]\n}\n");
    if (fclose(f)) die("error writing %s", path);
}

/* ---- traces ------------------------------------------------------------------ */

static int traces_present(void) {
    struct stat st;
    return stat(opt.traces, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Loads DIR/name.json.gz; returns 0 (with a skip noted) if the file is absent. */
static int trace_load(const char *name, wvt_trace *t) {
    char path[4096], err[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s.json.gz", opt.traces, name);
    if (stat(path, &st)) {
        skip("trace %s not found", path);
        return 0;
    }
    if (wvt_load(path, t, err, sizeof err)) die("%s", err);
    return 1;
}

static void apply_patches(wv_doc *d, const wvt_txn *tx) {
    for (size_t p = 0; p < tx->npatches; p++) {
        const wvt_patch *pa = &tx->patches[p];
        if (pa->del) ck(wv_text_delete(d, pa->pos, pa->del), "wv_text_delete");
        if (pa->ins_len) ck(wv_text_insert(d, pa->pos, pa->ins, pa->ins_len), "wv_text_insert");
    }
}

/* ---- 1. sequential traces --------------------------------------------------- */

static const column W1_COLS[] = {
    {"trace", C_STR, 0},       {"edits", C_INT, 0},         {"final_chars", C_INT, 0},
    {"replay_ms", C_NUM, 2},   {"edits_per_s", C_INT, 0},   {"atoms", C_INT, 0},
    {"bytes_per_atom", C_NUM, 1}, {"rss_mb", C_NUM, 1},     {"encoded_bytes", C_INT, 0},
    {"bytes_per_edit", C_NUM, 2}, {"save_ms", C_NUM, 2},    {"load_ms", C_NUM, 2},
};

static void w1_trace(table *tb, const char *name) {
    wvt_trace t;
    if (!trace_load(name, &t)) return;
    if (t.concurrent) die("%s: expected a sequential trace", name);
    size_t runs = nruns();
    double *replay = xcalloc(runs, sizeof *replay), *save = xcalloc(runs, sizeof *save),
           *load = xcalloc(runs, sizeof *load);
    double rss = 0;
    size_t atoms = 0, enc_len = 0;
    double bpa = 0;
    for (size_t r = 0; r < runs; r++) {
        wv_doc *d = doc_new(1);
        double t0 = now_ms();
        for (size_t j = 0; j < t.ntxns; j++) apply_patches(d, &t.txns[j]);
        double t1 = now_ms();
        replay[r] = t1 - t0;
        rss = rss_mb();
        expect_text(d, t.end_content, t.end_len, name);
        if (r == 0) expect_valid(d, name);
        atoms = wv_doc_atoms(d), bpa = bytes_per_atom(d);

        double t2 = now_ms();
        unsigned char *buf = encode(d, 0, NULL, 0, &enc_len);
        double t3 = now_ms();
        wv_doc *e;
        ck(wv_decode(&e, buf, enc_len, NULL), "wv_decode");
        size_t text_len;
        char *text = doc_text(e, &text_len); /* as the peers' load does: some decode lazily */
        double t4 = now_ms();
        save[r] = t3 - t2, load[r] = t4 - t3;
        expect_bytes(text, text_len, t.end_content, t.end_len, "loaded document");
        if (wv_weave_hash(e) != wv_weave_hash(d)) die("%s: loaded document's weave hash differs", name);
        free(buf);
        wv_doc_free(e);
        wv_doc_free(d);
    }
    size_t chars;
    (void)char_hash(t.end_content, t.end_len, &chars);
    double ms = median(replay, runs);
    row_new(tb);
    put_str(tb, "trace", name);
    put_num(tb, "edits", (double)t.npatches);
    put_num(tb, "final_chars", (double)chars);
    put_num(tb, "replay_ms", ms);
    put_num(tb, "edits_per_s", (double)t.npatches / (ms / 1e3));
    put_num(tb, "atoms", (double)atoms);
    put_num(tb, "bytes_per_atom", bpa);
    put_num(tb, "rss_mb", rss);
    put_num(tb, "encoded_bytes", (double)enc_len);
    put_num(tb, "bytes_per_edit", (double)enc_len / (double)t.npatches);
    put_num(tb, "save_ms", median(save, runs));
    put_num(tb, "load_ms", median(load, runs));
    fprintf(stderr, "weave-bench: 1: %s: replay %.2f ms, text and loaded text match endContent\n", name, ms);
    free(replay), free(save), free(load);
    wvt_free(&t);
}

static void workload1(void) {
    static const char *const all[] = {"automerge-paper", "seph-blog1", "friendsforever_flat"};
    if (!traces_present()) {
        skip("workload 1: traces directory %s not found", opt.traces);
        return;
    }
    table *tb = table_new(1, "Sequential traces", W1_COLS, sizeof W1_COLS / sizeof *W1_COLS);
    for (size_t i = opt.smoke ? 2 : 0; i < 3; i++) w1_trace(tb, all[i]);
    if (tb->nrows) table_print(tb);
}

/* ---- 2. the concurrent trace ---------------------------------------------- */

static const column W2_COLS[] = {
    {"trace", C_STR, 0},     {"agents", C_INT, 0},      {"txns", C_INT, 0},
    {"edits", C_INT, 0},     {"merges", C_INT, 0},      {"snapshots", C_INT, 0},
    {"replay_ms", C_NUM, 2}, {"edits_per_s", C_INT, 0}, {"atoms", C_INT, 0},
    {"bytes_per_atom", C_NUM, 1}, {"rss_mb", C_NUM, 1},
};

/* Does txn j need a snapshot of its parent i (not its agent's previous txn)? */
static int needs_snapshot(const wvt_trace *t, size_t i, size_t j, const size_t *prev) {
    return t->txns[i].agent != t->txns[j].agent || prev[j] != i;
}

static void workload2(void) {
    const char *name = "friendsforever";
    if (!traces_present()) {
        skip("workload 2: traces directory %s not found", opt.traces);
        return;
    }
    wvt_trace t;
    if (!trace_load(name, &t)) return;
    if (!t.concurrent || t.ntxns == 0) die("%s: expected a non-empty concurrent trace", name);
    size_t n = t.ntxns, na = (size_t)t.num_agents, runs = nruns();
    /* Who needs which snapshot: computed once, outside the timing. */
    size_t *prev = xcalloc(n, sizeof *prev), *seen = xcalloc(na, sizeof *seen);
    size_t *refs0 = xcalloc(n, sizeof *refs0), *refs = xcalloc(n, sizeof *refs);
    for (size_t a = 0; a < na; a++) seen[a] = SIZE_MAX;
    for (size_t j = 0; j < n; j++) {
        prev[j] = seen[t.txns[j].agent];
        seen[t.txns[j].agent] = j;
        for (size_t q = 0; q < t.txns[j].nparents; q++)
            if (needs_snapshot(&t, t.txns[j].parents[q], j, prev)) refs0[t.txns[j].parents[q]]++;
    }
    size_t nsnap = 0;
    for (size_t j = 0; j < n; j++) nsnap += refs0[j] > 0;
    wv_doc **agent = xcalloc(na, sizeof *agent), **snap = xcalloc(n, sizeof *snap);
    double *ms = xcalloc(runs, sizeof *ms), rss = 0, bpa = 0;
    size_t merges = 0, atoms = 0;
    for (size_t r = 0; r < runs; r++) {
        memcpy(refs, refs0, n * sizeof *refs);
        for (size_t a = 0; a < na; a++) agent[a] = doc_new(a + 1);
        merges = 0;
        double t0 = now_ms();
        for (size_t j = 0; j < n; j++) {
            const wvt_txn *tx = &t.txns[j];
            wv_doc *d = agent[tx->agent];
            for (size_t q = 0; q < tx->nparents; q++) {
                size_t i = tx->parents[q];
                if (!needs_snapshot(&t, i, j, prev)) continue;
                ck(wv_merge(d, snap[i]), "wv_merge");
                merges++;
                if (--refs[i] == 0) wv_doc_free(snap[i]), snap[i] = NULL;
            }
            apply_patches(d, tx);
            if (refs[j]) ck(wv_doc_clone(d, &snap[j]), "wv_doc_clone");
        }
        ms[r] = now_ms() - t0;
        rss = rss_mb();
        wv_doc *fin = agent[t.txns[n - 1].agent];
        expect_text(fin, t.end_content, t.end_len, name);
        atoms = wv_doc_atoms(fin), bpa = bytes_per_atom(fin);
        for (size_t j = 0; j < n; j++)
            if (snap[j]) die("%s: snapshot %zu left over", name, j);
        if (r == 0) { /* the final replica holds every agent's history */
            expect_valid(fin, name);
            for (size_t a = 0; a < na; a++) {
                if (agent[a] == fin) continue;
                ck(wv_merge(agent[a], fin), "wv_merge");
                expect_same(agent[a], fin, "friendsforever: agents after a final merge");
            }
        }
        for (size_t a = 0; a < na; a++) wv_doc_free(agent[a]);
    }
    double m = median(ms, runs);
    table *tb = table_new(2, "The concurrent trace", W2_COLS, sizeof W2_COLS / sizeof *W2_COLS);
    row_new(tb);
    put_str(tb, "trace", name);
    put_num(tb, "agents", (double)na);
    put_num(tb, "txns", (double)n);
    put_num(tb, "edits", (double)t.npatches);
    put_num(tb, "merges", (double)merges);
    put_num(tb, "snapshots", (double)nsnap);
    put_num(tb, "replay_ms", m);
    put_num(tb, "edits_per_s", (double)t.npatches / (m / 1e3));
    put_num(tb, "atoms", (double)atoms);
    put_num(tb, "bytes_per_atom", bpa);
    put_num(tb, "rss_mb", rss);
    fprintf(stderr, "weave-bench: 2: %s: replay %.2f ms, %zu merges, text matches endContent\n", name, m,
            merges);
    table_print(tb);
    free(prev), free(seen), free(refs0), free(refs), free(agent), free(snap), free(ms);
    wvt_free(&t);
}

/* ---- 3. random edits and merging ---------------------------------------------- */

static const column W3_COLS[] = {
    {"replicas", C_INT, 0},       {"edits_per_replica", C_INT, 0}, {"base_chars", C_INT, 0},
    {"inserts", C_INT, 0},        {"deletes", C_INT, 0},           {"distinct_deleted", C_INT, 0},
    {"final_len", C_INT, 0},      {"char_hash", C_INT, 0},         {"edit_ms", C_NUM, 2},
    {"merge_ms", C_NUM, 2},       {"exchange_ms", C_NUM, 2},       {"merge_bytes_ms", C_NUM, 2},
    {"exchange_bytes_ms", C_NUM, 2}, {"merge_bytes", C_INT, 0},    {"exchange_bytes", C_INT, 0},
    {"bytes_sent", C_INT, 0},     {"atoms", C_INT, 0},             {"bytes_per_atom", C_NUM, 1},
    {"rss_mb", C_NUM, 1},
};

/* What workload 3 must produce, computed without weave: each replica's
 * visible chars as ids into one table of chars (base chars first). */
typedef struct w3_expect {
    char **text; /* per replica, UTF-8, after its edits */
    size_t *text_len;
    size_t inserts, deletes, distinct_deleted, final_len;
    uint32_t hash;
} w3_expect;

static void w3_oracle(w3_expect *x, const uint32_t *base, size_t nbase, size_t nrep, size_t edits) {
    size_t maxids = nbase + nrep * edits, nchars = nbase;
    uint32_t *chars = xmalloc(maxids * sizeof *chars), *ids = xmalloc((nbase + edits) * sizeof *ids);
    unsigned char *deleted = xcalloc(maxids, 1);
    memcpy(chars, base, nbase * sizeof *chars);
    x->text = xcalloc(nrep, sizeof *x->text);
    x->text_len = xcalloc(nrep, sizeof *x->text_len);
    x->inserts = x->deletes = 0;
    for (size_t i = 0; i < nrep; i++) {
        size_t n = nbase;
        for (size_t k = 0; k < nbase; k++) ids[k] = (uint32_t)k;
        uint32_t s = 1000 + (uint32_t)i;
        for (size_t e = 0; e < edits; e++) {
            if (n > 0 && below(&s, 4) == 0) {
                size_t pos = below(&s, n);
                deleted[ids[pos]] = 1;
                memmove(ids + pos, ids + pos + 1, (n - pos - 1) * sizeof *ids);
                n--, x->deletes++;
            } else {
                size_t pos = below(&s, n + 1);
                chars[nchars] = (uint32_t)(unsigned char)rand_char(&s);
                memmove(ids + pos + 1, ids + pos, (n - pos) * sizeof *ids);
                ids[pos] = (uint32_t)nchars++;
                n++, x->inserts++;
            }
        }
        char *t = x->text[i] = xmalloc(4 * n + 1);
        size_t len = 0;
        for (size_t k = 0; k < n; k++) len += utf8_put(chars[ids[k]], t + len);
        x->text_len[i] = len;
    }
    x->distinct_deleted = x->final_len = 0;
    x->hash = 0;
    for (size_t id = 0; id < nchars; id++) {
        if (deleted[id]) x->distinct_deleted++;
        else x->final_len++, x->hash += chars[id] * CHAR_HASH_MUL;
    }
    if (x->final_len != nbase + x->inserts - x->distinct_deleted) die("workload 3: oracle inconsistent");
    free(chars), free(ids), free(deleted);
}

static void w3_expect_free(w3_expect *x, size_t nrep) {
    for (size_t i = 0; i < nrep; i++) free(x->text[i]);
    free(x->text), free(x->text_len);
}

/* One sync of workload 3: dst merges src, in memory (wv_merge: the time
 * returned) and through bytes, as peers sync (the delta dst lacks encoded by
 * src, applied with wv_apply_bytes to a copy of dst: time added to
 * *bytes_ms, size to *bytes). With verify, both results must be equal. */
static double w3_sync(wv_doc *dst, const wv_doc *src, size_t *bytes, double *bytes_ms, int verify) {
    size_t nw, len;
    wv_weft_entry *w = weft_of(dst, &nw);
    wv_doc *copy = doc_clone(dst);
    double t0 = now_ms();
    unsigned char *buf = encode(src, 1, w, nw, &len);
    ck(wv_apply_bytes(copy, buf, len), "wv_apply_bytes");
    *bytes_ms += now_ms() - t0;
    *bytes += len;
    t0 = now_ms();
    ck(wv_merge(dst, src), "wv_merge");
    double ms = now_ms() - t0;
    if (verify) expect_same(copy, dst, "workload 3: delta bytes applied vs merge");
    wv_doc_free(copy);
    free(buf), free(w);
    return ms;
}

static void w3_run(table *tb, const char *base, size_t base_len, const uint32_t *base_cp, size_t nbase,
                   size_t nrep, size_t edits) {
    w3_expect x;
    w3_oracle(&x, base_cp, nbase, nrep, edits);
    size_t runs = nruns();
    double *edit_ms = xcalloc(runs, sizeof(double)), *merge_ms = xcalloc(runs, sizeof(double)),
           *exch_ms = xcalloc(runs, sizeof(double)), *merge_b_ms = xcalloc(runs, sizeof(double)),
           *exch_b_ms = xcalloc(runs, sizeof(double));
    size_t merge_bytes = 0, exch_bytes = 0, atoms = 0, final_len = 0;
    uint32_t hash = 0;
    double bpa = 0, rss = 0;
    wv_doc **rep = xcalloc(nrep, sizeof *rep);
    char what[128];
    for (size_t r = 0; r < runs; r++) {
        int verify = r == 0;
        wv_doc *b = doc_new(1);
        ck(wv_text_insert(b, 0, base, base_len), "wv_text_insert");
        if (wv_text_len(b) != nbase) die("workload 3: base has %zu chars", wv_text_len(b));
        for (size_t i = 0; i < nrep; i++) ck(wv_doc_fork(b, i + 2, &rep[i]), "wv_doc_fork");
        wv_doc_free(b);

        double t0 = now_ms();
        for (size_t i = 0; i < nrep; i++) {
            wv_doc *d = rep[i];
            uint32_t s = 1000 + (uint32_t)i;
            for (size_t e = 0; e < edits; e++) {
                size_t len = wv_text_len(d);
                if (len > 0 && below(&s, 4) == 0) {
                    ck(wv_text_delete(d, below(&s, len), 1), "wv_text_delete");
                } else {
                    size_t pos = below(&s, len + 1);
                    char c = rand_char(&s);
                    ck(wv_text_insert(d, pos, &c, 1), "wv_text_insert");
                }
            }
        }
        edit_ms[r] = now_ms() - t0;
        for (size_t i = 0; i < nrep; i++) {
            snprintf(what, sizeof what, "workload 3 (N=%zu): replica %zu after its edits", nrep, i);
            expect_text(rep[i], x.text[i], x.text_len[i], what);
        }

        merge_bytes = exch_bytes = 0;
        merge_ms[r] = exch_ms[r] = merge_b_ms[r] = exch_b_ms[r] = 0;
        for (size_t i = 1; i < nrep; i++)
            merge_ms[r] += w3_sync(rep[0], rep[i], &merge_bytes, &merge_b_ms[r], verify);
        for (size_t i = 1; i < nrep; i++)
            exch_ms[r] += w3_sync(rep[i], rep[0], &exch_bytes, &exch_b_ms[r], verify);

        for (size_t i = 1; i < nrep; i++) {
            snprintf(what, sizeof what, "workload 3 (N=%zu): replica %zu vs replica 0", nrep, i);
            expect_same(rep[i], rep[0], what);
        }
        size_t tlen;
        char *text = doc_text(rep[0], &tlen);
        hash = char_hash(text, tlen, &final_len);
        free(text);
        if (final_len != x.final_len || hash != x.hash)
            die("workload 3 (N=%zu): final length %zu, char hash %u; expected %zu, %u", nrep, final_len,
                hash, x.final_len, x.hash);
        if (verify)
            for (size_t i = 0; i < nrep; i++) expect_valid(rep[i], "workload 3");
        atoms = wv_doc_atoms(rep[0]), bpa = bytes_per_atom(rep[0]), rss = rss_mb();
        for (size_t i = 0; i < nrep; i++) wv_doc_free(rep[i]);
    }
    row_new(tb);
    put_num(tb, "replicas", (double)nrep);
    put_num(tb, "edits_per_replica", (double)edits);
    put_num(tb, "base_chars", (double)nbase);
    put_num(tb, "inserts", (double)x.inserts);
    put_num(tb, "deletes", (double)x.deletes);
    put_num(tb, "distinct_deleted", (double)x.distinct_deleted);
    put_num(tb, "final_len", (double)final_len);
    put_num(tb, "char_hash", (double)hash);
    put_num(tb, "edit_ms", median(edit_ms, runs));
    put_num(tb, "merge_ms", median(merge_ms, runs));
    put_num(tb, "exchange_ms", median(exch_ms, runs));
    put_num(tb, "merge_bytes_ms", median(merge_b_ms, runs));
    put_num(tb, "exchange_bytes_ms", median(exch_b_ms, runs));
    put_num(tb, "merge_bytes", (double)merge_bytes);
    put_num(tb, "exchange_bytes", (double)exch_bytes);
    put_num(tb, "bytes_sent", (double)(merge_bytes + exch_bytes));
    put_num(tb, "atoms", (double)atoms);
    put_num(tb, "bytes_per_atom", bpa);
    put_num(tb, "rss_mb", rss);
    fprintf(stderr,
            "weave-bench: 3: N=%zu: %zu replicas converge; final length %zu = %zu + %zu inserts - %zu "
            "distinct deleted; char hash %u\n",
            nrep, nrep, final_len, nbase, x.inserts, x.distinct_deleted, hash);
    free(edit_ms), free(merge_ms), free(exch_ms), free(merge_b_ms), free(exch_b_ms), free(rep);
    w3_expect_free(&x, nrep);
}

static void workload3(void) {
    if (!traces_present()) {
        skip("workload 3: traces directory %s not found (its base text is automerge-paper's)", opt.traces);
        return;
    }
    wvt_trace t;
    if (!trace_load("automerge-paper", &t)) return; /* noted: workload 3 needs its endContent */
    size_t total;
    (void)char_hash(t.end_content, t.end_len, &total);
    size_t nbase = total / 2, base_len = 0;
    uint32_t *cp = xmalloc((nbase ? nbase : 1) * sizeof *cp);
    for (size_t k = 0; k < nbase; k++) cp[k] = utf8_next(t.end_content, &base_len);
    size_t edits = opt.smoke ? 500 : 10000;
    table *tb = table_new(3, "Random edits and merging", W3_COLS, sizeof W3_COLS / sizeof *W3_COLS);
    w3_run(tb, t.end_content, base_len, cp, nbase, 2, edits);
    w3_run(tb, t.end_content, base_len, cp, nbase, 8, edits);
    table_print(tb);
    free(cp);
    wvt_free(&t);
}

/* ---- 4. merge throughput ------------------------------------------------------- */

static const column W4_COLS[] = {
    {"p", C_STR, 0},               {"base_chars", C_INT, 0},     {"inserts_per_side", C_INT, 0},
    {"atoms", C_INT, 0},           {"merge_ms", C_NUM, 2},       {"atoms_per_s", C_INT, 0},
    {"gb_per_s", C_NUM, 2},        {"encoded_bytes", C_INT, 0},  {"save_ms", C_NUM, 2},
    {"save_mb_per_s", C_NUM, 0},   {"load_ms", C_NUM, 2},        {"load_mb_per_s", C_NUM, 0},
    {"bytes_per_atom", C_NUM, 1},  {"rss_mb", C_NUM, 1},
};

/* n chars 'a' + below(26) from seed; *hash gets their char hash. */
static char *random_string(uint32_t seed, size_t n, uint32_t *hash) {
    char *s = xmalloc(n + 1);
    uint32_t h = 0;
    for (size_t i = 0; i < n; i++) s[i] = rand_char(&seed), h += (uint32_t)(unsigned char)s[i] * CHAR_HASH_MUL;
    s[n] = 0;
    *hash = h;
    return s;
}

static void expect_chars(const wv_doc *d, size_t len, uint32_t hash, const char *what) {
    size_t tlen, chars;
    char *t = doc_text(d, &tlen);
    uint32_t h = char_hash(t, tlen, &chars);
    free(t);
    if (chars != len || h != hash)
        die("%s: %zu chars with char hash %u; expected %zu, %u", what, chars, h, len, hash);
}

static void workload4(void) {
    static const unsigned pct[] = {1, 10, 50};
    size_t n = opt.smoke ? 10000 : 1000000, runs = nruns();
    table *tb = table_new(4, "Merge throughput", W4_COLS, sizeof W4_COLS / sizeof *W4_COLS);
    uint32_t hbase;
    char *base = random_string(7, n, &hbase);
    double *merge = xcalloc(runs, sizeof(double)), *save = xcalloc(runs, sizeof(double)),
           *load = xcalloc(runs, sizeof(double));
    for (size_t pi = 0; pi < 3; pi++) {
        size_t k = pct[pi] * n / 200;
        wv_doc *a = doc_new(1), *b;
        ck(wv_text_insert(a, 0, base, n), "wv_text_insert");
        ck(wv_doc_fork(a, 2, &b), "wv_doc_fork");
        uint32_t hash = hbase + random_inserts(a, 11, k);
        hash += random_inserts(b, 13, k);
        size_t in_atoms = wv_doc_atoms(a) + wv_doc_atoms(b);
        wv_doc *m = NULL;
        for (size_t r = 0; r < runs; r++) {
            wv_doc_free(m);
            m = doc_clone(a);
            double t0 = now_ms();
            ck(wv_merge(m, b), "wv_merge");
            merge[r] = now_ms() - t0;
            if (r == 0) {
                expect_chars(m, n + 2 * k, hash, "workload 4: merged");
                wv_doc *other = doc_clone(b);
                ck(wv_merge(other, a), "wv_merge");
                expect_same(m, other, "workload 4: merge(A, B) vs merge(B, A)");
                wv_doc_free(other);
                expect_valid(m, "workload 4");
            }
        }
        size_t enc_len = 0;
        for (size_t r = 0; r < runs; r++) {
            double t0 = now_ms();
            unsigned char *buf = encode(m, 0, NULL, 0, &enc_len);
            double t1 = now_ms();
            wv_doc *e;
            ck(wv_decode(&e, buf, enc_len, NULL), "wv_decode");
            size_t text_len;
            free(doc_text(e, &text_len)); /* as the peers' load does */
            double t2 = now_ms();
            save[r] = t1 - t0, load[r] = t2 - t1;
            if (wv_weave_hash(e) != wv_weave_hash(m)) die("workload 4: decoded weave hash differs");
            if (r == 0) expect_same(e, m, "workload 4: decoded vs merged");
            free(buf);
            wv_doc_free(e);
        }
        size_t atoms = wv_doc_atoms(m);
        double ms = median(merge, runs), sms = median(save, runs), lms = median(load, runs);
        char p[16];
        snprintf(p, sizeof p, "%u%%", pct[pi]);
        row_new(tb);
        put_str(tb, "p", p);
        put_num(tb, "base_chars", (double)n);
        put_num(tb, "inserts_per_side", (double)k);
        put_num(tb, "atoms", (double)atoms);
        put_num(tb, "merge_ms", ms);
        put_num(tb, "atoms_per_s", (double)atoms / (ms / 1e3));
        put_num(tb, "gb_per_s", 16.0 * (double)(in_atoms + atoms) / (ms / 1e3) / 1e9);
        put_num(tb, "encoded_bytes", (double)enc_len);
        put_num(tb, "save_ms", sms);
        put_num(tb, "save_mb_per_s", (double)enc_len / 1e6 / (sms / 1e3));
        put_num(tb, "load_ms", lms);
        put_num(tb, "load_mb_per_s", (double)enc_len / 1e6 / (lms / 1e3));
        put_num(tb, "bytes_per_atom", bytes_per_atom(m));
        put_num(tb, "rss_mb", rss_mb());
        fprintf(stderr, "weave-bench: 4: p=%s: merge %.2f ms; merged text, both merge orders and load check\n",
                p, ms);
        wv_doc_free(m), wv_doc_free(a), wv_doc_free(b);
    }
    table_print(tb);
    free(base), free(merge), free(save), free(load);
}

/* ---- 5. cost growth -------------------------------------------------------------- */

static const column W5_COLS[] = {
    {"n", C_INT, 0},                 {"build_ms", C_NUM, 1},          {"inserts", C_INT, 0},
    {"insert_ns_per_op", C_NUM, 0},  {"fork_inserts", C_INT, 0},      {"merge_ms", C_NUM, 2},
    {"merge_ns_per_atom", C_NUM, 1}, {"atoms", C_INT, 0},             {"bytes_per_atom", C_NUM, 1},
    {"rss_mb", C_NUM, 1},            {"insert_ns_on_clone", C_NUM, 0},
};

#define W5_INSERTS 10000u
#define W5_CHECK_MAX 2000000u /* wv_check (O(n log n)) up to this size */

/* The n-char document of workload 5, appended in runs of 100 (seed 17) at
 * site 1; *hash gets the char hash of its text. */
static wv_doc *w5_build(size_t n, uint32_t *hash) {
    wv_doc *d = doc_new(1);
    uint32_t seed = 17, h = 0;
    char run[100];
    for (size_t done = 0; done < n;) {
        size_t m = n - done < 100 ? n - done : 100;
        for (size_t i = 0; i < m; i++) run[i] = rand_char(&seed), h += (uint32_t)(unsigned char)run[i] * CHAR_HASH_MUL;
        ck(wv_text_insert(d, done, run, m), "wv_text_insert");
        done += m;
    }
    *hash = h;
    return d;
}

/* Each run builds the document afresh, because a copy (wv_doc_clone, fork,
 * merge, decode) stores the weave in full chunks, on which local inserts
 * cost more: the timed inserts must run on the document as typed. The fork
 * is made once, from an identical build; each run's document then forks a
 * throwaway replica at site 2, so that its clock ticks exactly as it did for
 * the real fork. insert_ns_on_clone (one run, for information) times the
 * same inserts on a wv_doc_clone of the document. */
static void workload5(void) {
    static const size_t sizes[] = {10000, 100000, 1000000, 10000000};
    size_t nsizes = opt.smoke ? 1 : 4, runs = nruns();
    table *tb = table_new(5, "Cost growth", W5_COLS, sizeof W5_COLS / sizeof *W5_COLS);
    double *build = xcalloc(runs, sizeof(double)), *ins = xcalloc(runs, sizeof(double)),
           *merge = xcalloc(runs, sizeof(double));
    for (size_t si = 0; si < nsizes; si++) {
        size_t n = sizes[si], nfork = n / 100;
        uint32_t hash, hfork, hins = 0;
        wv_doc *fork, *d = w5_build(n, &hash);
        ck(wv_doc_fork(d, 2, &fork), "wv_doc_fork");
        hfork = random_inserts(fork, 23, nfork); /* the fork's 1% concurrent inserts */
        wv_doc_free(d);
        d = NULL;
        double on_clone = 0;
        for (size_t r = 0; r < runs; r++) {
            wv_doc_free(d);
            uint32_t h;
            double t0 = now_ms();
            d = w5_build(n, &h);
            build[r] = now_ms() - t0;
            if (h != hash) die("workload 5: the document differs between builds");
            wv_doc *tick;
            ck(wv_doc_fork(d, 2, &tick), "wv_doc_fork");
            wv_doc_free(tick);
            if (r == 0) {
                wv_doc *c = doc_clone(d);
                double t1 = now_ms();
                (void)random_inserts(c, 19, W5_INSERTS);
                on_clone = now_ms() - t1;
                wv_doc_free(c);
            }
            double t1 = now_ms();
            hins = random_inserts(d, 19, W5_INSERTS);
            double t2 = now_ms();
            ck(wv_merge(d, fork), "wv_merge");
            double t3 = now_ms();
            ins[r] = t2 - t1, merge[r] = t3 - t2;
            if (r == 0) {
                expect_chars(d, n + W5_INSERTS + nfork, hash + hins + hfork, "workload 5: merged");
                wv_doc *other = doc_clone(fork);
                ck(wv_merge(other, d), "wv_merge");
                expect_same(d, other, "workload 5: doc <- fork vs fork <- doc");
                wv_doc_free(other);
                if (n <= W5_CHECK_MAX) expect_valid(d, "workload 5");
            }
        }
        size_t atoms = wv_doc_atoms(d);
        double mms = median(merge, runs);
        row_new(tb);
        put_num(tb, "n", (double)n);
        put_num(tb, "build_ms", median(build, runs));
        put_num(tb, "inserts", W5_INSERTS);
        put_num(tb, "insert_ns_per_op", median(ins, runs) * 1e6 / W5_INSERTS);
        put_num(tb, "fork_inserts", (double)nfork);
        put_num(tb, "merge_ms", mms);
        put_num(tb, "merge_ns_per_atom", mms * 1e6 / (double)atoms);
        put_num(tb, "atoms", (double)atoms);
        put_num(tb, "bytes_per_atom", bytes_per_atom(d));
        put_num(tb, "rss_mb", rss_mb());
        put_num(tb, "insert_ns_on_clone", on_clone * 1e6 / W5_INSERTS);
        fprintf(stderr, "weave-bench: 5: n=%zu: build %.0f ms, merge %.2f ms; merged text and both merge orders check\n",
                n, median(build, runs), mms);
        wv_doc_free(d), wv_doc_free(fork);
    }
    table_print(tb);
    free(build), free(ins), free(merge);
}

/* ---- main ------------------------------------------------------------------------ */

static void usage(void) {
    fputs("usage: weave-bench [--smoke] [--runs R] [--only N] [--traces DIR] [--json FILE]\n", stderr);
    exit(2);
}

static long parse_int(const char *s, long lo, long hi) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) usage();
    return v;
}

int main(int argc, char **argv) {
    int runs_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--smoke")) opt.smoke = 1;
        else if (!strcmp(a, "--runs") && i + 1 < argc) opt.runs = (int)parse_int(argv[++i], 1, 1000), runs_given = 1;
        else if (!strcmp(a, "--only") && i + 1 < argc) opt.only = (int)parse_int(argv[++i], 1, 5);
        else if (!strcmp(a, "--traces") && i + 1 < argc) opt.traces = argv[++i];
        else if (!strcmp(a, "--json") && i + 1 < argc) opt.json = argv[++i];
        else usage();
    }
    if (opt.smoke && !runs_given) opt.runs = 1;
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);

    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    printf("# weave-bench%s\n\nweave %d.%d.%d, %s build, %s; %ld cores (%s); median of %d run%s; times in ms\n\n",
           opt.smoke ? " (smoke)" : "", WV_VERSION_MAJOR, WV_VERSION_MINOR, WV_VERSION_PATCH,
           WV_BENCH_BUILDTYPE, COMPILER, sysconf(_SC_NPROCESSORS_ONLN), cpu, opt.runs,
           opt.runs == 1 ? "" : "s");
    fflush(stdout);
    if (!traces_present()) fprintf(stderr, "weave-bench: traces directory %s not found: trace workloads skipped\n", opt.traces);

    static void (*const work[])(void) = {workload1, workload2, workload3, workload4, workload5};
    double t0 = now_ms();
    for (int w = 1; w <= 5; w++) {
        if (opt.only && opt.only != w) continue;
        double tw = now_ms();
        work[w - 1]();
        fprintf(stderr, "weave-bench: workload %d took %.1f s\n", w, (now_ms() - tw) / 1e3);
    }
    double total = now_ms() - t0;
    printf("Total: %.1f s; all results checked.\n", total / 1e3);
    fflush(stdout);
    if (opt.json) write_json(opt.json, total);

    for (size_t ti = 0; ti < ntables; ti++) {
        table *t = &tables[ti];
        for (size_t c = 0; c < t->nrows * t->ncols; c++) free(t->cells[c].s);
        free(t->cells);
    }
    for (size_t i = 0; i < nskips; i++) free(skips[i]);
    return 0;
}

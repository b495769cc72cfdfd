/* test_trace.c — tests for the editing-trace reader (tools/trace.c).
 *
 * Writes small traces, plain and gzipped, into a fresh directory under /tmp
 * and checks what wvt_load() makes of them: multi-byte UTF-8 in sequential
 * traces, agents and parents in concurrent ones, and a clean -1 (message,
 * zeroed trace) for each kind of malformed input. If the real traces are
 * reachable ($WV_TRACES, else ../shared/traces from the current directory),
 * also loads automerge-paper.json.gz and checks it for consistency.
 * Exits nonzero if any check fails; each failure prints its file:line.
 */
#include "../tools/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static int checks_run;
static int checks_failed;

#define CHECK(cond)                                                              \
    do {                                                                         \
        checks_run++;                                                            \
        if (!(cond)) {                                                           \
            checks_failed++;                                                     \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                        \
    } while (0)

/* ---- temporary files ----------------------------------------------------- */

#define MAX_FILES 64
#define PATH_CAP 256

typedef struct tmpdir {
    char dir[64];
    char files[MAX_FILES][PATH_CAP];
    int nfiles;
} tmpdir;

/* Returns the path of name inside the temp dir and remembers it for cleanup. */
static const char *tmp_path(tmpdir *td, const char *name)
{
    if (td->nfiles == MAX_FILES) {
        fprintf(stderr, "test_trace: too many temp files\n");
        exit(2);
    }
    char buf[PATH_CAP];
    int n = snprintf(buf, sizeof buf, "%s/%s", td->dir, name);
    if (n < 0 || n >= PATH_CAP) {
        fprintf(stderr, "test_trace: temp path too long\n");
        exit(2);
    }
    char *p = td->files[td->nfiles++];
    memcpy(p, buf, (size_t)n + 1);
    return p;
}

static const char *write_plain(tmpdir *td, const char *name, const char *text)
{
    const char *path = tmp_path(td, name);
    FILE *f = fopen(path, "wb");
    size_t len = strlen(text);
    if (f == NULL || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
    return path;
}

static const char *write_gz(tmpdir *td, const char *name, const char *text)
{
    const char *path = tmp_path(td, name);
    gzFile gz = gzopen(path, "wb9");
    unsigned len = (unsigned)strlen(text);
    if (gz == NULL || gzwrite(gz, text, len) != (int)len || gzclose(gz) != Z_OK) {
        fprintf(stderr, "%s: cannot write gzip\n", path);
        exit(2);
    }
    return path;
}

/* Gzips text into name, then keeps only the first keep bytes of the file. */
static const char *write_gz_truncated(tmpdir *td, const char *name, const char *text,
                                      off_t keep)
{
    const char *path = write_gz(td, name, text);
    if (truncate(path, keep) != 0) {
        perror(path);
        exit(2);
    }
    return path;
}

/* Gzips text into name, then flips the bits of one byte in the middle. */
static const char *write_gz_corrupt(tmpdir *td, const char *name, const char *text)
{
    const char *path = write_gz(td, name, text);
    FILE *f = fopen(path, "r+b");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0) {
        perror(path);
        exit(2);
    }
    long size = ftell(f);
    int c;
    if (size < 20 || fseek(f, size / 2, SEEK_SET) != 0 || (c = fgetc(f)) == EOF ||
        fseek(f, size / 2, SEEK_SET) != 0 || fputc(c ^ 0xFF, f) == EOF || fclose(f) != 0) {
        fprintf(stderr, "%s: cannot corrupt\n", path);
        exit(2);
    }
    return path;
}

static void tmp_cleanup(tmpdir *td)
{
    for (int i = 0; i < td->nfiles; i++)
        unlink(td->files[i]); /* some were never created: ignore ENOENT */
    if (rmdir(td->dir) != 0)
        perror(td->dir);
}

/* ---- helpers -------------------------------------------------------------- */

static int is_zeroed(const wvt_trace *t)
{
    return t->concurrent == 0 && t->num_agents == 0 && t->end_content == NULL &&
           t->end_len == 0 && t->txns == NULL && t->ntxns == 0 && t->npatches == 0 &&
           t->priv_ == NULL;
}

static size_t utf8_chars(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += ((unsigned char)s[i] & 0xC0u) != 0x80u;
    return count;
}

/* Byte offset of code point cp in s (or len if past the end). */
static size_t utf8_offset(const char *s, size_t len, size_t cp)
{
    size_t i = 0;
    for (; i < len && cp > 0; cp--) {
        i++;
        while (i < len && ((unsigned char)s[i] & 0xC0u) == 0x80u)
            i++;
    }
    return i;
}

/* Replays a small sequential trace; returns 1 if it yields end_content. */
static int replay_matches(const wvt_trace *t)
{
    char doc[256];
    size_t len = 0;
    for (size_t i = 0; i < t->ntxns; i++) {
        for (size_t j = 0; j < t->txns[i].npatches; j++) {
            const wvt_patch *p = &t->txns[i].patches[j];
            size_t a = utf8_offset(doc, len, p->pos);
            size_t b = utf8_offset(doc + a, len - a, p->del) + a;
            if (len - (b - a) + p->ins_len > sizeof doc)
                return 0;
            memmove(doc + a + p->ins_len, doc + b, len - b);
            memcpy(doc + a, p->ins, p->ins_len);
            len = len - (b - a) + p->ins_len;
        }
    }
    return len == t->end_len && memcmp(doc, t->end_content, len) == 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- sequential ----------------------------------------------------------- */

/* Raw UTF-8 in endContent, \u escapes (a surrogate pair for U+1F600) in the
 * patches, "time" and "timestamp", and a patch that deletes and inserts. */
static const char SEQ_JSON[] =
    "{\"startContent\": \"\", \"endContent\": \"H\xC3\xA9llo \xF0\x9F\x98\x80!\",\n"
    " \"txns\": [\n"
    "  {\"time\": \"2021-04-19T06:06:58.219Z\", \"patches\": [[0, 0, \"h\\u00e9llo\"]]},\n"
    "  {\"timestamp\": 12, \"patches\": [[5, 0, \" \\ud83d\\ude00\"], [7, 0, \"!\"]]},\n"
    "  {\"patches\": [[0, 1, \"H\"], [1, 1, \"\"], [1, 0, \"\xC3\xA9\"]]}\n"
    " ]}\n";

static void check_sequential(const wvt_trace *t)
{
    CHECK(t->concurrent == 0);
    CHECK(t->num_agents == 1);
    CHECK(t->ntxns == 3);
    CHECK(t->npatches == 6);
    if (t->ntxns != 3 || t->npatches != 6)
        return;
    for (size_t i = 0; i < 3; i++) {
        CHECK(t->txns[i].agent == 0);
        CHECK(t->txns[i].nparents == 0 && t->txns[i].parents == NULL);
    }
    CHECK(t->txns[0].npatches == 1);
    CHECK(t->txns[1].npatches == 2);
    CHECK(t->txns[2].npatches == 3);

    const wvt_patch *p = t->txns[0].patches;
    CHECK(p[0].pos == 0 && p[0].del == 0);
    CHECK(p[0].ins_len == 6 && p[0].ins_chars == 5);
    CHECK(strcmp(p[0].ins, "h\xC3\xA9llo") == 0);

    p = t->txns[1].patches;
    CHECK(p[0].pos == 5 && p[0].del == 0);
    CHECK(p[0].ins_len == 5 && p[0].ins_chars == 2); /* code points, not UTF-16 units */
    CHECK(strcmp(p[0].ins, " \xF0\x9F\x98\x80") == 0);
    CHECK(p[1].pos == 7 && p[1].ins_len == 1 && p[1].ins_chars == 1);

    p = t->txns[2].patches;
    CHECK(p[0].pos == 0 && p[0].del == 1 && strcmp(p[0].ins, "H") == 0);
    CHECK(p[1].pos == 1 && p[1].del == 1 && p[1].ins_len == 0 && p[1].ins_chars == 0);
    CHECK(p[1].ins != NULL && p[1].ins[0] == '\0');
    CHECK(p[2].ins_len == 2 && p[2].ins_chars == 1);

    CHECK(t->end_len == 12);
    CHECK(t->end_content != NULL && t->end_content[t->end_len] == '\0');
    CHECK(t->end_content != NULL && strcmp(t->end_content, "H\xC3\xA9llo \xF0\x9F\x98\x80!") == 0);
    CHECK(replay_matches(t));
}

static void test_sequential(tmpdir *td)
{
    const char *paths[2] = {write_plain(td, "seq.json", SEQ_JSON),
                            write_gz(td, "seq.json.gz", SEQ_JSON)};
    for (int k = 0; k < 2; k++) {
        wvt_trace t;
        char err[256] = "untouched";
        int rc = wvt_load(paths[k], &t, err, sizeof err);
        CHECK(rc == 0);
        CHECK(err[0] == '\0');
        if (rc == 0)
            check_sequential(&t);
        wvt_free(&t);
        CHECK(is_zeroed(&t));
        wvt_free(&t); /* idempotent */
        CHECK(is_zeroed(&t));
    }

    /* No transactions at all is a valid (empty) trace. */
    const char *empty = write_plain(td, "empty.json", "{\"endContent\": \"\", \"txns\": []}");
    wvt_trace t;
    char err[256];
    CHECK(wvt_load(empty, &t, err, sizeof err) == 0);
    CHECK(t.ntxns == 0 && t.npatches == 0 && t.end_len == 0);
    CHECK(t.end_content != NULL && t.end_content[0] == '\0');
    wvt_free(&t);
}

/* ---- concurrent ----------------------------------------------------------- */

/* Two agents fork from txn 0 and merge in txn 3: "a" -> "ab" | "xa" -> "ab". */
static const char CONC_JSON[] =
    "{\"kind\": \"concurrent\", \"endContent\": \"ab\", \"numAgents\": 2, \"txns\": [\n"
    " {\"parents\": [], \"numChildren\": 2, \"agent\": 0, \"time\": \"t\", \"patches\": [[0, 0, \"a\"]]},\n"
    " {\"parents\": [0], \"numChildren\": 1, \"agent\": 1, \"time\": \"t\", \"patches\": [[1, 0, \"b\"]]},\n"
    " {\"parents\": [0], \"numChildren\": 1, \"agent\": 0, \"time\": \"t\", \"patches\": [[0, 0, \"x\"]]},\n"
    " {\"parents\": [1, 2], \"numChildren\": 0, \"agent\": 1, \"time\": \"t\", \"patches\": [[0, 1, \"\"]]}\n"
    "]}\n";

static void test_concurrent(tmpdir *td)
{
    const char *path = write_gz(td, "conc.json.gz", CONC_JSON);
    wvt_trace t;
    char err[256];
    int rc = wvt_load(path, &t, err, sizeof err);
    CHECK(rc == 0);
    if (rc != 0) {
        fprintf(stderr, "  %s\n", err);
        return;
    }
    CHECK(t.concurrent == 1);
    CHECK(t.num_agents == 2);
    CHECK(t.ntxns == 4 && t.npatches == 4);
    CHECK(t.end_len == 2 && strcmp(t.end_content, "ab") == 0);
    if (t.ntxns == 4) {
        CHECK(t.txns[0].agent == 0 && t.txns[1].agent == 1);
        CHECK(t.txns[2].agent == 0 && t.txns[3].agent == 1);
        CHECK(t.txns[0].nparents == 0);
        CHECK(t.txns[1].nparents == 1 && t.txns[1].parents[0] == 0);
        CHECK(t.txns[2].nparents == 1 && t.txns[2].parents[0] == 0);
        CHECK(t.txns[3].nparents == 2 && t.txns[3].parents[0] == 1 &&
              t.txns[3].parents[1] == 2);
        CHECK(t.txns[3].npatches == 1 && t.txns[3].patches[0].del == 1 &&
              t.txns[3].patches[0].ins_len == 0);
    }
    wvt_free(&t);
    CHECK(is_zeroed(&t));
}

/* ---- malformed input ------------------------------------------------------ */

typedef struct bad_case {
    const char *name; /* file name; ".gz" suffix: write gzipped */
    const char *json;
    const char *expect; /* substring the message must contain */
} bad_case;

#define CONC_HEAD "{\"kind\": \"concurrent\", \"endContent\": \"\", \"numAgents\": 2, \"txns\": "

static const bad_case BAD[] = {
    {"truncated.json", "{\"endContent\": \"x\", \"txns\": [{\"patches\": [[0, 0, \"x\"]",
     "invalid JSON at line 1"},
    {"garbage.json", "\x01\x02not json at all", "invalid JSON"},
    {"dupkey.json", "{\"endContent\": \"\", \"endContent\": \"\", \"txns\": []}", "invalid JSON"},
    {"nul.json", "{\"endContent\": \"a\\u0000b\", \"txns\": []}", "invalid JSON"},
    {"toplevel.json", "[1, 2, 3]", "top level is not a JSON object"},
    {"notxns.json", "{\"endContent\": \"\"}", "txns is missing"},
    {"txnsobj.json", "{\"endContent\": \"\", \"txns\": {}}", "txns is not an array"},
    {"noend.json", "{\"txns\": []}", "endContent is missing"},
    {"endnum.json", "{\"endContent\": 3, \"txns\": []}", "endContent is not a string"},
    {"start.json", "{\"startContent\": \"x\", \"endContent\": \"\", \"txns\": []}",
     "startContent is not empty"},
    {"kind.json", "{\"kind\": \"tree\", \"endContent\": \"\", \"txns\": []}", "kind"},
    {"txnnum.json", "{\"endContent\": \"\", \"txns\": [{\"patches\": []}, 7]}",
     "txns[1] is not an object"},
    {"nopatches.json", "{\"endContent\": \"\", \"txns\": [{\"time\": \"t\"}]}",
     "txns[0].patches is missing"},
    {"negpos.json", "{\"endContent\": \"\", \"txns\": [{\"patches\": [[-1, 0, \"x\"]]}]}",
     "txns[0].patches[0][0] is not a non-negative integer"},
    {"negpos.json.gz",
     "{\"endContent\": \"\", \"txns\": [{\"patches\": [[0, 0, \"a\"], [-5, 0, \"x\"]]}]}",
     "txns[0].patches[1][0] is not a non-negative integer"},
    {"realdel.json", "{\"endContent\": \"\", \"txns\": [{\"patches\": [[0, 1.5, \"x\"]]}]}",
     "txns[0].patches[0][1] is not a non-negative integer"},
    {"insnum.json", "{\"endContent\": \"\", \"txns\": [{\"patches\": [[0, 0, 5]]}]}",
     "txns[0].patches[0][2] is not a string"},
    {"insnull.json", "{\"endContent\": \"\", \"txns\": [{\"patches\": [[0, 0, null]]}]}",
     "txns[0].patches[0][2] is not a string"},
    {"short.json", "{\"endContent\": \"\", \"txns\": [{\"patches\": [[0, 0]]}]}",
     "txns[0].patches[0] is not an array"},
    {"parentself.json",
     CONC_HEAD "[{\"agent\": 0, \"parents\": [], \"patches\": []},"
               " {\"agent\": 1, \"parents\": [1], \"patches\": []}]}",
     "txns[1].parents[0] is 1, not earlier than its txn"},
    {"parentlater.json.gz",
     CONC_HEAD "[{\"agent\": 0, \"parents\": [], \"patches\": []},"
               " {\"agent\": 1, \"parents\": [0, 7], \"patches\": []}]}",
     "txns[1].parents[1] is 7, not earlier than its txn"},
    {"agent.json", CONC_HEAD "[{\"agent\": 2, \"parents\": [], \"patches\": []}]}",
     "txns[0].agent is 2, out of range 0..1"},
    {"noagent.json", CONC_HEAD "[{\"parents\": [], \"patches\": []}]}",
     "txns[0].agent is missing"},
    {"noparents.json", CONC_HEAD "[{\"agent\": 0, \"patches\": []}]}",
     "txns[0].parents is missing"},
    {"nagents.json", "{\"kind\": \"concurrent\", \"endContent\": \"\", \"txns\": []}",
     "numAgents is missing"},
};

static void check_failure(const char *path, const char *expect)
{
    wvt_trace t;
    memset(&t, 0xA5, sizeof t); /* must come back zeroed */
    char err[256] = "";
    int rc = wvt_load(path, &t, err, sizeof err);
    CHECK(rc == -1);
    CHECK(is_zeroed(&t));
    CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
    CHECK(strstr(err, path) != NULL);
    int has_expected = strstr(err, expect) != NULL;
    CHECK(has_expected);
    if (!has_expected)
        fprintf(stderr, "  expected \"%s\" in: %s\n", expect, err);
    wvt_free(&t);
}

static void test_malformed(tmpdir *td)
{
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        const char *name = BAD[i].name;
        size_t n = strlen(name);
        int gz = n > 3 && strcmp(name + n - 3, ".gz") == 0;
        const char *path = gz ? write_gz(td, name, BAD[i].json) : write_plain(td, name, BAD[i].json);
        check_failure(path, BAD[i].expect);
    }

    /* A gzip stream cut short, and one with a damaged byte. */
    check_failure(write_gz_truncated(td, "cut.json.gz", SEQ_JSON, 40), "cannot read");
    check_failure(write_gz_corrupt(td, "bad.json.gz", SEQ_JSON), "");

    /* A file that does not exist (its name is registered but never written). */
    check_failure(tmp_path(td, "missing.json"), "cannot open");
    /* A directory. */
    check_failure(td->dir, "");

    /* Small or absent error buffers. */
    wvt_trace t;
    char small[8];
    memset(small, 'x', sizeof small);
    CHECK(wvt_load(td->files[0], NULL, small, sizeof small) == -1);
    CHECK(strlen(small) == sizeof small - 1);
    CHECK(wvt_load(NULL, &t, NULL, 0) == -1 && is_zeroed(&t));
    char one[1] = {'x'};
    CHECK(wvt_load("/nonexistent/trace.json", &t, one, sizeof one) == -1 && one[0] == '\0');
    wvt_free(NULL);
}

/* ---- the real traces ------------------------------------------------------ */

static int find_trace(char *buf, size_t cap, const char *name)
{
    const char *env = getenv("WV_TRACES");
    const char *dirs[2] = {env, "../shared/traces"};
    for (int i = 0; i < 2; i++) {
        if (dirs[i] == NULL || dirs[i][0] == '\0')
            continue;
        snprintf(buf, cap, "%s/%s", dirs[i], name);
        if (access(buf, R_OK) == 0)
            return 1;
    }
    return 0;
}

static void test_real_traces(void)
{
    char path[PATH_CAP];
    if (!find_trace(path, sizeof path, "automerge-paper.json.gz")) {
        printf("SKIP: traces not found\n");
        return;
    }
    wvt_trace t;
    char err[512];
    double t0 = now_ms();
    int rc = wvt_load(path, &t, err, sizeof err);
    double ms = now_ms() - t0;
    CHECK(rc == 0);
    if (rc != 0) {
        fprintf(stderr, "  %s\n", err);
        return;
    }
    CHECK(t.ntxns > 0 && t.npatches > 0 && t.end_len > 0);
    CHECK(t.concurrent == 0 && t.num_agents == 1);
    /* Starting from empty, chars inserted minus chars deleted = final length. */
    size_t ins = 0, del = 0;
    for (size_t i = 0; i < t.ntxns; i++)
        for (size_t j = 0; j < t.txns[i].npatches; j++) {
            ins += t.txns[i].patches[j].ins_chars;
            del += t.txns[i].patches[j].del;
        }
    CHECK(ins - del == utf8_chars(t.end_content, t.end_len));
    printf("automerge-paper: %zu txns, %zu patches, %zu bytes of endContent, loaded in %.1f ms\n",
           t.ntxns, t.npatches, t.end_len, ms);
    wvt_free(&t);

    if (find_trace(path, sizeof path, "friendsforever.json.gz")) {
        rc = wvt_load(path, &t, err, sizeof err);
        CHECK(rc == 0);
        CHECK(t.concurrent == 1 && t.num_agents == 2 && t.ntxns > 0);
        wvt_free(&t);
    }
}

int main(void)
{
    tmpdir td;
    memset(&td, 0, sizeof td);
    strcpy(td.dir, "/tmp/test_trace.XXXXXX");
    if (mkdtemp(td.dir) == NULL) {
        perror("mkdtemp");
        return 2;
    }

    test_sequential(&td);
    test_concurrent(&td);
    test_malformed(&td);
    test_real_traces();
    tmp_cleanup(&td);

    if (checks_failed != 0) {
        printf("test_trace: %d of %d checks failed\n", checks_failed, checks_run);
        return 1;
    }
    printf("test_trace: %d checks passed\n", checks_run);
    return 0;
}

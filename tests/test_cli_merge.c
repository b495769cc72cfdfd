/* test_cli_merge.c — `weave merge` writes exactly the bytes of the same merge
 * done in memory (wv_merge, then wv_encode), for random replicas; and so
 * does `weave sync` for both of its files. Usage: test_cli_merge WEAVE_BIN */
#include <unistd.h>
#include "test.h"

static void write_doc(const wv_doc *d, const char *path) {
    size_t cap = wv_encode_bound(d), n;
    void *buf = malloc(cap);
    REQUIRE(buf);
    REQUIRE_OK(wv_encode(d, 0, NULL, 0, buf, cap, &n));
    FILE *f = fopen(path, "wb");
    REQUIRE(f && fwrite(buf, 1, n, f) == n && fclose(f) == 0);
    free(buf);
}

/* 1 if the file holds exactly the encoding of d. */
static int file_is(const char *path, const wv_doc *d) {
    size_t cap = wv_encode_bound(d), n;
    char *want = malloc(cap), *got = malloc(cap + 1);
    REQUIRE(want && got);
    REQUIRE_OK(wv_encode(d, 0, NULL, 0, want, cap, &n));
    FILE *f = fopen(path, "rb");
    size_t m = f ? fread(got, 1, cap + 1, f) : 0;
    if (f) fclose(f);
    int same = m == n && !memcmp(got, want, n);
    free(want), free(got);
    return same;
}

static void edit(wv_doc *d, int k) {
    for (int i = 0; i < k; i++) {
        size_t len = wv_text_len(d);
        if (len && rng_below(3) == 0) REQUIRE_OK(wv_text_delete(d, rng_below(len), 1));
        else REQUIRE_OK(wv_text_insert(d, rng_below(len + 1), "xy\xc3\xa9", (size_t[]){1, 2, 4}[rng_below(3)]));
    }
}

int main(int argc, char **argv) {
    test_init();
    REQUIRE(argc == 2);
    char dir[] = "/tmp/weave-cli-merge-XXXXXX", cmd[8192], a_path[512], b_path[512], out[512];
    REQUIRE(mkdtemp(dir));
    snprintf(a_path, sizeof a_path, "%s/a.wv", dir);
    snprintf(b_path, sizeof b_path, "%s/b.wv", dir);
    snprintf(out, sizeof out, "%s/out.wv", dir);
    for (int round = 0; round < 20; round++) {
        wv_doc *a, *b, *m;
        REQUIRE_OK(wv_doc_new(&a, 1 + (uint64_t)round, NULL));
        edit(a, 30);
        REQUIRE_OK(wv_doc_fork(a, 100 + (uint64_t)round, &b));
        edit(a, (int)rng_below(60)), edit(b, (int)rng_below(60));
        write_doc(a, a_path), write_doc(b, b_path);
        REQUIRE_OK(wv_doc_clone(a, &m));
        REQUIRE_OK(wv_merge(m, b));
        snprintf(cmd, sizeof cmd, "'%s' merge '%s' '%s' '%s'", argv[1], out, a_path, b_path);
        CHECK(system(cmd) == 0);
        CHECK(file_is(out, m));
        wv_doc *bm; /* sync: a := a + b at a's site, b := b + a at b's site */
        REQUIRE_OK(wv_doc_clone(b, &bm));
        REQUIRE_OK(wv_merge(bm, a));
        snprintf(cmd, sizeof cmd, "'%s' sync '%s' '%s'", argv[1], a_path, b_path);
        CHECK(system(cmd) == 0);
        CHECK(file_is(a_path, m));
        CHECK(file_is(b_path, bm));
        wv_doc_free(a), wv_doc_free(b), wv_doc_free(m), wv_doc_free(bm);
    }
    unlink(a_path), unlink(b_path), unlink(out), rmdir(dir);
    return test_done("test_cli_merge");
}

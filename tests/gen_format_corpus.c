/* gen_format_corpus.c — writes the malformed-bytes corpus tests/format/ and,
 * with --seeds, valid seed inputs for fuzz/corpus/decode/.
 *
 *   gen_format_corpus tests/format            one .bin per case + MANIFEST
 *   gen_format_corpus --seeds fuzz/corpus/decode
 *
 * Version 3 cases (doc3-*, delta3-*) carry the same atoms as their version 1
 * counterparts, split into streams by a stream writer of our own.
 * The malformed cases are encoded by hand, byte by byte, with a varint writer
 * of our own (not the library's), and sealed with a correct XXH3-64 trailer
 * unless the case is about the trailer, so that an error in the body is not
 * masked by WV_E_CHECKSUM. MANIFEST lines are `name.bin EXPECTED_CODE kind`:
 *   document  fed to wv_decode
 *   delta     fed to wv_apply_bytes on the replica R below
 *   weft      fed to wv_weft_decode
 * R is built by: wv_doc_new(site 1); insert "abc" at 0 (a 1@1 under the
 * root, b 2@1, c 3@1); wv_doc_fork onto site 2 (R's clock becomes 4 and R's
 * site table {0, 1, 2}; the fork is dropped); delete at 1 (delete 5@1 of b).
 * R: text "ac", weft {1: 5}, clock 5, site 1. Clock 4 of site 1 is unused.
 *
 * The seeds are the library's own encodings (documents, deltas against R
 * and against other replicas, wefts) of small fixed histories. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <zstd.h>

#include "weave.h"

/* ---- a byte writer of our own ------------------------------------------------ */

typedef struct buf {
    uint8_t b[1 << 14];
    size_t n;
} buf;

static void byte(buf *w, unsigned v) {
    if (w->n == sizeof w->b) {
        fprintf(stderr, "gen_format_corpus: case too large\n");
        exit(1);
    }
    w->b[w->n++] = (uint8_t)v;
}
static void var(buf *w, uint64_t v) { /* LEB128 */
    for (; v >= 0x80; v >>= 7) byte(w, (unsigned)(v & 0x7f) | 0x80);
    byte(w, (unsigned)v);
}
static void raw(buf *w, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) byte(w, (uint8_t)s[i]);
}
static void str(buf *w, const char *s) { raw(w, s, strlen(s)); }
static uint64_t zz(int64_t v) { return v >= 0 ? (uint64_t)v << 1 : ((uint64_t)(-(v + 1)) << 1) | 1; }

enum { DOC = 1, DELTA = 2, WEFT = 3 };
static void head(buf *w, unsigned version, unsigned kind) {
    w->n = 0;
    str(w, "WEAV");
    byte(w, version), byte(w, kind);
}
/* Appends the XXH3-64 of everything so far, little-endian. */
static void seal(buf *w) {
    uint64_t h = XXH3_64bits(w->b, w->n);
    for (int i = 0; i < 8; i++) byte(w, (unsigned)(h >> (8 * i)) & 0xff);
}

/* Segment headers (weave/format.c's opening comment). */
static uint64_t run_h(uint64_t n, unsigned pat, int expl) { return n << 5 | pat << 3 | (unsigned)expl << 2; }
static uint64_t del_h(uint64_t n, int expl) { return n << 3 | (unsigned)expl << 2 | 1; }
/* n deletes of consecutive targets: tsite, zigzag(first target clock - last),
 * site, zigzag(first delete clock - last); clocks going up, or down. */
static uint64_t delrun_h(uint64_t n, int down) { return n << 3 | (unsigned)down << 2 | 2; }

/* Site table: ids (ascending, none 0) as steps. */
static void sites(buf *w, size_t n, const uint64_t *ids) {
    var(w, n);
    for (size_t i = 0; i < n; i++) var(w, ids[i] - (i ? ids[i - 1] : 0));
}

/* ---- output ------------------------------------------------------------------ */

static const char *outdir;
static FILE *manifest;

static void save(const char *name, const buf *w) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", outdir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(w->b, 1, w->n, f) != w->n || fclose(f)) {
        fprintf(stderr, "gen_format_corpus: %s: %s\n", path, strerror(errno));
        exit(1);
    }
}
static void out(const char *name, const buf *w, const char *code, const char *kind) {
    save(name, w);
    fprintf(manifest, "%s %s %s\n", name, code, kind);
}

/* ---- documents ------------------------------------------------------------- */

static const uint64_t site1[] = {1};

/* A document of site table {1}, self 1, with `clock` and `count` atoms;
 * the caller writes the segments, then seals. */
static void doc1(buf *w, uint64_t clock, uint64_t count) {
    head(w, 1, DOC);
    sites(w, 1, site1);
    var(w, 1), var(w, clock), var(w, count);
}

/* "abc" typed at site 1, b deleted by 4@1: the canonical encoding. */
static void doc_valid(buf *w) {
    doc1(w, 4, 4);
    var(w, run_h(1, 0, 0)), var(w, 1), var(w, zz(1)), str(w, "a");
    var(w, run_h(1, 1, 0)), var(w, 1), var(w, zz(2 - 1)), var(w, 1), var(w, zz(4 - 2)), str(w, "b");
    /* c 3@1 under b: b is the last char written, so the cause is implicit */
    var(w, run_h(1, 0, 0)), var(w, 1), var(w, zz(3 - 4)), str(w, "c");
}

static void documents(void) {
    buf w;
    /* truncated */
    w.n = 0;
    out("trunc-empty.bin", &w, "WV_E_TRUNCATED", "document");
    w.n = 0, str(&w, "WEA");
    out("trunc-magic.bin", &w, "WV_E_TRUNCATED", "document");
    w.n = 0, str(&w, "WEAV"), byte(&w, 1);
    out("trunc-header.bin", &w, "WV_E_TRUNCATED", "document");
    doc_valid(&w);
    w.n = 13; /* header and body, no room for the trailer */
    out("trunc-no-trailer.bin", &w, "WV_E_TRUNCATED", "document");
    head(&w, 1, DOC), byte(&w, 0x80), seal(&w); /* the site count stops mid-varint */
    out("doc-trunc-varint.bin", &w, "WV_E_TRUNCATED", "document");
    doc1(&w, 3, 3), var(&w, run_h(3, 0, 0)), var(&w, 1), var(&w, zz(1)), str(&w, "ab"), seal(&w);
    out("doc-trunc-chars.bin", &w, "WV_E_TRUNCATED", "document");
    doc1(&w, 2, 2), var(&w, run_h(1, 0, 0)), var(&w, 1), var(&w, zz(1)), str(&w, "a"), seal(&w);
    out("doc-trunc-atoms.bin", &w, "WV_E_TRUNCATED", "document");

    /* header */
    doc_valid(&w), seal(&w);
    out("doc-valid.bin", &w, "WV_OK", "document");
    /* deletes hug their targets in a document: a run of deletes of consecutive targets cannot be one */
    doc1(&w, 5, 5), var(&w, run_h(3, 0, 0)), var(&w, 1), var(&w, zz(1)), str(&w, "abc");
    var(&w, delrun_h(2, 0)), var(&w, 1), var(&w, zz(1 - 3)), var(&w, 1), var(&w, zz(4 - 3)), seal(&w);
    out("doc-delete-run.bin", &w, "WV_E_CORRUPT", "document");
    w.b[3] = 'X';
    out("bad-magic.bin", &w, "WV_E_FORMAT", "document");
    w.n = 0, str(&w, "hello, world: this is not weave data\n");
    out("bad-magic-text.bin", &w, "WV_E_FORMAT", "document");
    doc_valid(&w), w.b[4] = 4, seal(&w);
    out("bad-version-4.bin", &w, "WV_E_VERSION", "document");
    doc_valid(&w), w.b[4] = 2, seal(&w); /* version 2 (ids inline in streams) is no longer read */
    out("bad-version-2.bin", &w, "WV_E_VERSION", "document");
    doc_valid(&w), w.b[4] = 0, seal(&w);
    out("bad-version-0.bin", &w, "WV_E_VERSION", "document");
    doc_valid(&w), w.b[5] = 0, seal(&w);
    out("unknown-kind-0.bin", &w, "WV_E_FORMAT", "document");
    doc_valid(&w), w.b[5] = 4, seal(&w);
    out("unknown-kind-4.bin", &w, "WV_E_FORMAT", "document");
    doc_valid(&w), seal(&w), w.b[w.n - 1] ^= 0x01;
    out("checksum-trailer.bin", &w, "WV_E_CHECKSUM", "document");
    doc_valid(&w), seal(&w), w.b[w.n - 9] ^= 0x40; /* the last body byte: "c" -> "#" */
    out("checksum-body.bin", &w, "WV_E_CHECKSUM", "document");

    /* varints */
    head(&w, 1, DOC), byte(&w, 0x81), byte(&w, 0x00), var(&w, 1), var(&w, 1), var(&w, 0), var(&w, 0), seal(&w);
    out("doc-overlong-varint.bin", &w, "WV_E_FORMAT", "document");
    head(&w, 1, DOC);
    for (int i = 0; i < 10; i++) byte(&w, 0x80);
    byte(&w, 0x00), seal(&w); /* 11 bytes: longer than any 64-bit varint */
    out("doc-varint-11-bytes.bin", &w, "WV_E_FORMAT", "document");
    head(&w, 1, DOC);
    for (int i = 0; i < 9; i++) byte(&w, 0xff);
    byte(&w, 0x02), seal(&w); /* bit 64 set */
    out("doc-varint-65-bits.bin", &w, "WV_E_FORMAT", "document");
    doc1(&w, (uint64_t)1 << 32, 0), seal(&w);
    out("doc-clock-field-u64.bin", &w, "WV_E_FORMAT", "document");

    /* impossible sizes: refused before anything that large is allocated */
    head(&w, 1, DOC), var(&w, (uint64_t)1 << 40), var(&w, 1), var(&w, 1), var(&w, 1), var(&w, 0), seal(&w);
    out("doc-sites-2e40.bin", &w, "WV_E_SIZE", "document");
    doc1(&w, 1, (uint64_t)1 << 40), var(&w, run_h(1, 0, 0)), var(&w, 1), var(&w, zz(1)), str(&w, "a"), seal(&w);
    out("doc-atoms-2e40.bin", &w, "WV_E_SIZE", "document");
    doc1(&w, 1, UINT64_MAX), seal(&w);
    out("doc-atoms-u64max.bin", &w, "WV_E_SIZE", "document");
    doc1(&w, 3, 3), var(&w, run_h((uint64_t)1 << 40, 0, 0)), var(&w, 1), var(&w, zz(1)), str(&w, "abc"), seal(&w);
    out("doc-run-2e40.bin", &w, "WV_E_SIZE", "document");
    doc1(&w, 3, 3), var(&w, run_h(1, 0, 0)), var(&w, 1), var(&w, zz(1)), str(&w, "a");
    var(&w, del_h((uint64_t)1 << 40, 0)), var(&w, 1), var(&w, zz(1)), var(&w, 1), var(&w, zz(1)), seal(&w);
    out("doc-deletes-2e40.bin", &w, "WV_E_SIZE", "document");
    doc1(&w, 2, 1), var(&w, run_h(2, 0, 0)), var(&w, 1), var(&w, zz(1)), str(&w, "ab"), seal(&w);
    out("doc-count-below-atoms.bin", &w, "WV_E_SIZE", "document");

    /* site table and own site */
    head(&w, 1, DOC), var(&w, 1), var(&w, 0), var(&w, 1), var(&w, 0), var(&w, 0), seal(&w);
    out("doc-site-zero.bin", &w, "WV_E_FORMAT", "document");
    head(&w, 1, DOC), var(&w, 2), var(&w, 5), var(&w, 0), var(&w, 1), var(&w, 0), var(&w, 0), seal(&w);
    out("doc-sites-repeat.bin", &w, "WV_E_FORMAT", "document");
    head(&w, 1, DOC), var(&w, 2), var(&w, UINT64_MAX), var(&w, 5), var(&w, 1), var(&w, 0), var(&w, 0), seal(&w);
    out("doc-sites-unsorted.bin", &w, "WV_E_FORMAT", "document"); /* the second id wraps below the first */
    head(&w, 1, DOC), sites(&w, 1, site1), var(&w, 0), var(&w, 0), var(&w, 0), seal(&w);
    out("doc-self-zero.bin", &w, "WV_E_FORMAT", "document");
    head(&w, 1, DOC), sites(&w, 1, site1), var(&w, 2), var(&w, 0), var(&w, 0), seal(&w);
    out("doc-self-range.bin", &w, "WV_E_FORMAT", "document");

    /* segments */
    /* structure atoms: kind, value, site, zigzag(clock - last), csite, clock - cclock */
    doc1(&w, 1, 1), var(&w, 1 << 3 | 4 | 3), var(&w, 15), var(&w, 0), var(&w, 1), var(&w, zz(1)), var(&w, 0), var(&w, 1), seal(&w);
    out("doc-atoms-flag.bin", &w, "WV_E_FORMAT", "document"); /* bit 2 must be 0 */
    doc1(&w, 1, 1), var(&w, 1 << 3 | 3), var(&w, 99), var(&w, 0), var(&w, 1), var(&w, zz(1)), var(&w, 0), var(&w, 1), seal(&w);
    out("doc-atoms-kind.bin", &w, "WV_E_ATOM", "document"); /* no such kind */
    doc1(&w, 1, 1), var(&w, 1 << 3 | 3), var(&w, 7), var(&w, 2), var(&w, 1), var(&w, zz(1)), var(&w, 0), var(&w, 1), seal(&w);
    out("doc-atoms-value.bin", &w, "WV_E_ATOM", "document"); /* a set's policy is 0 or 1 */
    doc1(&w, 1, 1), var(&w, 1 << 3 | 3), var(&w, 5), var(&w, 0), var(&w, 1), var(&w, zz(1)), var(&w, 0), var(&w, 1), seal(&w);
    out("doc-atoms-grammar.bin", &w, "WV_E_ATOM", "document"); /* a list straight under the root */
    doc1(&w, 1, 1), var(&w, 1 << 3 | 3), var(&w, 15), var(&w, 0), var(&w, 1), var(&w, zz(1)), var(&w, 0), var(&w, 0), seal(&w);
    out("doc-atoms-clock.bin", &w, "WV_E_CLOCK", "document"); /* clock - cclock == 0 */
    doc1(&w, 2, 2), var(&w, 2 << 3 | 3), var(&w, 15), var(&w, 0), var(&w, 1), var(&w, zz(1)), var(&w, 0), var(&w, 1), seal(&w);
    out("doc-atoms-count.bin", &w, "WV_E_SIZE", "document"); /* two announced, bytes for one */
    doc1(&w, 2, 2), var(&w, run_h(1, 3, 0)), var(&w, 1), var(&w, zz(1)), var(&w, 1), var(&w, zz(1)), str(&w, "a"), seal(&w);
    out("doc-pattern-3.bin", &w, "WV_E_FORMAT", "document");
    doc1(&w, 1, 1), var(&w, run_h(1, 0, 0)), var(&w, 2), var(&w, zz(1)), str(&w, "a"), seal(&w);
    out("doc-site-index-range.bin", &w, "WV_E_FORMAT", "document");
    doc1(&w, 1, 1), var(&w, run_h(1, 0, 0)), var(&w, 0), var(&w, zz(1)), str(&w, "a"), seal(&w);
    out("doc-run-root-site.bin", &w, "WV_E_FORMAT", "document");
    doc1(&w, 1, 1), var(&w, run_h(1, 0, 0)), var(&w, 1), var(&w, zz(0)), str(&w, "a"), seal(&w);
    out("doc-clock-zero.bin", &w, "WV_E_FORMAT", "document");
    doc1(&w, UINT32_MAX, 2), var(&w, run_h(2, 0, 0)), var(&w, 1), var(&w, zz(UINT32_MAX)), str(&w, "ab"), seal(&w);
    out("doc-clock-overflow.bin", &w, "WV_E_FORMAT", "document"); /* the run's 2nd char: 2^32 */
    /* A pattern run whose first delete clock is 1 + (2^63 - 1): the library
     * computes it in int64_t (clock + unzigzag) and overflows. */
    doc1(&w, 2, 2), var(&w, run_h(1, 1, 0)), var(&w, 1), var(&w, zz(1)), var(&w, 1), var(&w, UINT64_MAX - 1),
        str(&w, "a"), seal(&w);
    out("doc-delete-clock-int64-overflow.bin", &w, "WV_E_FORMAT", "document");
    /* A delete segment after a run (last clock 1) whose clock step is
     * zigzag 2^64 - 2, i.e. + (2^63 - 1): int64_t overflow again. */
    doc1(&w, 2, 2), var(&w, run_h(1, 0, 0)), var(&w, 1), var(&w, zz(1)), str(&w, "a");
    var(&w, del_h(1, 0)), var(&w, 1), var(&w, UINT64_MAX - 1), seal(&w);
    out("doc-clock-step-int64-overflow.bin", &w, "WV_E_FORMAT", "document");

    /* atoms: causes, duplicates, clocks, values, order */
    doc1(&w, 9, 1), var(&w, run_h(1, 0, 1)), var(&w, 1), var(&w, zz(9)), var(&w, 1), var(&w, 2), str(&w, "x"), seal(&w);
    out("doc-cause-missing.bin", &w, "WV_E_CAUSE", "document"); /* 9@1 under 7@1 */
    doc1(&w, 9, 1), var(&w, run_h(1, 0, 1)), var(&w, 1), var(&w, zz(9)), var(&w, 0), var(&w, 6), str(&w, "x"), seal(&w);
    out("doc-cause-root-clock.bin", &w, "WV_E_CAUSE", "document"); /* under 3@root-site */
    doc1(&w, 1, 2), var(&w, run_h(1, 0, 0)), var(&w, 1), var(&w, zz(1)), str(&w, "a");
    var(&w, run_h(1, 0, 1)), var(&w, 1), var(&w, zz(0)), var(&w, 0), var(&w, 1), str(&w, "b"), seal(&w);
    out("doc-duplicate-id.bin", &w, "WV_E_DUPLICATE", "document"); /* 1@1 is "a" and "b" */
    /* ids met twice in a tree that is otherwise well formed: "a" 2@1 and
     * "bc" 1@1 2@1, both under the root, so the validation's id set has to
     * catch it (check.c: a bitmap at clock 2; sorted ids at clock 1000).
     * Version 3 cannot say this: its ids are unique by construction. */
    for (int sparse = 0; sparse < 2; sparse++) {
        doc1(&w, sparse ? 1000 : 2, 3), var(&w, run_h(1, 0, 0)), var(&w, 1), var(&w, zz(2)), str(&w, "a");
        var(&w, run_h(2, 0, 1)), var(&w, 1), var(&w, zz(-1)), var(&w, 0), var(&w, 1), str(&w, "bc"), seal(&w);
        out(sparse ? "doc-duplicate-id-sparse.bin" : "doc-duplicate-id-dense.bin", &w, "WV_E_DUPLICATE", "document");
    }
    doc1(&w, 1, 3), var(&w, run_h(3, 0, 0)), var(&w, 1), var(&w, zz(1)), str(&w, "abc"), seal(&w);
    out("doc-clock-below-weft.bin", &w, "WV_E_CLOCK", "document"); /* clock 1, atoms reach 3 */
    doc1(&w, 2, 2), var(&w, run_h(1, 0, 0)), var(&w, 1), var(&w, zz(1)), str(&w, "a");
    var(&w, run_h(1, 0, 1)), var(&w, 1), var(&w, zz(1)), var(&w, 1), var(&w, 0), str(&w, "b"), seal(&w);
    out("doc-clock-cause-equal.bin", &w, "WV_E_CLOCK", "document"); /* 2@1 under 2@1: back 0 */
    doc1(&w, 2, 1), var(&w, run_h(1, 0, 1)), var(&w, 1), var(&w, zz(2)), var(&w, 0), var(&w, 3), str(&w, "a"), seal(&w);
    out("doc-clock-cause-above.bin", &w, "WV_E_CLOCK", "document"); /* back 3 > clock 2 */
    doc1(&w, 5, 2), var(&w, run_h(1, 0, 0)), var(&w, 1), var(&w, zz(5)), str(&w, "a");
    var(&w, del_h(1, 0)), var(&w, 1), var(&w, zz(3 - 5)), seal(&w);
    out("doc-clock-delete-below.bin", &w, "WV_E_CLOCK", "document"); /* 3@1 deletes 5@1 */
    /* A cycle: 2@1 deletes itself (the only cycle the format can express:
     * a run's cause is always clock - back, a delete's target is explicit). */
    doc1(&w, 2, 2), var(&w, run_h(1, 0, 0)), var(&w, 1), var(&w, zz(1)), str(&w, "a");
    var(&w, del_h(1, 1)), var(&w, 1), var(&w, 2), var(&w, 1), var(&w, zz(1)), seal(&w);
    out("doc-cycle-self-delete.bin", &w, "WV_E_CLOCK", "document");
    /* Two deletes targeting each other: 2@1 deletes 3@1, 3@1 deletes 2@1. */
    doc1(&w, 3, 3), var(&w, run_h(1, 0, 0)), var(&w, 1), var(&w, zz(1)), str(&w, "a");
    var(&w, del_h(1, 1)), var(&w, 1), var(&w, 3), var(&w, 1), var(&w, zz(1));
    var(&w, del_h(1, 1)), var(&w, 1), var(&w, 2), var(&w, 1), var(&w, zz(1)), seal(&w);
    out("doc-cycle-two-deletes.bin", &w, "WV_E_CLOCK", "document");
    doc1(&w, 1, 1), var(&w, run_h(1, 0, 0)), var(&w, 1), var(&w, zz(1)), str(&w, "\xed\xa0\x80"), seal(&w);
    out("doc-char-surrogate.bin", &w, "WV_E_ATOM", "document"); /* U+D800 */
    doc1(&w, 1, 1), var(&w, run_h(1, 0, 0)), var(&w, 1), var(&w, zz(1)), str(&w, "\xf4\x90\x80\x80"), seal(&w);
    out("doc-char-above-10ffff.bin", &w, "WV_E_ATOM", "document");
    doc1(&w, 1, 1), var(&w, run_h(1, 0, 0)), var(&w, 1), var(&w, zz(1)), str(&w, "\xc0\x80"), seal(&w);
    out("doc-char-overlong-utf8.bin", &w, "WV_E_ATOM", "document");
    doc1(&w, 1, 1), var(&w, run_h(1, 0, 0)), var(&w, 1), var(&w, zz(1)), str(&w, "\xff"), seal(&w);
    out("doc-char-bad-byte.bin", &w, "WV_E_ATOM", "document");
    doc1(&w, 1, 1), var(&w, del_h(1, 0)), var(&w, 1), var(&w, zz(1)), seal(&w);
    out("doc-delete-root.bin", &w, "WV_E_ATOM", "document"); /* implicit target: the root */
    doc1(&w, 3, 3), var(&w, run_h(1, 0, 0)), var(&w, 1), var(&w, zz(1)), str(&w, "a");
    var(&w, del_h(1, 0)), var(&w, 1), var(&w, zz(1));
    var(&w, del_h(1, 1)), var(&w, 1), var(&w, 2), var(&w, 1), var(&w, zz(1)), seal(&w);
    out("doc-delete-delete.bin", &w, "WV_E_ATOM", "document"); /* 3@1 deletes the delete 2@1 */
    doc1(&w, 3, 3), var(&w, run_h(1, 0, 0)), var(&w, 1), var(&w, zz(1)), str(&w, "a");
    var(&w, del_h(1, 0)), var(&w, 1), var(&w, zz(1));
    var(&w, run_h(1, 0, 1)), var(&w, 1), var(&w, zz(1)), var(&w, 1), var(&w, 1), str(&w, "x"), seal(&w);
    out("doc-char-under-delete.bin", &w, "WV_E_ATOM", "document"); /* 3@1 typed after the delete 2@1 */
    doc1(&w, 2, 2), var(&w, run_h(1, 0, 0)), var(&w, 1), var(&w, zz(1)), str(&w, "a");
    var(&w, run_h(1, 0, 1)), var(&w, 1), var(&w, zz(1)), var(&w, 0), var(&w, 2), str(&w, "b"), seal(&w);
    out("doc-order-siblings.bin", &w, "WV_E_CORRUPT", "document"); /* 1@1 before its younger sibling 2@1 */
    doc1(&w, 3, 3), var(&w, run_h(2, 0, 0)), var(&w, 1), var(&w, zz(1)), str(&w, "ab");
    var(&w, del_h(1, 1)), var(&w, 1), var(&w, 1), var(&w, 1), var(&w, zz(1)), seal(&w);
    out("doc-order-delete-late.bin", &w, "WV_E_CORRUPT", "document"); /* a's delete after its child b */
    doc1(&w, 3, 3), var(&w, run_h(1, 0, 0)), var(&w, 1), var(&w, zz(1)), str(&w, "a");
    var(&w, run_h(1, 0, 1)), var(&w, 1), var(&w, zz(3 - 1)), var(&w, 1), var(&w, 1), str(&w, "c");
    var(&w, run_h(1, 0, 1)), var(&w, 1), var(&w, zz(2 - 3)), var(&w, 1), var(&w, 1), str(&w, "b"), seal(&w);
    out("doc-order-child-first.bin", &w, "WV_E_CORRUPT", "document"); /* c 3@1 before its cause b 2@1 */

    /* trailing bytes, and other kinds where a document is wanted */
    doc_valid(&w), byte(&w, 0), seal(&w);
    out("doc-trailing-byte.bin", &w, "WV_E_FORMAT", "document");
    head(&w, 1, DELTA), sites(&w, 1, site1), var(&w, 1), var(&w, run_h(1, 0, 0)), var(&w, 1), var(&w, zz(1)), str(&w, "a"), seal(&w);
    out("doc-given-delta.bin", &w, "WV_E_FORMAT", "document");
}

/* ---- deltas, against R ------------------------------------------------------ */

static const uint64_t site2[] = {2}, sites12[] = {1, 2}, sites23[] = {2, 3};

static void delta_head(buf *w, size_t nsites, const uint64_t *ids, uint64_t count) {
    head(w, 1, DELTA);
    sites(w, nsites, ids);
    var(w, count);
}

/* x 6@2 typed after c 3@1. Delta site table {1, 2}: index 1 is site 1. */
static void delta_valid(buf *w) {
    delta_head(w, 2, sites12, 1);
    var(w, run_h(1, 0, 1)), var(w, 2), var(w, zz(6)), var(w, 1), var(w, 6 - 3), str(w, "x");
}

static void deltas(void) {
    buf w;
    delta_valid(&w), seal(&w);
    out("delta-valid.bin", &w, "WV_OK", "delta");
    delta_valid(&w), seal(&w), w.b[w.n - 3] ^= 0x10;
    out("delta-checksum.bin", &w, "WV_E_CHECKSUM", "delta");
    delta_valid(&w), w.n -= 1, seal(&w); /* the char is cut */
    out("delta-trunc-char.bin", &w, "WV_E_TRUNCATED", "delta");
    delta_valid(&w), w.n -= 3, seal(&w); /* csite, back and the char cut */
    out("delta-trunc-fields.bin", &w, "WV_E_TRUNCATED", "delta");
    delta_valid(&w), byte(&w, 'y'), seal(&w);
    out("delta-trailing-byte.bin", &w, "WV_E_FORMAT", "delta");
    delta_head(&w, 2, sites12, (uint64_t)1 << 40), var(&w, run_h(1, 0, 1)), var(&w, 2), var(&w, zz(6)), var(&w, 1),
        var(&w, 3), str(&w, "x"), seal(&w);
    out("delta-atoms-2e40.bin", &w, "WV_E_SIZE", "delta");
    head(&w, 1, DELTA), var(&w, (uint64_t)1 << 40), var(&w, 1), var(&w, 1), var(&w, 0), seal(&w);
    out("delta-sites-2e40.bin", &w, "WV_E_SIZE", "delta");
    head(&w, 1, DELTA), var(&w, 1), var(&w, 0), var(&w, 0), seal(&w);
    out("delta-site-zero.bin", &w, "WV_E_FORMAT", "delta");
    delta_head(&w, 1, site2, 1), var(&w, run_h(1, 0, 1)), var(&w, 0), var(&w, zz(6)), var(&w, 0), var(&w, 6), str(&w, "x"), seal(&w);
    out("delta-run-root-site.bin", &w, "WV_E_FORMAT", "delta");
    delta_head(&w, 2, sites12, 1), var(&w, run_h(1, 0, 1)), var(&w, 2), var(&w, zz(9)), var(&w, 1), var(&w, 2), str(&w, "x"), seal(&w);
    out("delta-cause-missing.bin", &w, "WV_E_CAUSE", "delta"); /* 9@2 under 7@1: R reaches 5@1 */
    delta_head(&w, 2, sites23, 1), var(&w, run_h(1, 0, 1)), var(&w, 1), var(&w, zz(9)), var(&w, 2), var(&w, 8), str(&w, "x"), seal(&w);
    out("delta-cause-unknown-site.bin", &w, "WV_E_CAUSE", "delta"); /* 9@2 under 1@3 */
    delta_head(&w, 1, site1, 1), var(&w, run_h(1, 0, 0)), var(&w, 1), var(&w, zz(2)), str(&w, "X"), seal(&w);
    /* 2@1 under the root, "X": R holds 2@1 = "b" under 1@1 */
    out("delta-duplicate-held.bin", &w, "WV_E_DUPLICATE", "delta");
    delta_head(&w, 2, sites12, 2), var(&w, run_h(1, 0, 1)), var(&w, 2), var(&w, zz(6)), var(&w, 1), var(&w, 3), str(&w, "x");
    var(&w, run_h(1, 0, 1)), var(&w, 2), var(&w, zz(0)), var(&w, 1), var(&w, 3), str(&w, "y"), seal(&w);
    out("delta-duplicate-twice.bin", &w, "WV_E_DUPLICATE", "delta"); /* 6@2 is "x" and "y" */
    delta_head(&w, 1, site1, 1), var(&w, run_h(1, 0, 1)), var(&w, 1), var(&w, zz(4)), var(&w, 1), var(&w, 1), str(&w, "q"), seal(&w);
    out("delta-absent-below-weft.bin", &w, "WV_E_DUPLICATE", "delta"); /* 4@1: R's weft covers it */
    delta_head(&w, 2, sites12, 1), var(&w, del_h(1, 1)), var(&w, 1), var(&w, 3), var(&w, 2), var(&w, zz(3)), seal(&w);
    out("delta-clock-not-above.bin", &w, "WV_E_CLOCK", "delta"); /* 3@2 deletes c 3@1 */
    delta_head(&w, 1, site2, 1), var(&w, del_h(1, 1)), var(&w, 1), var(&w, 6), var(&w, 1), var(&w, zz(6)), seal(&w);
    out("delta-cycle-self-delete.bin", &w, "WV_E_CLOCK", "delta"); /* 6@2 deletes 6@2 */
    delta_head(&w, 1, site2, 1), var(&w, del_h(1, 0)), var(&w, 1), var(&w, zz(6)), seal(&w);
    out("delta-delete-root.bin", &w, "WV_E_ATOM", "delta");
    delta_head(&w, 2, sites12, 1), var(&w, del_h(1, 1)), var(&w, 1), var(&w, 5), var(&w, 2), var(&w, zz(6)), seal(&w);
    out("delta-delete-delete.bin", &w, "WV_E_ATOM", "delta"); /* 6@2 deletes R's delete 5@1 */
    delta_head(&w, 2, sites12, 1), var(&w, run_h(1, 0, 1)), var(&w, 2), var(&w, zz(6)), var(&w, 1), var(&w, 3),
        str(&w, "\xed\xbf\xbf"), seal(&w);
    out("delta-char-surrogate.bin", &w, "WV_E_ATOM", "delta"); /* U+DFFF */
    delta_head(&w, 2, sites12, 1), var(&w, run_h(1, 0, 1)), var(&w, 2), var(&w, zz(UINT32_MAX)), var(&w, 1),
        var(&w, UINT32_MAX - 3), str(&w, "x"), seal(&w);
    out("delta-clock-max.bin", &w, "WV_E_LIMIT", "delta"); /* 2^32-1@2: R's clock could not pass it */
    /* The int64_t overflow of format.c's clock steps, in a delta. */
    delta_head(&w, 2, sites12, 2), var(&w, run_h(1, 0, 1)), var(&w, 2), var(&w, zz(6)), var(&w, 1), var(&w, 3), str(&w, "x");
    var(&w, del_h(1, 0)), var(&w, 2), var(&w, UINT64_MAX - 1), seal(&w);
    out("delta-clock-step-int64-overflow.bin", &w, "WV_E_FORMAT", "delta");
    /* A document fed to wv_apply_bytes is merged: this one holds 1@1 = "x",
     * where R holds 1@1 = "a". */
    doc1(&w, 1, 1), var(&w, run_h(1, 0, 0)), var(&w, 1), var(&w, zz(1)), str(&w, "x"), seal(&w);
    out("delta-doc-disagrees.bin", &w, "WV_E_CORRUPT", "delta");
    /* A malformed document fed to wv_apply_bytes: wv_decode's code. */
    doc1(&w, 9, 1), var(&w, run_h(1, 0, 1)), var(&w, 1), var(&w, zz(9)), var(&w, 1), var(&w, 2), str(&w, "x"), seal(&w);
    out("delta-doc-cause-missing.bin", &w, "WV_E_CAUSE", "delta");
    head(&w, 1, WEFT), var(&w, 1), var(&w, 1), var(&w, 5), seal(&w);
    out("delta-given-weft.bin", &w, "WV_E_FORMAT", "delta");
    /* delete runs: 6@2 7@2 8@2 delete a b c (b deleted twice: allowed) */
    delta_head(&w, 2, sites12, 3), var(&w, delrun_h(3, 0)), var(&w, 1), var(&w, zz(1)), var(&w, 2), var(&w, zz(6)), seal(&w);
    out("delta-delete-run-valid.bin", &w, "WV_OK", "delta");
    delta_head(&w, 2, sites12, 4), var(&w, delrun_h(4, 0)), var(&w, 1), var(&w, zz(1)), var(&w, 2), var(&w, zz(6)), seal(&w);
    out("delta-delete-run-past-weft.bin", &w, "WV_E_CAUSE", "delta"); /* the 4th target, 4@1, R lacks */
    delta_head(&w, 2, sites12, 1), var(&w, delrun_h(1, 0)), var(&w, 1), var(&w, zz(1)), var(&w, 2), var(&w, zz(6)), seal(&w);
    out("delta-delete-run-of-one.bin", &w, "WV_E_SIZE", "delta");
    delta_head(&w, 2, sites12, 3), var(&w, delrun_h((uint64_t)1 << 40, 0)), var(&w, 1), var(&w, zz(1)), var(&w, 2), var(&w, zz(6)), seal(&w);
    out("delta-delete-run-2e40.bin", &w, "WV_E_SIZE", "delta");
    delta_head(&w, 2, sites12, 3), var(&w, delrun_h(3, 0)), var(&w, 0), var(&w, zz(1)), var(&w, 2), var(&w, zz(6)), seal(&w);
    out("delta-delete-run-root-site.bin", &w, "WV_E_FORMAT", "delta");
    delta_head(&w, 2, sites12, 3), var(&w, delrun_h(3, 1)), var(&w, 1), var(&w, zz(1)), var(&w, 2), var(&w, zz(2)), seal(&w);
    out("delta-delete-run-below-one.bin", &w, "WV_E_FORMAT", "delta"); /* clocks 2, 1, 0 */
    delta_head(&w, 2, sites12, 3), var(&w, delrun_h(3, 0)), var(&w, 1), var(&w, zz(1)), var(&w, 2), var(&w, zz(1)), seal(&w);
    out("delta-delete-run-clock.bin", &w, "WV_E_CLOCK", "delta"); /* 1@2 deletes 1@1, 2@2 2@1, 3@2 3@1 */
    /* A descending delete run whose first clock is 0 + zigzag^-1(2^64 - 1) =
     * -2^63: the library's last clock (d - n + 1) overflows int64_t. Found
     * by fuzz_decode. */
    delta_head(&w, 2, sites12, 3), var(&w, delrun_h(3, 1)), var(&w, 1), var(&w, zz(1)), var(&w, 2), var(&w, UINT64_MAX), seal(&w);
    out("delta-delete-run-int64-overflow.bin", &w, "WV_E_FORMAT", "delta");
}

/* ---- wefts --------------------------------------------------------------------- */

static void wefts(void) {
    buf w;
    head(&w, 1, WEFT), var(&w, 2), var(&w, 1), var(&w, 5), var(&w, 1), var(&w, 3), seal(&w);
    out("weft-valid.bin", &w, "WV_OK", "weft"); /* {1: 5, 2: 3} */
    w.b[8] ^= 0x04;
    out("weft-checksum.bin", &w, "WV_E_CHECKSUM", "weft");
    head(&w, 1, WEFT), var(&w, 1), var(&w, 0), var(&w, 5), seal(&w);
    out("weft-site-zero.bin", &w, "WV_E_FORMAT", "weft");
    head(&w, 1, WEFT), var(&w, 2), var(&w, 1), var(&w, 5), var(&w, 0), var(&w, 3), seal(&w);
    out("weft-site-repeat.bin", &w, "WV_E_FORMAT", "weft");
    head(&w, 1, WEFT), var(&w, 2), var(&w, UINT64_MAX), var(&w, 5), var(&w, 1), var(&w, 3), seal(&w);
    out("weft-site-wraps.bin", &w, "WV_E_FORMAT", "weft");
    head(&w, 1, WEFT), var(&w, 1), var(&w, 1), var(&w, 0), seal(&w);
    out("weft-clock-zero.bin", &w, "WV_E_FORMAT", "weft");
    head(&w, 1, WEFT), var(&w, 1), var(&w, 1), var(&w, (uint64_t)1 << 32), seal(&w);
    out("weft-clock-u64.bin", &w, "WV_E_FORMAT", "weft");
    head(&w, 1, WEFT), var(&w, (uint64_t)1 << 40), var(&w, 1), var(&w, 5), seal(&w);
    out("weft-count-2e40.bin", &w, "WV_E_SIZE", "weft");
    head(&w, 1, WEFT), var(&w, 2), var(&w, 1), var(&w, 300), var(&w, 1), seal(&w);
    out("weft-trunc.bin", &w, "WV_E_TRUNCATED", "weft"); /* the second clock is missing */
    head(&w, 1, WEFT), var(&w, 1), var(&w, 1), var(&w, 5), byte(&w, 0), seal(&w);
    out("weft-trailing-byte.bin", &w, "WV_E_FORMAT", "weft");
    head(&w, 1, WEFT), var(&w, 1), byte(&w, 0x81), byte(&w, 0x80), byte(&w, 0x00), var(&w, 5), seal(&w);
    out("weft-overlong-varint.bin", &w, "WV_E_FORMAT", "weft");
    head(&w, 2, WEFT), var(&w, 1), var(&w, 1), var(&w, 5), seal(&w);
    out("weft-bad-version.bin", &w, "WV_E_VERSION", "weft");
    doc_valid(&w), seal(&w);
    out("weft-given-document.bin", &w, "WV_E_FORMAT", "weft");
}

/* ---- version 3: the fields in streams, the ids as pieces ----------------------- */

/* Streams in the format's order; S_TEXT holds UTF-8, the others varints.
 * The ids: per slot in id order, zigzag(slot - last slot - 1) to S_CLOCK;
 * per site its slot count, then each slot's clock gap, to S_DEL. */
enum { S_HEAD, S_SITE, S_CLOCK, S_CAUSE, S_DEL, S_ATOM, S_TEXT, NS };
typedef struct streams3 {
    buf s[NS];
} streams3;

/* Writes one stream as version 3 stores it: rawlen, for varint streams the
 * plane count and sizes (plane k: byte k of every varint that has one),
 * zlen (0: stored), bytes. z: compressed with zstd, level 3. */
static void stream(buf *w, const buf *b, int varints, int z) {
    static buf pl, zb;
    size_t plen[10] = {0}, off[10] = {0};
    unsigned np = 1;
    pl.n = b->n;
    if (varints) {
        for (size_t i = 0, k = 0; i < b->n; i++) plen[k]++, k = b->b[i] & 0x80 ? k + 1 : 0;
        while (np < 10 && plen[np]) np++;
        for (unsigned k = 1; k < 10; k++) off[k] = off[k - 1] + plen[k - 1];
        for (size_t i = 0, k = 0; i < b->n; i++) pl.b[off[k]++] = b->b[i], k = b->b[i] & 0x80 ? k + 1 : 0;
    } else {
        memcpy(pl.b, b->b, b->n);
    }
    var(w, b->n);
    if (varints) {
        var(w, np);
        for (unsigned k = 0; k < np; k++) var(w, plen[k]);
    }
    if (z) {
        zb.n = ZSTD_compress(zb.b, sizeof zb.b, pl.b, pl.n, 3);
        if (ZSTD_isError(zb.n)) {
            fprintf(stderr, "gen_format_corpus: zstd: %s\n", ZSTD_getErrorName(zb.n));
            exit(1);
        }
        var(w, zb.n), raw(w, (const char *)zb.b, zb.n);
    } else {
        var(w, 0), raw(w, (const char *)pl.b, pl.n);
    }
}

/* Every stream, stored (z = 0) or compressed (z = 1). */
static void streams_out(buf *w, const streams3 *st, int z) {
    for (int i = 0; i < NS; i++) stream(w, &st->s[i], i != S_TEXT, z);
}

/* Pieces of slots: the slot steps to S_CLOCK; to S_DEL, gaps[0] the site's
 * count, then the gaps. */
static void pieces(streams3 *st, const int64_t *steps, size_t n, const uint64_t *gaps, size_t ng) {
    st->s[S_CLOCK].n = st->s[S_DEL].n = 0;
    for (size_t i = 0; i < n; i++) var(&st->s[S_CLOCK], zz(steps[i]));
    for (size_t i = 0; i < ng; i++) var(&st->s[S_DEL], gaps[i]);
}

/* doc_valid's atoms ("abc", b deleted by 4@1) as version 3 streams. Slots
 * in weave order: 0 a 1@1, 1 b 2@1, 2 b's delete 4@1, 3 c 3@1; in id order
 * 0, 1, 3, 2. */
static const int64_t abc_steps[] = {0, 0, 1, -2};
static const uint64_t abc_gaps[] = {4, 0, 0, 0, 0};
static void abc_streams(streams3 *st) {
    memset(st, 0, sizeof *st);
    var(&st->s[S_HEAD], run_h(1, 0, 0)), var(&st->s[S_HEAD], run_h(1, 1, 0)), var(&st->s[S_HEAD], run_h(1, 0, 0));
    pieces(st, abc_steps, 4, abc_gaps, 5);
    str(&st->s[S_TEXT], "abc");
}

/* A version 3 document of site table {1}, self 1, clock 4 and `count` atoms. */
static void doc3(buf *w, uint64_t count) {
    head(w, 3, DOC);
    sites(w, 1, site1);
    var(w, 1), var(w, 4), var(w, count);
}

static void streams_v3(void) {
    buf w;
    streams3 st;
    abc_streams(&st);
    doc3(&w, 4), streams_out(&w, &st, 0), seal(&w);
    out("doc3-valid-stored.bin", &w, "WV_OK", "document");
    doc3(&w, 4), streams_out(&w, &st, 1), seal(&w);
    out("doc3-valid-zstd.bin", &w, "WV_OK", "document");
    doc3(&w, 4); /* only the empty streams compressed: frames of no bytes, nothing to decompress into */
    for (int i = 0; i < NS; i++) stream(&w, &st.s[i], i != S_TEXT, st.s[i].n == 0);
    seal(&w);
    out("doc3-zstd-empty.bin", &w, "WV_OK", "document");
    doc3(&w, 4), streams_out(&w, &st, 0), byte(&w, 0), seal(&w);
    out("doc3-body-left.bin", &w, "WV_E_FORMAT", "document");
    doc3(&w, (uint64_t)1 << 31), streams_out(&w, &st, 0), seal(&w);
    out("doc3-count-2e31.bin", &w, "WV_E_SIZE", "document"); /* more atoms than twice the streams' bytes */
    doc3(&w, 4), streams_out(&w, &st, 0), w.n -= 1, seal(&w); /* the text's last byte cut */
    out("doc3-stream-trunc.bin", &w, "WV_E_TRUNCATED", "document");

    /* one stream damaged: CLOCK (4 varints: 0 0 2 3) first, then the text */
    for (int c = 0; c < 6; c++) {
        static const char *name[] = {"doc3-planes-sum.bin", "doc3-planes-0.bin", "doc3-planes-11.bin",
                                     "doc3-plane-unused.bin", "doc3-varint-past-planes.bin",
                                     "doc3-clock-left.bin"};
        doc3(&w, 4);
        stream(&w, &st.s[S_HEAD], 1, 0), stream(&w, &st.s[S_SITE], 1, 0);
        if (c == 0) var(&w, 4), var(&w, 1), var(&w, 3), var(&w, 0), raw(&w, "\0\0\2\3", 4); /* 3 != 4 */
        if (c == 1) var(&w, 4), var(&w, 0), var(&w, 0), raw(&w, "\0\0\2\3", 4);
        if (c == 2) {
            var(&w, 4), var(&w, 11);
            for (int k = 0; k < 11; k++) var(&w, k < 4);
            var(&w, 0), raw(&w, "\0\0\2\3", 4);
        }
        if (c == 3) var(&w, 5), var(&w, 2), var(&w, 4), var(&w, 1), var(&w, 0), raw(&w, "\0\0\2\3\1", 5);
        if (c == 4) var(&w, 4), var(&w, 1), var(&w, 4), var(&w, 0), raw(&w, "\200\0\2\3", 4);
        if (c == 5) var(&w, 5), var(&w, 1), var(&w, 5), var(&w, 0), raw(&w, "\0\0\2\3\0", 5); /* one too many */
        for (int i = S_CAUSE; i < NS; i++) stream(&w, &st.s[i], i != S_TEXT, 0);
        seal(&w);
        out(name[c], &w, "WV_E_FORMAT", "document");
    }

    /* the ids wrong, every stream stored */
    {
        static const struct {
            const char *name, *code;
            int64_t steps[5];
            size_t n;
            uint64_t gaps[6];
            size_t ng;
        } bad[] = {
            {"doc3-slot-range.bin", "WV_E_FORMAT", {0, 0, 1, 0}, 4, {4, 0, 0, 0, 0}, 5},       /* slot 4 of 0..3 */
            {"doc3-slot-twice.bin", "WV_E_FORMAT", {0, 0, 1, -3}, 4, {4, 0, 0, 0, 0}, 5},      /* slot 1 again */
            {"doc3-slot-missing.bin", "WV_E_FORMAT", {0, 0, 1, -2}, 4, {3, 0, 0, 0}, 4},       /* slot 2: no id */
            {"doc3-site-count.bin", "WV_E_FORMAT", {0, 0, 1, -2}, 4, {5, 0, 0, 0, 0, 0}, 6},   /* 5 of 4 slots */
            {"doc3-gap-u64.bin", "WV_E_FORMAT", {0, 0, 1, -2}, 4, {4, 0, 0, 0, (uint64_t)1 << 32}, 5},
            {"doc3-clock-past-u32.bin", "WV_E_FORMAT", {0, 0, 1, -2}, 4, {4, 0, 0, 0, UINT32_MAX - 3}, 5},
            {"doc3-slots-past-pieces.bin", "WV_E_SIZE", {0, 0, 1}, 3, {4, 0, 0, 0, 0}, 5},     /* 4 slots, 3 pieces */
            {"doc3-slot-step-2e34.bin", "WV_E_FORMAT", {0, 0, 1, (int64_t)1 << 33}, 4, {4, 0, 0, 0, 0}, 5},
        };
        for (size_t c = 0; c < sizeof bad / sizeof *bad; c++) {
            pieces(&st, bad[c].steps, bad[c].n, bad[c].gaps, bad[c].ng);
            doc3(&w, 4), streams_out(&w, &st, 0), seal(&w);
            out(bad[c].name, &w, bad[c].code, "document");
        }
        pieces(&st, abc_steps, 4, abc_gaps, 5);
    }

    for (int c = 0; c < 4; c++) {
        static const char *name[] = {"doc3-zstd-garbage.bin", "doc3-zstd-short.bin", "doc3-zstd-ratio.bin",
                                     "doc3-text-left.bin"};
        static const char *code[] = {"WV_E_FORMAT", "WV_E_FORMAT", "WV_E_SIZE", "WV_E_FORMAT"};
        doc3(&w, 4);
        for (int i = 0; i < S_TEXT; i++) stream(&w, &st.s[i], 1, 0);
        if (c == 0) var(&w, 3), var(&w, 5), raw(&w, "hello", 5); /* not a zstd frame */
        if (c == 1) {
            static buf ab, zb;
            ab.n = 0, str(&ab, "ab");
            zb.n = ZSTD_compress(zb.b, sizeof zb.b, ab.b, ab.n, 3);
            var(&w, 3), var(&w, zb.n), raw(&w, (const char *)zb.b, zb.n); /* 2 bytes, 3 declared */
        }
        if (c == 2) var(&w, ((uint64_t)1 << 15) + 1), var(&w, 1), byte(&w, 0); /* 1 byte can't hold it */
        if (c == 3) var(&w, 4), var(&w, 0), str(&w, "abcd"); /* a char no run reads */
        seal(&w);
        out(name[c], &w, code[c], "document");
    }

    /* a version 3 delta: x 6@2 typed after c 3@1 (delta_valid's atom); one
     * slot, of site index 2: site 1 has no pieces */
    memset(&st, 0, sizeof st);
    var(&st.s[S_HEAD], run_h(1, 0, 1));
    var(&st.s[S_SITE], 1);
    pieces(&st, (const int64_t[]){0}, 1, (const uint64_t[]){0, 1, 6 - 1}, 3);
    var(&st.s[S_CAUSE], 6 - 3);
    str(&st.s[S_TEXT], "x");
    head(&w, 3, DELTA), sites(&w, 2, sites12), var(&w, 1), streams_out(&w, &st, 1), seal(&w);
    out("delta3-valid-zstd.bin", &w, "WV_OK", "delta");
    head(&w, 3, DELTA), sites(&w, 2, sites12), var(&w, 1), streams_out(&w, &st, 0), w.b[w.n - 1] = 0xff, seal(&w);
    out("delta3-bad-utf8.bin", &w, "WV_E_ATOM", "delta");
}

/* ---- seeds for fuzz/corpus/decode -------------------------------------------- */

#define OK(expr)                                                                          \
    do {                                                                                  \
        int rc_ = (expr);                                                                 \
        if (rc_) {                                                                        \
            fprintf(stderr, "gen_format_corpus: %s: %s\n", #expr, wv_error_name(rc_));    \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

static wv_doc *replica_r(void) {
    wv_doc *r, *e;
    OK(wv_doc_new(&r, 1, NULL));
    OK(wv_text_insert(r, 0, "abc", 3));
    OK(wv_doc_fork(r, 2, &e));
    wv_doc_free(e);
    OK(wv_text_delete(r, 1, 1));
    return r;
}

static void seed_bytes(const char *name, int kind, const wv_doc *d, const wv_doc *since) {
    static buf w;
    wv_weft_entry wf[16];
    size_t nw = since ? wv_doc_weft_all(since, wf, 16) : 0;
    if (nw > 16 || wv_encode_bound(d) > sizeof w.b) {
        fprintf(stderr, "gen_format_corpus: seed %s too large\n", name);
        exit(1);
    }
    if (kind == WEFT) OK(wv_weft_encode(d, w.b, sizeof w.b, &w.n));
    else OK(wv_encode(d, kind == DELTA, wf, nw, w.b, sizeof w.b, &w.n));
    save(name, &w);
}

static void seeds(void) {
    wv_doc *r = replica_r(), *s2, *s3, *m;
    seed_bytes("seed-r-document", DOC, r, NULL);
    seed_bytes("seed-r-weft", WEFT, r, NULL);
    /* site 2 forks R, types and deletes: deltas against R apply cleanly */
    OK(wv_doc_fork(r, 2, &s2));
    OK(wv_text_insert(s2, 1, "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 16));
    OK(wv_text_delete(s2, 2, 3));
    OK(wv_text_delete(s2, 0, 1));
    OK(wv_text_insert(s2, 0, "XY", 2));
    /* site 3 forks too and types concurrently */
    OK(wv_doc_fork(r, 3, &s3));
    OK(wv_text_insert(s3, 2, "zzz", 3));
    OK(wv_text_delete(s3, 1, 2));
    seed_bytes("seed-s2-document", DOC, s2, NULL);
    seed_bytes("seed-s2-delta-past-r", DELTA, s2, r);
    seed_bytes("seed-s2-delta-all", DELTA, s2, NULL);
    seed_bytes("seed-s2-weft", WEFT, s2, NULL);
    seed_bytes("seed-s3-delta-past-r", DELTA, s3, r);
    OK(wv_doc_clone(s2, &m));
    OK(wv_merge(m, s3));
    OK(wv_text_insert(m, 3, "\xd0\x96\xd0\xb8", 4));
    OK(wv_text_delete(m, 4, 4));
    seed_bytes("seed-merged-document", DOC, m, NULL);
    seed_bytes("seed-merged-delta-past-s2", DELTA, m, s2);
    seed_bytes("seed-merged-delta-past-r", DELTA, m, r);
    seed_bytes("seed-merged-weft", WEFT, m, NULL);
    seed_bytes("seed-empty-delta", DELTA, r, r);
    /* 64 atoms and more: version 3, streams compressed */
    wv_doc *l;
    OK(wv_doc_fork(r, 4, &l));
    OK(wv_text_insert(l, 1, "a longer text, typed in two runs, so that its streams hold ", 59));
    OK(wv_text_insert(l, 20, "more than sixty-four atoms", 26));
    OK(wv_text_delete(l, 5, 10));
    seed_bytes("seed-long-document", DOC, l, NULL);
    seed_bytes("seed-long-delta-past-r", DELTA, l, r);
    wv_doc_free(l);
    wv_doc *e;
    OK(wv_doc_new(&e, 77, NULL));
    seed_bytes("seed-new-document", DOC, e, NULL);
    seed_bytes("seed-new-weft", WEFT, e, NULL);
    wv_doc_free(e), wv_doc_free(m), wv_doc_free(s3), wv_doc_free(s2), wv_doc_free(r);
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--seeds")) {
        outdir = argv[2];
        seeds();
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: gen_format_corpus DIR | gen_format_corpus --seeds DIR\n");
        return 2;
    }
    outdir = argv[1];
    char path[4096];
    snprintf(path, sizeof path, "%s/MANIFEST", outdir);
    if (!(manifest = fopen(path, "w"))) {
        fprintf(stderr, "gen_format_corpus: %s: %s\n", path, strerror(errno));
        return 1;
    }
    fprintf(manifest,
            "# Malformed (and a few valid) encodings, written by tests/gen_format_corpus.c.\n"
            "# name.bin EXPECTED_CODE kind\n"
            "#   document: wv_decode; delta: wv_apply_bytes on R; weft: wv_weft_decode.\n"
            "# R: wv_doc_new(site 1); insert \"abc\" at 0 (1@1 2@1 3@1); wv_doc_fork onto\n"
            "# site 2 (R's clock 4, sites {0,1,2}; the fork dropped); delete at 1 (5@1\n"
            "# deletes b). R: text \"ac\", weft {1: 5}, clock 5.\n"
            "# Every file is also applied to a copy of R with wv_apply_bytes: on error it\n"
            "# must stay byte-identical (hash, clock); a document with a body error gives\n"
            "# the same code through wv_apply_bytes as through wv_decode.\n");
    documents();
    deltas();
    wefts();
    streams_v3();
    if (fclose(manifest)) return 1;
    return 0;
}

/* test_utf8.c — the strict UTF-8 codec (atoms/utf8.c).
 *
 * Checks fixed valid sequences of 1 to 4 bytes, every class of invalid input
 * (overlongs, surrogates, values above U+10FFFF, truncations, lone
 * continuation bytes, bytes C0/C1/F5..FF), _wv_utf8_count, an encode/decode
 * round trip over every scalar value, and an exhaustive comparison of the
 * decoder against a naive oracle over all 1- and 2-byte inputs, every 3-byte
 * input with a multi-byte lead, and random 4-byte inputs. The oracle knows
 * only the encoder's definition: bytes are valid iff they equal the
 * (independently written) encoding of some scalar value. Every input is
 * decoded from a heap buffer of exactly its length so that ASan catches
 * reads past the end. */
#include "test.h"
#include "utf8.h"

/* Reference encoder, written from RFC 3629 independently of the library. */
static size_t ref_encode(uint32_t cp, unsigned char out[4]) {
    if (cp <= 0x7f) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp <= 0x7ff) {
        out[0] = (unsigned char)(0xc0 + (cp >> 6));
        out[1] = (unsigned char)(0x80 + (cp & 0x3f));
        return 2;
    }
    if (cp <= 0xffff) {
        out[0] = (unsigned char)(0xe0 + (cp >> 12));
        out[1] = (unsigned char)(0x80 + ((cp >> 6) & 0x3f));
        out[2] = (unsigned char)(0x80 + (cp & 0x3f));
        return 3;
    }
    out[0] = (unsigned char)(0xf0 + (cp >> 18));
    out[1] = (unsigned char)(0x80 + ((cp >> 12) & 0x3f));
    out[2] = (unsigned char)(0x80 + ((cp >> 6) & 0x3f));
    out[3] = (unsigned char)(0x80 + (cp & 0x3f));
    return 4;
}

static int is_scalar(uint32_t cp) { return cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff); }

/* Oracle: the code point whose encoding is a prefix of b[0..len), found by
 * trying every sequence length and the only code point that could encode to
 * it. Returns the sequence length, or 0 when no scalar value's encoding is a
 * prefix (the bytes are invalid). */
static size_t oracle(const unsigned char *b, size_t len, uint32_t *cp) {
    for (size_t n = 1; n <= 4 && n <= len; n++) {
        uint32_t c;
        static const unsigned char lead_mask[5] = {0, 0x7f, 0x1f, 0x0f, 0x07};
        c = b[0] & lead_mask[n];
        for (size_t k = 1; k < n; k++) c = c << 6 | (b[k] & 0x3fu);
        if (!is_scalar(c)) continue;
        unsigned char e[4];
        size_t m = ref_encode(c, e);
        if (m == n && memcmp(e, b, n) == 0) {
            *cp = c;
            return n;
        }
    }
    return 0;
}

/* Decodes b[0..len) at offset 0 from an exact-size heap copy. Returns the
 * library's result; *adv gets how far *i moved. */
static int decode_exact(const unsigned char *b, size_t len, uint32_t *cp, size_t *adv) {
    char *p = malloc(len);
    REQUIRE(p);
    memcpy(p, b, len);
    size_t i = 0;
    *cp = 0xdeadbeef;
    int rc = _wv_utf8_next(p, len, &i, cp);
    *adv = i;
    free(p);
    return rc;
}

/* Asserts that the library decodes b[0..len) like the oracle. Returns 1 if it
 * agreed (so callers can stop at the first disagreement and not flood). */
static int agrees(const unsigned char *b, size_t len) {
    uint32_t want = 0, got;
    size_t adv, n = oracle(b, len, &want);
    int rc = decode_exact(b, len, &got, &adv);
    int ok = n ? rc == 0 && adv == n && got == want : rc == -1 && adv == 0;
    CHECK(ok);
    if (!ok) {
        fprintf(stderr, "  bytes");
        for (size_t k = 0; k < len; k++) fprintf(stderr, " %02X", b[k]);
        fprintf(stderr, ": oracle %s U+%04X (%zu bytes); library rc %d, U+%04X, advanced %zu\n",
                n ? "valid" : "invalid", (unsigned)want, n, rc, (unsigned)got, adv);
    }
    return ok;
}

/* Expects b[0..len) to decode to exactly cp, consuming all len bytes. */
static void expect_valid(const char *b, size_t len, uint32_t cp) {
    uint32_t got;
    size_t adv;
    CHECK(decode_exact((const unsigned char *)b, len, &got, &adv) == 0);
    CHECK(got == cp);
    CHECK(adv == len);
    size_t count = 99;
    CHECK(_wv_utf8_count(b, len, &count) == 0 && count == 1);
}

/* Expects decoding b[0..len) to fail at offset 0 and leave *i alone. */
static void expect_invalid(const char *b, size_t len) {
    uint32_t got;
    size_t adv = 99;
    int rc = decode_exact((const unsigned char *)b, len, &got, &adv);
    CHECK(rc == -1);
    CHECK(adv == 0);
    if (rc != -1) {
        fprintf(stderr, "  accepted invalid bytes");
        for (size_t k = 0; k < len; k++) fprintf(stderr, " %02X", (unsigned char)b[k]);
        fprintf(stderr, " as U+%04X\n", (unsigned)got);
    }
    size_t count;
    CHECK(_wv_utf8_count(b, len, &count) == -1);
}

static void test_valid(void) {
    expect_valid("\x00", 1, 0);
    expect_valid("A", 1, 'A');
    expect_valid("\x7f", 1, 0x7f);
    expect_valid("\xc2\x80", 2, 0x80);
    expect_valid("\xc3\xa9", 2, 0xe9);
    expect_valid("\xdf\xbf", 2, 0x7ff);
    expect_valid("\xe0\xa0\x80", 3, 0x800);
    expect_valid("\xe2\x82\xac", 3, 0x20ac);
    expect_valid("\xed\x9f\xbf", 3, 0xd7ff);
    expect_valid("\xee\x80\x80", 3, 0xe000);
    expect_valid("\xef\xbf\xbd", 3, 0xfffd);
    expect_valid("\xef\xbf\xbf", 3, 0xffff);
    expect_valid("\xf0\x90\x80\x80", 4, 0x10000);
    expect_valid("\xf0\x9f\x98\x80", 4, 0x1f600);
    expect_valid("\xf4\x8f\xbf\xbf", 4, 0x10ffff);

    /* Decoding in the middle of a buffer advances from *i. */
    const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";
    size_t len = strlen(s), i = 0;
    uint32_t cp;
    const uint32_t want[] = {'a', 0xe9, 0x20ac, 0x1f600, 'z'};
    const size_t ends[] = {1, 3, 6, 10, 11};
    for (size_t k = 0; k < 5; k++) {
        CHECK(_wv_utf8_next(s, len, &i, &cp) == 0);
        CHECK(cp == want[k]);
        CHECK(i == ends[k]);
    }
}

static void test_invalid(void) {
    /* overlongs */
    expect_invalid("\xc0\x80", 2);
    expect_invalid("\xc1\xbf", 2);
    expect_invalid("\xe0\x80\x80", 3);
    expect_invalid("\xe0\x9f\xbf", 3);
    expect_invalid("\xf0\x80\x80\x80", 4);
    expect_invalid("\xf0\x8f\xbf\xbf", 4);
    /* surrogates */
    expect_invalid("\xed\xa0\x80", 3);
    expect_invalid("\xed\xbf\xbf", 3);
    expect_invalid("\xed\xb0\x80", 3);
    /* above U+10FFFF */
    expect_invalid("\xf4\x90\x80\x80", 4);
    expect_invalid("\xf4\xbf\xbf\xbf", 4);
    /* truncated sequences */
    expect_invalid("\xc3", 1);
    expect_invalid("\xe2", 1);
    expect_invalid("\xe2\x82", 2);
    expect_invalid("\xf0", 1);
    expect_invalid("\xf0\x9f", 2);
    expect_invalid("\xf0\x9f\x98", 3);
    /* truncated: the continuation replaced by something else */
    expect_invalid("\xc3" "A", 2);
    expect_invalid("\xe2\x82" "A", 3);
    expect_invalid("\xf0\x9f\x98" "A", 4);
    expect_invalid("\xe2\xc3\xa9", 3);
    /* lone continuation bytes */
    for (unsigned c = 0x80; c <= 0xbf; c++) {
        char b[2] = {(char)c, 'a'};
        expect_invalid(b, 1);
        expect_invalid(b, 2);
    }
    /* bytes that never start a sequence */
    for (unsigned c = 0xf5; c <= 0xff; c++) {
        char b[4] = {(char)c, (char)0x80, (char)0x80, (char)0x80};
        expect_invalid(b, 1);
        expect_invalid(b, 4);
    }
    expect_invalid("\xc0", 1);
    expect_invalid("\xc1", 1);

    /* The length bound is honoured even when more bytes follow in memory. */
    const char *s = "\xe2\x82\xac";
    size_t i = 0;
    uint32_t cp;
    CHECK(_wv_utf8_next(s, 2, &i, &cp) == -1 && i == 0);
    i = 1; /* a continuation byte in the middle of a buffer */
    CHECK(_wv_utf8_next(s, 3, &i, &cp) == -1 && i == 1);
}

static void test_count(void) {
    size_t n = 99;
    CHECK(_wv_utf8_count("", 0, &n) == 0 && n == 0);
    CHECK(_wv_utf8_count(NULL, 0, &n) == 0 && n == 0);
    CHECK(_wv_utf8_count("hello", 5, &n) == 0 && n == 5);
    const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z"; /* 5 code points, 11 bytes */
    CHECK(_wv_utf8_count(s, 11, &n) == 0 && n == 5);
    CHECK(_wv_utf8_count(s, 10, &n) == 0 && n == 4);
    CHECK(_wv_utf8_count(s, 9, &n) == -1);  /* cut inside the emoji */
    CHECK(_wv_utf8_count(s, 2, &n) == -1);  /* cut inside é */
    CHECK(_wv_utf8_count(s, 1, &n) == 0 && n == 1);
    CHECK(_wv_utf8_count("a\0b", 3, &n) == 0 && n == 3); /* NUL is a code point */
    CHECK(_wv_utf8_count("ab\xed\xa0\x80" "cd", 7, &n) == -1);
    CHECK(_wv_utf8_count("abc\x80", 4, &n) == -1);
    CHECK(_wv_utf8_count("abc\xff" "def", 7, &n) == -1);

    /* Random valid strings: count equals the number of code points encoded;
     * a random single-byte corruption agrees with the oracle walk. */
    for (int iter = 0; iter < 2000; iter++) {
        unsigned char buf[4 * 40];
        size_t len = 0, k = rng_below(40);
        for (size_t j = 0; j < k; j++) {
            uint32_t cp;
            switch (rng_below(4)) {
            case 0: cp = (uint32_t)rng_below(0x80); break;
            case 1: cp = 0x80 + (uint32_t)rng_below(0x800 - 0x80); break;
            case 2: cp = 0x800 + (uint32_t)rng_below(0x10000 - 0x800); break;
            default: cp = 0x10000 + (uint32_t)rng_below(0x110000 - 0x10000); break;
            }
            if (!is_scalar(cp)) cp = 0xfffd;
            len += ref_encode(cp, buf + len);
        }
        char *p = malloc(len ? len : 1);
        REQUIRE(p);
        memcpy(p, buf, len);
        CHECK(_wv_utf8_count(p, len, &n) == 0 && n == k);
        if (len) {
            p[rng_below(len)] = (char)rng_below(256);
            /* oracle walk over the corrupted bytes */
            size_t i = 0, want = 0;
            int valid = 1;
            while (i < len) {
                uint32_t cp;
                size_t m = oracle((const unsigned char *)p + i, len - i, &cp);
                if (!m) {
                    valid = 0;
                    break;
                }
                i += m, want++;
            }
            int rc = _wv_utf8_count(p, len, &n);
            CHECK(rc == (valid ? 0 : -1));
            if (valid) CHECK(n == want);
        }
        free(p);
    }
}

static void test_round_trip(void) {
    size_t bad = 0;
    for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
        if (cp >= 0xd800 && cp <= 0xdfff) continue;
        char out[4];
        unsigned char ref[4];
        size_t n = _wv_utf8_put(cp, out), rn = ref_encode(cp, ref);
        uint32_t back = 0;
        size_t i = 0;
        int rc = _wv_utf8_next(out, n, &i, &back);
        if (n != rn || memcmp(out, ref, n) || rc != 0 || i != n || back != cp) {
            if (bad++ < 5) fprintf(stderr, "  round trip fails at U+%04X\n", (unsigned)cp);
        }
    }
    CHECK(bad == 0);
}

/* Every 1- and 2-byte input, every 3-byte input with a multi-byte lead, and
 * random 4-byte inputs, against the oracle. */
static void test_exhaustive(void) {
    unsigned char b[4];
    int ok = 1;
    for (unsigned x = 0; x < 256 && ok; x++) {
        b[0] = (unsigned char)x;
        ok = agrees(b, 1);
        for (unsigned y = 0; y < 256 && ok; y++) {
            b[1] = (unsigned char)y;
            ok = agrees(b, 2);
        }
    }
    /* 3-byte inputs: decode in place (no per-input heap copy) for speed;
     * the length bound is exercised by the exact-size cases above. */
    for (unsigned x = 0xc0; x < 0x100 && ok; x++)
        for (unsigned y = 0; y < 256 && ok; y++)
            for (unsigned z = 0; z < 256 && ok; z++) {
                b[0] = (unsigned char)x, b[1] = (unsigned char)y, b[2] = (unsigned char)z;
                uint32_t want = 0, got = 0;
                size_t n = oracle(b, 3, &want), i = 0;
                int rc = _wv_utf8_next((const char *)b, 3, &i, &got);
                if (n ? rc != 0 || i != n || got != want : rc != -1 || i != 0) ok = agrees(b, 3);
            }
    CHECK(ok);
    for (int iter = 0; iter < 200000 && ok; iter++) {
        b[0] = (unsigned char)(0xf0 + rng_below(16));
        for (int k = 1; k < 4; k++)
            b[k] = (unsigned char)(rng_below(4) ? 0x80 + rng_below(64) : rng_below(256));
        ok = agrees(b, 4);
    }
}

int main(void) {
    test_init();
    test_valid();
    test_invalid();
    test_count();
    test_round_trip();
    test_exhaustive();
    return test_done("utf8");
}

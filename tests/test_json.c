/* test_json.c — the strict JSON reader and the escaping writer of
 * tools/json.c (weave serve's request bodies and replies): every deviation
 * from RFC 8259 in the subset it reads is refused, and random code point
 * strings survive writing and reading back. */
#include "../tools/json.h"
#include "test.h"
#include "utf8.h"

static json_in in_of(const char *s) { return (json_in){s, s + strlen(s), 1}; }

/* Reads one string from s; returns 0 and the decoded bytes in out, or -1. */
static int str(const char *s, strbuf *out, size_t max) {
    json_in in = in_of(s);
    return json_string(&in, out, max) || json_end(&in) ? -1 : 0;
}

static int num(const char *s, uint64_t max, uint64_t *v) {
    json_in in = in_of(s);
    return json_uint(&in, max, v) || json_end(&in) ? -1 : 0;
}

static void strings(void) {
    strbuf b = {0};
    CHECK(str("\"\"", &b, 10) == 0 && b.len == 0);
    CHECK(str("\"a\\\"b\\\\c\\/d\\n\\t\\r\\b\\f\"", &b, 64) == 0 && !strcmp(b.s, "a\"b\\c/d\n\t\r\b\f"));
    CHECK(str("\"\\u00e9\\u20AC\"", &b, 64) == 0 && !strcmp(b.s, "\xc3\xa9\xe2\x82\xac"));
    CHECK(str("\"\\ud83d\\ude00\"", &b, 64) == 0 && !strcmp(b.s, "\xf0\x9f\x98\x80")); /* a pair */
    CHECK(str("\"\xf0\x9f\x98\x80 caf\xc3\xa9\"", &b, 64) == 0 && b.len == 10);
    CHECK(str("\"\\ud83d\"", &b, 64) < 0);          /* lone high surrogate */
    CHECK(str("\"\\ude00\"", &b, 64) < 0);          /* lone low surrogate */
    CHECK(str("\"\\ud83d\\u0041\"", &b, 64) < 0);   /* high then not low */
    CHECK(str("\"\\u12\"", &b, 64) < 0);            /* short escape */
    CHECK(str("\"\\u12g4\"", &b, 64) < 0);
    CHECK(str("\"\\x41\"", &b, 64) < 0);            /* unknown escape */
    CHECK(str("\"a\tb\"", &b, 64) < 0);             /* raw control */
    CHECK(str("\"caf\xe9\"", &b, 64) < 0);          /* Latin-1 */
    CHECK(str("\"\xed\xa0\x80\"", &b, 64) < 0);     /* encoded surrogate */
    CHECK(str("\"\xc0\xaf\"", &b, 64) < 0);         /* overlong */
    CHECK(str("\"\xf4\x90\x80\x80\"", &b, 64) < 0); /* above U+10FFFF */
    CHECK(str("\"abc", &b, 64) < 0);                /* unterminated */
    CHECK(str("\"abc\\", &b, 64) < 0);
    CHECK(str("'abc'", &b, 64) < 0);
    CHECK(str("\"abcd\"", &b, 4) == 0);
    CHECK(str("\"abcde\"", &b, 4) < 0); /* over max */
    CHECK(str("\"\xc3\xa9\xc3\xa9\xc3\xa9\"", &b, 5) < 0);
    sb_free(&b);
}

static void numbers(void) {
    uint64_t v = 7;
    CHECK(num("0", 10, &v) == 0 && v == 0);
    CHECK(num(" 42 ", 100, &v) == 0 && v == 42);
    CHECK(num("18446744073709551615", UINT64_MAX, &v) == 0 && v == UINT64_MAX);
    CHECK(num("18446744073709551616", UINT64_MAX, &v) < 0);
    CHECK(num("101", 100, &v) < 0);
    CHECK(num("100", 100, &v) == 0 && v == 100);
    CHECK(num("01", 100, &v) < 0);
    CHECK(num("-1", 100, &v) < 0);
    CHECK(num("+1", 100, &v) < 0);
    CHECK(num("1.0", 100, &v) < 0);
    CHECK(num("1e2", 1000, &v) < 0);
    CHECK(num("1E2", 1000, &v) < 0);
    CHECK(num("", 100, &v) < 0);
    CHECK(num("\"1\"", 100, &v) < 0);
    CHECK(num("0x10", 100, &v) < 0);
}

static void objects(void) {
    strbuf k = {0}, s = {0};
    uint64_t v, pair[2];
    int b;
    json_in in = in_of(" { \"a\" : true , \"b\":[1, 2], \"c\":\"x\", \"d\":false } ");
    REQUIRE(json_object(&in) == 0);
    CHECK(json_key(&in, &k) == 1 && !strcmp(k.s, "a") && json_bool(&in, &b) == 0 && b == 1);
    CHECK(json_key(&in, &k) == 1 && !strcmp(k.s, "b") && json_uints(&in, 2, 10, pair) == 0 && pair[0] == 1 &&
          pair[1] == 2);
    CHECK(json_key(&in, &k) == 1 && !strcmp(k.s, "c") && json_string(&in, &s, 8) == 0 && !strcmp(s.s, "x"));
    CHECK(json_key(&in, &k) == 1 && !strcmp(k.s, "d") && json_bool(&in, &b) == 0 && b == 0);
    CHECK(json_key(&in, &k) == 0 && json_end(&in) == 0);

    in = in_of("{}");
    CHECK(json_object(&in) == 0 && json_key(&in, &k) == 0 && json_end(&in) == 0);
    in = in_of("{} x");
    CHECK(json_object(&in) == 0 && json_key(&in, &k) == 0 && json_end(&in) < 0);
    in = in_of("{\"a\":1,}"); /* trailing comma */
    CHECK(json_object(&in) == 0 && json_key(&in, &k) == 1 && json_uint(&in, 9, &v) == 0 && json_key(&in, &k) < 0);
    in = in_of("{\"a\" 1}");
    CHECK(json_object(&in) == 0 && json_key(&in, &k) < 0);
    in = in_of("{\"a\":1 \"b\":2}");
    CHECK(json_object(&in) == 0 && json_key(&in, &k) == 1 && json_uint(&in, 9, &v) == 0 && json_key(&in, &k) < 0);
    in = in_of("[1,2]");
    CHECK(json_object(&in) < 0);
    in = in_of("{a:1}");
    CHECK(json_object(&in) == 0 && json_key(&in, &k) < 0);
    in = in_of("[1]");
    CHECK(json_uints(&in, 2, 9, pair) < 0);
    in = in_of("[1,2,3]");
    CHECK(json_uints(&in, 2, 9, pair) < 0);
    in = in_of("[1,20]");
    CHECK(json_uints(&in, 2, 9, pair) < 0);
    in = in_of("tru");
    CHECK(json_bool(&in, &b) < 0);
    in = in_of("null");
    CHECK(json_bool(&in, &b) < 0);
    sb_free(&k);
    sb_free(&s);
}

/* Random code point strings, controls and astral planes included, written
 * by json_cps and json_str and read back by json_string, unchanged. */
static void round_trip(void) {
    strbuf w = {0}, r = {0}, u = {0};
    uint32_t cps[64];
    for (int t = 0; t < 2000; t++) {
        size_t n = rng_below(64);
        u.len = 0;
        sb_put(&u, "", 0);
        for (size_t i = 0; i < n; i++) {
            uint32_t cp;
            do cp = rng_below(4) == 0 ? (uint32_t)rng_below(0x80) : (uint32_t)rng_below(0x110000);
            while (cp >= 0xd800 && cp <= 0xdfff);
            char e[4];
            cps[i] = cp;
            sb_put(&u, e, _wv_utf8_put(cp, e));
        }
        w.len = 0;
        json_cps(&w, cps, n);
        CHECK(str(w.s, &r, 1024) == 0 && r.len == u.len && !memcmp(r.s, u.s, u.len));
        w.len = 0;
        json_str(&w, u.s, u.len);
        CHECK(str(w.s, &r, 1024) == 0 && r.len == u.len && !memcmp(r.s, u.s, u.len));
        for (size_t i = 0; i < w.len; i++) CHECK((unsigned char)w.s[i] >= 0x20);
    }
    w.len = 0;
    cps[0] = 0xd800, cps[1] = 0x110000;
    json_cps(&w, cps, 2); /* not scalar values: U+FFFD each */
    CHECK(!strcmp(w.s, "\"\xef\xbf\xbd\xef\xbf\xbd\""));
    sb_free(&w);
    sb_free(&r);
    sb_free(&u);
}

int main(void) {
    test_init();
    strings();
    numbers();
    objects();
    round_trip();
    return test_done("json");
}

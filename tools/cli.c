/* cli.c — helpers shared by the weave program's subcommands (see cli.h). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "utf8.h"

static void out_of_memory(void) {
    fputs("weave: out of memory\n", stderr);
    exit(3);
}

static void sb_reserve(strbuf *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) out_of_memory();
    b->s = s, b->cap = cap;
}

void sb_put(strbuf *b, const char *s, size_t n) {
    sb_reserve(b, n);
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void sb_printf(strbuf *b, const char *fmt, ...) {
    va_list ap;
    char probe[1];
    va_start(ap, fmt);
    int n = vsnprintf(probe, sizeof probe, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    sb_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void sb_free(strbuf *b) {
    free(b->s);
    memset(b, 0, sizeof *b);
}

char *cli_text(const wv_doc *doc, size_t *len) {
    size_t n = wv_text_read(doc, NULL, 0);
    char *s = cli_xmalloc(n + 1);
    wv_text_read(doc, s, n + 1);
    if (len) *len = n;
    return s;
}

void cli_atom_token(const wv_atom_info *a, strbuf *out) {
    static const char *const names[] = {
        [WV_KIND_DELETE] = "#", [WV_KIND_STR] = "str", [WV_KIND_LIST] = "[]", [WV_KIND_MAP] = "{}",
        [WV_KIND_SET] = "set", [WV_KIND_COUNTER] = "ctr", [WV_KIND_NULL] = "null", [WV_KIND_BOOL] = "false",
        [WV_KIND_INT] = "int", [WV_KIND_FLOAT] = "float", [WV_KIND_STRING] = "string",
        [WV_KIND_ELEM] = "elem", [WV_KIND_ENTRY] = "entry", [WV_KIND_MARK] = "mark", [WV_KIND_INC] = "inc",
    };
    if (a->kind == WV_KIND_DATA) {
        uint32_t n = 3;
        while (n > 0 && !((a->value >> (8 * (n - 1))) & 0xff)) n--;
        sb_put(out, "'", 1);
        for (uint32_t i = 0; i < n; i++) {
            char c = (char)((a->value >> (8 * i)) & 0xff);
            if (c > 0x20 && c < 0x7f && c != '\'' && c != '\\' && c != '#') sb_put(out, &c, 1);
            else sb_printf(out, "\\x%02x", (unsigned char)c);
        }
        sb_put(out, "'", 1);
    } else if (a->kind == WV_KIND_SET && a->value == 1) {
        sb_put(out, "set-rw", 6);
    } else if (a->kind == WV_KIND_BOOL && a->value == 1) {
        sb_put(out, "true", 4);
    } else if ((size_t)a->kind < sizeof names / sizeof *names && names[a->kind]) {
        sb_put(out, names[a->kind], strlen(names[a->kind]));
    } else {
        sb_printf(out, "kind%u", (unsigned)a->kind);
    }
}

void cli_weave_line(const wv_doc *doc, strbuf *out) {
    wv_iter it;
    wv_atom_info a;
    char c[4];
    wv_iter_begin(&it, doc);
    while (wv_iter_next(&it, &a) == 1) {
        if (a.kind == WV_KIND_ROOT) continue;
        if (out->len) sb_put(out, " ", 1);
        sb_printf(out, "[%llu|", (unsigned long long)a.site);
        if (a.kind != WV_KIND_CHAR) cli_atom_token(&a, out);
        else if (a.value == '\n') sb_put(out, "\\n", 2); /* control chars escaped: one line */
        else if (a.value == '\t') sb_put(out, "\\t", 2);
        else if (a.value < 0x20 || a.value == 0x7f) sb_printf(out, "\\x%02x", a.value);
        else sb_put(out, c, _wv_utf8_put(a.value, c));
        sb_printf(out, " %u]", a.clock);
    }
    if (!out->s) sb_put(out, "", 0);
}

double cli_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void *cli_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) out_of_memory();
    return p;
}

uint64_t cli_rng(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* value.c — the VALUE syntax of the command-line program (shared by
 * `weave script` and the document-file commands) and structure reads by
 * path: a value as JSON, a map key's conflicting values.
 *
 * VALUE (the whole argument; blanks around it allowed):
 *   null  true  false              scalars
 *   42  -7  1.5  2e3               JSON numbers: without '.' or exponent an
 *                                  INT (int64), with one a FLOAT (finite)
 *   "text"                         a STRING scalar (immutable), JSON escapes
 *   {}  []                         a new, empty map / list
 *   str:"text"                     a new str (collaborative text) holding text
 *   set{}  set-rw{}                a new set, add-wins / remove-wins
 *   counter                        a new counter (total 0)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "utf8.h"

const char cli_value_syntax[] =
    "null, true, false, a JSON number, a \"JSON string\", {}, [], str:\"TEXT\", set{}, set-rw{} or counter";

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int hex4(const char *s, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return 0;
}

/* A JSON string at *p (at its opening quote), decoded into b (appended);
 * *p moves past the closing quote. Returns NULL or why it is malformed. */
static const char *json_string(const char **p, strbuf *b) {
    const char *s = *p + 1;
    sb_put(b, "", 0);
    for (;;) {
        unsigned char c = (unsigned char)*s;
        if (!c) return "unterminated string";
        if (c < 0x20) return "control character in a string (escape it: \\t, \\n, \\u0001, ...)";
        if (c == '"') break;
        if (c != '\\') {
            const char *run = s;
            while (*s && *s != '"' && *s != '\\' && (unsigned char)*s >= 0x20) s++;
            sb_put(b, run, (size_t)(s - run));
            continue;
        }
        char e = s[1], one = 0;
        s += 2;
        switch (e) {
        case '"': one = '"'; break;
        case '\\': one = '\\'; break;
        case '/': one = '/'; break;
        case 'b': one = '\b'; break;
        case 'f': one = '\f'; break;
        case 'n': one = '\n'; break;
        case 'r': one = '\r'; break;
        case 't': one = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            if (hex4(s, &cp)) return "bad \\u escape";
            s += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff) return "lone low surrogate in \\u escape";
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (s[0] != '\\' || s[1] != 'u' || hex4(s + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
                    return "high surrogate without its low half in \\u escape";
                s += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            char u[4];
            sb_put(b, u, _wv_utf8_put(cp, u));
            continue;
        }
        default: return "bad escape in a string";
        }
        sb_put(b, &one, 1);
    }
    *p = s + 1;
    size_t n;
    if (_wv_utf8_count(b->s, b->len, &n)) return "string is not valid UTF-8";
    return NULL;
}

/* A JSON number filling all of s. */
static const char *json_number(const char *s, wv_value *out) {
    const char *p = s;
    int real = 0;
    if (*p == '-') p++;
    if (*p == '0') p++;
    else if (is_digit(*p)) while (is_digit(*p)) p++;
    else return "not a value";
    if (*p == '.') {
        real = 1, p++;
        if (!is_digit(*p)) return "malformed number";
        while (is_digit(*p)) p++;
    }
    if (*p == 'e' || *p == 'E') {
        real = 1, p++;
        if (*p == '+' || *p == '-') p++;
        if (!is_digit(*p)) return "malformed number";
        while (is_digit(*p)) p++;
    }
    if (*p) return "malformed number";
    char *end;
    errno = 0;
    if (!real) {
        long long v = strtoll(s, &end, 10);
        if (errno == ERANGE) return "integer out of the int64 range (write it as a float: add .0)";
        *out = wv_int((int64_t)v);
        return NULL;
    }
    double x = strtod(s, &end);
    if (errno == ERANGE && (x > 1 || x < -1)) return "number too large for a float";
    *out = wv_float(x);
    return NULL;
}

/* The value v (trimmed, NUL-terminated) names. Returns NULL or why not. */
static const char *parse_trimmed(const char *v, wv_value *out, strbuf *store) {
    static const struct { const char *word; wv_value (*make)(void); } words[] = {
        {"null", wv_null}, {"{}", wv_new_map}, {"[]", wv_new_list}, {"counter", wv_new_counter},
    };
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (!strcmp(v, words[i].word)) return *out = words[i].make(), NULL;
    if (!*v) return "empty value";
    if (!strcmp(v, "true") || !strcmp(v, "false")) return *out = wv_bool(v[0] == 't'), NULL;
    if (!strcmp(v, "set{}") || !strcmp(v, "set-rw{}")) return *out = wv_new_set(v[3] == '-'), NULL;
    if (v[0] != '"' && strncmp(v, "str:\"", 5)) return json_number(v, out);
    const char *p = v[0] == '"' ? v : v + 4, *why;
    store->len = 0;
    if ((why = json_string(&p, store))) return why;
    if (*p) return "text after the closing quote";
    *out = v[0] == '"' ? wv_string(store->s, store->len) : wv_new_str(store->s, store->len);
    return NULL;
}

int cli_value_parse(const char *text, wv_value *out, strbuf *store, const char **why) {
    const char *s = text, *e;
    while (*s == ' ' || *s == '\t') s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
    char *v = cli_xmalloc((size_t)(e - s) + 1);
    memcpy(v, s, (size_t)(e - s));
    v[e - s] = 0;
    *why = parse_trimmed(v, out, store);
    free(v);
    return *why ? -1 : 0;
}

int cli_json(const wv_doc *doc, const char *path, strbuf *out) {
    wv_value v;
    wv_ref ref = {0, 0};
    size_t len;
    int rc = path ? wv_path_get(doc, path, &v) : WV_OK;
    if (rc) return rc;
    if (path) ref = v.ref;
    if ((rc = wv_json(doc, ref, NULL, 0, &len))) return rc;
    char *s = cli_xmalloc(len + 1);
    if (!(rc = wv_json(doc, ref, s, len + 1, &len))) sb_put(out, s, len);
    free(s);
    return rc;
}

int cli_conflicts(const wv_doc *doc, const char *path, strbuf *out) {
    /* As wv_path_get reads it: one leading '/' dropped, then components
     * split on '/', an empty last one ignored. */
    const char *r = path[0] == '/' ? path + 1 : path;
    size_t n = strlen(r);
    if (!n) return WV_E_ARG; /* the root: no key */
    if (r[n - 1] == '/') n--;
    size_t k = n;
    while (k > 0 && r[k - 1] != '/') k--;
    /* r[0..k-1) is the map's path, r[k..n) the key, escaped */
    char *parent = cli_xmalloc(k + 1), *key = cli_xmalloc(n - k + 1);
    memcpy(parent, r, k ? k - 1 : 0);
    parent[k ? k - 1 : 0] = 0;
    size_t m = 0;
    int rc = WV_OK;
    for (size_t i = k; i < n && !rc; i++) {
        char c = r[i];
        if (c == '~') {
            if (i + 1 == n || (r[i + 1] != '0' && r[i + 1] != '1')) rc = WV_E_ARG;
            else c = r[++i] == '0' ? '~' : '/';
        }
        key[m++] = c;
    }
    key[m] = 0;
    wv_value map, *all = NULL;
    size_t count = 0;
    if (!rc) rc = wv_path_get(doc, parent, &map);
    if (!rc && map.type != WV_T_MAP) rc = WV_E_TYPE;
    if (!rc) rc = wv_map_conflicts(doc, map.ref, key, NULL, 0, &count);
    if (!rc && count) all = cli_xmalloc(count * sizeof *all);
    if (!rc) rc = wv_map_conflicts(doc, map.ref, key, all, count, &count);
    if (!rc && count == 0) rc = WV_E_NOTFOUND;
    strbuf tmp = {0};
    sb_put(&tmp, "[", 1);
    for (size_t i = 0; !rc && i < count; i++) {
        size_t len;
        if (i) sb_put(&tmp, ",", 1);
        if (!(rc = wv_json(doc, all[i].ref, NULL, 0, &len))) {
            char *s = cli_xmalloc(len + 1);
            if (!(rc = wv_json(doc, all[i].ref, s, len + 1, &len))) sb_put(&tmp, s, len);
            free(s);
        }
    }
    sb_put(&tmp, "]", 1);
    if (!rc) sb_put(out, tmp.s, tmp.len);
    sb_free(&tmp);
    free(all);
    free(parent);
    free(key);
    return rc;
}

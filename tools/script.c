/* script.c — `weave script FILE`: runs a scenario, one command per line.
 *
 *   site NAME [ID]          fork SRC NEW [ID]       merge DST SRC
 *   NAME ins POS TEXT       NAME del POS [N]
 *   text NAME               weave NAME
 *   expect NAME TEXT        expect-weave NAME LINE
 * Structures (the root map beside the root text; README "Structures"):
 *   NAME set PATH VALUE             NAME unset PATH
 *   NAME list-ins PATH POS VALUE    NAME list-del PATH POS [N]
 *   NAME str-ins PATH POS TEXT      NAME str-del PATH POS [N]
 *   NAME set-add PATH VALUE         NAME set-rm PATH VALUE
 *   NAME incr PATH N
 *   json NAME [/PATH]               expect-json NAME [/PATH] JSON
 *   expect-conflicts NAME PATH JSON expect-atoms NAME N
 *
 * TEXT and LINE are the rest of the line (trailing blanks dropped), or one
 * "double-quoted" string with \n \t \" \\ escapes. A '#' at the start of a
 * line or after a blank starts a comment (outside quotes). A default ID is
 * the lowest above every id used so far.
 *
 * PATH is one word, JSON Pointer style from the root map: keys and list
 * indexes separated by '/', "~1" for '/' and "~0" for '~' in a key (a key
 * holding blanks or starting a comment cannot be named); a leading '/' is
 * optional except in json and expect-json, where an optional PATH starts
 * with '/' (a JSON text never does) and "/" alone is the root. set writes a
 * map key or replaces a list element ("-" or the length appends); unset
 * deletes either. The other edits name the container they change: a list,
 * str, set or counter. VALUE and JSON are the rest of the line (trailing
 * blanks and comments dropped; a '#' inside a JSON string is text). VALUE is
 * cli_value_parse's syntax (tools/cli.h): null true false 42 -7 1.5 "text"
 * (a STRING scalar) {} [] str:"text" set{} set-rw{} counter. N of incr may
 * be negative. expect-json compares wv_json's bytes exactly; expect-conflicts
 * compares the key's values, the winner first, as a JSON array
 * ([winner,other,...]); expect-atoms compares wv_doc_atoms (root included).
 *
 * Exit status: 0, 1 when an expect fails (expected and got are printed), 2
 * for a malformed line, unknown replica or rejected edit; every message
 * names FILE:LINE.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

typedef struct replica {
    char *name;
    wv_doc *doc;
} replica;

typedef struct script {
    const char *path;
    size_t line;
    replica *r;
    size_t n, cap;
    uint64_t max_id;
} script;

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int die(const script *sc, int status, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s:%zu: ", sc->path, sc->line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return status;
}

/* ---- lexing ---------------------------------------------------------------- */

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Next blank-separated word, or NULL at the end of the line or a comment. */
static char *word(char **p) {
    char *s = *p;
    while (is_blank(*s)) s++;
    if (!*s || *s == '#') return *p = s, NULL;
    char *w = s;
    while (*s && !is_blank(*s)) s++;
    if (*s) *s++ = 0;
    *p = s;
    return w;
}

/* The rest of the line as TEXT (see the file comment). Returns 0, or -1 for a
 * bad quoted string; *out points into the line, which is rewritten. */
static int rest(char **p, char **out) {
    char *s = *p;
    while (is_blank(*s)) s++;
    if (*s != '"') {
        char *e = s;
        while (*e && !(*e == '#' && (e == s || is_blank(e[-1])))) e++;
        while (e > s && is_blank(e[-1])) e--;
        *e = 0;
        *out = s;
        return 0;
    }
    char *w = ++s, *r = s;
    for (;; r++) {
        if (!*r) return -1;
        if (*r == '"') break;
        if (*r == '\\') {
            switch (*++r) {
            case 'n': *w++ = '\n'; break;
            case 't': *w++ = '\t'; break;
            case '"': *w++ = '"'; break;
            case '\\': *w++ = '\\'; break;
            default: return -1;
            }
        } else {
            *w++ = *r;
        }
    }
    char *after = r + 1;
    *w = 0;
    if (word(&after)) return -1; /* something after the closing quote */
    *out = s;
    return 0;
}

/* The rest of the line as VALUE or JSON: up to a comment ('#' at the start
 * or after a blank, outside JSON strings), trailing blanks dropped. */
static char *rest_raw(char **p) {
    char *s = *p, *e;
    int quoted = 0;
    while (is_blank(*s)) s++;
    for (e = s; *e; e++) {
        if (quoted && *e == '\\' && e[1]) e++;
        else if (*e == '"') quoted = !quoted;
        else if (!quoted && *e == '#' && (e == s || is_blank(e[-1]))) break;
    }
    while (e > s && is_blank(e[-1])) e--;
    *e = 0;
    *p = e;
    return s;
}

static int number(const char *w, uint64_t *out) {
    if (!w || !*w || *w == '-' || *w == '+') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(w, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

/* ---- replicas -------------------------------------------------------------- */

static replica *find(script *sc, const char *name) {
    for (size_t i = 0; i < sc->n; i++)
        if (!strcmp(sc->r[i].name, name)) return &sc->r[i];
    return NULL;
}

static void add(script *sc, const char *name, wv_doc *doc) {
    if (sc->n == sc->cap) {
        sc->cap = sc->cap ? 2 * sc->cap : 8;
        sc->r = realloc(sc->r, sc->cap * sizeof *sc->r);
        if (!sc->r) exit(3);
    }
    sc->r[sc->n].name = strdup(name);
    sc->r[sc->n++].doc = doc;
}

/* Site id from an optional word: the given one, or the next unused. */
static int site_id(script *sc, const char *w, uint64_t *id) {
    if (!w) *id = sc->max_id + 1;
    else if (number(w, id) || *id == 0) return -1;
    if (*id > sc->max_id) sc->max_id = *id;
    return 0;
}

/* ---- commands -------------------------------------------------------------- */

static int lib_error(const script *sc, int rc, const char *what) {
    return die(sc, 2, "%s: %s (%s)", what, wv_error_message(rc), wv_error_name(rc));
}

/* ---- structures --------------------------------------------------------------- */

static const char *const type_names[] = {"null", "bool", "int", "float", "string",
                                         "str", "list", "map", "set", "counter"};

/* The container of type t at path in a's replica. */
static int container(const script *sc, const replica *a, const char *op, const char *path, wv_type t,
                     wv_ref *out) {
    wv_value v;
    int rc = wv_path_get(a->doc, path, &v);
    if (rc) return die(sc, 2, "%s %s: %s (%s)", op, path, wv_error_message(rc), wv_error_name(rc));
    if (v.type != t)
        return die(sc, 2, "%s %s: '%s' holds a %s there, not a %s", op, path, a->name, type_names[v.type],
                   type_names[t]);
    *out = v.ref;
    return 0;
}

/* A VALUE from the rest of the line into *v (strings in store). */
static int value_arg(const script *sc, char **p, const char *usage, wv_value *v, strbuf *store) {
    const char *why, *text = rest_raw(p);
    if (!*text) return die(sc, 2, "usage: %s", usage);
    if (cli_value_parse(text, v, store, &why))
        return die(sc, 2, "bad VALUE '%s': %s (a VALUE is %s)", text, why, cli_value_syntax);
    return 0;
}

/* A signed decimal int64. */
static int signed_number(const char *w, int64_t *out) {
    if (!w || !*w || *w == '+') return -1;
    char *end;
    errno = 0;
    long long v = strtoll(w, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

/* The edit `NAME op ...` on a, or -1 when op is not a structure edit. */
static int run_struct(script *sc, replica *a, const char *op, char *p) {
    static const struct { const char *op, *usage; } ops[] = {
        {"set", "NAME set PATH VALUE"}, {"unset", "NAME unset PATH"},
        {"list-ins", "NAME list-ins PATH POS VALUE"}, {"list-del", "NAME list-del PATH POS [N]"},
        {"str-ins", "NAME str-ins PATH POS TEXT"}, {"str-del", "NAME str-del PATH POS [N]"},
        {"set-add", "NAME set-add PATH VALUE"}, {"set-rm", "NAME set-rm PATH VALUE"},
        {"incr", "NAME incr PATH N"},
    };
    size_t k = 0;
    while (k < sizeof ops / sizeof *ops && strcmp(ops[k].op, op)) k++;
    if (k == sizeof ops / sizeof *ops) return -1;
    const char *usage = ops[k].usage;
    char *path = word(&p), *w, *text;
    uint64_t pos = 0, n = 1;
    int64_t delta = 0;
    wv_value v;
    wv_ref ref = {0, 0};
    strbuf store = {0};
    int st = 0, rc = WV_OK;
    if (!path) return die(sc, 2, "usage: %s", usage);
    switch (k) {
    case 0: /* set */
        if (!(st = value_arg(sc, &p, usage, &v, &store))) rc = wv_path_set(a->doc, path, v, NULL);
        break;
    case 1: /* unset */
        if (word(&p)) st = die(sc, 2, "usage: %s", usage);
        else rc = wv_path_delete(a->doc, path);
        break;
    case 2: /* list-ins */
        if (number(word(&p), &pos)) st = die(sc, 2, "usage: %s", usage);
        if (!st) st = value_arg(sc, &p, usage, &v, &store);
        if (!st) st = container(sc, a, op, path, WV_T_LIST, &ref);
        if (!st) rc = wv_list_insert(a->doc, ref, (size_t)pos, v, NULL);
        break;
    case 3: case 5: /* list-del, str-del */
        if (number(word(&p), &pos) || ((w = word(&p)) && number(w, &n)) || word(&p))
            st = die(sc, 2, "usage: %s", usage);
        if (!st) st = container(sc, a, op, path, k == 3 ? WV_T_LIST : WV_T_STR, &ref);
        if (!st) rc = k == 3 ? wv_list_delete(a->doc, ref, (size_t)pos, (size_t)n)
                             : wv_str_delete(a->doc, ref, (size_t)pos, (size_t)n);
        break;
    case 4: /* str-ins */
        if (number(word(&p), &pos)) st = die(sc, 2, "usage: %s", usage);
        else if (rest(&p, &text)) st = die(sc, 2, "bad quoted string");
        if (!st) st = container(sc, a, op, path, WV_T_STR, &ref);
        if (!st) rc = wv_str_insert(a->doc, ref, (size_t)pos, text, strlen(text));
        break;
    case 6: case 7: /* set-add, set-rm */
        if (!(st = value_arg(sc, &p, usage, &v, &store))) st = container(sc, a, op, path, WV_T_SET, &ref);
        if (!st) rc = k == 6 ? wv_set_add(a->doc, ref, v) : wv_set_remove(a->doc, ref, v);
        break;
    default: /* incr */
        if (signed_number(word(&p), &delta) || word(&p)) st = die(sc, 2, "usage: %s", usage);
        if (!st) st = container(sc, a, op, path, WV_T_COUNTER, &ref);
        if (!st) rc = wv_counter_add(a->doc, ref, delta);
        break;
    }
    sb_free(&store);
    if (!st && rc) st = die(sc, 2, "%s %s: %s (%s)", op, path, wv_error_message(rc), wv_error_name(rc));
    return st;
}

/* json, expect-json, expect-conflicts, expect-atoms; name: the replica. */
static int run_read(script *sc, const char *cmd, const char *name, char *p) {
    replica *a = find(sc, name);
    if (!a) return die(sc, 2, "unknown replica '%s'", name);
    strbuf got = {0};
    const char *path = NULL, *want = NULL, *what = "json";
    int st = 0, rc = WV_OK;
    if (!strcmp(cmd, "expect-atoms")) {
        uint64_t n;
        char *w = word(&p);
        if (number(w, &n) || word(&p)) return die(sc, 2, "usage: expect-atoms NAME N");
        if (wv_doc_atoms(a->doc) == n) return 0;
        return die(sc, 1, "expect failed: '%s' holds %zu atoms, expected %llu", name, wv_doc_atoms(a->doc),
                   (unsigned long long)n);
    }
    if (!strcmp(cmd, "expect-conflicts")) {
        what = "conflicts";
        if (!(path = word(&p)) || !*(want = rest_raw(&p)))
            return die(sc, 2, "usage: expect-conflicts NAME PATH JSON");
        rc = cli_conflicts(a->doc, path, &got);
    } else {
        char *q = p;
        while (is_blank(*q)) q++;
        if (*q == '/') path = word(&p);
        if (cmd[0] == 'e' && !*(want = rest_raw(&p))) return die(sc, 2, "usage: expect-json NAME [/PATH] JSON");
        if (cmd[0] == 'j' && word(&p)) return die(sc, 2, "usage: json NAME [/PATH]");
        rc = cli_json(a->doc, path, &got);
    }
    if (rc) st = die(sc, 2, "%s %s: %s (%s)", what, path ? path : "/", wv_error_message(rc), wv_error_name(rc));
    else if (!want) printf("%s\n", got.s);
    else if (strcmp(got.s, want))
        st = die(sc, 1, "expect failed: %s of '%s' at %s is\n  %s\nexpected\n  %s", what, name,
                 path ? path : "/", got.s, want);
    sb_free(&got);
    return st;
}

static int run_line(script *sc, char *p) {
    char *w0 = word(&p), *w1, *w2, *w3, *text;
    uint64_t id, pos, n;
    replica *a, *b;
    wv_doc *doc;
    int rc;
    if (!w0) return 0;
    w1 = word(&p);
    if (!w1) return die(sc, 2, "'%s' needs arguments", w0);

    if (!strcmp(w0, "site")) {
        w2 = word(&p);
        if (word(&p)) return die(sc, 2, "usage: site NAME [ID]");
        if (find(sc, w1)) return die(sc, 2, "replica '%s' already exists", w1);
        if (site_id(sc, w2, &id)) return die(sc, 2, "bad site id '%s'", w2);
        for (size_t i = 0; i < sc->n; i++)
            if (wv_doc_site(sc->r[i].doc) == id) return die(sc, 2, "site id %llu is taken", (unsigned long long)id);
        if ((rc = wv_doc_new(&doc, id, NULL))) return lib_error(sc, rc, "site");
        add(sc, w1, doc);
        return 0;
    }
    if (!strcmp(w0, "fork")) {
        w2 = word(&p), w3 = word(&p);
        if (!w2 || word(&p)) return die(sc, 2, "usage: fork SRC NEW [ID]");
        if (!(a = find(sc, w1))) return die(sc, 2, "unknown replica '%s'", w1);
        if (find(sc, w2)) return die(sc, 2, "replica '%s' already exists", w2);
        if (site_id(sc, w3, &id)) return die(sc, 2, "bad site id '%s'", w3);
        for (size_t i = 0; i < sc->n; i++)
            if (wv_doc_site(sc->r[i].doc) == id) return die(sc, 2, "site id %llu is taken", (unsigned long long)id);
        if ((rc = wv_doc_fork(a->doc, id, &doc))) return lib_error(sc, rc, "fork");
        add(sc, w2, doc);
        return 0;
    }
    if (!strcmp(w0, "merge")) {
        w2 = word(&p);
        if (!w2 || word(&p)) return die(sc, 2, "usage: merge DST SRC");
        if (!(a = find(sc, w1))) return die(sc, 2, "unknown replica '%s'", w1);
        if (!(b = find(sc, w2))) return die(sc, 2, "unknown replica '%s'", w2);
        if ((rc = wv_merge(a->doc, b->doc))) return lib_error(sc, rc, "merge");
        return 0;
    }
    if (!strcmp(w0, "text") || !strcmp(w0, "weave")) {
        if (word(&p)) return die(sc, 2, "usage: %s NAME", w0);
        if (!(a = find(sc, w1))) return die(sc, 2, "unknown replica '%s'", w1);
        strbuf out = {0};
        if (w0[0] == 't') {
            char *t = cli_text(a->doc, NULL);
            sb_put(&out, t, strlen(t));
            free(t);
        } else {
            cli_weave_line(a->doc, &out);
        }
        printf("%s\n", out.s);
        sb_free(&out);
        return 0;
    }
    if (!strcmp(w0, "expect") || !strcmp(w0, "expect-weave")) {
        if (!(a = find(sc, w1))) return die(sc, 2, "unknown replica '%s'", w1);
        if (rest(&p, &text)) return die(sc, 2, "bad quoted string");
        strbuf got = {0};
        int weave = w0[6] == '-';
        if (weave) {
            cli_weave_line(a->doc, &got);
        } else {
            char *t = cli_text(a->doc, NULL);
            sb_put(&got, t, strlen(t));
            free(t);
        }
        int same = !strcmp(got.s, text);
        if (!same)
            die(sc, 1, "expect failed: %s of '%s' is\n  \"%s\"\nexpected\n  \"%s\"",
                weave ? "weave" : "text", w1, got.s, text);
        sb_free(&got);
        return same ? 0 : 1;
    }
    if (!strcmp(w0, "json") || !strcmp(w0, "expect-json") || !strcmp(w0, "expect-conflicts") ||
        !strcmp(w0, "expect-atoms"))
        return run_read(sc, w0, w1, p);
    /* NAME ins POS TEXT | NAME del POS [N] | structure edits */
    if (!(a = find(sc, w0))) return die(sc, 2, "unknown command or replica '%s'", w0);
    if ((rc = run_struct(sc, a, w1, p)) >= 0) return rc;
    if (!strcmp(w1, "ins")) {
        if (number(w2 = word(&p), &pos)) return die(sc, 2, "usage: NAME ins POS TEXT");
        if (rest(&p, &text)) return die(sc, 2, "bad quoted string");
        size_t len = wv_text_len(a->doc);
        if (pos > len)
            return die(sc, 2, "position %llu out of range: '%s' has %zu characters",
                       (unsigned long long)pos, w0, len);
        if ((rc = wv_text_insert(a->doc, (size_t)pos, text, strlen(text)))) return lib_error(sc, rc, "ins");
        return 0;
    }
    if (!strcmp(w1, "del")) {
        w3 = NULL;
        if (number(w2 = word(&p), &pos) || ((w3 = word(&p)) && number(w3, &n)) || word(&p))
            return die(sc, 2, "usage: NAME del POS [N]");
        if (!w3) n = 1;
        size_t len = wv_text_len(a->doc);
        if (pos > len || n > len - pos)
            return die(sc, 2, "range %llu+%llu out of range: '%s' has %zu characters",
                       (unsigned long long)pos, (unsigned long long)n, w0, len);
        if ((rc = wv_text_delete(a->doc, (size_t)pos, (size_t)n))) return lib_error(sc, rc, "del");
        return 0;
    }
    return die(sc, 2, "unknown command '%s %s'", w0, w1);
}

static int run(script *sc, FILE *f) {
    char *line = NULL;
    size_t cap = 0;
    int status = 0;
    while (!status && getline(&line, &cap, f) >= 0) {
        sc->line++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n') line[--len] = 0;
        status = run_line(sc, line);
    }
    free(line);
    return status;
}

int cli_script(int argc, char **argv) {
    if (argc != 1) {
        fputs("usage: weave script FILE   (FILE may be - for standard input)\n", stderr);
        return 2;
    }
    script sc = {.path = argv[0]};
    FILE *f = strcmp(argv[0], "-") ? fopen(argv[0], "r") : stdin;
    if (!f) {
        fprintf(stderr, "weave: cannot open %s: %s\n", argv[0], strerror(errno));
        return 2;
    }
    int status = run(&sc, f);
    if (f != stdin) fclose(f);
    for (size_t i = 0; i < sc.n; i++) {
        free(sc.r[i].name);
        wv_doc_free(sc.r[i].doc);
    }
    free(sc.r);
    return status;
}

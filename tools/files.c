/* files.c — subcommands on document files: a replica on disk is the bytes of
 * wv_encode with delta 0 (FORMAT.md), loaded with wv_decode.
 *
 *   new FILE --site ID [--force]    fork IN OUT --site ID [--force]
 *   edit FILE ins POS TEXT          edit FILE del POS [N]
 *   merge OUT IN...                 sync A B
 *   diff A B [--out DELTA]          apply FILE BYTES
 *   cat FILE    dump FILE    info FILE    dot FILE
 *   json FILE [PATH]                conflicts FILE PATH
 *   set FILE PATH VALUE             unset FILE PATH
 *
 * PATH and VALUE as in `weave script` (script.c, value.c): PATH from the
 * root map, JSON Pointer style (a leading '/' optional); VALUE one argument.
 * Options may come anywhere; "--" ends them (for TEXT starting with "--").
 * Every write is atomic: the bytes go to a temporary file in the target's
 * directory, which is then renamed over the target; on any failure the
 * temporary file is removed and the target is as it was. Exit status: 0, or
 * 2 with one line on stderr (usage, I/O, a library error, a position out of
 * range).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"
#include "utf8.h"

enum { OPT_SITE = 1, OPT_FORCE = 2, OPT_OUT = 4 };

typedef struct args {
    char **pos;       /* positional arguments */
    int npos;
    uint64_t site;    /* --site ID, 0 when absent */
    int force;        /* --force */
    const char *out;  /* --out FILE, NULL when absent */
} args;

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int fail(const char *fmt, ...) {
    va_list ap;
    fputs("weave: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

static int lib_fail(const char *path, const char *what, int rc) {
    return fail("%s: %s: %s (%s)", path, what, wv_error_message(rc), wv_error_name(rc));
}

/* ---- the read/write pair --------------------------------------------------- */

/* Reads all of path into b. Returns 0, or 2 after a message. */
static int read_bytes(const char *path, strbuf *b) {
    FILE *f = fopen(path, "rb");
    if (!f) return fail("%s: cannot open: %s", path, strerror(errno));
    char chunk[1 << 16];
    size_t k;
    sb_put(b, "", 0);
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) sb_put(b, chunk, k);
    int err = ferror(f) ? errno : 0;
    fclose(f);
    if (!err) return 0;
    sb_free(b);
    return fail("%s: cannot read: %s", path, strerror(err));
}

/* Writes len bytes to path atomically (see the file comment): a new file
 * gets mode 0666 less the umask, an existing one keeps its mode. Returns 0,
 * or 2 after a message. */
static int write_bytes(const char *path, const void *buf, size_t len) {
    const char *slash = strrchr(path, '/');
    strbuf tmp = {0};
    if (slash) sb_put(&tmp, path, (size_t)(slash - path) + 1);
    sb_printf(&tmp, ".%s.XXXXXX", slash ? slash + 1 : path);
    int fd = mkstemp(tmp.s);
    if (fd < 0) {
        int st = fail("%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        sb_free(&tmp);
        return st;
    }
    struct stat old;
    mode_t mode = umask(0);
    umask(mode);
    mode = stat(path, &old) == 0 && S_ISREG(old.st_mode) ? old.st_mode & 07777 : 0666 & ~mode;
    const char *what = NULL;
    int err = 0;
    for (size_t done = 0; done < len && !what;) {
        ssize_t k = write(fd, (const char *)buf + done, len - done);
        if (k > 0) done += (size_t)k;
        else if (k == 0 || errno != EINTR) what = "write", err = k ? errno : EIO;
    }
    if (!what && fchmod(fd, mode)) what = "set the mode of", err = errno;
    if (!what && fsync(fd)) what = "sync", err = errno;
    if (close(fd) && !what) what = "close", err = errno;
    if (!what && rename(tmp.s, path)) what = "replace", err = errno;
    if (what) unlink(tmp.s);
    sb_free(&tmp);
    return what ? fail("%s: cannot %s it: %s", path, what, strerror(err)) : 0;
}

/* ---- documents --------------------------------------------------------------- */

/* Loads the replica in path; *size (if not NULL) gets the file's size. */
static int load(const char *path, wv_doc **doc, size_t *size) {
    strbuf b = {0};
    int st = read_bytes(path, &b);
    if (st) return st;
    int rc = wv_decode(doc, b.s, b.len, NULL);
    if (size) *size = b.len;
    sb_free(&b);
    return rc ? lib_fail(path, "cannot load", rc) : 0;
}

/* Encodes doc (a document; with delta, the delta past since) into *out,
 * malloc'd, and sets *len. Returns 0, or 2 after a message naming path and
 * *out NULL. */
static int encode(const char *path, const wv_doc *doc, int delta, const wv_weft_entry *since,
                  size_t nsince, unsigned char **out, size_t *len) {
    void *p;
    int rc = wv_encode_alloc(doc, delta, since, nsince, NULL, &p, len);
    *out = p;
    return rc ? lib_fail(path, "encode", rc) : 0;
}

static int save(const char *path, const wv_doc *doc) {
    unsigned char *bytes;
    size_t len;
    int st = encode(path, doc, 0, NULL, 0, &bytes, &len);
    if (!st) st = write_bytes(path, bytes, len);
    free(bytes);
    return st;
}

/* Loads the replicas in the first two arguments (NULL-initialised). */
static int load2(const args *a, wv_doc **x, wv_doc **y) {
    int st = load(a->pos[0], x, NULL);
    return st ? st : load(a->pos[1], y, NULL);
}

/* The replica's weft, malloc'd; *n gets its length. */
static wv_weft_entry *weft_of(const wv_doc *doc, size_t *n) {
    *n = wv_doc_weft_all(doc, NULL, 0);
    wv_weft_entry *w = cli_xmalloc(*n * sizeof *w);
    wv_doc_weft_all(doc, w, *n);
    return w;
}

/* Refuses to replace an existing file unless forced. */
static int fresh_target(const char *path, int force) {
    struct stat st;
    if (!force && stat(path, &st) == 0) return fail("%s exists (--force replaces it)", path);
    return 0;
}

/* A decimal number without sign. Returns 0, or -1. */
static int number(const char *w, uint64_t *out) {
    if (!w[0] || w[0] == '-' || w[0] == '+') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(w, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

static int usage_error(const char *name);

/* ---- commands that write several files ------------------------------------- */

static int cmd_new(const args *a) {
    wv_doc *doc = NULL;
    int st = fresh_target(a->pos[0], a->force), rc;
    if (!st && (rc = wv_doc_new(&doc, a->site, NULL))) st = lib_fail(a->pos[0], "new", rc);
    if (!st) st = save(a->pos[0], doc);
    wv_doc_free(doc);
    return st;
}

static int cmd_fork(const args *a) {
    wv_doc *src = NULL, *doc = NULL;
    int st = fresh_target(a->pos[1], a->force), rc;
    if (!st) st = load(a->pos[0], &src, NULL);
    if (!st && (rc = wv_doc_fork(src, a->site, &doc))) st = lib_fail(a->pos[0], "fork", rc);
    /* src's clock ticked: record that first, so no fork exists whose
       origin's file missed the event. */
    if (!st) st = save(a->pos[0], src);
    if (!st) st = save(a->pos[1], doc);
    wv_doc_free(src);
    wv_doc_free(doc);
    return st;
}

static int cmd_merge(const args *a) {
    wv_doc *doc = NULL, *other = NULL;
    int st = load(a->pos[1], &doc, NULL), rc;
    for (int i = 2; !st && i < a->npos; i++) {
        if (!(st = load(a->pos[i], &other, NULL)) && (rc = wv_merge(doc, other)))
            st = lib_fail(a->pos[i], "merge", rc);
        wv_doc_free(other);
        other = NULL;
    }
    if (!st) st = save(a->pos[0], doc);
    wv_doc_free(doc);
    return st;
}

static int cmd_sync(const args *a) {
    wv_doc *x = NULL, *y = NULL;
    int st = load2(a, &x, &y), rc;
    if (!st && (rc = wv_merge(x, y))) st = lib_fail(a->pos[1], "merge", rc);
    if (!st && (rc = wv_merge(y, x))) st = lib_fail(a->pos[0], "merge", rc);
    if (!st) st = save(a->pos[0], x);
    if (!st) st = save(a->pos[1], y);
    wv_doc_free(x);
    wv_doc_free(y);
    return st;
}

static int cmd_diff(const args *a) {
    wv_doc *x = NULL, *y = NULL;
    wv_weft_entry *since = NULL;
    unsigned char *bytes = NULL;
    size_t nsince, count, len;
    int st = load2(a, &x, &y), rc;
    if (!st) since = weft_of(y, &nsince);
    if (!st && (rc = wv_delta(x, since, nsince, NULL, 0, &count))) st = lib_fail(a->pos[0], "delta", rc);
    if (!st) st = encode(a->pos[0], x, 1, since, nsince, &bytes, &len);
    if (!st && a->out) st = write_bytes(a->out, bytes, len);
    if (!st)
        printf("%zu atoms of %s that %s lacks: a delta of %zu bytes\n", count, a->pos[0], a->pos[1], len);
    free(bytes);
    free(since);
    wv_doc_free(x);
    wv_doc_free(y);
    return st;
}

/* ---- commands that change one file ---------------------------------------- */

static int change_edit(const args *a, wv_doc *doc) {
    const char *path = a->pos[0], *op = a->pos[1];
    int ins = !strcmp(op, "ins"), rc;
    uint64_t pos, n = 1, len = wv_text_len(doc);
    if ((!ins && strcmp(op, "del")) || (ins && a->npos != 4) || number(a->pos[2], &pos) ||
        (!ins && a->npos == 4 && number(a->pos[3], &n)))
        return usage_error("edit");
    if (pos > len || (!ins && n > len - pos))
        return ins ? fail("%s: position %llu out of range: the text has %llu characters", path,
                          (unsigned long long)pos, (unsigned long long)len)
                   : fail("%s: range %llu+%llu out of range: the text has %llu characters", path,
                          (unsigned long long)pos, (unsigned long long)n, (unsigned long long)len);
    rc = ins ? wv_text_insert(doc, (size_t)pos, a->pos[3], strlen(a->pos[3]))
             : wv_text_delete(doc, (size_t)pos, (size_t)n);
    return rc ? lib_fail(path, op, rc) : 0;
}

/* set FILE PATH VALUE | unset FILE PATH */
static int change_set(const args *a, wv_doc *doc) {
    const char *path = a->pos[0], *at = a->pos[1], *why;
    int set = a->npos == 3, rc;
    wv_value v;
    strbuf store = {0};
    if (set && cli_value_parse(a->pos[2], &v, &store, &why)) {
        sb_free(&store);
        return fail("%s: bad VALUE '%s': %s (a VALUE is %s)", path, a->pos[2], why, cli_value_syntax);
    }
    rc = set ? wv_path_set(doc, at, v, NULL) : wv_path_delete(doc, at);
    sb_free(&store);
    return rc ? fail("%s: %s %s: %s (%s)", path, set ? "set" : "unset", at, wv_error_message(rc),
                     wv_error_name(rc))
              : 0;
}

static int change_apply(const args *a, wv_doc *doc) {
    strbuf b = {0};
    int st = read_bytes(a->pos[1], &b), rc;
    if (st) return st;
    if ((rc = wv_apply_bytes(doc, b.s, b.len))) st = lib_fail(a->pos[1], "apply", rc);
    sb_free(&b);
    return st;
}

/* ---- commands that read one file ------------------------------------------- */

static void show_cat(const wv_doc *doc, size_t size) {
    size_t len;
    char *t = cli_text(doc, &len);
    (void)size;
    fwrite(t, 1, len, stdout);
    putchar('\n');
    free(t);
}

static void show_dump(const wv_doc *doc, size_t size) {
    strbuf line = {0};
    (void)size;
    cli_weave_line(doc, &line);
    printf("%s\n", line.s);
    sb_free(&line);
}

static void show_info(const wv_doc *doc, size_t size) {
    size_t n, atoms = wv_doc_atoms(doc), mem = wv_doc_bytes(doc);
    wv_weft_entry *w = weft_of(doc, &n);
    printf("site: %llu\nclock: %u\nsites: %zu\nweft:", (unsigned long long)wv_doc_site(doc),
           wv_doc_clock(doc), n);
    for (size_t i = 0; i < n; i++) printf(" %llu:%u", (unsigned long long)w[i].site, w[i].clock);
    printf("\natoms: %zu\nchars: %zu\nfile bytes: %zu\nmemory bytes: %zu\n", atoms, wv_text_len(doc), size,
           mem);
    printf("file bytes/atom: %.2f\nmemory bytes/atom: %.2f\n", (double)size / (double)atoms,
           (double)mem / (double)atoms);
    free(w);
}

/* json FILE [PATH] | conflicts FILE PATH: prints a JSON text and a newline. */
static int cmd_json(const args *a, int conflicts) {
    wv_doc *doc = NULL;
    strbuf out = {0};
    const char *at = a->npos > 1 ? a->pos[1] : NULL;
    int st = load(a->pos[0], &doc, NULL), rc;
    if (!st && (rc = conflicts ? cli_conflicts(doc, at, &out) : cli_json(doc, at, &out)))
        st = fail("%s: %s%s%s: %s (%s)", a->pos[0], conflicts ? "conflicts" : "json", at ? " " : "",
                  at ? at : "", wv_error_message(rc), wv_error_name(rc));
    if (!st) printf("%s\n", out.s);
    sb_free(&out);
    wv_doc_free(doc);
    return st;
}

static int cmd_json_value(const args *a) { return cmd_json(a, 0); }
static int cmd_conflicts(const args *a) { return cmd_json(a, 1); }

/* ---- dot ------------------------------------------------------------------- */

static const char *const palette[] = {"#a6cee3", "#b2df8a", "#fdbf6f", "#cab2d6",
                                      "#fb9a99", "#ffff99", "#8dd3c7", "#d9d9d9"};
#define NPALETTE (sizeof palette / sizeof *palette)

/* A site's colour: by its place in the weft. */
static const char *site_colour(const wv_weft_entry *w, size_t n, uint64_t site) {
    for (size_t i = 0; i < n; i++)
        if (w[i].site == site) return palette[i % NPALETTE];
    return "white";
}

/* A code point in an HTML-like label: escaped, blanks and controls as U+XXXX. */
static void html_char(strbuf *b, uint32_t cp) {
    char u[4];
    const char *esc = cp == '&'   ? "&amp;"
                      : cp == '<' ? "&lt;"
                      : cp == '>' ? "&gt;"
                      : cp == '"' ? "&quot;"
                                  : NULL;
    if (esc) sb_put(b, esc, strlen(esc));
    else if (cp <= 0x20 || (cp >= 0x7f && cp <= 0xa0)) sb_printf(b, "U+%04X", cp);
    else sb_put(b, u, _wv_utf8_put(cp, u));
}

static void dot_node(size_t i, const wv_atom_info *x, const char *colour) {
    strbuf l = {0};
    int del = x->kind == WV_KIND_DELETE, gone = !del && x->deleted; /* a deleted char, entry, element or mark */
    if (x->kind == WV_KIND_ROOT) sb_put(&l, "root", 4);
    else {
        sb_printf(&l, "%s%llu|", gone ? "<S>" : "", (unsigned long long)x->site);
        if (x->kind == WV_KIND_CHAR) {
            html_char(&l, x->value);
        } else { /* the weave line's token, escaped */
            strbuf t = {0};
            cli_atom_token(x, &t);
            for (size_t k = 0; k < t.len; k++)
                if (strchr("&<>\"", t.s[k])) html_char(&l, (unsigned char)t.s[k]);
                else sb_put(&l, &t.s[k], 1);
            sb_free(&t);
        }
        sb_printf(&l, " %u%s", x->clock, gone ? "</S>" : "");
    }
    printf("  a%zu [label=<%s<BR/><FONT POINT-SIZE=\"%d\" COLOR=\"gray35\">%zu</FONT>>, fillcolor=\"%s\"%s];\n",
           i, l.s, del ? 6 : 8, i, colour,
           del ? ", fontsize=8, height=0.15, margin=\"0.03,0.01\", style=filled"
           : gone ? ", fontcolor=gray30, style=\"rounded,filled,dashed\""
           : x->kind == WV_KIND_ROOT ? ", shape=ellipse" : "");
    sb_free(&l);
}

/* The causal tree, cause -> child, children left to right in weave order;
 * a dotted chain shows the weave order itself. */
static void show_dot(const wv_doc *doc, size_t size) {
    size_t n = wv_doc_atoms(doc), nw, depth = 0;
    wv_weft_entry *w = weft_of(doc, &nw);
    wv_atom_info *at = cli_xmalloc(n * sizeof *at);
    size_t *path = cli_xmalloc(n * sizeof *path);
    wv_iter it;
    strbuf text = {0};
    (void)size;
    wv_iter_begin(&it, doc);
    for (size_t i = 0; i < n && wv_iter_next(&it, &at[i]) == 1; i++) {}
    puts("digraph weave {\n"
         "  graph [ordering=out, nodesep=0.12, ranksep=0.3, fontname=\"Helvetica\", fontsize=10,\n"
         "         labelloc=b];\n"
         "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=11, height=0.3,\n"
         "        margin=\"0.05,0.02\", penwidth=0.6];\n"
         "  edge [arrowsize=0.5, color=gray30];");
    for (size_t i = 0; i < n; i++) {
        dot_node(i, &at[i], i ? site_colour(w, nw, at[i].site) : "white");
        if (at[i].kind == WV_KIND_CHAR && !at[i].deleted) html_char(&text, at[i].value);
    }
    for (size_t i = 0; i < n; i++) {
        /* The weave is the tree's pre-order walk: the cause is on the path. */
        while (depth > 1 && !(at[path[depth - 1]].site == at[i].cause_site &&
                              at[path[depth - 1]].clock == at[i].cause_clock))
            depth--;
        if (i) printf("  a%zu -> a%zu;\n", path[depth - 1], i);
        path[depth++] = i;
    }
    for (size_t i = 1; i < n; i++)
        printf("  a%zu -> a%zu [style=dotted, color=\"#c0392b\", constraint=false, arrowsize=0.4];\n",
               i - 1, i);
    printf("  label=<<TABLE BORDER=\"0\" CELLSPACING=\"3\"><TR><TD>site %llu, clock %u, text: %s</TD>",
           (unsigned long long)wv_doc_site(doc), wv_doc_clock(doc), text.s ? text.s : "");
    for (size_t i = 0; i < nw; i++)
        printf("<TD BGCOLOR=\"%s\">site %llu</TD>", palette[i % NPALETTE], (unsigned long long)w[i].site);
    puts("<TD>dotted: weave order</TD></TR></TABLE>>;\n}");
    sb_free(&text);
    free(path);
    free(at);
    free(w);
}

/* ---- the table and the entry point ----------------------------------------- */

typedef struct command {
    const char *name, *usage, *help;
    int min, max;          /* positional arguments; max -1: no limit */
    unsigned opts, needs;  /* options accepted, options required */
    int (*run)(const args *a);                  /* one of these three */
    int (*change)(const args *a, wv_doc *doc);  /* load FILE, change, save FILE */
    void (*show)(const wv_doc *doc, size_t file_bytes);
} command;

static const command commands[] = {
    {"new", "FILE --site ID [--force]", "an empty replica at site ID (never replaces FILE unless --force)",
     1, 1, OPT_SITE | OPT_FORCE, OPT_SITE, cmd_new, NULL, NULL},
    {"fork", "IN OUT --site ID [--force]",
     "OUT := IN forked to site ID; rewrites IN too (forking ticks its clock)",
     2, 2, OPT_SITE | OPT_FORCE, OPT_SITE, cmd_fork, NULL, NULL},
    {"edit", "FILE ins POS TEXT | del POS [N]",
     "insert TEXT (one argument) or delete N characters, as FILE's site",
     3, 4, 0, 0, NULL, change_edit, NULL},
    {"merge", "OUT IN...", "OUT := the merge of the INs, at the first IN's site",
     2, -1, 0, 0, cmd_merge, NULL, NULL},
    {"sync", "A B", "A := A merged with B, B := B merged with A", 2, 2, 0, 0, cmd_sync, NULL, NULL},
    {"diff", "A B [--out DELTA]", "count the atoms A holds that B lacks; --out writes them as delta bytes",
     2, 2, OPT_OUT, 0, cmd_diff, NULL, NULL},
    {"apply", "FILE BYTES", "integrate delta (or document) bytes into FILE",
     2, 2, 0, 0, NULL, change_apply, NULL},
    {"cat", "FILE", "print the text and a newline", 1, 1, 0, 0, NULL, NULL, show_cat},
    {"dump", "FILE", "print the weave as one line of [SITE|C CLOCK] tokens",
     1, 1, 0, 0, NULL, NULL, show_dump},
    {"info", "FILE", "site, clock, weft, atoms, characters, bytes (per atom too)",
     1, 1, 0, 0, NULL, NULL, show_info},
    {"dot", "FILE", "the causal tree as Graphviz DOT on standard output", 1, 1, 0, 0, NULL, NULL, show_dot},
    {"json", "FILE [PATH]", "print the structures (the root map), or the value at PATH, as JSON",
     1, 2, 0, 0, cmd_json_value, NULL, NULL},
    {"conflicts", "FILE PATH", "print every value of the map key at PATH, the winner first, as a JSON array",
     2, 2, 0, 0, cmd_conflicts, NULL, NULL},
    {"set", "FILE PATH VALUE", "write VALUE (one argument: null, 42, \"text\", {}, [], str:\"text\", ...) at PATH",
     3, 3, 0, 0, NULL, change_set, NULL},
    {"unset", "FILE PATH", "delete the map key or list element at PATH", 2, 2, 0, 0, NULL, change_set, NULL},
};
#define NCOMMANDS (sizeof commands / sizeof *commands)

static const command *find_command(const char *name) {
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i].name, name)) return &commands[i];
    return NULL;
}

static int usage_error(const char *name) {
    const command *c = find_command(name);
    fprintf(stderr, "usage: weave %s %s\n", c->name, c->usage);
    return 2;
}

/* Keeps the positional arguments at the front of argv and reads the options
 * c accepts. Returns 0, -1 for --help, or 2 after a message. */
static int parse(const command *c, int argc, char **argv, args *a) {
    int options = 1;
    unsigned seen = 0;
    *a = (args){argv, 0, 0, 0, NULL};
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];
        if (!options || strncmp(w, "--", 2)) {
            argv[a->npos++] = argv[i];
            continue;
        }
        if (!w[2]) {
            options = 0;
            continue;
        }
        if (!strcmp(w, "--help")) return -1;
        unsigned o = !strcmp(w, "--site")    ? OPT_SITE
                     : !strcmp(w, "--force") ? OPT_FORCE
                     : !strcmp(w, "--out")   ? OPT_OUT
                                             : 0;
        if (!(o & c->opts))
            return fail("%s: unknown option '%s' (usage: weave %s %s)", c->name, w, c->name, c->usage);
        if (o != OPT_FORCE && i + 1 == argc) return fail("%s: %s needs a value", c->name, w);
        if (o == OPT_FORCE) a->force = 1;
        else if (o == OPT_OUT) a->out = argv[++i];
        else if (number(argv[++i], &a->site) || !a->site)
            return fail("%s: bad site id '%s' (a number from 1 up)", c->name, argv[i]);
        seen |= o;
    }
    if ((seen & c->needs) != c->needs || a->npos < c->min || (c->max >= 0 && a->npos > c->max))
        return usage_error(c->name);
    return 0;
}

int cli_files_has(const char *name) { return find_command(name) != NULL; }

void cli_files_usage(FILE *f) {
    for (size_t i = 0; i < NCOMMANDS; i++) {
        strbuf l = {0};
        sb_printf(&l, "%s %s", commands[i].name, commands[i].usage);
        if (l.len <= 27) fprintf(f, "  %-29s%s\n", l.s, commands[i].help);
        else fprintf(f, "  %s\n%31s%s\n", l.s, "", commands[i].help);
        sb_free(&l);
    }
}

int cli_files(int argc, char **argv) {
    const command *c = find_command(argv[0]);
    args a;
    int st = parse(c, argc - 1, argv + 1, &a);
    if (st < 0) return printf("usage: weave %s %s\n%s\n", c->name, c->usage, c->help), 0;
    if (st) return st;
    if (c->run) st = c->run(&a);
    else {
        wv_doc *doc = NULL;
        size_t size;
        if (!(st = load(a.pos[0], &doc, &size))) {
            if (c->show) c->show(doc, size);
            else if (!(st = c->change(&a, doc))) st = save(a.pos[0], doc);
        }
        wv_doc_free(doc);
    }
    if (fflush(stdout) && !st) st = fail("standard output: %s", strerror(errno));
    return st;
}

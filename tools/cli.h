/* cli.h — helpers shared by the modules of the weave command-line program. */
#ifndef WV_CLI_H
#define WV_CLI_H

#include <stdio.h>
#include "weave.h"

/* A growable NUL-terminated byte string. Allocation failure aborts the tool
 * (this is a program, not the library). */
typedef struct strbuf {
    char *s;
    size_t len, cap;
} strbuf;

void sb_put(strbuf *b, const char *s, size_t n);
void sb_printf(strbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void sb_free(strbuf *b);

/* The replica's visible text, malloc'd and NUL-terminated. */
char *cli_text(const wv_doc *doc, size_t *len);
/* The weave as one line of tokens [SITE|T CLOCK], root omitted, separated by
 * single spaces. T is the char for a char (control chars written \n, \t or
 * \xHH so the line stays one line) and cli_atom_token's for other kinds. */
void cli_weave_line(const wv_doc *doc, strbuf *out);
/* Appends the token T of a non-char atom: '#' delete; {} map, [] list, str,
 * set, set-rw, ctr (counter); null, true, false, int, float, string (a STRING
 * scalar); entry, elem, mark, inc; a data atom as its bytes in single quotes,
 * trailing zero bytes dropped, bytes other than printable ASCII (and ' \ #)
 * as \xHH: 'tit' 'le'. Every token but '#' has two characters or more, so
 * none reads as a char. */
void cli_atom_token(const wv_atom_info *a, strbuf *out);
/* Milliseconds on a monotonic clock. */
double cli_now_ms(void);
/* malloc that exits with "weave: out of memory" (status 3) on failure. */
void *cli_xmalloc(size_t n);
/* splitmix64: the tools' seeded PRNG (state *s), and a draw below n. */
uint64_t cli_rng(uint64_t *s);
static inline size_t cli_rng_below(uint64_t *s, size_t n) { return n ? (size_t)(cli_rng(s) % n) : 0; }

/* VALUE arguments (value.c): `null true false`, JSON numbers (INT without
 * '.' or exponent, else FLOAT), a "JSON string" (a STRING scalar), `{}` `[]`
 * (new map, list), `str:"TEXT"` (new str), `set{}` `set-rw{}` (new set,
 * add-wins / remove-wins), `counter`. cli_value_parse reads all of text
 * (blanks around it allowed) into *out, whose string points into store
 * (valid until store changes). Returns 0, or -1 with *why set to a phrase. */
extern const char cli_value_syntax[]; /* the list above, for messages */
int cli_value_parse(const char *text, wv_value *out, strbuf *store, const char **why);
/* Appends wv_json of the value at path (NULL: the root map) to out.
 * Returns WV_OK or the library's error (out unchanged). */
int cli_json(const wv_doc *doc, const char *path, strbuf *out);
/* Appends every value of the map key that path names (wv_map_conflicts:
 * the winner first) as a JSON array. Returns WV_OK, WV_E_ARG (no key in
 * path, a bad ~ escape), WV_E_TYPE (the parent is not a map), WV_E_NOTFOUND
 * (no such map, or the key holds nothing); out unchanged on error. */
int cli_conflicts(const wv_doc *doc, const char *path, strbuf *out);

/* Subcommands; each returns the process exit status. */
int cli_script(int argc, char **argv);
int cli_replay(int argc, char **argv);
int cli_demo(int argc, char **argv);
int cli_fuzz(int argc, char **argv);
int cli_host(int argc, char **argv); /* hostdb.c: weave host ... */
int cli_serve(int argc, char **argv); /* serve.c: weave serve (in `weave` only, not weave_planted) */

/* Document files (files.c): new, fork, edit, merge, sync, diff, apply, cat,
 * dump, info, dot, json, conflicts, set, unset. cli_files takes argv[0] = the command's name, one that
 * cli_files_has accepts; cli_files_usage lists the commands. */
int cli_files_has(const char *name);
int cli_files(int argc, char **argv);
void cli_files_usage(FILE *f);

#endif /* WV_CLI_H */

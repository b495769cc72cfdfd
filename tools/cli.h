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
/* The weave as one line of tokens: [SITE|C CLOCK] for a char, [SITE|# CLOCK]
 * for a delete, root omitted, separated by single spaces. Control chars are
 * written \n, \t or \xHH so the line stays one line. */
void cli_weave_line(const wv_doc *doc, strbuf *out);
/* Milliseconds on a monotonic clock. */
double cli_now_ms(void);

/* Subcommands; each returns the process exit status. */
int cli_script(int argc, char **argv);
int cli_replay(int argc, char **argv);
int cli_demo(int argc, char **argv);
int cli_fuzz(int argc, char **argv);
int cli_host(int argc, char **argv); /* hostdb.c: weave host ... */
int cli_serve(int argc, char **argv); /* serve.c: weave serve (in `weave` only, not weave_planted) */

/* Document files (files.c): new, fork, edit, merge, sync, diff, apply, cat,
 * dump, info, dot. cli_files takes argv[0] = the command's name, one that
 * cli_files_has accepts; cli_files_usage lists the commands. */
int cli_files_has(const char *name);
int cli_files(int argc, char **argv);
void cli_files_usage(FILE *f);

#endif /* WV_CLI_H */

/* panel.h — the state behind `weave serve`: documents of the durable host,
 * each shown as site panels. A panel is one replica (its own global site),
 * a connected flag, its read position v in the host's log and the highest
 * clock of its own atoms already in the log. Connected panels sync through
 * the host (propose pending atoms under lock(v, 0), on WV_E_BUSY read and
 * integrate what they lack, retry); disconnected ones edit locally. Every
 * change to a panel is written, with its encoded replica, to a table of our
 * own (serve_panels) in the host's SQLite database in one transaction, so a
 * restart finds every panel as it was.
 *
 * Texts the client holds are "views": a token, the text's code points and
 * the id of each character. An edit names the view it was typed on, so the
 * server turns the client's new text into inserts and deletes relative to
 * those ids, whatever the replica merged meanwhile; a cursor is mapped the
 * same way (position -> id of the character before it -> that id's
 * position now).
 *
 * Included by tools/serve.c and tools/panel.c only. Not thread-safe: one
 * thread at a time (serve.c calls it from libmicrohttpd's one thread). */
#ifndef WV_PANEL_H
#define WV_PANEL_H

#include <stddef.h>
#include <stdint.h>
#include "cli.h"

typedef struct sv_state sv_state;

/* Opens (creating if needed) the host database at path, loads every
 * document's panels and makes sure document `doc` exists with at least two
 * panels. Returns 0, or -1 with a message in err. */
int sv_open(sv_state **out, const char *path, const char *doc, char *err, size_t cap);
/* Frees everything; NULL is a no-op. */
void sv_close(sv_state *s);

typedef enum sv_action { SV_EDIT, SV_CONNECT, SV_DISCONNECT, SV_MERGE, SV_FORK } sv_action;

/* One panel request, syntax already checked by the HTTP layer. */
typedef struct sv_request {
    const char *doc;      /* document name (NUL-terminated) */
    uint64_t site;        /* the panel's site */
    int has_text;         /* text/base given: the client's current text */
    const char *text;     /* valid UTF-8, text_len bytes */
    size_t text_len;
    uint64_t base;        /* token of the view the text was typed on */
    int has_sel;          /* sel given: selection in text, code points */
    uint64_t sel[2];
    const char *hash;     /* the weave view the client has (hex), or NULL */
} sv_request;

/* Runs the request: the client's text (if any) becomes edits at the panel's
 * site, then the action, then a sync if the panel is connected (SV_MERGE:
 * a sync whether connected or not), then the panel's row is saved if
 * anything changed. Writes the reply JSON ({x, panel[, created]}, or
 * {error}) to out, replacing what it held, and returns the HTTP status:
 *   200  done. A sync that could not finish (a locked database, a fork's
 *        atoms waiting for its parent's) is no error: the panel's status
 *        says why and the next sync retries;
 *   400  sel without text, or outside it; text not UTF-8;
 *   404  unknown document or site;
 *   409  base names no text the server keeps for this panel (the client
 *        reloads the panel);
 *   500  the library or SQLite failed midway: the replica may hold part of
 *        the edit, the database keeps the last saved state.
 * 400, 404 and 409 are decided before anything changes. */
int sv_request_run(sv_state *s, sv_action a, const sv_request *rq, strbuf *out);

/* Every panel of doc (NULL: the default document) as JSON into out,
 * replacing what it held; returns 200 or 404. */
int sv_state_json(sv_state *s, const char *doc, strbuf *out);

#endif /* WV_PANEL_H */

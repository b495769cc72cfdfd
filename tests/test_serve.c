/* test_serve.c — the panels behind `weave serve` (tools/panel.c), without
 * HTTP: seeded random clients type into random panels (one contiguous
 * change per request, as a keystroke, paste or undo makes), sometimes on
 * the text they sent rather than the reply, while panels go offline and
 * online, merge now and fork. Checked: an offline panel's reply is exactly
 * the text sent, with the selection unchanged; a stale base gets 409 and
 * changes nothing; at the end, every panel connected and synced holds the
 * same text and weave; closing and reopening the database restores every
 * panel; the host's database passes wvh_check. WV_SEED=N repeats a run. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../host/weave_host.h"
#include "../tools/json.h"
#include "../tools/panel.h"
#include "test.h"
#include "utf8.h"

#define MAX_SITES 24

typedef struct client {
    uint64_t site;
    uint64_t tok, sent; /* the reply's token, and the token of what we sent */
    strbuf text;        /* what the textarea holds, on `tok` */
    int connected;
} client;

static client clients[MAX_SITES];
static size_t nclients;

/* The value after "key": in json, from `from` on; NULL if absent. */
static const char *after(const char *json, const char *key) {
    char pat[32];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    return p ? p + strlen(pat) : NULL;
}

static uint64_t u64_of(const char *obj, const char *key) {
    const char *p = after(obj, key);
    return p ? strtoull(p, NULL, 10) : UINT64_MAX;
}

static void text_of(const char *obj, strbuf *out) {
    const char *p = after(obj, "text");
    json_in in = {p, p + strlen(p), 1};
    REQUIRE(p && json_string(&in, out, 1u << 20) == 0);
}

/* A panel object of a reply: fills the client of its site. */
static client *take(const char *obj) {
    uint64_t site = u64_of(obj, "site");
    size_t i;
    for (i = 0; i < nclients && clients[i].site != site; i++) {}
    if (i == nclients) {
        REQUIRE(nclients < MAX_SITES);
        memset(&clients[nclients], 0, sizeof *clients);
        clients[nclients++].site = site;
    }
    client *c = &clients[i];
    c->tok = u64_of(obj, "tok");
    c->sent = u64_of(obj, "sent");
    c->connected = strncmp(after(obj, "connected"), "true", 4) == 0;
    text_of(obj, &c->text);
    return c;
}

/* Code points of s. */
static uint32_t *cps_of(const strbuf *s, size_t *n) {
    uint32_t *cp = malloc((s->len + 1) * sizeof *cp);
    size_t i = 0;
    *n = 0;
    while (i < s->len) REQUIRE(_wv_utf8_next(s->s, s->len, &i, &cp[(*n)++]) == 0);
    return cp;
}

/* One contiguous change of c's text into out; *caret gets the code point
 * position after it. */
static void random_change(const strbuf *text, strbuf *out, size_t *caret) {
    static const uint32_t alphabet[] = {'a', 'b', 'c', ' ', '\n', '"', '\\', 0xe9, 0x65e5, 0x1f600};
    size_t n, at, del, ins = 0;
    uint32_t *cp = cps_of(text, &n);
    char e[4];
    at = rng_below(n + 1);
    del = rng_below(4) == 0 ? rng_below(n - at + 1) % 6 : 0;
    if (!del || rng_below(2)) ins = 1 + rng_below(rng_below(8) == 0 ? 12 : 3);
    out->len = 0;
    sb_put(out, "", 0);
    for (size_t i = 0; i < at; i++) sb_put(out, e, _wv_utf8_put(cp[i], e));
    for (size_t i = 0; i < ins; i++) sb_put(out, e, _wv_utf8_put(alphabet[rng_below(10)], e));
    for (size_t i = at + del; i < n; i++) sb_put(out, e, _wv_utf8_put(cp[i], e));
    *caret = at + ins;
    free(cp);
}

static int run(sv_state *s, sv_action a, client *c, const strbuf *text, uint64_t base, const uint64_t *sel,
               strbuf *out) {
    sv_request rq = {0};
    rq.doc = "demo";
    rq.site = c->site;
    if (text) {
        rq.has_text = 1;
        rq.text = text->s ? text->s : "";
        rq.text_len = text->len;
        rq.base = base;
    }
    if (sel) rq.has_sel = 1, rq.sel[0] = sel[0], rq.sel[1] = sel[1];
    out->len = 0;
    sb_put(out, "", 0);
    return sv_request_run(s, a, &rq, out);
}

/* Texts and weave hashes of every panel, from the state JSON, as one line. */
static void snapshot(sv_state *s, strbuf *out) {
    strbuf st = {0}, t = {0};
    REQUIRE(sv_state_json(s, "demo", &st) == 200);
    out->len = 0;
    sb_put(out, "", 0);
    for (const char *p = strstr(st.s, "{\"site\":"); p; p = strstr(p + 1, "{\"site\":")) {
        const char *h = after(p, "hash");
        text_of(p, &t);
        sb_printf(out, "%llu %s %.18s %s|", (unsigned long long)u64_of(p, "site"),
                  strncmp(after(p, "connected"), "true", 4) ? "off" : "on", h, t.s);
    }
    sb_free(&st);
    sb_free(&t);
}

int main(void) {
    char dir[] = "/tmp/weave-test-serve-XXXXXX", db[64], err[256];
    strbuf out = {0}, text = {0}, before = {0}, after_ = {0};
    sv_state *s;
    size_t offline_checked = 0, stale = 0, forks = 0, not_taken = 0;
    test_init();
    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(db, sizeof db, "%s/serve.db", dir);
    REQUIRE(sv_open(&s, db, "demo", err, sizeof err) == 0);
    REQUIRE(sv_state_json(s, "demo", &out) == 200);
    for (const char *p = strstr(out.s, "{\"site\":"); p; p = strstr(p + 1, "{\"site\":")) take(p);
    CHECK(nclients == 2);

    for (int step = 0; step < 600; step++) {
        client *c = &clients[rng_below(nclients)];
        unsigned r = (unsigned)rng_below(100);
        if (r < 70) {
            /* Type one change. */
            size_t caret;
            uint64_t sel[2];
            random_change(&c->text, &text, &caret);
            sel[0] = sel[1] = caret;
            int wasoff = !c->connected;
            int st = run(s, SV_EDIT, c, &text, c->tok, sel, &out);
            REQUIRE(st == 200);
            c = take(out.s);
            if (rng_below(3) == 0) {
                /* The reply not taken (typing went on meanwhile): the
                 * textarea holds what it sent, on the sent text's token. */
                c->tok = c->sent;
                c->text.len = 0;
                sb_put(&c->text, text.s, text.len);
                not_taken++;
            }
            if (wasoff) {
                /* Offline: nothing merged, the reply is the text sent. */
                CHECK(c->text.len == text.len && !memcmp(c->text.s, text.s, text.len));
                char want[48];
                snprintf(want, sizeof want, "\"sel\":[%zu,%zu]", caret, caret);
                CHECK(strstr(out.s, want) != NULL);
                offline_checked++;
            }
        } else if (r < 78) {
            int st = run(s, c->connected ? SV_DISCONNECT : SV_CONNECT, c, NULL, 0, NULL, &out);
            REQUIRE(st == 200);
            take(out.s);
        } else if (r < 84) {
            REQUIRE(run(s, SV_MERGE, c, NULL, 0, NULL, &out) == 200);
            take(out.s);
        } else if (r < 87 && nclients < MAX_SITES) {
            REQUIRE(run(s, SV_FORK, c, NULL, 0, NULL, &out) == 200);
            const char *cr = after(out.s, "created");
            REQUIRE(cr != NULL);
            take(out.s);
            take(cr);
            forks++;
        } else if (r < 92) {
            /* A base this panel never gave: 409, and nothing changes. */
            snapshot(s, &before);
            int st = run(s, SV_EDIT, c, &c->text, c->tok + 1000000, NULL, &out);
            CHECK(st == 409);
            snapshot(s, &after_);
            CHECK(!strcmp(before.s, after_.s));
            stale++;
        } else {
            /* A poll. */
            REQUIRE(run(s, SV_EDIT, c, &c->text, c->tok, NULL, &out) == 200);
            take(out.s);
        }
    }

    /* Everyone online, synced twice over: one text, one weave. */
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < nclients; i++) {
            REQUIRE(run(s, SV_CONNECT, &clients[i], NULL, 0, NULL, &out) == 200);
            take(out.s);
        }
    snapshot(s, &before);
    for (size_t i = 1; i < nclients; i++) {
        CHECK(clients[i].text.len == clients[0].text.len &&
              !memcmp(clients[i].text.s, clients[0].text.s, clients[0].text.len));
    }
    {
        /* every "site on HASH TEXT|" entry carries the same HASH TEXT */
        const char *first = strchr(before.s, ' ');
        const char *bar = strchr(before.s, '|');
        REQUIRE(first && bar);
        size_t len = (size_t)(bar - first);
        for (const char *p = bar + 1; *p; p = strchr(p, '|') + 1) {
            const char *sp = strchr(p, ' ');
            CHECK(sp && !strncmp(sp, first, len));
        }
    }

    /* Closing and reopening restores every panel. */
    sv_close(s);
    REQUIRE(sv_open(&s, db, "demo", err, sizeof err) == 0);
    snapshot(s, &after_);
    CHECK(!strcmp(before.s, after_.s));

    /* The server stops between an acknowledged proposal and saving the
     * panel: the row still holds the state before the edit, the log has
     * the edit. Reopened, the panel integrates its own entry before its
     * next edit, whose atoms then get new ids. */
    {
        client *c = &clients[0];
        sqlite3 *q;
        sqlite3_stmt *st;
        void *row = NULL;
        int len = 0;
        sqlite3_int64 v = 0, proposed = 0, tok = 0;
        strbuf edited = {0};
        size_t caret;
        REQUIRE(sqlite3_open(db, &q) == SQLITE_OK);
        REQUIRE(sqlite3_prepare_v2(q, "SELECT replica, v, proposed, tok FROM serve_panels WHERE doc = 'demo' AND site = ?",
                                   -1, &st, NULL) == SQLITE_OK);
        sqlite3_bind_int64(st, 1, (sqlite3_int64)c->site);
        REQUIRE(sqlite3_step(st) == SQLITE_ROW);
        len = sqlite3_column_bytes(st, 0);
        row = malloc((size_t)len);
        memcpy(row, sqlite3_column_blob(st, 0), (size_t)len);
        v = sqlite3_column_int64(st, 1), proposed = sqlite3_column_int64(st, 2), tok = sqlite3_column_int64(st, 3);
        sqlite3_finalize(st);
        REQUIRE(sv_state_json(s, "demo", &out) == 200);
        c->tok = u64_of(strstr(out.s, "\"panels\""), "tok"); /* the first panel is clients[0]'s */
        random_change(&c->text, &text, &caret);
        REQUIRE(run(s, SV_EDIT, c, &text, c->tok, NULL, &out) == 200);
        take(out.s);
        sb_put(&edited, c->text.s, c->text.len);
        sv_close(s);
        REQUIRE(sqlite3_prepare_v2(q, "UPDATE serve_panels SET replica = ?, v = ?, proposed = ?, tok = ?"
                                      " WHERE doc = 'demo' AND site = ?", -1, &st, NULL) == SQLITE_OK);
        sqlite3_bind_blob(st, 1, row, len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, v);
        sqlite3_bind_int64(st, 3, proposed);
        sqlite3_bind_int64(st, 4, tok);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)c->site);
        REQUIRE(sqlite3_step(st) == SQLITE_DONE);
        sqlite3_finalize(st);
        sqlite3_close(q);
        free(row);

        REQUIRE(sv_open(&s, db, "demo", err, sizeof err) == 0);
        REQUIRE(sv_state_json(s, "demo", &out) == 200);
        take(strstr(out.s, "{\"site\":"));
        CHECK(c->text.len == edited.len && !memcmp(c->text.s, edited.s, edited.len)); /* the edit is back */
        random_change(&c->text, &text, &caret);
        REQUIRE(run(s, SV_EDIT, c, &text, c->tok, NULL, &out) == 200);
        CHECK(strstr(out.s, "\"status\":\"\"") != NULL); /* proposed without a conflict */
        for (int round = 0; round < 2; round++)
            for (size_t i = 0; i < nclients; i++) {
                REQUIRE(run(s, SV_CONNECT, &clients[i], NULL, 0, NULL, &out) == 200);
                take(out.s);
            }
        for (size_t i = 1; i < nclients; i++)
            CHECK(clients[i].text.len == clients[0].text.len &&
                  !memcmp(clients[i].text.s, clients[0].text.s, clients[0].text.len));
        sb_free(&edited);
    }
    sv_close(s);
    {
        wvh_db *h;
        REQUIRE(wvh_open(&h, db, 0) == WV_OK);
        CHECK(wvh_check(h, NULL) == WV_OK);
        wvh_close(h);
    }
    printf("%zu panels, %zu forks, %zu offline replies checked, %zu replies not taken, %zu stale bases, "
           "final text %zu bytes\n",
           nclients, forks, offline_checked, not_taken, stale, clients[0].text.len);

    for (size_t i = 0; i < nclients; i++) sb_free(&clients[i].text);
    sb_free(&out);
    sb_free(&text);
    sb_free(&before);
    sb_free(&after_);
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char f[96];
        snprintf(f, sizeof f, "%s%s", db, suffix[i]);
        unlink(f);
    }
    rmdir(dir);
    return test_done("serve");
}

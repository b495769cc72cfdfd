/* serve.c — `weave serve`: the collaborative demo. An HTTP server
 * (libmicrohttpd, one internal polling thread, so panel.c is only ever
 * entered by one thread) serving the page embedded at build time from
 * tools/web/ and a small JSON API over the panels of panel.h:
 *
 *   GET  /api/state[?doc=NAME]   every panel of a document
 *   POST /api/edit               {doc, site, text?, base?, sel?, hash?}
 *   POST /api/connect | /api/disconnect | /api/merge | /api/fork   (same body)
 *
 * Requests are checked before anything changes: bodies above BODY_MAX get
 * 413, malformed JSON, unknown fields or query parameters, invalid UTF-8 or
 * out-of-range numbers 400, unknown paths, documents or sites 404, a wrong
 * method 405, a stale base 409, a body that is not application/json 415
 * (so a page of another origin cannot post without a CORS preflight, which
 * is never granted). The server binds to 127.0.0.1 unless told otherwise;
 * on a loopback address it answers only requests whose Host names this
 * machine (403 otherwise: no DNS rebinding). */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cli.h"
#include "json.h"
#include "panel.h"
#include "serve_assets.h"
#include "utf8.h"

#define BODY_MAX (1u << 20)        /* bytes of a request body */
#define TEXT_MAX (BODY_MAX - 1024) /* bytes of a panel's text, decoded */
#define NAME_MAX_BYTES 255          /* a document name (WVH_NAME_MAX) */
#define JS_INT_MAX ((UINT64_C(1) << 53) - 1)

/* One request's upload, kept between libmicrohttpd's calls. */
typedef struct upload {
    strbuf body;
    int too_big; /* over BODY_MAX: the rest is read and dropped */
    int replied; /* a response is queued already */
} upload;

/* The server: panel state, and whether it listens on loopback only. */
typedef struct server {
    sv_state *s;
    int loopback;
} server;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type, const void *data,
                             size_t len, enum MHD_ResponseMemoryMode mode, const char *allow) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)data, mode);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (allow) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, strbuf *b) {
    if (!b->s) sb_put(b, "{}", 2);
    return reply(c, status, "application/json; charset=utf-8", b->s, b->len, MHD_RESPMEM_MUST_COPY, NULL);
}

/* {"error": msg}; allow: the Allow header of a 405, else NULL. */
static enum MHD_Result reply_error_allow(struct MHD_Connection *c, unsigned status, const char *msg,
                                         const char *allow) {
    strbuf b = {0};
    sb_put(&b, "{\"error\":", 9);
    json_str(&b, msg, strlen(msg));
    sb_put(&b, "}", 1);
    enum MHD_Result ok =
        reply(c, status, "application/json; charset=utf-8", b.s, b.len, MHD_RESPMEM_MUST_COPY, allow);
    sb_free(&b);
    return ok;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *msg) {
    return reply_error_allow(c, status, msg, NULL);
}

/* ---- request bodies ---------------------------------------------------------- */

/* The fields of a panel request, owned. */
typedef struct fields {
    strbuf doc, text, hash, key;
    sv_request rq;
} fields;

static void fields_free(fields *f) {
    sb_free(&f->doc);
    sb_free(&f->text);
    sb_free(&f->hash);
    sb_free(&f->key);
}

/* Parses {doc, site, text?, base?, sel?, hash?}: each field at most once,
 * nothing else. Returns NULL or what is wrong. */
static const char *parse_fields(const char *body, size_t len, fields *f) {
    json_in in = {body, body + len, 1};
    unsigned seen = 0;
    int k;
    memset(&f->rq, 0, sizeof f->rq);
    if (json_object(&in)) return "the body is not a JSON object";
    while ((k = json_key(&in, &f->key)) == 1) {
        static const char *const names[] = {"doc", "site", "text", "base", "sel", "hash"};
        unsigned bit = 0;
        for (unsigned i = 0; i < sizeof names / sizeof *names; i++)
            if (!strcmp(f->key.s, names[i])) bit = 1u << i;
        if (!bit) return "unknown field";
        if (seen & bit) return "a field appears twice";
        seen |= bit;
        switch (bit) {
        case 1:
            if (json_string(&in, &f->doc, NAME_MAX_BYTES) || !f->doc.len) return "doc: a name of 1 to 255 bytes";
            break;
        case 2:
            if (json_uint(&in, JS_INT_MAX, &f->rq.site) || !f->rq.site) return "site: an integer from 1";
            break;
        case 4:
            if (json_string(&in, &f->text, TEXT_MAX)) return "text: a string of valid UTF-8, at most 1 MiB";
            break;
        case 8:
            if (json_uint(&in, JS_INT_MAX, &f->rq.base)) return "base: a token from an earlier reply";
            break;
        case 16:
            if (json_uints(&in, 2, UINT32_MAX, f->rq.sel)) return "sel: [start, end] in code points";
            break;
        case 32:
            if (json_string(&in, &f->hash, 16)) return "hash: the weave hash of an earlier reply";
            break;
        }
    }
    if (k < 0 || json_end(&in)) return "malformed JSON";
    if ((seen & 3) != 3) return "doc and site are required";
    if (!(seen & 4) != !(seen & 8)) return "text and base go together";
    f->rq.doc = f->doc.s;
    f->rq.has_text = (seen & 4) != 0;
    f->rq.text = f->text.s ? f->text.s : "";
    f->rq.text_len = f->text.len;
    f->rq.has_sel = (seen & 16) != 0;
    f->rq.hash = seen & 32 ? f->hash.s : NULL;
    if (memchr(f->doc.s, 0, f->doc.len)) return "doc: no NUL";
    return NULL;
}

/* ---- query parameters ---------------------------------------------------------- */

typedef struct query {
    const char *doc;
    const char *bad;
} query;

static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    query *q = cls;
    size_t n;
    (void)kind;
    if (strcmp(key, "doc")) q->bad = "unknown query parameter";
    else if (q->doc) q->bad = "doc given twice";
    else if (!value || !*value || strlen(value) > NAME_MAX_BYTES || _wv_utf8_count(value, strlen(value), &n))
        q->bad = "doc: a name of 1 to 255 bytes of UTF-8";
    else q->doc = value;
    return q->bad ? MHD_NO : MHD_YES;
}

/* ---- dispatch --------------------------------------------------------------------- */

static const struct {
    const char *path;
    sv_action action;
} actions[] = {
    {"/api/edit", SV_EDIT},         {"/api/connect", SV_CONNECT}, {"/api/disconnect", SV_DISCONNECT},
    {"/api/merge", SV_MERGE},       {"/api/fork", SV_FORK},
};

/* Whether a Host header names this machine: localhost, 127.x.y.z or ::1,
 * with or without a port. */
static int local_host(const char *h) {
    size_t n;
    if (!h) return 0;
    if (h[0] == '[') return !strncmp(h, "[::1]", 5) && (!h[5] || h[5] == ':');
    n = strcspn(h, ":");
    if (n == 9 && !strncasecmp(h, "localhost", 9)) return 1;
    if (n < 4 || strncmp(h, "127.", 4)) return 0;
    for (size_t i = 4; i < n; i++)
        if (!(h[i] == '.' || (h[i] >= '0' && h[i] <= '9'))) return 0;
    return 1;
}

static enum MHD_Result handle(server *sv, struct MHD_Connection *c, const char *url, const char *method,
                              const upload *up) {
    sv_state *s = sv->s;
    int get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    /* Listening on loopback, answer only requests addressed to this machine:
     * a page whose name was rebound to 127.0.0.1 (DNS rebinding) gets 403. */
    if (sv->loopback && !local_host(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST)))
        return reply_error(c, MHD_HTTP_FORBIDDEN, "Host must be localhost, 127.0.0.1 or [::1]");
    for (size_t i = 0; i < sizeof serve_assets / sizeof *serve_assets; i++)
        if (!strcmp(url, serve_assets[i].path)) {
            if (!get) return reply_error_allow(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only", "GET");
            return reply(c, MHD_HTTP_OK, serve_assets[i].type, serve_assets[i].data, serve_assets[i].len,
                         MHD_RESPMEM_PERSISTENT, NULL);
        }
    if (!strcmp(url, "/api/state")) {
        query q = {0};
        strbuf out = {0};
        if (!get) return reply_error_allow(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only", "GET");
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, query_arg, &q);
        if (q.bad) return reply_error(c, MHD_HTTP_BAD_REQUEST, q.bad);
        int status = sv_state_json(s, q.doc, &out);
        enum MHD_Result ok = reply_json(c, (unsigned)status, &out);
        sb_free(&out);
        return ok;
    }
    for (size_t i = 0; i < sizeof actions / sizeof *actions; i++)
        if (!strcmp(url, actions[i].path)) {
            fields f = {0};
            strbuf out = {0};
            const char *why;
            enum MHD_Result ok;
            query q = {0};
            const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
            if (!post) return reply_error_allow(c, MHD_HTTP_METHOD_NOT_ALLOWED, "POST only", "POST");
            if (up->too_big) return reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "the body is over 1 MiB");
            /* JSON only: a page elsewhere cannot post it without a CORS preflight. */
            if (!type || strncasecmp(type, "application/json", 16) || (type[16] && type[16] != ';'))
                return reply_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "Content-Type: application/json only");
            MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, query_arg, &q);
            if (q.bad || q.doc) return reply_error(c, MHD_HTTP_BAD_REQUEST, "no query parameters here");
            why = parse_fields(up->body.s ? up->body.s : "", up->body.len, &f);
            if (why) ok = reply_error(c, MHD_HTTP_BAD_REQUEST, why);
            else {
                int status = sv_request_run(s, actions[i].action, &f.rq, &out);
                ok = reply_json(c, (unsigned)status, &out);
            }
            sb_free(&out);
            fields_free(&f);
            return ok;
        }
    return reply_error(c, MHD_HTTP_NOT_FOUND, "no such path");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *size, void **state) {
    upload *up = *state;
    (void)version;
    if (!up) {
        /* First call, headers only: refuse an announced oversized body now. */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        up = calloc(1, sizeof *up);
        if (!up) return MHD_NO;
        *state = up;
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || *end || n > BODY_MAX) {
                up->too_big = up->replied = 1;
                return reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "the body is over 1 MiB");
            }
        }
        return MHD_YES;
    }
    if (up->replied) {
        *size = 0;
        return MHD_YES;
    }
    if (*size) {
        if (!up->too_big && up->body.len + *size <= BODY_MAX) sb_put(&up->body, data, *size);
        else up->too_big = 1, sb_free(&up->body);
        *size = 0;
        return MHD_YES;
    }
    return handle(cls, c, url, method, up);
}

static void on_done(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode why) {
    upload *up = *state;
    (void)cls, (void)c, (void)why;
    if (up) {
        sb_free(&up->body);
        free(up);
        *state = NULL;
    }
}

/* ---- the command ------------------------------------------------------------------ */

static int usage(void) {
    fputs("usage: weave serve [--db FILE] [--port P] [--bind ADDR] [--doc NAME]\n", stderr);
    return 2;
}

int cli_serve(int argc, char **argv) {
    const char *db = "weave-serve.db", *bind = "127.0.0.1", *doc = "demo";
    unsigned long port = 8080;
    union {
        struct sockaddr sa;
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } addr;
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    char err[512];
    sv_state *s;
    server sv;
    sigset_t sigs;
    int sig;
    for (int i = 0; i < argc; i++) {
        if (i + 1 >= argc) return usage();
        if (!strcmp(argv[i], "--db")) db = argv[++i];
        else if (!strcmp(argv[i], "--bind")) bind = argv[++i];
        else if (!strcmp(argv[i], "--doc")) doc = argv[++i];
        else if (!strcmp(argv[i], "--port")) {
            char *end;
            errno = 0;
            port = strtoul(argv[++i], &end, 10);
            if (errno || *end || !*argv[i] || port > 65535) return usage();
        } else return usage();
    }
    memset(&addr, 0, sizeof addr);
    if (inet_pton(AF_INET, bind, &addr.v4.sin_addr) == 1) {
        addr.v4.sin_family = AF_INET;
        addr.v4.sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, bind, &addr.v6.sin6_addr) == 1) {
        addr.v6.sin6_family = AF_INET6;
        addr.v6.sin6_port = htons((uint16_t)port);
        flags |= MHD_USE_IPv6;
    } else {
        fprintf(stderr, "weave serve: --bind %s: not an IPv4 or IPv6 address\n", bind);
        return 2;
    }
    size_t nlen;
    if (!*doc || strlen(doc) > NAME_MAX_BYTES || _wv_utf8_count(doc, strlen(doc), &nlen)) {
        fputs("weave serve: --doc: a name of 1 to 255 bytes of UTF-8\n", stderr);
        return 2;
    }
    if (sv_open(&s, db, doc, err, sizeof err)) {
        fprintf(stderr, "weave serve: %s\n", err);
        return 1;
    }
    sv.s = s;
    sv.loopback = addr.sa.sa_family == AF_INET ? (ntohl(addr.v4.sin_addr.s_addr) >> 24) == 127
                                               : IN6_IS_ADDR_LOOPBACK(&addr.v6.sin6_addr);
    /* The server's thread inherits this mask: only sigwait below sees them. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, &sv, MHD_OPTION_SOCK_ADDR, &addr.sa, MHD_OPTION_NOTIFY_COMPLETED, on_done,
        NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
        MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "weave serve: cannot listen on %s port %lu\n", bind, port);
        sv_close(s);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf(strchr(bind, ':') ? "http://[%s]:%u/\n" : "http://%s:%u/\n", bind, info ? info->port : (unsigned)port);
    fflush(stdout);
    while (sigwait(&sigs, &sig)) {}
    MHD_stop_daemon(d);
    sv_close(s);
    return 0;
}

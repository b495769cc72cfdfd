/* replay.c — `weave replay TRACE [--print]`: replays an editing trace.
 *
 * Sequential traces run as local edits at one site. Concurrent traces run as
 * real multi-site history: each agent edits its own replica (site agent + 1);
 * before a transaction, the agent's replica merges the state after each
 * parent that is not its own previous transaction. Those states are kept as
 * clones, freed once every transaction naming them has run. Either way the
 * final text must equal the trace's endContent (exit 1 otherwise) and the
 * final weave must pass wv_check.
 */
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "trace.h"

typedef struct replay {
    const wvt_trace *t;
    wv_doc **agent;     /* each agent's replica */
    wv_doc **snap;      /* state after txn i, while some later txn needs it */
    size_t *refs;       /* how many later txns still need snap[i] */
    size_t merges;
    const char *error;
    int rc;
} replay;

static int apply_patches(replay *r, wv_doc *doc, const wvt_txn *tx) {
    for (size_t p = 0; p < tx->npatches; p++) {
        const wvt_patch *pa = &tx->patches[p];
        int rc = pa->del ? wv_text_delete(doc, pa->pos, pa->del) : WV_OK;
        if (!rc && pa->ins_len) rc = wv_text_insert(doc, pa->pos, pa->ins, pa->ins_len);
        if (rc) return r->error = "edit", r->rc = rc, -1;
    }
    return 0;
}

/* Does txn j need a snapshot of parent i (not its agent's previous txn)? */
static int needs_snapshot(const wvt_trace *t, size_t i, size_t j, const size_t *prev) {
    return t->txns[i].agent != t->txns[j].agent || prev[j] != i;
}

static int run_concurrent(replay *r) {
    const wvt_trace *t = r->t;
    size_t n = t->ntxns, na = (size_t)t->num_agents;
    size_t *prev = calloc(n, sizeof *prev), *seen = calloc(na, sizeof *seen);
    if (!prev || !seen) exit(3);
    for (size_t a = 0; a < na; a++) seen[a] = SIZE_MAX;
    for (size_t j = 0; j < n; j++) { /* each txn's agent-previous txn */
        prev[j] = seen[t->txns[j].agent];
        seen[t->txns[j].agent] = j;
        for (size_t q = 0; q < t->txns[j].nparents; q++)
            if (needs_snapshot(t, t->txns[j].parents[q], j, prev)) r->refs[t->txns[j].parents[q]]++;
    }
    int status = 0;
    for (size_t j = 0; j < n && !status; j++) {
        const wvt_txn *tx = &t->txns[j];
        wv_doc *doc = r->agent[tx->agent];
        for (size_t q = 0; q < tx->nparents && !status; q++) {
            size_t i = tx->parents[q];
            if (!needs_snapshot(t, i, j, prev)) continue;
            if ((r->rc = wv_merge(doc, r->snap[i]))) r->error = "merge", status = -1;
            r->merges++;
            if (--r->refs[i] == 0) wv_doc_free(r->snap[i]), r->snap[i] = NULL;
        }
        if (!status) status = apply_patches(r, doc, tx);
        if (!status && r->refs[j] && (r->rc = wv_doc_clone(doc, &r->snap[j])))
            r->error = "clone", status = -1;
    }
    free(prev);
    free(seen);
    return status;
}

int cli_replay(int argc, char **argv) {
    const char *path = NULL;
    int print = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--print")) print = 1;
        else if (!path && argv[i][0] != '-') path = argv[i];
        else return fputs("usage: weave replay TRACE [--print]\n", stderr), 2;
    }
    if (!path) return fputs("usage: weave replay TRACE [--print]\n", stderr), 2;

    double t0 = cli_now_ms();
    wvt_trace t;
    char err[512];
    if (wvt_load(path, &t, err, sizeof err)) return fprintf(stderr, "weave: %s\n", err), 2;
    double t1 = cli_now_ms();

    size_t na = (size_t)(t.num_agents > 0 ? t.num_agents : 1);
    replay r = {.t = &t};
    r.agent = calloc(na, sizeof *r.agent);
    r.snap = calloc(t.ntxns + 1, sizeof *r.snap);
    r.refs = calloc(t.ntxns + 1, sizeof *r.refs);
    if (!r.agent || !r.snap || !r.refs) exit(3);
    int status = 0;
    for (size_t a = 0; a < na && !status; a++)
        if ((r.rc = wv_doc_new(&r.agent[a], a + 1, NULL))) r.error = "new", status = -1;
    if (!status && t.concurrent) status = run_concurrent(&r);
    else
        for (size_t j = 0; j < t.ntxns && !status; j++) status = apply_patches(&r, r.agent[0], &t.txns[j]);
    double t2 = cli_now_ms();

    wv_doc *doc = t.ntxns ? r.agent[t.txns[t.ntxns - 1].agent] : r.agent[0];
    size_t len = 0;
    char *text = status ? NULL : cli_text(doc, &len);
    char msg[256];
    int check = status ? WV_OK : wv_check(doc, msg, sizeof msg);
    double t3 = cli_now_ms();

    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (status) {
        fprintf(stderr, "weave: %s: %s failed: %s\n", name, r.error, wv_error_message(r.rc));
        status = 1;
    } else if (len != t.end_len || memcmp(text, t.end_content, len)) {
        size_t i = 0;
        while (i < len && i < t.end_len && text[i] == t.end_content[i]) i++;
        fprintf(stderr, "weave: %s: final text differs from endContent at byte %zu (%zu bytes, expected %zu)\n",
                name, i, len, t.end_len);
        status = 1;
    } else if (check) {
        fprintf(stderr, "weave: %s: invariant broken: %s\n", name, msg);
        status = 1;
    } else if (print) {
        fwrite(text, 1, len, stdout);
    } else {
        size_t atoms = wv_doc_atoms(doc), bytes = wv_doc_bytes(doc);
        printf("%s: %zu edits by %zu site%s, %zu atoms, %.1f bytes/atom; load %.0f ms, replay %.1f ms "
               "(%.2f M edits/s), check %.0f ms; text matches endContent\n",
               name, t.npatches, na, na == 1 ? "" : "s", atoms,
               (double)bytes / (double)atoms, t1 - t0, t2 - t1,
               (double)t.npatches / ((t2 - t1) * 1e3), t3 - t2);
        if (t.concurrent) printf("  %zu merges\n", r.merges);
    }
    free(text);
    for (size_t a = 0; a < na; a++) wv_doc_free(r.agent[a]);
    for (size_t i = 0; i < t.ntxns; i++) wv_doc_free(r.snap[i]);
    free(r.agent), free(r.snap), free(r.refs);
    wvt_free(&t);
    return status;
}

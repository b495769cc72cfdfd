/* failalloc.h — a wv_alloc for tests that counts live bytes and blocks and
 * fails the allocation whose turn comes when `countdown` reaches 0. */
#ifndef WV_FAILALLOC_H
#define WV_FAILALLOC_H

#include <stdlib.h>
#include "weave.h"

typedef struct failalloc {
    long countdown; /* allocations left before one fails; < 0: never fail */
    size_t live_bytes;
    long live_blocks;
    long failures;
} failalloc;

static inline int fa_turn(failalloc *f) {
    if (f->countdown == 0) return f->failures++, 0;
    if (f->countdown > 0) f->countdown--;
    return 1;
}
static void *fa_malloc(void *ctx, size_t n) {
    failalloc *f = ctx;
    void *p = fa_turn(f) ? malloc(n) : NULL;
    if (p) f->live_bytes += n, f->live_blocks++;
    return p;
}
static void *fa_realloc(void *ctx, void *p, size_t old, size_t n) {
    failalloc *f = ctx;
    void *q = fa_turn(f) ? realloc(p, n) : NULL;
    if (q) {
        f->live_bytes += n - old;
        if (!p) f->live_blocks++;
    }
    return q;
}
static void fa_free(void *ctx, void *p, size_t n) {
    failalloc *f = ctx;
    if (!p) return;
    f->live_bytes -= n, f->live_blocks--;
    free(p);
}
static inline wv_alloc fa_hook(failalloc *f) {
    *f = (failalloc){.countdown = -1};
    return (wv_alloc){fa_malloc, fa_realloc, fa_free, f};
}

/* Options allocating through f (f and hook must outlive the replicas). */
static inline wv_options fa_options(failalloc *f, wv_alloc *hook) {
    wv_options o;
    *hook = fa_hook(f);
    wv_options_default(&o);
    o.alloc = hook;
    return o;
}

#endif /* WV_FAILALLOC_H */

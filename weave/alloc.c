/* alloc.c — the default allocator hook: mimalloc, through its API only (the
 * host's malloc is never overridden). */
#include <mimalloc.h>
#include "mem.h"

static void *mi_hook_malloc(void *ctx, size_t n) { (void)ctx; return mi_malloc(n); }
static void *mi_hook_realloc(void *ctx, void *p, size_t old, size_t n) {
    (void)ctx, (void)old;
    return mi_realloc(p, n);
}
static void mi_hook_free(void *ctx, void *p, size_t n) { (void)ctx, (void)n; mi_free(p); }

const wv_alloc _wv_default_alloc = {mi_hook_malloc, mi_hook_realloc, mi_hook_free, NULL};

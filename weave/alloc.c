/* alloc.c — the allocator hooks the library provides: mimalloc through its
 * API, the replicas' default (the host's malloc is never overridden by the
 * library), and the C library's, for bytes handed to the caller. */
#include <stdlib.h>
#include <mimalloc.h>
#include "mem.h"

static void *mi_hook_malloc(void *ctx, size_t n) { (void)ctx; return mi_malloc(n); }
static void *mi_hook_realloc(void *ctx, void *p, size_t old, size_t n) {
    (void)ctx, (void)old;
    return mi_realloc(p, n);
}
static void mi_hook_free(void *ctx, void *p, size_t n) { (void)ctx, (void)n; mi_free(p); }

const wv_alloc _wv_default_alloc = {mi_hook_malloc, mi_hook_realloc, mi_hook_free, NULL};

static void *libc_malloc(void *ctx, size_t n) { (void)ctx; return malloc(n); }
static void *libc_realloc(void *ctx, void *p, size_t old, size_t n) {
    (void)ctx, (void)old;
    return realloc(p, n);
}
static void libc_free(void *ctx, void *p, size_t n) { (void)ctx, (void)n; free(p); }

const wv_alloc _wv_libc_alloc = {libc_malloc, libc_realloc, libc_free, NULL};

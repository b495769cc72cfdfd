/* mem.h — allocation through a replica's wv_alloc hook.
 * Internal: included by atoms/ and weave/ modules only. Every allocation of
 * the library goes through these, so tests can count and fail them. */
#ifndef WV_MEM_H
#define WV_MEM_H

#include <stddef.h>
#include <stdint.h>
#include "weave.h"

static inline void *wv_malloc(const wv_alloc *a, size_t n) { return a->malloc(a->ctx, n); }
static inline void *wv_realloc(const wv_alloc *a, void *p, size_t old, size_t n) {
    return a->realloc(a->ctx, p, old, n);
}
static inline void wv_free(const wv_alloc *a, void *p, size_t n) {
    if (p) a->free(a->ctx, p, n);
}
/* n * size, or SIZE_MAX when it overflows (so the allocation fails). */
static inline size_t wv_mul(size_t n, size_t size) {
    return size && n > SIZE_MAX / size ? SIZE_MAX : n * size;
}

/* The default hook: mimalloc's API; and the C library's malloc, realloc
 * and free (weave/alloc.c). */
extern const wv_alloc _wv_default_alloc, _wv_libc_alloc;

#endif /* WV_MEM_H */

/* alloc.c — the allocator hooks the library provides: mimalloc through its
 * API, the replicas' default (the host's malloc is never overridden by the
 * library), and the C library's, for bytes handed to the caller. */
#define _DEFAULT_SOURCE /* madvise's MADV_HUGEPAGE, beside the build's _POSIX_C_SOURCE */
#include <stdint.h>
#include <stdlib.h>
#include <mimalloc.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#include "mem.h"

/* The default hook asks the kernel to back the whole 2 MiB pages inside a
 * block of at least two (a load's slab and scratch) with huge pages, where
 * transparent huge pages are on "madvise" (a common default): the block is
 * then faulted in a few dozen times instead of once per 4 KiB, which on a
 * virtual machine can cost more than the load itself. Advice only: when
 * the kernel declines, nothing changes. */
#define HUGE_PAGE ((uintptr_t)2 << 20)
static void *advise_huge(void *p, size_t n) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (p && n >= 2 * HUGE_PAGE) {
        uintptr_t lo = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1), hi = ((uintptr_t)p + n) & ~(HUGE_PAGE - 1);
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
    }
#else
    (void)n;
#endif
    return p;
}

static void *mi_hook_malloc(void *ctx, size_t n) { (void)ctx; return advise_huge(mi_malloc(n), n); }
static void *mi_hook_realloc(void *ctx, void *p, size_t old, size_t n) {
    (void)ctx, (void)old;
    return advise_huge(mi_realloc(p, n), n);
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

/* json.h — the little JSON `weave serve` needs: a writer of escaped strings
 * into a strbuf, and a strict pull parser for small request bodies (objects
 * of strings, non-negative integers, booleans and arrays of them). Included
 * by tools/serve.c and tools/panel.c only. */
#ifndef WV_JSON_H
#define WV_JSON_H

#include <stddef.h>
#include <stdint.h>
#include "cli.h"

/* Appends "s" (n bytes of valid UTF-8) as a JSON string: quotes, backslashes
 * and control characters escaped, everything else copied. */
void json_str(strbuf *b, const char *s, size_t n);
/* Appends the code points cps[0..n) as a JSON string; a value that is not a
 * Unicode scalar value is written as U+FFFD. */
void json_cps(strbuf *b, const uint32_t *cps, size_t n);

/* A cursor over untrusted bytes. Every function below returns 0 on success
 * and -1 on any deviation from RFC 8259 (or from the subset it reads), with
 * the cursor then unspecified; none reads past end. Nesting is not
 * recursive: the caller walks one object. */
typedef struct json_in {
    const char *p, *end;
    int first;  /* json_key: no member read yet in the current object */
} json_in;

/* '{' (after blanks). */
int json_object(json_in *in);
/* The next member's key into key (reset first) and its ':'; returns 1, or 0
 * at the closing '}', or -1. */
int json_key(json_in *in, strbuf *key);
/* A string into out (reset first): escapes decoded, \u surrogate pairs
 * joined, lone surrogates, raw control characters and invalid UTF-8
 * refused; at most max bytes once decoded. */
int json_string(json_in *in, strbuf *out, size_t max);
/* A non-negative integer without sign, fraction or exponent, at most max. */
int json_uint(json_in *in, uint64_t max, uint64_t *out);
/* true or false. */
int json_bool(json_in *in, int *out);
/* An array of exactly n non-negative integers, each at most max. */
int json_uints(json_in *in, size_t n, uint64_t max, uint64_t *out);
/* Nothing but blanks left. */
int json_end(json_in *in);

#endif /* WV_JSON_H */

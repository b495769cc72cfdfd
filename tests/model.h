/* model.h — the naive text model the text tests compare against: an array
 * of code points edited like Array.splice. */
#ifndef WV_MODEL_H
#define WV_MODEL_H

#include "test.h"

typedef struct model {
    uint32_t *cp;
    size_t n, cap;
} model;

static void model_insert(model *m, size_t pos, const uint32_t *cps, size_t k) {
    if (m->n + k > m->cap) {
        m->cap = (m->n + k) * 2;
        m->cp = realloc(m->cp, m->cap * sizeof *m->cp);
        REQUIRE(m->cp);
    }
    memmove(m->cp + pos + k, m->cp + pos, (m->n - pos) * sizeof *m->cp);
    memcpy(m->cp + pos, cps, k * sizeof *cps);
    m->n += k;
}

static void model_delete(model *m, size_t pos, size_t k) {
    memmove(m->cp + pos, m->cp + pos + k, (m->n - pos - k) * sizeof *m->cp);
    m->n -= k;
}

#endif /* WV_MODEL_H */

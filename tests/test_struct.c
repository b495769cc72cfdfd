/* test_struct.c — structures: each concurrency rule as a two- or three-site
 * scenario with the exact JSON expected, the mixed-kinds merge, reads,
 * paths, the builder, errors leaving the replica unchanged, malformed
 * structure atoms refused, and allocation failure at every step. */
#include "failalloc.h"
#include "snap.h"
#include "test.h"

static const wv_ref root = {0, 0};

/* The root's JSON, malloc'd. */
static char *json(const wv_doc *d, wv_ref at) {
    size_t n;
    if (wv_json(d, at, NULL, 0, &n)) return NULL;
    char *s = malloc(n + 1);
    if (!s || wv_json(d, at, s, n + 1, &n)) exit(3);
    return s;
}

#define CHECK_JSON(doc, want)                                                       \
    do {                                                                            \
        char *got_ = json((doc), root);                                             \
        CHECK(got_ && strcmp(got_, (want)) == 0);                                   \
        if (!got_ || strcmp(got_, (want))) fprintf(stderr, "  want %s\n  got  %s\n", (want), got_ ? got_ : "(error)"); \
        free(got_);                                                                 \
        CHECK_DOC(doc);                                                             \
    } while (0)

static wv_doc *doc(uint64_t site) {
    wv_doc *d;
    REQUIRE_OK(wv_doc_new(&d, site, NULL));
    return d;
}

static wv_doc *fork_of(wv_doc *d, uint64_t site) {
    wv_doc *f;
    REQUIRE_OK(wv_doc_fork(d, site, &f));
    return f;
}

/* Merges every replica into every other; all must end byte-identical. */
static void sync_all(wv_doc **r, size_t n) {
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (i != j) REQUIRE_OK(wv_merge(r[i], r[j]));
    for (size_t i = 1; i < n; i++) CHECK(wv_weave_hash(r[i]) == wv_weave_hash(r[0]));
}

static void free_all(wv_doc **r, size_t n) {
    for (size_t i = 0; i < n; i++) wv_doc_free(r[i]);
}

static void test_map_register(void) {
    wv_doc *r[3];
    r[0] = doc(1);
    REQUIRE_OK(wv_map_set(r[0], root, "title", wv_string("draft", 5), NULL));
    r[1] = fork_of(r[0], 2), r[2] = fork_of(r[0], 3);
    /* concurrent writes of one key are all kept; the newest id wins */
    REQUIRE_OK(wv_map_set(r[1], root, "title", wv_string("B", 1), NULL));
    REQUIRE_OK(wv_map_set(r[2], root, "title", wv_int(3), NULL));
    REQUIRE_OK(wv_map_set(r[2], root, "title", wv_int(33), NULL)); /* supersedes its own 3 */
    sync_all(r, 3);
    CHECK_JSON(r[0], "{\"title\":33}");
    wv_value v[4];
    size_t n;
    REQUIRE_OK(wv_map_conflicts(r[1], root, "title", v, 4, &n));
    CHECK(n == 2 && v[0].type == WV_T_INT && v[0].integer == 33 && v[1].type == WV_T_STRING && v[1].len == 1);
    REQUIRE_OK(wv_map_get(r[1], root, "title", &v[0]));
    CHECK(v[0].integer == 33);
    /* a write that saw both supersedes both */
    REQUIRE_OK(wv_map_set(r[0], root, "title", wv_bool(1), NULL));
    sync_all(r, 3);
    CHECK_JSON(r[1], "{\"title\":true}");
    REQUIRE_OK(wv_map_conflicts(r[2], root, "title", v, 4, &n));
    CHECK(n == 1);
    free_all(r, 3);
}

static void test_map_delete_vs_write(void) {
    wv_doc *r[2];
    r[0] = doc(1);
    REQUIRE_OK(wv_map_set(r[0], root, "a", wv_int(1), NULL));
    REQUIRE_OK(wv_map_set(r[0], root, "b", wv_int(2), NULL));
    r[1] = fork_of(r[0], 2);
    REQUIRE_OK(wv_map_delete(r[0], root, "a"));
    REQUIRE_OK(wv_map_delete(r[0], root, "b"));
    REQUIRE_OK(wv_map_set(r[1], root, "a", wv_int(10), NULL)); /* concurrent: survives */
    sync_all(r, 2);
    CHECK_JSON(r[0], "{\"a\":10}");
    CHECK_RC(wv_map_delete(r[1], root, "b"), WV_E_NOTFOUND);
    free_all(r, 2);
}

static void test_sets(void) {
    wv_doc *r[3];
    wv_ref aw, rw;
    r[0] = doc(1);
    REQUIRE_OK(wv_map_set(r[0], root, "aw", wv_new_set(0), &aw));
    REQUIRE_OK(wv_map_set(r[0], root, "rw", wv_new_set(1), &rw));
    for (int i = 0; i < 2; i++) {
        wv_ref s = i ? rw : aw;
        REQUIRE_OK(wv_set_add(r[0], s, wv_string("x", 1)));
        REQUIRE_OK(wv_set_add(r[0], s, wv_string("y", 1)));
        REQUIRE_OK(wv_set_add(r[0], s, wv_int(1)));
        REQUIRE_OK(wv_set_add(r[0], s, wv_float(1)));
        REQUIRE_OK(wv_set_add(r[0], s, wv_int(1))); /* present: nothing */
    }
    r[1] = fork_of(r[0], 2), r[2] = fork_of(r[0], 3);
    for (int i = 0; i < 2; i++) {
        wv_ref s = i ? rw : aw;
        REQUIRE_OK(wv_set_remove(r[1], s, wv_string("x", 1))); /* against a concurrent re-add */
        REQUIRE_OK(wv_set_add(r[2], s, wv_string("x", 1)));
        REQUIRE_OK(wv_set_remove(r[1], s, wv_float(1)));       /* removed by one, untouched by others */
        REQUIRE_OK(wv_set_add(r[2], s, wv_null()));             /* added by one */
    }
    /* r[2]'s add of x, present for it, changed nothing: r[1]'s remove holds */
    sync_all(r, 3);
    CHECK_JSON(r[0], "{\"aw\":[\"y\",1,null],\"rw\":[\"y\",1,null]}");
    free_all(r, 3);

    /* the rules proper: add and remove concurrent, each site seeing x absent
     * (add) or present (remove) */
    r[0] = doc(1);
    REQUIRE_OK(wv_map_set(r[0], root, "aw", wv_new_set(0), &aw));
    REQUIRE_OK(wv_map_set(r[0], root, "rw", wv_new_set(1), &rw));
    REQUIRE_OK(wv_set_add(r[0], aw, wv_string("x", 1)));
    REQUIRE_OK(wv_set_add(r[0], rw, wv_string("x", 1)));
    r[1] = fork_of(r[0], 2), r[2] = fork_of(r[0], 3);
    REQUIRE_OK(wv_set_remove(r[1], aw, wv_string("x", 1)));
    REQUIRE_OK(wv_set_remove(r[1], rw, wv_string("x", 1)));
    /* r[2] removes and adds again: its add has not seen r[1]'s remove */
    REQUIRE_OK(wv_set_remove(r[2], aw, wv_string("x", 1)));
    REQUIRE_OK(wv_set_add(r[2], aw, wv_string("x", 1)));
    REQUIRE_OK(wv_set_remove(r[2], rw, wv_string("x", 1)));
    REQUIRE_OK(wv_set_add(r[2], rw, wv_string("x", 1)));
    sync_all(r, 3);
    CHECK_JSON(r[0], "{\"aw\":[\"x\"],\"rw\":[]}");
    CHECK(wv_set_has(r[1], aw, wv_string("x", 1)) == 1);
    CHECK(wv_set_has(r[1], rw, wv_string("x", 1)) == 0);
    /* an add after the remove was seen brings it back */
    REQUIRE_OK(wv_set_add(r[1], rw, wv_string("x", 1)));
    sync_all(r, 3);
    CHECK_JSON(r[2], "{\"aw\":[\"x\"],\"rw\":[\"x\"]}");
    free_all(r, 3);
}

static void test_counter(void) {
    wv_doc *r[3];
    wv_ref c;
    r[0] = doc(1);
    REQUIRE_OK(wv_map_set(r[0], root, "views", wv_new_counter(), &c));
    REQUIRE_OK(wv_counter_add(r[0], c, 40));
    r[1] = fork_of(r[0], 2), r[2] = fork_of(r[0], 3);
    REQUIRE_OK(wv_counter_add(r[0], c, 2));
    REQUIRE_OK(wv_counter_add(r[1], c, -10));
    REQUIRE_OK(wv_counter_add(r[1], c, INT64_MIN)); /* wraps like two's complement */
    REQUIRE_OK(wv_counter_add(r[2], c, 1000000000000));
    REQUIRE_OK(wv_counter_add(r[2], c, INT64_MIN));
    sync_all(r, 3);
    CHECK_JSON(r[1], "{\"views\":1000000000032}");
    free_all(r, 3);
}

static void test_list(void) {
    wv_doc *r[2];
    wv_ref l;
    r[0] = doc(1);
    REQUIRE_OK(wv_map_set(r[0], root, "l", wv_new_list(), &l));
    REQUIRE_OK(wv_list_insert(r[0], l, 0, wv_int(1), NULL));
    REQUIRE_OK(wv_list_insert(r[0], l, 1, wv_int(2), NULL));
    REQUIRE_OK(wv_list_insert(r[0], l, 2, wv_int(3), NULL));
    r[1] = fork_of(r[0], 2);
    /* both insert at position 1 and delete the same element */
    REQUIRE_OK(wv_list_insert(r[0], l, 1, wv_string("a", 1), NULL));
    REQUIRE_OK(wv_list_insert(r[0], l, 2, wv_string("b", 1), NULL));
    REQUIRE_OK(wv_list_insert(r[1], l, 1, wv_string("c", 1), NULL));
    REQUIRE_OK(wv_list_delete(r[0], l, 4, 1));
    REQUIRE_OK(wv_list_delete(r[1], l, 3, 1));
    sync_all(r, 2);
    /* "a" and "c" have equal clocks: the lower site first; "b" follows "a" */
    CHECK_JSON(r[0], "{\"l\":[1,\"a\",\"b\",\"c\",2]}");
    wv_value v;
    REQUIRE_OK(wv_list_get(r[1], l, 4, &v));
    CHECK(v.type == WV_T_INT && v.integer == 2);
    REQUIRE_OK(wv_list_get(r[1], l, 3, &v));
    CHECK(v.type == WV_T_STRING && v.len == 1);
    CHECK_RC(wv_list_get(r[1], l, 5, &v), WV_E_NOTFOUND);
    CHECK_RC(wv_list_delete(r[1], l, 4, 2), WV_E_RANGE);
    CHECK_RC(wv_list_insert(r[1], l, 6, wv_null(), NULL), WV_E_RANGE);
    free_all(r, 2);
}

static void test_container_delete_hides(void) {
    wv_doc *r[2];
    wv_ref items, m, t, inner;
    r[0] = doc(1);
    REQUIRE_OK(wv_map_set(r[0], root, "items", wv_new_list(), &items));
    REQUIRE_OK(wv_list_insert(r[0], items, 0, wv_new_map(), &m));
    REQUIRE_OK(wv_map_set(r[0], m, "title", wv_new_str("one", 3), &t));
    REQUIRE_OK(wv_map_set(r[0], root, "meta", wv_new_map(), &inner));
    REQUIRE_OK(wv_map_set(r[0], inner, "k", wv_int(1), NULL));
    r[1] = fork_of(r[0], 2);
    REQUIRE_OK(wv_list_delete(r[0], items, 0, 1));
    REQUIRE_OK(wv_map_delete(r[0], root, "meta"));
    REQUIRE_OK(wv_str_insert(r[1], t, 3, "!", 1));        /* inside the deleted element */
    REQUIRE_OK(wv_path_set(r[1], "meta/k2", wv_int(2), NULL)); /* inside the deleted entry */
    sync_all(r, 2);
    CHECK_JSON(r[1], "{\"items\":[]}");
    CHECK_RC(wv_str_insert(r[1], t, 0, "x", 1), WV_E_NOTFOUND);
    CHECK_RC(wv_get(r[1], inner, &(wv_value){0}), WV_E_NOTFOUND);
    free_all(r, 2);
}

/* The case: chars and containers of several priorities under one
 * parent. A creates a str, types "x", creates a second str; B, forked from
 * A, types "y" into the first; merged both ways, nothing is duplicated or
 * lost. Here the strs are list elements and map entries both. */
static void test_mixed_kinds_merge(void) {
    for (int shape = 0; shape < 2; shape++) {
        wv_doc *a = doc(1), *b;
        wv_ref s1, s2, l = root;
        if (shape) REQUIRE_OK(wv_map_set(a, root, "l", wv_new_list(), &l));
        if (shape) REQUIRE_OK(wv_list_insert(a, l, 0, wv_new_str("", 0), &s1));
        else REQUIRE_OK(wv_map_set(a, root, "s1", wv_new_str("", 0), &s1));
        REQUIRE_OK(wv_text_insert(a, 0, "r", 1)); /* a root char beside the entries */
        REQUIRE_OK(wv_str_insert(a, s1, 0, "x", 1));
        if (shape) REQUIRE_OK(wv_list_insert(a, l, 0, wv_new_str("", 0), &s2));
        else REQUIRE_OK(wv_map_set(a, root, "s2", wv_new_str("", 0), &s2));
        b = fork_of(a, 2);
        REQUIRE_OK(wv_str_insert(b, s1, 1, "y", 1));
        REQUIRE_OK(wv_str_insert(a, s2, 0, "z", 1));
        size_t atoms = wv_doc_atoms(a) + 1; /* b made one atom a lacks */
        wv_doc *ab, *ba;
        REQUIRE_OK(wv_doc_clone(a, &ab));
        REQUIRE_OK(wv_doc_clone(b, &ba));
        REQUIRE_OK(wv_merge(ab, b));
        REQUIRE_OK(wv_merge(ba, a));
        CHECK(wv_doc_atoms(ab) == atoms && wv_doc_atoms(ba) == atoms);
        CHECK(wv_weave_hash(ab) == wv_weave_hash(ba));
        CHECK_JSON(ab, shape ? "{\"l\":[\"z\",\"xy\"]}" : "{\"s1\":\"xy\",\"s2\":\"z\"}");
        CHECK_JSON(ba, shape ? "{\"l\":[\"z\",\"xy\"]}" : "{\"s1\":\"xy\",\"s2\":\"z\"}");
        char t[8];
        CHECK(wv_text_read(ab, t, sizeof t) == 1 && t[0] == 'r');
        /* idempotent, and through deltas the same */
        REQUIRE_OK(wv_merge(ab, ba));
        CHECK(wv_doc_atoms(ab) == atoms);
        wv_atom_info x[64];
        size_t n;
        wv_weft_entry w[4];
        size_t nw = wv_doc_weft_all(a, w, 4);
        REQUIRE_OK(wv_delta(b, w, nw, x, 64, &n));
        CHECK(n == 1);
        REQUIRE_OK(wv_apply(a, x, n));
        CHECK(wv_weave_hash(a) == wv_weave_hash(ab));
        wv_doc_free(a), wv_doc_free(b), wv_doc_free(ab), wv_doc_free(ba);
    }
}

typedef struct seen {
    int n;
    char keys[64];
} seen;

/* wv_each callback: appends keys to ctx's list; stops (7) at the third. */
static int each_key(void *ctx, const char *key, const wv_value *v) {
    seen *s = ctx;
    (void)v;
    strncat(s->keys, key, sizeof s->keys - strlen(s->keys) - 2);
    strcat(s->keys, ",");
    return ++s->n == 3 ? 7 : 0;
}

static void test_reads_paths_builder(void) {
    wv_doc *d = doc(1);
    wv_builder b;
    wv_builder_begin(&b, d, root);
    wv_builder_key(&b, "title"), wv_builder_put(&b, wv_new_str("Notes", 5));
    wv_builder_key(&b, "items"), wv_builder_put(&b, wv_new_list());
    wv_builder_put(&b, wv_new_map());
    wv_builder_key(&b, "title"), wv_builder_put(&b, wv_new_str("first", 5));
    wv_builder_key(&b, "done"), wv_builder_put(&b, wv_bool(0));
    wv_builder_up(&b);
    wv_builder_put(&b, wv_float(0.1));
    wv_builder_put(&b, wv_int(-1));
    wv_builder_up(&b);
    wv_builder_key(&b, "tags"), wv_builder_put(&b, wv_new_set(0));
    wv_builder_put(&b, wv_string("b", 1)), wv_builder_put(&b, wv_string("a", 1));
    wv_builder_up(&b);
    wv_builder_key(&b, "a/b~c"), wv_builder_put(&b, wv_string("tab\there \"q\" \xc3\xa9", 15));
    wv_builder_key(&b, "views"), wv_builder_put(&b, wv_new_counter());
    REQUIRE_OK(wv_builder_end(&b));
    const char *want = "{\"a/b~c\":\"tab\\there \\\"q\\\" \xc3\xa9\",\"items\":[{\"done\":false,\"title\":\"first\"},"
                       "0.1,-1],\"tags\":[\"a\",\"b\"],\"title\":\"Notes\",\"views\":0}";
    CHECK_JSON(d, want);
    wv_value v;
    REQUIRE_OK(wv_path_get(d, "/items/0/title", &v));
    CHECK(v.type == WV_T_STR && v.len == 5);
    char t[16];
    size_t n;
    REQUIRE_OK(wv_value_text(d, v.ref, t, sizeof t, &n));
    CHECK(n == 5 && strcmp(t, "first") == 0);
    REQUIRE_OK(wv_str_insert(d, v.ref, 5, "!", 1));
    REQUIRE_OK(wv_path_set(d, "items/0/done", wv_bool(1), NULL));
    REQUIRE_OK(wv_path_set(d, "items/1", wv_int(7), NULL)); /* replaces */
    REQUIRE_OK(wv_path_set(d, "items/-", wv_null(), NULL)); /* appends */
    REQUIRE_OK(wv_path_set(d, "items/4", wv_null(), NULL)); /* appends: index == length */
    REQUIRE_OK(wv_path_delete(d, "items/2"));
    REQUIRE_OK(wv_path_get(d, "a~1b~0c", &v));
    CHECK(v.type == WV_T_STRING && v.len == 15);
    CHECK_RC(wv_path_get(d, "items/9", &v), WV_E_NOTFOUND);
    CHECK_RC(wv_path_get(d, "items/01", &v), WV_E_NOTFOUND);
    CHECK_RC(wv_path_get(d, "title/x", &v), WV_E_TYPE);
    CHECK_RC(wv_path_get(d, "x~2", &v), WV_E_ARG);
    CHECK_RC(wv_path_set(d, "", wv_null(), NULL), WV_E_ARG);
    CHECK_RC(wv_path_set(d, "items/7", wv_null(), NULL), WV_E_RANGE);
    REQUIRE_OK(wv_path_get(d, "", &v));
    CHECK(v.type == WV_T_MAP && v.len == 5);
    CHECK_JSON(d, "{\"a/b~c\":\"tab\\there \\\"q\\\" \xc3\xa9\",\"items\":[{\"done\":true,\"title\":\"first!\"},"
                  "7,null,null],\"tags\":[\"a\",\"b\"],\"title\":\"Notes\",\"views\":0}");
    /* the JSON of a sub-tree, and snprintf-like truncation */
    REQUIRE_OK(wv_path_get(d, "items", &v));
    CHECK(v.len == 4);
    char small[8];
    REQUIRE_OK(wv_json(d, v.ref, small, sizeof small, &n));
    CHECK(n == strlen("[{\"done\":true,\"title\":\"first!\"},7,null,null]") && strcmp(small, "[{\"done") == 0);
    /* the builder's first error sticks */
    wv_builder_begin(&b, d, root);
    wv_builder_put(&b, wv_int(1)); /* no key */
    wv_builder_key(&b, "k"), wv_builder_put(&b, wv_int(1));
    CHECK_RC(wv_builder_end(&b), WV_E_ARG);
    wv_builder_begin(&b, d, v.ref);
    wv_builder_up(&b);
    CHECK_RC(wv_builder_end(&b), WV_E_ARG);
    wv_builder_begin(NULL, d, root), wv_builder_key(NULL, "k"), wv_builder_put(NULL, wv_null());
    wv_builder_up(NULL);
    CHECK_RC(wv_builder_end(NULL), WV_E_ARG);
    /* wv_each: keys in byte order, stopping when asked */
    seen sn = {0, ""};
    CHECK_RC(wv_each(d, root, each_key, &sn), 7);
    CHECK(sn.n == 3 && strcmp(sn.keys, "a/b~c,items,tags,") == 0);
    CHECK_RC(wv_each(d, root, NULL, NULL), WV_E_ARG);
    REQUIRE_OK(wv_path_get(d, "title", &v));
    CHECK_RC(wv_each(d, v.ref, each_key, &sn), WV_E_TYPE);
    wv_doc_free(d);
}

/* Every refused edit leaves the replica exactly as it was. */
static void test_errors_change_nothing(void) {
    wv_doc *d = doc(1);
    wv_ref s, l, set, c;
    REQUIRE_OK(wv_map_set(d, root, "s", wv_new_str("abc", 3), &s));
    REQUIRE_OK(wv_map_set(d, root, "l", wv_new_list(), &l));
    REQUIRE_OK(wv_map_set(d, root, "set", wv_new_set(0), &set));
    REQUIRE_OK(wv_map_set(d, root, "c", wv_new_counter(), &c));
    snap before = snap_of(d);
    char big[WV_KEY_MAX + 2];
    memset(big, 'k', sizeof big - 1), big[sizeof big - 1] = 0;
    CHECK_RC(wv_map_set(d, root, big, wv_null(), NULL), WV_E_RANGE);
    CHECK_RC(wv_map_set(d, root, "\xff", wv_null(), NULL), WV_E_UTF8);
    CHECK_RC(wv_map_set(d, root, NULL, wv_null(), NULL), WV_E_ARG);
    CHECK_RC(wv_map_set(d, s, "k", wv_null(), NULL), WV_E_TYPE);
    CHECK_RC(wv_map_set(d, (wv_ref){9, 9}, "k", wv_null(), NULL), WV_E_NOTFOUND);
    CHECK_RC(wv_map_set(d, (wv_ref){1, 999}, "k", wv_null(), NULL), WV_E_NOTFOUND);
    CHECK_RC(wv_map_set(d, root, "f", wv_float(1.0 / 0.0), NULL), WV_E_ARG);
    CHECK_RC(wv_map_set(d, root, "f", wv_string("\xc3", 1), NULL), WV_E_UTF8);
    CHECK_RC(wv_map_set(d, root, "f", wv_new_str("\xc3", 1), NULL), WV_E_UTF8);
    CHECK_RC(wv_map_set(d, root, "f", wv_string(NULL, 3), NULL), WV_E_ARG);
    wv_value bad = wv_null();
    bad.type = (wv_type)99;
    CHECK_RC(wv_map_set(d, root, "f", bad, NULL), WV_E_TYPE);
    CHECK_RC(wv_list_insert(d, l, 1, wv_null(), NULL), WV_E_RANGE);
    CHECK_RC(wv_list_insert(d, s, 0, wv_null(), NULL), WV_E_TYPE);
    CHECK_RC(wv_str_insert(d, s, 4, "x", 1), WV_E_RANGE);
    CHECK_RC(wv_str_delete(d, s, 1, 3), WV_E_RANGE);
    CHECK_RC(wv_set_add(d, set, wv_new_map()), WV_E_TYPE);
    CHECK_RC(wv_counter_add(d, l, 1), WV_E_TYPE);
    CHECK_RC(wv_map_delete(d, root, "nope"), WV_E_NOTFOUND);
    CHECK_RC(wv_path_delete(d, "l/0"), WV_E_NOTFOUND);
    CHECK(same_snap(before, snap_of(d)));
    CHECK_DOC(d);
    wv_doc_free(d);
}

/* Structure atoms from elsewhere are validated like chars: bad kinds,
 * values and parents are WV_E_ATOM, and the replica stays as it was. */
static void test_remote_grammar(void) {
    wv_doc *d = doc(1);
    wv_ref l;
    REQUIRE_OK(wv_map_set(d, root, "l", wv_new_list(), &l));
    snap before = snap_of(d);
    uint32_t entry = l.clock - 1; /* the ENTRY holding the list */
    struct { wv_atom_info a; int want; } cases[] = {
        {{2, 10, 0, 0, WV_KIND_LIST, 0, 0}, WV_E_ATOM},           /* a list under the root */
        {{2, 10, 1, l.clock, WV_KIND_ENTRY, 0, 0}, WV_E_ATOM},    /* an entry in a list */
        {{2, 10, 1, l.clock, WV_KIND_DELETE, 0, 0}, WV_E_ATOM},   /* deleting a container */
        {{2, 10, 1, entry, WV_KIND_SET, 2, 0}, WV_E_ATOM},        /* policy 2 */
        {{2, 10, 1, entry, WV_KIND_INT, 9, 0}, WV_E_ATOM},        /* 9 payload bytes */
        {{2, 10, 1, entry, (wv_kind)18, 0, 0}, WV_E_ATOM},        /* no such kind */
        {{2, 10, 1, entry, WV_KIND_ROOT, 0, 0}, WV_E_ATOM},
        {{2, 10, 1, l.clock, WV_KIND_CHAR, 'x', 0}, WV_E_ATOM},   /* a char in a list */
        {{2, 10, 1, entry, WV_KIND_DATA, 1, 0}, WV_OK},           /* grammatical, never made: ignored */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int rc = wv_apply(d, &cases[i].a, 1);
        CHECK(rc == cases[i].want);
        if (rc != cases[i].want) fprintf(stderr, "  case %zu: %s\n", i, wv_error_name(rc));
    }
    /* a fresh parent of the wrong kind, with its child */
    wv_atom_info two[] = {{2, 11, 1, l.clock, WV_KIND_ELEM, 0, 0}, {2, 12, 2, 11, WV_KIND_ENTRY, 0, 0}};
    CHECK_RC(wv_apply(d, two, 2), WV_E_ATOM);
    CHECK(wv_doc_atoms(d) == before.atoms + 1); /* only the stray DATA went in */
    CHECK_JSON(d, "{\"l\":[]}");
    /* and well-formed ones go in */
    wv_atom_info ok[] = {{2, 15, 1, l.clock, WV_KIND_ELEM, 0, 0}, {2, 16, 2, 15, WV_KIND_INT, 1, 0},
                         {2, 17, 2, 16, WV_KIND_DATA, 0x7f, 0}};
    REQUIRE_OK(wv_apply(d, ok, 3));
    CHECK_JSON(d, "{\"l\":[127]}");
    /* a short payload reads as absent, the same everywhere */
    wv_atom_info shortp[] = {{3, 19, 1, l.clock, WV_KIND_ELEM, 0, 0}, {3, 20, 3, 19, WV_KIND_STRING, 5, 0},
                             {3, 21, 3, 20, WV_KIND_DATA, 0x636261, 0}};
    REQUIRE_OK(wv_apply(d, shortp, 3));
    CHECK_JSON(d, "{\"l\":[127]}");
    wv_value v;
    REQUIRE_OK(wv_list_get(d, l, 0, &v));
    CHECK(v.type == WV_T_INT && v.integer == 127);
    wv_doc_free(d);
}

/* Structures survive encoding, decoding, deltas and clones exactly. */
static void test_encode_roundtrip(void) {
    wv_doc *a = doc(1), *b;
    wv_ref l, s;
    REQUIRE_OK(wv_text_insert(a, 0, "root text", 9));
    REQUIRE_OK(wv_map_set(a, root, "l", wv_new_list(), &l));
    REQUIRE_OK(wv_list_insert(a, l, 0, wv_new_str("h\xc3\xa9llo", 6), &s));
    REQUIRE_OK(wv_list_insert(a, l, 1, wv_float(-1.5e-300), NULL));
    REQUIRE_OK(wv_list_insert(a, l, 2, wv_int(INT64_MIN), NULL));
    REQUIRE_OK(wv_list_insert(a, l, 3, wv_string("", 0), NULL));
    REQUIRE_OK(wv_str_delete(a, s, 1, 2));
    REQUIRE_OK(wv_text_delete(a, 0, 5));
    REQUIRE_OK(wv_map_set(a, root, "n", wv_int(1), NULL));
    REQUIRE_OK(wv_map_set(a, root, "n", wv_int(2), NULL));
    size_t cap = wv_encode_bound(a), n;
    char *buf = malloc(cap);
    REQUIRE(buf);
    REQUIRE_OK(wv_encode(a, 0, NULL, 0, buf, cap, &n));
    REQUIRE_OK(wv_decode(&b, buf, n, NULL));
    CHECK(wv_weave_hash(a) == wv_weave_hash(b));
    CHECK_JSON(b, "{\"l\":[\"hlo\",-1.5e-300,-9223372036854775808,\"\"],\"n\":2}");
    char t[16];
    CHECK(wv_text_read(b, t, sizeof t) == 4 && strcmp(t, "text") == 0);
    /* every truncation is refused cleanly */
    for (size_t k = 0; k < n; k++) {
        wv_doc *c = NULL;
        CHECK(wv_decode(&c, buf, k, NULL) != WV_OK);
        CHECK(c == NULL);
    }
    free(buf);
    wv_doc_free(a), wv_doc_free(b);
}

/* Text edits at the root keep their positions beside structures, and the
 * structures' chars never show in the root text. */
static void test_root_text_beside_structures(void) {
    wv_doc *d = doc(1), *e;
    wv_ref s;
    REQUIRE_OK(wv_text_insert(d, 0, "bd", 2));
    REQUIRE_OK(wv_map_set(d, root, "s", wv_new_str("XYZ", 3), &s));
    REQUIRE_OK(wv_text_insert(d, 0, "a", 1));
    REQUIRE_OK(wv_text_insert(d, 2, "c", 1));
    REQUIRE_OK(wv_str_insert(d, s, 0, "W", 1));
    REQUIRE_OK(wv_text_delete(d, 3, 1));
    CHECK(wv_text_len(d) == 3);
    char *t = test_text(d);
    CHECK(strcmp(t, "abc") == 0);
    free(t);
    CHECK_JSON(d, "{\"s\":\"WXYZ\"}");
    e = fork_of(d, 2);
    REQUIRE_OK(wv_map_set(e, root, "t", wv_new_str("long text here", 14), NULL));
    REQUIRE_OK(wv_text_insert(d, 3, "!", 1));
    REQUIRE_OK(wv_merge(d, e));
    t = test_text(d);
    CHECK(strcmp(t, "abc!") == 0);
    free(t);
    CHECK(wv_text_len(d) == 4);
    CHECK_DOC(d);
    wv_doc_free(d), wv_doc_free(e);
}

/* Random edits of a str and a list beside root text, against plain models:
 * splices across chunk boundaries, deletes of a chunk's last atom, and
 * containers held by elements after deleted ones, reached by ref. */
static void test_random_against_model(void) {
    wv_doc *d = doc(1);
    wv_ref s, l;
    REQUIRE_OK(wv_map_set(d, root, "s", wv_new_str("", 0), &s));
    REQUIRE_OK(wv_map_set(d, root, "l", wv_new_list(), &l));
    char model[4096], got[4096];
    size_t len = 0, n;
    int64_t lm[512];
    wv_ref lref[512];
    size_t ln = 0;
    for (int step = 0; step < 3000; step++) {
        size_t r = rng_below(10);
        if (r < 4 && len < sizeof model - 8) {
            size_t pos = rng_below(len + 1), k = 1 + rng_below(6);
            char w[8];
            for (size_t i = 0; i < k; i++) w[i] = (char)('a' + rng_below(26));
            REQUIRE_OK(wv_str_insert(d, s, pos, w, k));
            memmove(model + pos + k, model + pos, len - pos), memcpy(model + pos, w, k), len += k;
        } else if (r < 6 && len) {
            size_t pos = rng_below(len), k = 1 + rng_below(len - pos < 5 ? len - pos : 5);
            REQUIRE_OK(wv_str_delete(d, s, pos, k));
            memmove(model + pos, model + pos + k, len - pos - k), len -= k;
        } else if (r < 8 && ln < 512) {
            size_t pos = rng_below(ln + 1);
            int64_t v = (int64_t)rng() >> rng_below(64);
            wv_ref made;
            REQUIRE_OK(wv_list_insert(d, l, pos, rng_below(2) ? wv_int(v) : wv_new_counter(), &made));
            wv_value got_v;
            REQUIRE_OK(wv_get(d, made, &got_v));
            if (got_v.type == WV_T_COUNTER) REQUIRE_OK(wv_counter_add(d, made, v));
            memmove(lm + pos + 1, lm + pos, (ln - pos) * sizeof *lm), lm[pos] = v;
            memmove(lref + pos + 1, lref + pos, (ln - pos) * sizeof *lref), lref[pos] = made;
            ln++;
        } else if (ln) {
            size_t pos = rng_below(ln);
            REQUIRE_OK(wv_list_delete(d, l, pos, 1));
            memmove(lm + pos, lm + pos + 1, (ln - pos - 1) * sizeof *lm);
            memmove(lref + pos, lref + pos + 1, (ln - pos - 1) * sizeof *lref);
            ln--;
        }
        if (step % 100 == 99 || step < 50) {
            REQUIRE_OK(wv_value_text(d, s, got, sizeof got, &n));
            CHECK(n == len && memcmp(got, model, len) == 0);
            for (size_t i = 0; i < ln; i++) { /* by index and by ref alike */
                wv_value a, b;
                REQUIRE_OK(wv_list_get(d, l, i, &a));
                CHECK(a.integer == lm[i]);
                CHECK(wv_get(d, lref[i], &b) == WV_OK && b.integer == lm[i] && b.ref.clock == a.ref.clock);
            }
            CHECK_DOC(d);
        }
    }
    wv_doc_free(d);
}

/* Allocation failure at every step of a structure edit and read: an error,
 * the replica unchanged, no leak. */
static void test_oom(void) {
    failalloc fa;
    wv_alloc hook;
    wv_options o = fa_options(&fa, &hook);
    int done = 0;
    for (long k = 0; !done && k < 100000; k++) {
        wv_doc *d;
        fa.countdown = -1;
        REQUIRE_OK(wv_doc_new(&d, 1, &o));
        wv_ref l, s;
        REQUIRE_OK(wv_map_set(d, root, "l", wv_new_list(), &l));
        for (int i = 0; i < 300; i++) REQUIRE_OK(wv_list_insert(d, l, (size_t)i, wv_int(i), NULL));
        REQUIRE_OK(wv_map_set(d, root, "s", wv_new_set(1), &s));
        REQUIRE_OK(wv_set_add(d, s, wv_string("m", 1)));
        fa.countdown = k;
        int rc = WV_OK;
        char buf[64];
        size_t n;
        for (int step = 0; !rc && step < 6; step++) {
            snap before = snap_of(d);
            switch (step) {
            case 0: rc = wv_map_set(d, root, "l2", wv_new_str("abc", 3), NULL); break;
            case 1: rc = wv_list_delete(d, l, 10, 200); break;
            case 2: rc = wv_set_remove(d, s, wv_string("m", 1)); break;
            case 3: rc = wv_path_set(d, "l/5", wv_string("five", 4), NULL); break;
            case 4: rc = wv_counter_add(d, (wv_ref){0, 0}, 1) == WV_E_TYPE ? WV_OK : -99; break;
            default: rc = wv_json(d, root, buf, sizeof buf, &n); break;
            }
            if (rc) CHECK(rc == WV_E_NOMEM && same_snap(before, snap_of(d)));
        }
        done = !rc;
        fa.countdown = -1;
        CHECK_DOC(d);
        wv_doc_free(d);
        CHECK(fa.live_blocks == 0 && fa.live_bytes == 0);
    }
    CHECK(done);
    /* each call alone: fails whole or succeeds whole */
    for (long k = 0; k < 200; k++) {
        wv_doc *d;
        fa.countdown = -1;
        REQUIRE_OK(wv_doc_new(&d, 1, &o));
        wv_ref l;
        REQUIRE_OK(wv_map_set(d, root, "l", wv_new_list(), &l));
        for (int i = 0; i < 300; i++) REQUIRE_OK(wv_list_insert(d, l, 0, wv_int(i), NULL));
        snap before = snap_of(d);
        fa.countdown = k;
        int rc = wv_list_delete(d, l, 3, 250);
        fa.countdown = -1;
        if (rc) CHECK(rc == WV_E_NOMEM && same_snap(before, snap_of(d)));
        CHECK_DOC(d);
        wv_doc_free(d);
        if (!rc) break;
    }
}

int main(void) {
    test_init();
    test_map_register();
    test_map_delete_vs_write();
    test_sets();
    test_counter();
    test_list();
    test_container_delete_hides();
    test_mixed_kinds_merge();
    test_reads_paths_builder();
    test_errors_change_nothing();
    test_remote_grammar();
    test_encode_roundtrip();
    test_root_text_beside_structures();
    test_random_against_model();
    test_oom();
    return test_done("test_struct");
}

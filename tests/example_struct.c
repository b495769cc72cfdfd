#include <stdio.h>
#include <weave/weave.h>

int main(void) {
    wv_doc *a, *b;
    wv_value v, all[4];
    wv_builder bl;
    char json[256];
    size_t n, len;
    if (wv_doc_new(&a, 1, NULL)) return 1;
    wv_builder_begin(&bl, a, (wv_ref){0, 0});           /* the root map */
    wv_builder_key(&bl, "title"); wv_builder_put(&bl, wv_new_str("Notes", 5));
    wv_builder_key(&bl, "items"); wv_builder_put(&bl, wv_new_list());
    wv_builder_put(&bl, wv_new_map());                   /* items/0 */
    wv_builder_key(&bl, "done");  wv_builder_put(&bl, wv_bool(0));
    if (wv_builder_end(&bl) || wv_doc_fork(a, 2, &b)) return 1;

    wv_path_set(a, "items/0/done", wv_bool(1), NULL);    /* concurrent writes */
    wv_path_set(b, "items/0/done", wv_string("soon", 4), NULL);
    wv_path_get(b, "title", &v);                         /* a str: shared text */
    wv_str_insert(b, v.ref, 5, " (draft)", 8);

    wv_merge(a, b);
    wv_json(a, (wv_ref){0, 0}, json, sizeof json, &len);
    printf("%s\n", json);
    wv_path_get(a, "items/0", &v);
    wv_map_conflicts(a, v.ref, "done", all, 4, &n);      /* every value, winner first */
    wv_json(a, all[1].ref, json, sizeof json, &len);
    printf("%zu values: %s wins over %s\n", n, all[0].boolean ? "true" : "false", json);
    wv_doc_free(a);
    wv_doc_free(b);
    return 0;
}

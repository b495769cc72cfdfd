#include <stdio.h>
#include <weave/weave.h>

int main(void) {
    wv_doc *alice, *bob;
    char text[64];
    if (wv_doc_new(&alice, 1, NULL)) return 1;           /* site 1 */
    wv_text_insert(alice, 0, "Hello world", 11);
    if (wv_doc_fork(alice, 2, &bob)) return 1;           /* site 2, a copy */

    wv_text_insert(alice, 5, ",", 1);                    /* offline edits */
    wv_text_insert(bob, 11, "!", 1);
    int rc = wv_text_delete(bob, 99, 1);                 /* out of range */
    printf("bob: %s\n", wv_error_message(rc));           /* nothing changed */

    wv_merge(alice, bob);                                /* either order, */
    wv_merge(bob, alice);                                /* same weave */
    wv_text_read(alice, text, sizeof text);
    printf("%s | same weave: %d\n", text, wv_weave_hash(alice) == wv_weave_hash(bob));
    wv_doc_free(alice);
    wv_doc_free(bob);
    return 0;
}

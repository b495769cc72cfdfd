/* Compiles one public header by itself (WV_TEST_HEADER), with strict flags. */
#include WV_TEST_HEADER
int main(void) { return 0; }

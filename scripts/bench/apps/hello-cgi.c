/* Benchmark app: CGI "Hello, world!" (one fork + exec per request, nothing else).
 * scripts/bench/site.mjs builds it with: gcc -O2 -o hello.cgi hello-cgi.c */
#include <stdio.h>

int main(void) {
    fputs("Content-Type: text/plain\r\n\r\nHello, world!\n", stdout);
    return 0;
}

/* Benchmark app: FastCGI "Hello, world!" on libfcgi's stdio layer, one request at a time.
 * scripts/bench/site.mjs builds it with: gcc -O2 -o hello.fcgi hello-fcgi.c -lfcgi */
#include <fcgi_stdio.h>

int main(void) {
    while (FCGI_Accept() >= 0)
        fputs("Content-Type: text/plain\r\n\r\nHello, world!\n", stdout);
    return 0;
}

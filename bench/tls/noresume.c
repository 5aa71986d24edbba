/*
 * bench/tls/noresume.c: preloaded into wrk by bench/tls.sh (LD_PRELOAD), so that every TLS connection wrk makes is a
 * full handshake, whatever the server allows.
 *
 * wrk 4.1 keeps one OpenSSL SSL object per connection and, between two connections, calls SSL_shutdown and SSL_clear;
 * SSL_clear keeps the session, so the next SSL_connect offers it (a TLS 1.3 ticket, or a TLS 1.2 session id or
 * ticket) and the server may resume instead of making a full handshake. This wrapper drops the session before a
 * handshake starts (SSL_in_before: no handshake message sent yet; wrk calls SSL_connect again while a non-blocking
 * handshake is in progress, and those calls pass through untouched). wrk links libssl dynamically (Debian's
 * package), so the wrapper is found first and the real SSL_connect next (dlsym RTLD_NEXT).
 *
 * Built by bench/tls.sh: cc -shared -fPIC -O2 -o noresume.so noresume.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct ssl_st SSL;
typedef struct ssl_session_st SSL_SESSION;

/* From libssl (already loaded by wrk). */
extern int SSL_in_before(const SSL *s);
extern int SSL_set_session(SSL *s, SSL_SESSION *session);

int SSL_connect(SSL *s)
{
    static int (*real_connect)(SSL *) = NULL;
    if (real_connect == NULL) {
        real_connect = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_connect");
        if (real_connect == NULL) {
            fprintf(stderr, "noresume.so: no SSL_connect after this library: %s\n", dlerror());
            abort();
        }
    }
    if (SSL_in_before(s)) {
        SSL_set_session(s, NULL);
    }
    return real_connect(s);
}

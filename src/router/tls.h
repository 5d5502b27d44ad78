#ifndef SM_ROUTER_TLS_H
#define SM_ROUTER_TLS_H
/*
 * TLS at the edge (docs/tls.md): OpenSSL sessions driven through memory BIOs,
 * so the router's libuv callbacks move the bytes and nothing here blocks or
 * touches a socket.  Ciphertext from the client goes in with tls_conn__feed;
 * plaintext comes out of tls_conn__read (which also runs the handshake);
 * plaintext for the client goes in with tls_conn__write and the resulting
 * ciphertext (handshake records and alerts too) is taken out with
 * tls_conn__take and written to the socket by the caller.
 */
#include <stdbool.h>
#include <stddef.h>

struct tls_server;
struct tls_conn;

/* The certificate chain and key (PEM files), checked to match; TLS 1.2+,
 * ECDHE + AEAD ciphers, the server's preference.  NULL with err filled in
 * (one line naming the file and what to do). */
struct tls_server *tls_server__new(const char *cert, const char *key, char *err, size_t errlen);
void tls_server__free(struct tls_server *t);

enum { TLS_MORE = 0, TLS_EOF = -1, TLS_ERR = -2 };

struct tls_conn *tls_conn__new(struct tls_server *t);
void tls_conn__free(struct tls_conn *c);
int tls_conn__feed(struct tls_conn *c, const void *p, size_t n);		/* 0 / TLS_ERR */
/* > 0 plaintext bytes; TLS_MORE: needs ciphertext; TLS_EOF: close_notify; TLS_ERR */
int tls_conn__read(struct tls_conn *c, void *p, size_t cap);
bool tls_conn__ready(const struct tls_conn *c);				/* handshake done */
bool tls_conn__buffered(const struct tls_conn *c);			/* input not read yet */
int tls_conn__write(struct tls_conn *c, const void *p, size_t n);	/* 0 / TLS_ERR */
void tls_conn__close_notify(struct tls_conn *c);
size_t tls_conn__take(struct tls_conn *c, void *p, size_t cap);	/* ciphertext out */
size_t tls_conn__pending(const struct tls_conn *c);
/* The last failure, one line (OpenSSL's reason). */
const char *tls_conn__why(const struct tls_conn *c);
#endif

/*
 * TLS sessions for the router (tls.h, docs/tls.md).  One SSL_CTX per edge
 * port; one SSL per client connection with a memory BIO each way.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "router/tls.h"

/* TLS 1.2: forward secrecy and AEAD only (no NULL, EXPORT, RC4, 3DES, CBC,
 * static RSA); TLS 1.3 keeps OpenSSL's three AEAD suites. */
#define TLS12_CIPHERS	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
			"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
			"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

struct tls_server {
	SSL_CTX *ctx;
};

struct tls_conn {
	SSL *ssl;
	BIO *in, *out;		/* owned by ssl */
	char why[160];
};

static void last_error(char *out, size_t cap, const char *fallback)
{
	unsigned long e = ERR_peek_error();		/* the first: the cause, not "PEM lib" */
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	snprintf(out, cap, "%s", r ? r : fallback);
	ERR_clear_error();
}

static int no_passphrase(char *buf, int size, int rw, void *u)
{
	(void)buf, (void)size, (void)rw, (void)u;
	return -1;
}

/* ALPN: HTTP/1.1 when the client offers it, else no ALPN at all. */
static int alpn_select(SSL *s, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned inlen, void *arg)
{
	static const unsigned char h11[] = "\x08http/1.1";

	(void)s, (void)arg;
	if (SSL_select_next_proto((unsigned char **)out, outlen, h11, sizeof(h11) - 1, in, inlen) ==
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_OK;
	return SSL_TLSEXT_ERR_NOACK;
}

static SSL_CTX *new_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
				 SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);	/* idle keep-alive conns hold no record buffers */
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"sm-router", 9);
	if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static int readable(const char *path, const char *what, char *err, size_t errlen)
{
	if (access(path, R_OK) == 0)
		return 0;
	snprintf(err, errlen, "%s %s: cannot read it (%s) — give a readable PEM file", what, path, strerror(errno));
	return -1;
}

/* Never prompts on a terminal for a passphrase: an encrypted key fails. */
static EVP_PKEY *read_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	if (!f)
		return NULL;
	k = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	fclose(f);
	return k;
}

static int load(SSL_CTX *ctx, const char *cert, const char *key, char *err, size_t errlen)
{
	char why[120];
	EVP_PKEY *pk;
	int used;

	if (readable(cert, "certificate", err, errlen) < 0 || readable(key, "key", err, errlen) < 0)
		return -1;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		last_error(why, sizeof(why), "not a certificate");
		snprintf(err, errlen, "certificate %s: not a PEM certificate (OpenSSL: %s) — give one "
			 "(-----BEGIN CERTIFICATE-----), the server's first, then its chain", cert, why);
		return -1;
	}
	if (!(pk = read_key(key))) {
		last_error(why, sizeof(why), "not a private key");
		snprintf(err, errlen, "key %s: not an unencrypted PEM private key (OpenSSL: %s) — give one "
			 "(openssl pkey -in %s -out plain.pem decrypts an encrypted key)", key, why, key);
		return -1;
	}
	used = SSL_CTX_use_PrivateKey(ctx, pk);	/* fails when it is not the certificate's key */
	EVP_PKEY_free(pk);
	if (used != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "key %s does not match the certificate %s — give the key the certificate was made for",
			 key, cert);
		return -1;
	}
	return 0;
}

struct tls_server *tls_server__new(const char *cert, const char *key, char *err, size_t errlen)
{
	struct tls_server *t = calloc(1, sizeof(*t));

	if (!t || !(t->ctx = new_ctx())) {
		snprintf(err, errlen, "TLS: cannot set up OpenSSL");
		free(t);
		return NULL;
	}
	if (load(t->ctx, cert, key, err, errlen) < 0) {
		tls_server__free(t);
		return NULL;
	}
	return t;
}

void tls_server__free(struct tls_server *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);		/* sessions still open hold their own reference */
	free(t);
}

struct tls_conn *tls_conn__new(struct tls_server *t)
{
	struct tls_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ssl = SSL_new(t->ctx);
	c->in = BIO_new(BIO_s_mem());
	c->out = BIO_new(BIO_s_mem());
	if (!c->ssl || !c->in || !c->out) {
		BIO_free(c->in);
		BIO_free(c->out);
		SSL_free(c->ssl);
		free(c);
		return NULL;
	}
	BIO_set_mem_eof_return(c->in, -1);	/* empty input: "want read", not EOF */
	SSL_set_bio(c->ssl, c->in, c->out);
	SSL_set_accept_state(c->ssl);
	return c;
}

void tls_conn__free(struct tls_conn *c)
{
	if (!c)
		return;
	SSL_free(c->ssl);
	free(c);
}

int tls_conn__feed(struct tls_conn *c, const void *p, size_t n)
{
	if (n > 0x7fffffff || BIO_write(c->in, p, (int)n) != (int)n) {
		snprintf(c->why, sizeof(c->why), "out of memory");
		return TLS_ERR;
	}
	return 0;
}

int tls_conn__read(struct tls_conn *c, void *p, size_t cap)
{
	int n = SSL_read(c->ssl, p, cap > 0x7fffffff ? 0x7fffffff : (int)cap);

	if (n > 0)
		return n;
	switch (SSL_get_error(c->ssl, n)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return TLS_MORE;
	case SSL_ERROR_ZERO_RETURN:
		return TLS_EOF;
	}
	last_error(c->why, sizeof(c->why), "TLS protocol error");
	return TLS_ERR;
}

bool tls_conn__ready(const struct tls_conn *c)
{
	return SSL_is_init_finished(c->ssl);
}

bool tls_conn__buffered(const struct tls_conn *c)
{
	return SSL_pending(c->ssl) > 0 || BIO_ctrl_pending(c->in) > 0;
}

/* With a memory BIO out, a write takes everything at once (the BIO grows). */
int tls_conn__write(struct tls_conn *c, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (n > 0x7fffffff || SSL_write(c->ssl, p, (int)n) != (int)n) {
		last_error(c->why, sizeof(c->why), "TLS write failed");
		return TLS_ERR;
	}
	return 0;
}

void tls_conn__close_notify(struct tls_conn *c)
{
	if (SSL_is_init_finished(c->ssl))
		SSL_shutdown(c->ssl);
	ERR_clear_error();
}

size_t tls_conn__take(struct tls_conn *c, void *p, size_t cap)
{
	int n = BIO_read(c->out, p, cap > 0x7fffffff ? 0x7fffffff : (int)cap);

	return n > 0 ? (size_t)n : 0;
}

size_t tls_conn__pending(const struct tls_conn *c)
{
	return BIO_ctrl_pending(c->out);
}

const char *tls_conn__why(const struct tls_conn *c)
{
	return c->why[0] ? c->why : "TLS error";
}

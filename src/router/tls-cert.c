/*
 * Self-signed certificates and fingerprints (tls-cert.h), with OpenSSL's C
 * API: no `openssl` command, no configuration file read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "router/tls-cert.h"

#define VALID_DAYS	3650

static int fail(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_peek_last_error();

	snprintf(err, errlen, "%s%s%s", what, e ? ": " : "", e ? ERR_reason_error_string(e) : "");
	ERR_clear_error();
	return -1;
}

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *e;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if (!(e = X509V3_EXT_conf_nid(NULL, &v3, nid, value)))
		return 0;
	ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok;
}

static X509 *self_signed(EVP_PKEY *k)
{
	X509 *x = X509_new();
	X509_NAME *n = x ? X509_get_subject_name(x) : NULL;
	unsigned char serial[16];
	BIGNUM *bn = NULL;

	if (!x || RAND_bytes(serial, sizeof(serial)) != 1 || !(bn = BN_bin2bn(serial, sizeof(serial), NULL)))
		goto bad;
	BN_clear_bit(bn, 127);				/* a positive serial (RFC 5280 §4.1.2.2) */
	if (!BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) || !X509_set_version(x, 2) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 86400L * VALID_DAYS) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"sm self-signed", -1, -1, 0) ||
	    !X509_set_issuer_name(x, n) || !X509_set_pubkey(x, k) ||
	    !add_ext(x, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(x, NID_key_usage, "critical,digitalSignature") ||
	    !add_ext(x, NID_ext_key_usage, "serverAuth") ||
	    !add_ext(x, NID_subject_key_identifier, "hash") ||
	    !add_ext(x, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") ||
	    !X509_sign(x, k, EVP_sha256()))
		goto bad;
	BN_free(bn);
	return x;
bad:
	BN_free(bn);
	X509_free(x);
	return NULL;
}

/* A new file, 0600, that no one else can have opened first. */
static FILE *create(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (!f) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	return f;
}

static int write_pem(const char *path, EVP_PKEY *k, X509 *x, char *err, size_t errlen)
{
	FILE *f = create(path, err, errlen);
	int ok;

	if (!f)
		return -1;
	ok = k ? PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, x);
	if (fclose(f) != 0 || !ok) {
		unlink(path);
		return fail(err, errlen, "cannot write the TLS files");
	}
	return 0;
}

int tls_cert__generate(const char *cert, const char *key, char *err, size_t errlen)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = k ? self_signed(k) : NULL;
	int r = -1;

	if (!x)
		fail(err, errlen, "cannot make a self-signed certificate");
	else if (write_pem(key, k, NULL, err, errlen) == 0)
		r = write_pem(cert, NULL, x, err, errlen);
	X509_free(x);
	EVP_PKEY_free(k);
	return r;
}

int tls_cert__fingerprint(const char *cert, char fp[TLS_FP_LEN + 1], char *err, size_t errlen)
{
	FILE *f = fopen(cert, "r");
	X509 *x;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	if (!f) {
		snprintf(err, errlen, "certificate %s: %s", cert, strerror(errno));
		return -1;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x || !X509_digest(x, EVP_sha256(), md, &n) || n != 32) {
		X509_free(x);
		snprintf(err, errlen, "certificate %s: no PEM certificate in it", cert);
		ERR_clear_error();
		return -1;
	}
	X509_free(x);
	for (unsigned i = 0; i < n; i++)
		snprintf(fp + 3 * i, 4, "%02X%s", md[i], i + 1 < n ? ":" : "");
	return 0;
}

/* sha256 content digests (OpenSSL EVP does the hashing). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "oci/digest.h"

#define SHA256_PREFIX "sha256:"

bool oci_digest__valid(const char *d)
{
	if (!d || strncmp(d, SHA256_PREFIX, 7) != 0 || strlen(d) != OCI_DIGEST_LEN)
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

const char *oci_digest__hex(const char *d)
{
	return d + 7;
}

struct oci_hash *oci_hash__new(void)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c);
		errno = EIO;
		return NULL;
	}
	return (struct oci_hash *)c;
}

int oci_hash__update(struct oci_hash *h, const void *buf, size_t n)
{
	return EVP_DigestUpdate((EVP_MD_CTX *)h, buf, n) == 1 ? 0 : -EIO;
}

int oci_hash__final(struct oci_hash *h, oci_digest_t out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (EVP_DigestFinal_ex((EVP_MD_CTX *)h, md, &len) != 1 || len != 32)
		return -EIO;
	memcpy(out, SHA256_PREFIX, 7);
	for (unsigned int i = 0; i < len; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
	return 0;
}

void oci_hash__free(struct oci_hash *h)
{
	EVP_MD_CTX_free((EVP_MD_CTX *)h);
}

int oci_digest__buf(const void *buf, size_t n, oci_digest_t out)
{
	struct oci_hash *h = oci_hash__new();
	int r;

	if (!h)
		return -errno;
	r = oci_hash__update(h, buf, n);
	if (r == 0)
		r = oci_hash__final(h, out);
	oci_hash__free(h);
	return r;
}

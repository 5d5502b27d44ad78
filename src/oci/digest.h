#ifndef SM_OCI_DIGEST_H
#define SM_OCI_DIGEST_H
#include <stdbool.h>
#include <stddef.h>
/* Content digests.  Only sha256 is accepted ("sha256:" + 64 lowercase hex). */
#define OCI_DIGEST_LEN 71              /* strlen("sha256:") + 64 */
typedef char oci_digest_t[OCI_DIGEST_LEN + 1];

bool oci_digest__valid(const char *d);
const char *oci_digest__hex(const char *d);   /* the 64 hex chars */

struct oci_hash;
struct oci_hash *oci_hash__new(void);
int  oci_hash__update(struct oci_hash *h, const void *buf, size_t n);
int  oci_hash__final(struct oci_hash *h, oci_digest_t out);
void oci_hash__free(struct oci_hash *h);
int  oci_digest__buf(const void *buf, size_t n, oci_digest_t out);
#endif

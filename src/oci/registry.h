#ifndef SM_OCI_REGISTRY_H
#define SM_OCI_REGISTRY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oci/digest.h"
#include "oci/manifest.h"
#include "oci/ref.h"
/*
 * Docker Registry HTTP API v2 client (libcurl).  Anonymous, bearer-token
 * and basic auth; transient failures retried with backoff; plain HTTP only
 * for loopback hosts or when insecure is set.
 */
typedef void (*oci_progress_fn)(void *ud, const char *digest, int64_t done, int64_t total);

struct oci_registry;
struct oci_registry *oci_registry__new(const struct oci_ref *ref, bool insecure);
void oci_registry__free(struct oci_registry *r);
/* Fetches a manifest (tag or digest) into the cache; *buf holds its bytes. */
int oci_registry__manifest(struct oci_registry *r, const char *reference,
			   char **buf, size_t *len, oci_digest_t digest);
/* Fetches the blobs not yet cached, a few at a time, verifying each. */
int oci_registry__blobs(struct oci_registry *r, const struct oci_desc *descs, size_t n,
			oci_progress_fn progress, void *ud);
#endif

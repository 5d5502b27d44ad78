#ifndef SM_OCI_BLOBW_H
#define SM_OCI_BLOBW_H
#include <stddef.h>
#include <stdint.h>

#include "oci/digest.h"
/*
 * A blob on its way into the cache: bytes are hashed as they are written to
 * a private temp file; commit checks the digest (and size), fsyncs and
 * renames to blobs/sha256/<hex>.  A bad digest, a crash or an abort never
 * leaves anything under blobs/.
 */
struct oci_blobw;
struct oci_blobw *oci_blobw__new(int64_t max_size);     /* -1: no limit */
int  oci_blobw__write(struct oci_blobw *w, const void *buf, size_t n);
int64_t oci_blobw__size(const struct oci_blobw *w);
int  oci_blobw__reset(struct oci_blobw *w);              /* start over (retry) */
/* want: expected digest or NULL to accept any; got receives the digest. */
int  oci_blobw__commit(struct oci_blobw *w, const char *want, oci_digest_t got);
void oci_blobw__free(struct oci_blobw *w);              /* aborts if not committed */
#endif

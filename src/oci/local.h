#ifndef SM_OCI_LOCAL_H
#define SM_OCI_LOCAL_H
#include "oci/digest.h"
#include "oci/manifest.h"
/*
 * Local image sources.  Each brings the image's config and layer blobs into
 * the cache (verified like registry blobs) and returns its linux/amd64
 * image manifest and that manifest's digest (docker-archive has no
 * manifest: the digest is the config's, docker's image ID).
 *   oci-layout:DIR[:TAG]    an OCI image layout directory
 *   oci-archive:FILE[:TAG]  the same as a tar
 *   docker-archive:FILE     `docker save` output
 */
int oci_local__layout(const char *dir, const char *tag, struct oci_manifest *m, oci_digest_t digest);
int oci_local__oci_archive(const char *file, const char *tag, struct oci_manifest *m, oci_digest_t digest);
int oci_local__docker_archive(const char *file, struct oci_manifest *m, oci_digest_t digest);
#endif

#ifndef SM_OCI_REF_H
#define SM_OCI_REF_H
#include <stdbool.h>
#include <stddef.h>

#include "oci/digest.h"
/*
 * Image references, normalised the way docker does:
 *   nginx                      -> docker.io/library/nginx:latest
 *   user/app:1                 -> docker.io/user/app:1
 *   localhost:5000/a/b@sha256:.. (first component with '.', ':' or
 *                                 "localhost" is a registry host)
 */
struct oci_ref {
	char host[256];          /* "docker.io", "localhost:5000", "[::1]:5000" */
	char repo[256];          /* "library/nginx" */
	char tag[129];           /* "" when only a digest was given */
	oci_digest_t digest;     /* "" unless pinned */
};

int  oci_ref__parse(const char *s, struct oci_ref *out);
int  oci_ref__format(const struct oci_ref *r, char *buf, size_t n);
const char *oci_ref__api_host(const struct oci_ref *r);  /* registry-1.docker.io for docker.io */
bool oci_ref__host_is_loopback(const char *host);
#endif

#ifndef SM_OCI_MANIFEST_H
#define SM_OCI_MANIFEST_H
#include <stddef.h>
#include <stdint.h>

#include "oci/digest.h"
/*
 * Image manifests and indexes: OCI image-spec v1 and Docker schema2
 * (manifest lists).  Parsed from untrusted bytes, at most OCI_MANIFEST_MAX.
 */
#define OCI_MANIFEST_MAX (4 << 20)

#define OCI_MT_MANIFEST   "application/vnd.oci.image.manifest.v1+json"
#define OCI_MT_INDEX      "application/vnd.oci.image.index.v1+json"
#define DOCKER_MT_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_MT_LIST    "application/vnd.docker.distribution.manifest.list.v2+json"
#define OCI_ACCEPT_ALL    OCI_MT_MANIFEST ", " OCI_MT_INDEX ", " DOCKER_MT_MANIFEST ", " DOCKER_MT_LIST

enum oci_manifest_kind { OCI_MANIFEST_IMAGE = 1, OCI_MANIFEST_INDEX = 2 };

struct oci_desc {
	char media_type[128];
	oci_digest_t digest;
	int64_t size;
	char os[32], arch[32], variant[16];   /* index entries only */
	char ref_name[160];                    /* org.opencontainers.image.ref.name */
};

struct oci_manifest {
	enum oci_manifest_kind kind;
	char media_type[128];
	struct oci_desc config;                /* images */
	struct oci_desc *descs;                /* layers (image) or manifests (index) */
	size_t n;
};

int  oci_manifest__parse(const char *buf, size_t len, struct oci_manifest *m);
/* The entry for os/arch ("linux", "amd64"); NULL + message if none. */
const struct oci_desc *oci_manifest__select(const struct oci_manifest *idx,
					    const char *os, const char *arch);
void oci_manifest__free(struct oci_manifest *m);
#endif

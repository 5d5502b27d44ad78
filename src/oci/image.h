#ifndef SM_OCI_IMAGE_H
#define SM_OCI_IMAGE_H
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "oci/config.h"
#include "oci/digest.h"
#include "oci/registry.h"
/*
 * Pulling an image: from a registry or a local source (local.h) into the
 * cache, then every layer converted to its filesystem image (layer.h).
 */
struct oci_image_layer {
	oci_digest_t digest;
	char media_type[128];
	int64_t size;
	char image[PATH_MAX];            /* the layer's erofs or squashfs image */
	const char *format;              /* "erofs" or "squashfs" */
};

struct oci_image {
	char ref[1200];                  /* normalised reference or transport:path */
	oci_digest_t digest;             /* manifest digest (docker-archive: config) */
	oci_digest_t config_digest;
	struct oci_runcfg cfg;
	struct oci_image_layer *layers;
	size_t n;
	int64_t size;                    /* compressed layers + config */
};

struct oci_pull_opts {
	bool insecure;
	oci_progress_fn progress;        /* config and layers, by digest */
	void *ud;
};

int  oci_image__pull(const char *src, const struct oci_pull_opts *o, struct oci_image *img);
void oci_image__free(struct oci_image *img);
#endif

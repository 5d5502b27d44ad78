#ifndef SM_OCI_CACHE_H
#define SM_OCI_CACHE_H
#include <stdbool.h>
#include <stddef.h>
/*
 * The content-addressed cache shared by every image (docs/images.md §1):
 *   $SM_CACHE_DIR or $XDG_CACHE_HOME/sm or ~/.cache/sm
 *     blobs/sha256/<hex>     verified blobs (manifests, configs, layers)
 *     layers/<hex>.erofs     one erofs image per layer, by layer digest
 *     layers/<hex>.sqfs      (or squashfs, SM_LAYER_FORMAT=squashfs)
 *     tmp/                   files being written; renamed into place when whole
 */
int  oci_cache__init(void);
const char *oci_cache__root(void);
int  oci_cache__blob_path(const char *digest, char *out, size_t n);
/* ext: oci_layer__fmt_ext() */
int  oci_cache__layer_path(const char *digest, const char *ext, char *out, size_t n);
bool oci_cache__exists(const char *path);
int  oci_cache__tmp(const char *prefix, char *path, size_t n);   /* returns an fd */
int  oci_cache__publish(const char *tmp, const char *final);     /* fsync + rename */
int  oci_cache__read(const char *path, size_t max, char **buf, size_t *len);
#endif

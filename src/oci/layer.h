#ifndef SM_OCI_LAYER_H
#define SM_OCI_LAYER_H
#include <stddef.h>
/*
 * One layer tar (gzip, zstd or plain) -> one read-only filesystem image
 * (erofs by default, squashfs on request), with OCI whiteouts turned into
 * overlayfs ones (docs/images.md §3).  The tar is untrusted: bad entries
 * fail the layer with a message naming the entry.  Nothing on the host is
 * opened by a tar path.
 */
enum oci_layer_fmt {
	OCI_LAYER_EROFS,
	OCI_LAYER_SQUASHFS,
};

struct oci_layer_stats {
	size_t entries;
	unsigned long long bytes;
};
/* $SM_LAYER_FORMAT: "erofs" (also when unset or empty) or "squashfs"; -EINVAL otherwise. */
int oci_layer__default_fmt(enum oci_layer_fmt *fmt);
int oci_layer__parse_fmt(const char *name, enum oci_layer_fmt *fmt);
const char *oci_layer__fmt_name(enum oci_layer_fmt fmt);   /* "erofs", "squashfs" */
const char *oci_layer__fmt_ext(enum oci_layer_fmt fmt);    /* cache file suffix: "erofs", "sqfs" */
int oci_layer__convert_file(const char *tar_path, const char *out_path, enum oci_layer_fmt fmt,
			    struct oci_layer_stats *st);
int oci_layer__convert_mem(const void *buf, size_t len, const char *out_path, enum oci_layer_fmt fmt,
			   struct oci_layer_stats *st);
#endif

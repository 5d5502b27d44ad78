#ifndef SM_OCI_LAYER_H
#define SM_OCI_LAYER_H
#include <stddef.h>
/*
 * One layer tar (gzip, zstd or plain) -> one read-only squashfs image, with
 * OCI whiteouts turned into overlayfs ones (docs/images.md §3).  The tar is
 * untrusted: bad entries fail the layer with a message naming the entry.
 * Nothing on the host is opened by a tar path.
 */
struct oci_layer_stats {
	size_t entries;
	unsigned long long bytes;
};
int oci_layer__convert_file(const char *tar_path, const char *out_path, struct oci_layer_stats *st);
int oci_layer__convert_mem(const void *buf, size_t len, const char *out_path, struct oci_layer_stats *st);
#endif

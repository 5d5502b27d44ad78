#ifndef SM_OCI_SQFSW_H
#define SM_OCI_SQFSW_H
#include <stddef.h>

#include "oci/tree.h"
/*
 * A squashfs image being written (libsquashfs from squashfs-tools-ng):
 * file data streams in as the tar is read; the tree of inodes and
 * directories is written by sqfsw__finish.  zstd, 128 KiB blocks.
 */
struct sqfsw;
struct sqfsw *sqfsw__open(const char *path);
int  sqfsw__begin_file(struct sqfsw *w, struct tree_node *n);
int  sqfsw__append(struct sqfsw *w, const void *buf, size_t len);
int  sqfsw__end_file(struct sqfsw *w);
int  sqfsw__finish(struct sqfsw *w, struct tree_node *root);
void sqfsw__close(struct sqfsw *w);
#endif

#ifndef SM_OCI_SQFSW_H
#define SM_OCI_SQFSW_H
#include "oci/imgw.h"
/*
 * A squashfs image being written (libsquashfs from squashfs-tools-ng):
 * file data streams in as the tar is read; the tree of inodes and
 * directories is written by finish.  zstd, 128 KiB blocks.
 */
struct imgw *sqfsw__open(const char *path);
#endif

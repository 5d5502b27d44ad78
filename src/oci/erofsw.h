#ifndef SM_OCI_EROFSW_H
#define SM_OCI_EROFSW_H
#include "oci/imgw.h"
/*
 * An uncompressed EROFS image being written (Linux 6.1 on-disk format,
 * fs/erofs/erofs_fs.h; docs/images.md §3.1), straight from the tar stream:
 * full data blocks of each file go out as they arrive, short tails are kept
 * and inlined after their inode; finish lays out the inodes, directories
 * and the superblock.  4 KiB blocks; same tree -> same bytes.
 */
struct imgw *erofsw__open(const char *path);
#endif

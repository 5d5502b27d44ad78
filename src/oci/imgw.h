#ifndef SM_OCI_IMGW_H
#define SM_OCI_IMGW_H
#include <stddef.h>

#include "oci/tree.h"
/*
 * What layer.c needs from a layer image writer (erofsw.c, sqfsw.c): file
 * data streams in while the tar is read, in tar order, between begin_file
 * and end_file; finish writes the inodes and directories of the finished
 * tree (tree__link_counts done).  Every call returns 0 or -errno with the
 * message in oci_err.
 */
struct imgw;
struct imgw_ops {
	int  (*begin_file)(struct imgw *w, struct tree_node *n);
	int  (*append)(struct imgw *w, const void *buf, size_t len);
	int  (*end_file)(struct imgw *w);
	int  (*finish)(struct imgw *w, struct tree_node *root);
	void (*close)(struct imgw *w);
};
struct imgw {
	const struct imgw_ops *ops;
};
#endif

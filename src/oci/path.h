#ifndef SM_OCI_PATH_H
#define SM_OCI_PATH_H
#include <stddef.h>
/*
 * A tar entry path made canonical: "./a//b/" -> "a/b", "." -> "".
 * Refuses absolute paths, any ".." component, and over-long names (-EINVAL
 * with a message naming the entry).
 */
#define OCI_PATH_MAX 4096
#define OCI_NAME_MAX 255
int oci_path__clean(const char *in, char *out, size_t n);
#endif

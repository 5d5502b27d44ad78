#ifndef SM_OCI_ERR_H
#define SM_OCI_ERR_H
/*
 * The human detail behind a -errno returned by src/oci.  The function that
 * sees the problem sets it once ("layer tar: entry '../x' has a '..'
 * component"); callers may prefix context; the Lua binding reports it.
 * One message per thread, so download workers do not clobber each other.
 */
int oci_err__set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int oci_err__wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *oci_err__msg(void);
void oci_err__clear(void);
#endif

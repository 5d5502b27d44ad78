#ifndef SM_OCI_JSON_H
#define SM_OCI_JSON_H
#include <stddef.h>

#include <jansson.h>
/* Untrusted JSON in (jansson), with the checks every parser here repeats. */
json_t *oci_json__load(const char *buf, size_t len, const char *what);
int oci_json__str(json_t *obj, const char *key, char *out, size_t n, int required, const char *what);
int oci_json__strv(json_t *obj, const char *key, char ***out, const char *what);
void oci_json__strv_free(char **v);
#endif

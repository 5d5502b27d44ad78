#ifndef SM_ROUTER_TLS_CERT_H
#define SM_ROUTER_TLS_CERT_H
/*
 * The edge's certificates (docs/tls.md): a self-signed one for
 * --inbound-tls-autogen, and the SHA-256 fingerprint sm prints and its own
 * probes check.  Errors: -1 with err filled in (one line).
 */
#include <stddef.h>

#define TLS_FP_LEN	95		/* "AB:CD:…" for 32 bytes */

/* A P-256 key and a certificate for localhost, 127.0.0.1 and ::1, valid
 * ten years, each written to a new file (O_EXCL, mode 0600). */
int tls_cert__generate(const char *cert, const char *key, char *err, size_t errlen);
/* The SHA-256 of the first certificate in a PEM file (DER), as AB:CD:…. */
int tls_cert__fingerprint(const char *cert, char fp[TLS_FP_LEN + 1], char *err, size_t errlen);
#endif

#ifndef SM_ROUTER_TLS_PROBE_H
#define SM_ROUTER_TLS_PROBE_H
/*
 * sm's own client for its TLS edge (docs/tls.md): `sm run` readiness, `sm
 * run --connect` and `sm ps` ask the daemon over TLS.  The daemon is on
 * loopback and sm knows its certificate, so the peer is checked by the
 * certificate's SHA-256 fingerprint (tls-cert.h), not by names.
 */
#include <stddef.h>

/* Connects to 127.0.0.1:port, sends req, reads until EOF, cap or the
 * deadline: the bytes read (≥ 0) into out, or -1 with err filled in. */
long tls_probe__request(int port, const char *fingerprint, const char *req, size_t reqlen,
			unsigned timeout_ms, char *out, size_t cap, char *err, size_t errlen);
#endif

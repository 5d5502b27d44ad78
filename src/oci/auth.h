#ifndef SM_OCI_AUTH_H
#define SM_OCI_AUTH_H
#include <stddef.h>
/*
 * Registry authentication pieces: the WWW-Authenticate challenge
 * (RFC 6750 / distribution token spec) and credentials from docker's
 * config file ($DOCKER_CONFIG/config.json or ~/.docker/config.json,
 * "auths": { host: { "auth": base64(user:pass) } }).
 */
struct oci_challenge {
	char scheme[16];           /* "Bearer" or "Basic" */
	char realm[1024], service[1024], scope[1024];
};
int oci_auth__parse_challenge(const char *header, struct oci_challenge *c);
/* 0 and user/pass filled, -ENOENT when there are none for host. */
int oci_auth__docker_creds(const char *host, char *user, size_t un, char *pass, size_t pn);
#endif

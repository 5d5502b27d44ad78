#ifndef SM_OCI_CONFIG_H
#define SM_OCI_CONFIG_H
#include <stddef.h>
/* The image config (OCI image-spec config.md) reduced to what a run needs. */
#define OCI_CONFIG_MAX (8 << 20)

struct oci_runcfg {
	char **entrypoint, **cmd, **env;      /* NULL-terminated, or NULL */
	char **ports;                         /* ExposedPorts keys: "80/tcp" */
	char **diff_ids;                      /* rootfs.diff_ids */
	char workdir[4096], user[256];
	char os[32], arch[32];
};

int  oci_config__parse(const char *buf, size_t len, struct oci_runcfg *c);
void oci_config__free(struct oci_runcfg *c);
#endif

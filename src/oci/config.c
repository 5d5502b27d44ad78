/* Image config -> run config. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "oci/config.h"
#include "oci/err.h"
#include "oci/json.h"

#define PORTS_MAX 1024

static int parse_ports(json_t *cfg, struct oci_runcfg *c)
{
	json_t *ports = json_object_get(cfg, "ExposedPorts"), *v;
	const char *key;
	size_t i = 0;

	if (!ports || json_is_null(ports))
		return 0;
	if (!json_is_object(ports) || json_object_size(ports) > PORTS_MAX)
		return oci_err__set(-EBADMSG, "image config: \"ExposedPorts\" must be an object");
	c->ports = calloc(json_object_size(ports) + 1, sizeof(char *));
	if (!c->ports)
		return -ENOMEM;
	json_object_foreach(ports, key, v) {
		c->ports[i] = strdup(key);
		if (!c->ports[i++])
			return -ENOMEM;
	}
	return 0;
}

static int parse_run(json_t *cfg, struct oci_runcfg *c)
{
	const char *w = "image config";
	int r;

	if (!cfg || json_is_null(cfg))
		return 0;
	if (!json_is_object(cfg))
		return oci_err__set(-EBADMSG, "image config: \"config\" must be an object");
	if ((r = oci_json__strv(cfg, "Entrypoint", &c->entrypoint, w)) < 0 ||
	    (r = oci_json__strv(cfg, "Cmd", &c->cmd, w)) < 0 ||
	    (r = oci_json__strv(cfg, "Env", &c->env, w)) < 0 ||
	    (r = oci_json__str(cfg, "WorkingDir", c->workdir, sizeof(c->workdir), 0, w)) < 0 ||
	    (r = oci_json__str(cfg, "User", c->user, sizeof(c->user), 0, w)) < 0)
		return r;
	return parse_ports(cfg, c);
}

static int parse_doc(json_t *j, struct oci_runcfg *c)
{
	json_t *rootfs = json_object_get(j, "rootfs");
	int r;

	if ((r = oci_json__str(j, "os", c->os, sizeof(c->os), 0, "image config")) < 0 ||
	    (r = oci_json__str(j, "architecture", c->arch, sizeof(c->arch), 0, "image config")) < 0)
		return r;
	if (rootfs && !json_is_object(rootfs))
		return oci_err__set(-EBADMSG, "image config: \"rootfs\" must be an object");
	if (rootfs && (r = oci_json__strv(rootfs, "diff_ids", &c->diff_ids, "image config rootfs")) < 0)
		return r;
	return parse_run(json_object_get(j, "config"), c);
}

int oci_config__parse(const char *buf, size_t len, struct oci_runcfg *c)
{
	json_t *j;
	int r;

	memset(c, 0, sizeof(*c));
	if (len > OCI_CONFIG_MAX)
		return oci_err__set(-EFBIG, "image config is %zu bytes, more than the %d allowed", len, OCI_CONFIG_MAX);
	j = oci_json__load(buf, len, "image config");
	if (!j)
		return -EBADMSG;
	r = parse_doc(j, c);
	json_decref(j);
	if (r < 0)
		oci_config__free(c);
	return r;
}

void oci_config__free(struct oci_runcfg *c)
{
	oci_json__strv_free(c->entrypoint);
	oci_json__strv_free(c->cmd);
	oci_json__strv_free(c->env);
	oci_json__strv_free(c->ports);
	oci_json__strv_free(c->diff_ids);
	memset(c, 0, sizeof(*c));
}

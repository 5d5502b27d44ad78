/* Manifest and index parsing (OCI image-spec v1, Docker schema2). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "oci/err.h"
#include "oci/json.h"
#include "oci/manifest.h"

#define DESCS_MAX 4096   /* far above any real image; bounds memory */

static int parse_platform(json_t *d, struct oci_desc *out)
{
	json_t *p = json_object_get(d, "platform");
	int r;

	if (!p)
		return 0;
	if (!json_is_object(p))
		return oci_err__set(-EBADMSG, "manifest: \"platform\" must be an object");
	r = oci_json__str(p, "os", out->os, sizeof(out->os), 0, "manifest platform");
	if (r == 0)
		r = oci_json__str(p, "architecture", out->arch, sizeof(out->arch), 0, "manifest platform");
	if (r == 0)
		r = oci_json__str(p, "variant", out->variant, sizeof(out->variant), 0, "manifest platform");
	return r;
}

static int parse_desc(json_t *d, struct oci_desc *out)
{
	json_t *size = json_object_get(d, "size"), *ann;
	char digest[128];
	int r;

	if (!json_is_object(d))
		return oci_err__set(-EBADMSG, "manifest: descriptor must be an object");
	r = oci_json__str(d, "mediaType", out->media_type, sizeof(out->media_type), 0, "manifest descriptor");
	if (r == 0)
		r = oci_json__str(d, "digest", digest, sizeof(digest), 1, "manifest descriptor");
	if (r < 0)
		return r;
	if (!oci_digest__valid(digest))
		return oci_err__set(-EBADMSG, "manifest: unsupported or invalid digest '%.80s' (only sha256 is accepted)", digest);
	memcpy(out->digest, digest, sizeof(out->digest));
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return oci_err__set(-EBADMSG, "manifest: descriptor %s needs a non-negative integer \"size\"", digest);
	out->size = json_integer_value(size);
	ann = json_object_get(d, "annotations");
	if (json_is_object(ann))
		oci_json__str(ann, "org.opencontainers.image.ref.name", out->ref_name, sizeof(out->ref_name), 0, "annotations");
	return parse_platform(d, out);
}

static int parse_descs(json_t *arr, struct oci_manifest *m, const char *key)
{
	json_t *it;
	size_t i;
	int r;

	if (!json_is_array(arr))
		return oci_err__set(-EBADMSG, "manifest: \"%s\" must be an array", key);
	if (json_array_size(arr) > DESCS_MAX)
		return oci_err__set(-EBADMSG, "manifest: more than %d %s", DESCS_MAX, key);
	m->descs = calloc(json_array_size(arr) + 1, sizeof(*m->descs));
	if (!m->descs)
		return -ENOMEM;
	json_array_foreach(arr, i, it) {
		r = parse_desc(it, &m->descs[i]);
		if (r < 0)
			return r;
		m->n++;
	}
	return 0;
}

static int parse_doc(json_t *j, struct oci_manifest *m)
{
	json_t *ver = json_object_get(j, "schemaVersion"), *layers, *manifests, *cfg;
	int r = oci_json__str(j, "mediaType", m->media_type, sizeof(m->media_type), 0, "manifest");

	if (r < 0)
		return r;
	if (!json_is_integer(ver) || json_integer_value(ver) != 2)
		return oci_err__set(-EBADMSG, "manifest: schemaVersion must be 2 (Docker schema1 images are not supported)");
	layers = json_object_get(j, "layers");
	manifests = json_object_get(j, "manifests");
	if (manifests && !layers) {
		m->kind = OCI_MANIFEST_INDEX;
		return parse_descs(manifests, m, "manifests");
	}
	if (!layers)
		return oci_err__set(-EBADMSG, "manifest: neither \"layers\" nor \"manifests\"");
	m->kind = OCI_MANIFEST_IMAGE;
	cfg = json_object_get(j, "config");
	if (!cfg)
		return oci_err__set(-EBADMSG, "manifest: missing \"config\"");
	r = parse_desc(cfg, &m->config);
	if (r < 0)
		return r;
	return parse_descs(layers, m, "layers");
}

int oci_manifest__parse(const char *buf, size_t len, struct oci_manifest *m)
{
	json_t *j;
	int r;

	memset(m, 0, sizeof(*m));
	if (len > OCI_MANIFEST_MAX)
		return oci_err__set(-EFBIG, "manifest is %zu bytes, more than the %d allowed", len, OCI_MANIFEST_MAX);
	j = oci_json__load(buf, len, "manifest");
	if (!j)
		return -EBADMSG;
	r = parse_doc(j, m);
	json_decref(j);
	if (r < 0)
		oci_manifest__free(m);
	return r;
}

const struct oci_desc *oci_manifest__select(const struct oci_manifest *idx,
					    const char *os, const char *arch)
{
	for (size_t i = 0; i < idx->n; i++) {
		const struct oci_desc *d = &idx->descs[i];

		if (strcmp(d->os, os) == 0 && strcmp(d->arch, arch) == 0)
			return d;
	}
	oci_err__set(-ENOENT, "the image index has no %s/%s manifest", os, arch);
	return NULL;
}

void oci_manifest__free(struct oci_manifest *m)
{
	free(m->descs);
	m->descs = NULL;
	m->n = 0;
}

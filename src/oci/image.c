/* Image pull: source -> verified blobs in the cache -> layer images. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci/cache.h"
#include "oci/err.h"
#include "oci/image.h"
#include "oci/layer.h"
#include "oci/local.h"
#include "oci/ref.h"

static bool layer_type_ok(const char *mt)
{
	static const char *const ok[] = {
		"application/vnd.oci.image.layer.v1.tar",
		"application/vnd.oci.image.layer.v1.tar+gzip",
		"application/vnd.oci.image.layer.v1.tar+zstd",
		"application/vnd.oci.image.layer.nondistributable.v1.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.diff.tar",
		"application/vnd.docker.image.rootfs.diff.tar.gzip",
		"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(mt, ok[i]) == 0)
			return true;
	return false;
}

static int fetch_manifest(struct oci_registry *r, const char *reference, struct oci_manifest *m, oci_digest_t digest)
{
	char *buf = NULL;
	size_t len = 0;
	int ret = oci_registry__manifest(r, reference, &buf, &len, digest);

	if (ret == 0)
		ret = oci_manifest__parse(buf, len, m);
	free(buf);
	return ret;
}

static int from_registry(const char *src, const struct oci_pull_opts *o, struct oci_image *img, struct oci_manifest *m)
{
	struct oci_ref ref;
	struct oci_registry *r;
	struct oci_desc *all;
	int ret = oci_ref__parse(src, &ref);

	if (ret < 0)
		return ret;
	oci_ref__format(&ref, img->ref, sizeof(img->ref));
	r = oci_registry__new(&ref, o->insecure);
	if (!r)
		return -ENOMEM;
	ret = fetch_manifest(r, ref.digest[0] ? ref.digest : ref.tag, m, img->digest);
	if (ret == 0 && m->kind == OCI_MANIFEST_INDEX) {
		const struct oci_desc *d = oci_manifest__select(m, "linux", "amd64");
		oci_digest_t want;

		ret = d ? 0 : -ENOENT;
		if (d)
			memcpy(want, d->digest, sizeof(want));
		oci_manifest__free(m);
		if (ret == 0)
			ret = fetch_manifest(r, want, m, img->digest);
		if (ret == 0 && m->kind != OCI_MANIFEST_IMAGE)
			ret = oci_err__set(-EBADMSG, "the amd64 entry of the index is not an image manifest");
	}
	all = ret == 0 ? calloc(m->n + 1, sizeof(*all)) : NULL;
	if (ret == 0 && !all)
		ret = -ENOMEM;
	if (ret == 0) {
		all[0] = m->config;
		memcpy(all + 1, m->descs, m->n * sizeof(*all));
		ret = oci_registry__blobs(r, all, m->n + 1, o->progress, o->ud);
	}
	free(all);
	oci_registry__free(r);
	return ret;
}

/* "oci-layout:DIR:TAG" -> DIR, TAG (a ':' after the last '/' starts the tag). */
static void split_tag(const char *spec, char *path, size_t n, const char **tag)
{
	const char *slash = strrchr(spec, '/'), *colon = strrchr(slash ? slash : spec, ':');

	*tag = NULL;
	if (colon) {
		snprintf(path, n, "%.*s", (int)(colon - spec), spec);
		*tag = colon + 1;
	} else {
		snprintf(path, n, "%s", spec);
	}
}

static int from_source(const char *src, const struct oci_pull_opts *o, struct oci_image *img, struct oci_manifest *m)
{
	char path[PATH_MAX];
	const char *tag;

	if (strncmp(src, "oci-layout:", 11) == 0 || strncmp(src, "oci-archive:", 12) == 0) {
		bool layout = src[4] == 'l';

		split_tag(strchr(src, ':') + 1, path, sizeof(path), &tag);
		snprintf(img->ref, sizeof(img->ref), "%s", src);
		return layout ? oci_local__layout(path, tag, m, img->digest)
			      : oci_local__oci_archive(path, tag, m, img->digest);
	}
	if (strncmp(src, "docker-archive:", 15) == 0) {
		snprintf(img->ref, sizeof(img->ref), "%s", src);
		return oci_local__docker_archive(src + 15, m, img->digest);
	}
	return from_registry(src, o, img, m);
}

static int load_config(const struct oci_manifest *m, struct oci_image *img)
{
	char path[PATH_MAX], *buf = NULL;
	size_t len = 0;
	int r = oci_cache__blob_path(m->config.digest, path, sizeof(path));

	if (r == 0)
		r = oci_cache__read(path, OCI_CONFIG_MAX, &buf, &len);
	if (r == 0)
		r = oci_config__parse(buf, len, &img->cfg);
	free(buf);
	memcpy(img->config_digest, m->config.digest, sizeof(oci_digest_t));
	return r;
}

/* Converted once per layer digest and format; concurrent sm processes
 * race harmlessly. */
static int convert_layer(struct oci_image_layer *l, enum oci_layer_fmt fmt)
{
	char blob[PATH_MAX], tmp[PATH_MAX];
	int fd, r = oci_cache__layer_path(l->digest, oci_layer__fmt_ext(fmt), l->image, sizeof(l->image));

	l->format = oci_layer__fmt_name(fmt);
	if (r < 0 || oci_cache__exists(l->image))
		return r;
	r = oci_cache__blob_path(l->digest, blob, sizeof(blob));
	fd = r < 0 ? r : oci_cache__tmp("layer", tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	close(fd);
	r = oci_layer__convert_file(blob, tmp, fmt, NULL);
	if (r == 0)
		return oci_cache__publish(tmp, l->image);
	unlink(tmp);
	return oci_err__wrap(r, "layer %s", l->digest);
}

static int build_layers(const struct oci_manifest *m, struct oci_image *img)
{
	enum oci_layer_fmt fmt;
	int r = oci_layer__default_fmt(&fmt);

	if (r < 0)
		return r;
	img->layers = calloc(m->n + 1, sizeof(*img->layers));
	if (!img->layers)
		return -ENOMEM;
	img->size = m->config.size;
	for (size_t i = 0; i < m->n && r == 0; i++) {
		struct oci_image_layer *l = &img->layers[i];

		if (!layer_type_ok(m->descs[i].media_type))
			return oci_err__set(-ENOTSUP, "layer %s has media type '%s', which is not a layer tar",
					    m->descs[i].digest, m->descs[i].media_type);
		memcpy(l->digest, m->descs[i].digest, sizeof(l->digest));
		snprintf(l->media_type, sizeof(l->media_type), "%s", m->descs[i].media_type);
		l->size = m->descs[i].size;
		img->size += l->size;
		img->n++;
		r = convert_layer(l, fmt);
	}
	return r;
}

int oci_image__pull(const char *src, const struct oci_pull_opts *o, struct oci_image *img)
{
	static const struct oci_pull_opts none;
	struct oci_manifest m = { 0 };
	int r;

	memset(img, 0, sizeof(*img));
	oci_err__clear();
	r = oci_cache__init();
	if (r == 0)
		r = from_source(src, o ? o : &none, img, &m);
	if (r == 0)
		r = load_config(&m, img);
	if (r == 0)
		r = build_layers(&m, img);
	oci_manifest__free(&m);
	if (r < 0)
		oci_image__free(img);
	return r;
}

void oci_image__free(struct oci_image *img)
{
	oci_config__free(&img->cfg);
	free(img->layers);
	img->layers = NULL;
	img->n = 0;
}

/* oci-layout, oci-archive and docker-archive sources (see local.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>

#include "oci/blobw.h"
#include "oci/cache.h"
#include "oci/err.h"
#include "oci/json.h"
#include "oci/local.h"
#include "oci/path.h"

#define COPY_BLOCK (256 * 1024)
#define ARCHIVE_FILES_MAX 65536
#define DOCKER_MT_LAYER "application/vnd.docker.image.rootfs.diff.tar"

/* How a source makes a descriptor's blob present in the cache. */
typedef int (*ensure_fn)(void *ctx, const struct oci_desc *d);

static int read_blob(const char *digest, size_t max, char **buf, size_t *len)
{
	char path[PATH_MAX];
	int r = oci_cache__blob_path(digest, path, sizeof(path));

	return r < 0 ? r : oci_cache__read(path, max, buf, len);
}

static int load_manifest(ensure_fn ensure, void *ctx, const struct oci_desc *d, struct oci_manifest *m)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	if (d->size > OCI_MANIFEST_MAX)
		return oci_err__set(-EFBIG, "manifest %s is larger than 4 MiB — refusing it", d->digest);
	r = ensure(ctx, d);
	if (r == 0)
		r = read_blob(d->digest, OCI_MANIFEST_MAX, &buf, &len);
	if (r == 0)
		r = oci_manifest__parse(buf, len, m);
	free(buf);
	return r;
}

static const struct oci_desc *pick(const struct oci_manifest *idx, const char *tag)
{
	const struct oci_desc *only = NULL;
	size_t hits = 0;

	for (size_t i = 0; i < idx->n; i++) {
		if (tag && *tag && strcmp(idx->descs[i].ref_name, tag) != 0)
			continue;
		only = &idx->descs[i];
		hits++;
		if (!only->arch[0] || (strcmp(only->os, "linux") == 0 && strcmp(only->arch, "amd64") == 0))
			return only;
	}
	if (hits == 0)
		oci_err__set(-ENOENT, tag && *tag ? "no image tagged '%s' in the layout" : "%sthe layout has no images", tag ? tag : "");
	else
		oci_err__set(-ENOENT, "no linux/amd64 image in the layout");
	return NULL;
}

/* index.json -> tagged entry -> (nested index -> amd64) -> image manifest. */
static int resolve(const char *index, size_t len, const char *tag, ensure_fn ensure, void *ctx,
		   struct oci_manifest *m, oci_digest_t digest)
{
	struct oci_manifest idx, sub = { 0 };	/* kind 0: nothing to free on the error paths */
	const struct oci_desc *d;
	int r = oci_manifest__parse(index, len, &idx);

	if (r < 0)
		return oci_err__wrap(r, "index.json");
	d = idx.kind == OCI_MANIFEST_INDEX ? pick(&idx, tag) : NULL;
	r = !d ? (idx.kind == OCI_MANIFEST_INDEX ? -ENOENT : oci_err__set(-EBADMSG, "index.json is not an index"))
	       : load_manifest(ensure, ctx, d, &sub);
	if (r == 0 && sub.kind == OCI_MANIFEST_INDEX) {
		struct oci_manifest inner = { 0 };
		const struct oci_desc *a = oci_manifest__select(&sub, "linux", "amd64");

		r = a ? load_manifest(ensure, ctx, a, &inner) : -ENOENT;
		if (r == 0)
			memcpy(digest, a->digest, sizeof(oci_digest_t));
		oci_manifest__free(&sub);
		sub = inner;
	} else if (r == 0) {
		memcpy(digest, d->digest, sizeof(oci_digest_t));
	}
	oci_manifest__free(&idx);
	if (r == 0 && sub.kind != OCI_MANIFEST_IMAGE) {
		oci_manifest__free(&sub);
		return oci_err__set(-EBADMSG, "nested indexes are not supported");
	}
	for (size_t i = 0; r == 0 && i <= sub.n; i++)
		r = ensure(ctx, i == 0 ? &sub.config : &sub.descs[i - 1]);
	if (r < 0) {
		if (sub.kind)
			oci_manifest__free(&sub);
		return r;
	}
	*m = sub;
	return 0;
}

/* ---- oci-layout: DIR/index.json + DIR/blobs/sha256/<hex> ---- */

static int copy_fd(int fd, struct oci_blobw *w)
{
	static __thread char buf[COPY_BLOCK];
	ssize_t n;
	int r = 0;

	while (r == 0 && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0)
			return errno == EINTR ? 0 : -errno;
		r = oci_blobw__write(w, buf, (size_t)n);
	}
	return r;
}

static int ensure_layout(void *ctx, const struct oci_desc *d)
{
	char src[PATH_MAX], dst[PATH_MAX];
	oci_digest_t got;
	struct oci_blobw *w;
	int fd, r = oci_cache__blob_path(d->digest, dst, sizeof(dst));

	if (r < 0 || oci_cache__exists(dst))
		return r;
	if (snprintf(src, sizeof(src), "%s/blobs/sha256/%s", (const char *)ctx, oci_digest__hex(d->digest)) >= (int)sizeof(src))
		return -ENAMETOOLONG;
	fd = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return oci_err__set(-errno, "layout blob %s: %s", src, strerror(errno));
	w = oci_blobw__new(d->size);
	r = w ? copy_fd(fd, w) : -errno;
	if (r == 0)
		r = oci_blobw__commit(w, d->digest, got);
	if (r < 0)
		oci_err__wrap(r, "layout blob %s", d->digest);
	oci_blobw__free(w);
	close(fd);
	return r;
}

int oci_local__layout(const char *dir, const char *tag, struct oci_manifest *m, oci_digest_t digest)
{
	char path[PATH_MAX], *buf = NULL;
	size_t len;
	int r;

	if (snprintf(path, sizeof(path), "%s/index.json", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	r = oci_cache__read(path, OCI_MANIFEST_MAX, &buf, &len);
	if (r == 0)
		r = resolve(buf, len, tag, ensure_layout, (void *)dir, m, digest);
	free(buf);
	return r;
}

/* ---- tar archives: every file streams into the cache as it is read ---- */

struct member {
	char name[OCI_PATH_MAX];
	char link[OCI_PATH_MAX];          /* symlink target, resolved later */
	oci_digest_t digest;
	int64_t size;
};

struct tar_index {
	struct member *v;
	size_t n, cap;
	char *json;                       /* index.json or manifest.json */
	size_t json_len;
};

static int import_member(struct archive *a, const char *want, struct member *mb)
{
	struct oci_blobw *w = oci_blobw__new(-1);
	const void *buf;
	size_t len;
	la_int64_t off;
	int r = w ? 0 : -errno, ar;

	while (r == 0 && (ar = archive_read_data_block(a, &buf, &len, &off)) != ARCHIVE_EOF)
		r = ar < ARCHIVE_WARN ? oci_err__set(-EBADMSG, "archive: %s", archive_error_string(a))
				      : oci_blobw__write(w, buf, len);
	if (r == 0) {
		mb->size = oci_blobw__size(w);
		r = oci_blobw__commit(w, want, mb->digest);
	}
	if (r < 0)
		oci_err__wrap(r, "archive member '%.200s'", mb->name);
	oci_blobw__free(w);
	return r;
}

static int read_json(struct archive *a, struct tar_index *ti, const char *name)
{
	la_ssize_t n;
	size_t cap = OCI_MANIFEST_MAX + 1;

	if (ti->json)
		return oci_err__set(-EBADMSG, "archive has %s twice", name);
	ti->json = malloc(cap);
	if (!ti->json)
		return -ENOMEM;
	while ((n = archive_read_data(a, ti->json + ti->json_len, cap - ti->json_len)) > 0)
		if ((ti->json_len += (size_t)n) == cap)
			return oci_err__set(-EFBIG, "archive %s is larger than 4 MiB", name);
	return n < 0 ? oci_err__set(-EBADMSG, "archive: %s", archive_error_string(a)) : 0;
}

/* OCI archives name blobs by digest; the name is the expected content. */
static int want_from_name(const char *name, oci_digest_t want)
{
	if (strncmp(name, "blobs/sha256/", 13) != 0)
		return 0;
	snprintf(want, sizeof(oci_digest_t), "sha256:%.64s", name + 13);
	return oci_digest__valid(want) && strlen(name) == 13 + 64 ? 1 : -1;
}

static int scan_member(struct archive *a, struct archive_entry *e, struct tar_index *ti, const char *json_name)
{
	struct member *mb;
	oci_digest_t want;
	char clean[OCI_PATH_MAX];
	int r = oci_path__clean(archive_entry_pathname(e), clean, sizeof(clean)), w;

	if (r < 0)
		return oci_err__wrap(r, "archive");
	if (archive_entry_filetype(e) == AE_IFDIR)
		return 0;
	if (strcmp(clean, json_name) == 0 && archive_entry_filetype(e) == AE_IFREG)
		return read_json(a, ti, json_name);
	if (ti->n >= ARCHIVE_FILES_MAX)
		return oci_err__set(-EFBIG, "archive has more than %d files", ARCHIVE_FILES_MAX);
	if (ti->n == ti->cap) {
		struct member *nv = realloc(ti->v, (ti->cap * 2 + 16) * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		ti->v = nv;
		ti->cap = ti->cap * 2 + 16;
	}
	mb = &ti->v[ti->n];
	memset(mb, 0, sizeof(*mb));
	snprintf(mb->name, sizeof(mb->name), "%s", clean);
	if (archive_entry_filetype(e) == AE_IFLNK && archive_entry_symlink(e)) {
		snprintf(mb->link, sizeof(mb->link), "%s", archive_entry_symlink(e));
		ti->n++;
		return 0;
	}
	if (archive_entry_filetype(e) != AE_IFREG)
		return 0;
	w = want_from_name(clean, want);
	if (w < 0)
		return oci_err__set(-EBADMSG, "archive member '%.200s' is not named by a sha256 digest", clean);
	r = import_member(a, w ? want : NULL, mb);
	ti->n += r == 0;
	return r;
}

static int scan_archive(const char *file, struct tar_index *ti, const char *json_name)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int r = 0, ar;

	if (!a) {
		archive_read_free(a);
		return -ENOMEM;
	}
	archive_read_support_format_tar(a);
	archive_read_support_filter_none(a);
	archive_read_support_filter_gzip(a);
	if (archive_read_open_filename(a, file, COPY_BLOCK) != ARCHIVE_OK)
		r = oci_err__set(-ENOENT, "open %s: %s", file, archive_error_string(a));
	while (r == 0 && (ar = archive_read_next_header(a, &e)) != ARCHIVE_EOF)
		r = ar < ARCHIVE_WARN ? oci_err__set(-EBADMSG, "%s: %s", file, archive_error_string(a))
				      : scan_member(a, e, ti, json_name);
	archive_read_free(a);
	if (r == 0 && !ti->json)
		r = oci_err__set(-EBADMSG, "%s has no %s — is it the right kind of archive?", file, json_name);
	return r;
}

static void tar_index_free(struct tar_index *ti)
{
	free(ti->v);
	free(ti->json);
}

/* Blobs of an OCI archive were all imported while scanning. */
static int ensure_present(void *ctx, const struct oci_desc *d)
{
	char path[PATH_MAX];
	int r = oci_cache__blob_path(d->digest, path, sizeof(path));

	(void)ctx;
	if (r == 0 && !oci_cache__exists(path))
		r = oci_err__set(-ENOENT, "archive lacks blob %s", d->digest);
	return r;
}

int oci_local__oci_archive(const char *file, const char *tag, struct oci_manifest *m, oci_digest_t digest)
{
	struct tar_index ti = { 0 };
	int r = scan_archive(file, &ti, "index.json");

	if (r == 0)
		r = resolve(ti.json, ti.json_len, tag, ensure_present, NULL, m, digest);
	tar_index_free(&ti);
	return r;
}

/* ---- docker-archive: manifest.json names config and layers by path ---- */

static const struct member *find_member(const struct tar_index *ti, const char *name, int depth)
{
	char clean[OCI_PATH_MAX], joined[OCI_PATH_MAX * 2];

	if (depth > 8 || oci_path__clean(name, clean, sizeof(clean)) < 0)
		return NULL;
	for (size_t i = 0; i < ti->n; i++) {
		const struct member *mb = &ti->v[i];
		const char *slash;

		if (strcmp(mb->name, clean) != 0)
			continue;
		if (!mb->link[0])
			return mb;
		slash = strrchr(mb->name, '/');   /* links are relative to their directory */
		snprintf(joined, sizeof(joined), "%.*s%s", slash ? (int)(slash - mb->name + 1) : 0, mb->name, mb->link);
		return find_member(ti, joined, depth + 1);
	}
	return NULL;
}

static int member_desc(const struct tar_index *ti, json_t *v, struct oci_desc *d, const char *mt)
{
	const struct member *mb = json_is_string(v) ? find_member(ti, json_string_value(v), 0) : NULL;

	if (!mb)
		return oci_err__set(-EBADMSG, "docker-archive manifest.json names a file that is not in the archive");
	snprintf(d->media_type, sizeof(d->media_type), "%s", mt);
	memcpy(d->digest, mb->digest, sizeof(d->digest));
	d->size = mb->size;
	return 0;
}

static int docker_manifest(const struct tar_index *ti, struct oci_manifest *m)
{
	json_error_t je;
	json_t *j = json_loadb(ti->json, ti->json_len, JSON_REJECT_DUPLICATES, &je), *img, *layers, *l;
	size_t i;
	int r;

	if (!j)
		return oci_err__set(-EBADMSG, "docker-archive manifest.json: malformed JSON at line %d: %s", je.line, je.text);
	img = json_array_get(j, 0);
	layers = json_object_get(img, "Layers");
	if (!json_is_object(img) || !json_is_array(layers) || json_array_size(layers) > 4096) {
		json_decref(j);
		return oci_err__set(-EBADMSG, "docker-archive manifest.json: expected [{\"Config\":..., \"Layers\":[...]}]");
	}
	memset(m, 0, sizeof(*m));
	m->kind = OCI_MANIFEST_IMAGE;
	m->descs = calloc(json_array_size(layers) + 1, sizeof(*m->descs));
	r = m->descs ? member_desc(ti, json_object_get(img, "Config"), &m->config, "application/vnd.docker.container.image.v1+json") : -ENOMEM;
	json_array_foreach(layers, i, l) {
		if (r == 0)
			r = member_desc(ti, l, &m->descs[m->n++], DOCKER_MT_LAYER);
	}
	json_decref(j);
	if (r < 0)
		oci_manifest__free(m);
	return r;
}

int oci_local__docker_archive(const char *file, struct oci_manifest *m, oci_digest_t digest)
{
	struct tar_index ti = { 0 };
	int r = scan_archive(file, &ti, "manifest.json");

	if (r == 0)
		r = docker_manifest(&ti, m);
	if (r == 0)
		memcpy(digest, m->config.digest, sizeof(oci_digest_t));
	tar_index_free(&ti);
	return r;
}

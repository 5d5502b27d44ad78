/* Verifying blob writer (see blobw.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci/blobw.h"
#include "oci/cache.h"
#include "oci/err.h"

struct oci_blobw {
	int fd;
	char tmp[PATH_MAX];
	struct oci_hash *hash;
	int64_t size, max;
};

struct oci_blobw *oci_blobw__new(int64_t max_size)
{
	struct oci_blobw *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->max = max_size;
	w->fd = oci_cache__tmp("blob", w->tmp, sizeof(w->tmp));
	w->hash = oci_hash__new();
	if (w->fd < 0 || !w->hash) {
		errno = w->fd < 0 ? -w->fd : ENOMEM;
		oci_blobw__free(w);
		return NULL;
	}
	return w;
}

int oci_blobw__write(struct oci_blobw *w, const void *buf, size_t n)
{
	const char *p = buf;

	if (w->max >= 0 && w->size + (int64_t)n > w->max)
		return oci_err__set(-EFBIG, "blob is larger than the %lld bytes announced", (long long)w->max);
	if (oci_hash__update(w->hash, buf, n) < 0)
		return -EIO;
	while (n > 0) {
		ssize_t k = write(w->fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return oci_err__set(-errno, "write %s: %s", w->tmp, strerror(errno));
		p += k;
		n -= (size_t)k;
		w->size += k;
	}
	return 0;
}

int64_t oci_blobw__size(const struct oci_blobw *w)
{
	return w->size;
}

int oci_blobw__reset(struct oci_blobw *w)
{
	oci_hash__free(w->hash);
	w->hash = oci_hash__new();
	w->size = 0;
	if (!w->hash)
		return -ENOMEM;
	if (ftruncate(w->fd, 0) < 0 || lseek(w->fd, 0, SEEK_SET) < 0)
		return -errno;
	return 0;
}

int oci_blobw__commit(struct oci_blobw *w, const char *want, oci_digest_t got)
{
	char final[PATH_MAX];
	int r = oci_hash__final(w->hash, got);

	if (r < 0)
		return r;
	if (want && strcmp(want, got) != 0)
		return oci_err__set(-EBADMSG, "digest mismatch: expected %s, got %s", want, got);
	if (w->max >= 0 && w->size != w->max)
		return oci_err__set(-EBADMSG, "size mismatch: expected %lld bytes, got %lld",
				    (long long)w->max, (long long)w->size);
	r = oci_cache__blob_path(got, final, sizeof(final));
	if (r < 0)
		return r;
	close(w->fd);
	w->fd = -1;
	r = oci_cache__publish(w->tmp, final);
	w->tmp[0] = '\0';
	return r;
}

void oci_blobw__free(struct oci_blobw *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp[0])
		unlink(w->tmp);
	if (w->hash)
		oci_hash__free(w->hash);
	free(w);
}

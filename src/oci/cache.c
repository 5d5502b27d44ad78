/* The blob and layer cache: paths, temp files and atomic publication. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci/cache.h"
#include "oci/digest.h"
#include "oci/err.h"

static char root[PATH_MAX];

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int resolve_root(void)
{
	const char *sm = getenv("SM_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	int n;

	if (sm && *sm)
		n = snprintf(root, sizeof(root), "%s", sm);
	else if (xdg && *xdg)
		n = snprintf(root, sizeof(root), "%s/sm", xdg);
	else if (home && *home)
		n = snprintf(root, sizeof(root), "%s/.cache/sm", home);
	else
		return oci_err__set(-ENOENT, "no cache directory: set SM_CACHE_DIR, XDG_CACHE_HOME or HOME");
	return n >= (int)sizeof(root) - 128 ? -ENAMETOOLONG : 0;
}

/* Re-resolved on every call so tests (and a recipe) may change the env. */
int oci_cache__init(void)
{
	static const char *const subdirs[] = { "blobs/sha256", "layers", "tmp" };
	char p[PATH_MAX];
	int r = resolve_root();

	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if (snprintf(p, sizeof(p), "%s/%s", root, subdirs[i]) >= (int)sizeof(p))
			return -ENAMETOOLONG;
		r = mkdir_p(p, 0700);
		if (r < 0)
			return oci_err__set(r, "create cache directory %s: %s", p, strerror(-r));
	}
	return 0;
}

const char *oci_cache__root(void)
{
	return root;
}

int oci_cache__blob_path(const char *digest, char *out, size_t n)
{
	if (!oci_digest__valid(digest))
		return oci_err__set(-EBADMSG, "invalid digest '%.80s'", digest);
	if (snprintf(out, n, "%s/blobs/sha256/%s", root, oci_digest__hex(digest)) >= (int)n)
		return -ENAMETOOLONG;
	return 0;
}

int oci_cache__layer_path(const char *digest, const char *ext, char *out, size_t n)
{
	if (!oci_digest__valid(digest))
		return oci_err__set(-EBADMSG, "invalid digest '%.80s'", digest);
	if (snprintf(out, n, "%s/layers/%s.%s", root, oci_digest__hex(digest), ext) >= (int)n)
		return -ENAMETOOLONG;
	return 0;
}

bool oci_cache__exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* A fresh private file in tmp/; two sm processes never share one. */
int oci_cache__tmp(const char *prefix, char *path, size_t n)
{
	int fd;

	if (snprintf(path, n, "%s/tmp/%s.XXXXXX", root, prefix) >= (int)n)
		return -ENAMETOOLONG;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return oci_err__set(-errno, "create temp file in %s/tmp: %s", root, strerror(errno));
	return fd;
}

static int fsync_path(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

/*
 * Data first, then the name: after a crash the final path either does not
 * exist or holds the whole verified file.  Concurrent publishers of the same
 * digest race harmlessly — both files have the same content.
 */
int oci_cache__publish(const char *tmp, const char *final)
{
	char dir[PATH_MAX], *slash;
	int r = fsync_path(tmp, O_RDONLY);

	if (r < 0 || rename(tmp, final) < 0) {
		r = r < 0 ? r : -errno;
		unlink(tmp);
		return oci_err__set(r, "publish %s: %s", final, strerror(-r));
	}
	slash = snprintf(dir, sizeof(dir), "%s", final) < (int)sizeof(dir) ? strrchr(dir, '/') : NULL;
	if (slash) {
		*slash = '\0';
		fsync_path(dir, O_RDONLY | O_DIRECTORY);
	}
	return 0;
}

/* Reads a whole (small) file; refuses one larger than max. */
int oci_cache__read(const char *path, size_t max, char **buf, size_t *len)
{
	struct stat st;
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return oci_err__set(-errno, "open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return oci_err__set(-EINVAL, "%s is not a regular file", path);
	}
	if ((size_t)st.st_size > max) {
		close(fd);
		return oci_err__set(-EFBIG, "%s is %lld bytes, more than the %zu allowed",
				    path, (long long)st.st_size, max);
	}
	*buf = malloc((size_t)st.st_size + 1);
	if (!*buf) {
		close(fd);
		return -ENOMEM;
	}
	got = pread(fd, *buf, (size_t)st.st_size, 0);
	if (got != st.st_size) {
		r = oci_err__set(-EIO, "read %s: short read", path);
		free(*buf);
		*buf = NULL;
	} else {
		(*buf)[got] = '\0';
		*len = (size_t)got;
	}
	close(fd);
	return r;
}

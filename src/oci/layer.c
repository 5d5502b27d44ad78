/*
 * Layer tar -> filesystem image.  libarchive reads the (compressed) tar
 * stream; every entry becomes a node of an in-memory tree (tree.c) and
 * regular file data is streamed straight into the image by a writer
 * (imgw.h: erofsw.c or sqfsw.c).  The OCI rules live here, once for both
 * formats: whiteouts, opaque directories, hard links, what is refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <archive.h>
#include <archive_entry.h>

#include "oci/erofsw.h"
#include "oci/err.h"
#include "oci/layer.h"
#include "oci/path.h"
#include "oci/sqfsw.h"
#include "oci/tree.h"

/* OCI image-spec layer.md "Whiteouts" */
#define WH_PREFIX ".wh."
#define WH_META_PREFIX ".wh..wh."
#define WH_OPAQUE ".wh..wh..opq"
/* overlayfs: a directory hiding lower ones has this xattr set to "y" */
#define OVL_OPAQUE_XATTR "trusted.overlay.opaque"
#define OVL_XATTR_PREFIX "trusted.overlay."

#define LAYER_ENTRIES_MAX (1u << 21)           /* metadata memory bound */
#define LAYER_FILE_MAX (64ull << 30)           /* one file, sparse or not */
/* Linux XATTR_NAME_MAX (with the prefix) and what erofs' 16-bit value size holds */
#define LAYER_XATTR_NAME_MAX 255
#define LAYER_XATTR_VALUE_MAX 65535
#define LAYER_XATTRS_MAX (64 * 1024)           /* all xattrs of one entry, names + values */
/* paths, symlink targets and xattrs of a whole layer, all kept in memory
 * until the image's metadata is written */
#define LAYER_META_MAX (512ull << 20)
/* Linux new_encode_dev(): 12-bit major, 20-bit minor */
#define LAYER_DEV_MAJOR_MAX 0xfff
#define LAYER_DEV_MINOR_MAX 0xfffff
#define READ_BLOCK (128 * 1024)

struct conv {
	struct archive *a;
	struct tree *t;
	struct imgw *w;
	struct oci_layer_stats *st;
	const char *path;                      /* current entry, for messages */
	unsigned long long meta;               /* bytes counted against LAYER_META_MAX */
};

static int bad(struct conv *c, const char *why)
{
	return oci_err__set(-EBADMSG, "layer tar entry '%.200s': %s", c->path, why);
}

/* Walks to the directory named by the first len bytes of path, creating
 * missing directories the way extraction would. */
static int walk_dir(struct conv *c, const char *path, size_t len, bool create, struct tree_node **out)
{
	struct tree_node *cur = tree__root(c->t);
	char name[OCI_NAME_MAX + 1];
	size_t i = 0;

	while (i < len) {
		size_t k = strcspn(path + i, "/");
		struct tree_node *n;

		if (i + k > len)
			k = len - i;
		memcpy(name, path + i, k);
		name[k] = '\0';
		n = tree__child(c->t, cur, name);
		if (!n && !create)
			return -ENOENT;
		if (!n) {
			n = tree__add(c->t, cur, name, S_IFDIR | 0755);
			if (!n)
				return -ENOMEM;
		} else if (n->link || !S_ISDIR(n->mode)) {
			return bad(c, "a parent is not a directory");
		}
		cur = n;
		i += k + 1;
	}
	*out = cur;
	return 0;
}

static bool xattr_allowed(const char *key)
{
	/* overlay's own xattrs come only from our whiteout conversion */
	if (strncmp(key, OVL_XATTR_PREFIX, strlen(OVL_XATTR_PREFIX)) == 0)
		return false;
	return strncmp(key, "user.", 5) == 0 || strncmp(key, "trusted.", 8) == 0 ||
	       strncmp(key, "security.", 9) == 0;
}

static int set_xattrs(struct conv *c, struct tree_node *n, struct archive_entry *e)
{
	const char *key;
	const void *val;
	size_t size, total = 0;
	int r = 0;

	archive_entry_xattr_reset(e);
	while (r == 0 && archive_entry_xattr_next(e, &key, &val, &size) == ARCHIVE_OK) {
		if (!xattr_allowed(key))
			continue;
		if (strlen(key) > LAYER_XATTR_NAME_MAX || !strchr(key, '.')[1])
			return bad(c, "xattr name empty or longer than 255 bytes");
		if (size > LAYER_XATTR_VALUE_MAX)
			return bad(c, "xattr value larger than 65535 bytes");
		total += strlen(key) + size;
		if (total > LAYER_XATTRS_MAX)
			return bad(c, "xattrs larger than 64 KiB in all");
		r = tree__xattr_set(n, key, val, size);
	}
	return r;
}

static int set_attrs(struct conv *c, struct tree_node *n, struct archive_entry *e)
{
	int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
	time_t mtime = archive_entry_mtime(e);

	if (uid < 0 || uid > UINT32_MAX || gid < 0 || gid > UINT32_MAX)
		return bad(c, "uid or gid out of range");
	n->mode = archive_entry_mode(e);
	n->uid = (uint32_t)uid;
	n->gid = (uint32_t)gid;
	n->mtime = mtime < 0 ? 0 : mtime > UINT32_MAX ? UINT32_MAX : (uint32_t)mtime;
	return set_xattrs(c, n, e);
}

static int zero_fill(struct conv *c, uint64_t n)
{
	static const char zero[READ_BLOCK];
	int r = 0;

	while (n > 0 && r == 0) {
		size_t k = n < sizeof(zero) ? (size_t)n : sizeof(zero);

		r = c->w->ops->append(c->w, zero, k);
		n -= k;
	}
	return r;
}

/* Copies file data, filling sparse holes with zeros (libsquashfs stores
 * all-zero blocks as holes again). */
static int copy_data(struct conv *c, struct archive_entry *e)
{
	uint64_t pos = 0, size = (uint64_t)archive_entry_size(e);
	const void *buf;
	size_t len;
	la_int64_t off;
	int r;

	for (;;) {
		r = archive_read_data_block(c->a, &buf, &len, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return oci_err__set(-EBADMSG, "layer tar entry '%.200s': %s", c->path, archive_error_string(c->a));
		if (off < 0 || (uint64_t)off < pos || (uint64_t)off + len > LAYER_FILE_MAX)
			return bad(c, "file data out of order or too large");
		if ((r = zero_fill(c, (uint64_t)off - pos)) < 0 || (r = c->w->ops->append(c->w, buf, len)) < 0)
			return r;
		pos = (uint64_t)off + len;
		c->st->bytes += len;
	}
	return size > pos ? zero_fill(c, size - pos) : 0;
}

static int add_file(struct conv *c, struct tree_node *n, struct archive_entry *e)
{
	int r;

	if ((uint64_t)archive_entry_size(e) > LAYER_FILE_MAX)
		return bad(c, "file larger than 64 GiB");
	r = c->w->ops->begin_file(c->w, n);
	if (r == 0)
		r = copy_data(c, e);
	if (r == 0)
		r = c->w->ops->end_file(c->w);
	return r;
}

static int add_hardlink(struct conv *c, struct tree_node *dir, const char *name, const char *raw)
{
	char clean[OCI_PATH_MAX];
	struct tree_node *parent, *t, *n;
	const char *slash;
	int r = oci_path__clean(raw, clean, sizeof(clean));

	if (r < 0)
		return oci_err__wrap(r, "layer tar entry '%.200s': hard link target", c->path);
	slash = strrchr(clean, '/');
	r = walk_dir(c, clean, slash ? (size_t)(slash - clean) : 0, false, &parent);
	t = r == 0 ? tree__child(c->t, parent, slash ? slash + 1 : clean) : NULL;
	if (!t || !clean[0])
		return bad(c, "hard link to a file that is not in this layer");
	t = tree__final(t);
	if (S_ISDIR(t->mode))
		return bad(c, "hard link to a directory");
	n = tree__add(c->t, dir, name, t->mode);
	if (!n)
		return -ENOMEM;
	n->link = t;
	t->nlink++;
	return 0;
}

static int add_node(struct conv *c, struct tree_node *dir, const char *name, struct archive_entry *e)
{
	struct tree_node *n, *old = tree__child(c->t, dir, name);
	mode_t type = archive_entry_filetype(e);
	int r;

	if (type == AE_IFDIR && old && !old->link && S_ISDIR(old->mode))
		return set_attrs(c, old, e);   /* a directory named twice keeps its contents */
	if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && type != AE_IFCHR &&
	    type != AE_IFBLK && type != AE_IFIFO && type != AE_IFSOCK)
		return bad(c, "unknown file type");
	n = tree__add(c->t, dir, name, type);
	if (!n)
		return -ENOMEM;
	r = set_attrs(c, n, e);
	if (r < 0)
		return r;
	switch (type) {
	case AE_IFREG:
		return add_file(c, n, e);
	case AE_IFLNK:
		/* stored as data; the guest resolves it inside its own root */
		if (!archive_entry_symlink(e) || strlen(archive_entry_symlink(e)) >= OCI_PATH_MAX)
			return bad(c, "symlink target missing or too long");
		n->target = strdup(archive_entry_symlink(e));
		return n->target ? 0 : -ENOMEM;
	case AE_IFCHR:
	case AE_IFBLK:
		if (archive_entry_rdevmajor(e) > LAYER_DEV_MAJOR_MAX || archive_entry_rdevminor(e) > LAYER_DEV_MINOR_MAX)
			return bad(c, "device number out of range");
		n->devno = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
		return 0;
	default:
		return 0;
	}
}

static int add_whiteout(struct conv *c, struct tree_node *dir, const char *name)
{
	static const char y = 'y';
	struct tree_node *n;

	if (strcmp(name, WH_OPAQUE) == 0)
		return tree__xattr_set(dir, OVL_OPAQUE_XATTR, &y, 1);
	if (strncmp(name, WH_META_PREFIX, strlen(WH_META_PREFIX)) == 0)
		return 0;   /* aufs bookkeeping, meaningless to overlayfs */
	name += strlen(WH_PREFIX);
	if (!name[0] || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return bad(c, "whiteout without a name");
	/* overlayfs whiteout: a character device 0:0 */
	n = tree__add(c->t, dir, name, S_IFCHR);
	return n ? 0 : -ENOMEM;
}

static unsigned long long meta_bytes(struct conv *c, struct archive_entry *e)
{
	const char *key;
	const void *val;
	size_t size;
	unsigned long long n = strlen(c->path);

	if (archive_entry_symlink(e))
		n += strlen(archive_entry_symlink(e));
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &key, &val, &size) == ARCHIVE_OK)
		n += strlen(key) + size;
	return n;
}

static int add_entry(struct conv *c, struct archive_entry *e)
{
	char clean[OCI_PATH_MAX];
	struct tree_node *dir;
	const char *name, *slash;
	int r;

	c->path = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
	if (++c->st->entries > LAYER_ENTRIES_MAX)
		return bad(c, "more than 2M entries in one layer");
	c->meta += meta_bytes(c, e);
	if (c->meta > LAYER_META_MAX)
		return bad(c, "paths, symlinks and xattrs of the layer over 512 MiB");
	r = oci_path__clean(c->path, clean, sizeof(clean));
	if (r < 0)
		return r;
	if (!clean[0]) {
		if (archive_entry_filetype(e) != AE_IFDIR)
			return bad(c, "the root must be a directory");
		return set_attrs(c, tree__root(c->t), e);
	}
	slash = strrchr(clean, '/');
	name = slash ? slash + 1 : clean;
	r = walk_dir(c, clean, slash ? (size_t)(slash - clean) : 0, true, &dir);
	if (r < 0)
		return r;
	if (strncmp(name, WH_PREFIX, strlen(WH_PREFIX)) == 0)
		return add_whiteout(c, dir, name);
	if (archive_entry_hardlink(e))
		return add_hardlink(c, dir, name, archive_entry_hardlink(e));
	return add_node(c, dir, name, e);
}

static struct imgw *open_writer(const char *path, enum oci_layer_fmt fmt)
{
	if (fmt == OCI_LAYER_SQUASHFS)
		return sqfsw__open(path);
	return erofsw__open(path);
}

static int finish(struct conv *c)
{
	int r = tree__link_counts(tree__root(c->t));

	return r < 0 ? r : c->w->ops->finish(c->w, tree__root(c->t));
}

static int convert(struct archive *a, const char *out_path, enum oci_layer_fmt fmt, struct oci_layer_stats *st)
{
	struct oci_layer_stats dummy = { 0 };
	struct conv c = { .a = a, .st = st ? st : &dummy };
	struct archive_entry *e;
	int r = 0, ar;

	c.t = tree__new();
	c.w = c.t ? open_writer(out_path, fmt) : NULL;
	if (!c.t || !c.w) {
		r = c.t ? -errno : -ENOMEM;
		goto out;
	}
	while (r == 0 && (ar = archive_read_next_header(a, &e)) != ARCHIVE_EOF) {
		if (ar < ARCHIVE_WARN) {
			r = oci_err__set(-EBADMSG, "layer tar: %s", archive_error_string(a));
			break;
		}
		r = add_entry(&c, e);
	}
	if (r == 0)
		r = finish(&c);
out:
	if (c.w)
		c.w->ops->close(c.w);
	tree__free(c.t);
	return r;
}

/* Only what OCI layers may be: tar (ustar/pax/gnu), plain, gzip or zstd. */
static struct archive *reader(void)
{
	struct archive *a = archive_read_new();

	if (!a)
		return NULL;
	archive_read_support_format_tar(a);
	archive_read_support_filter_none(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	return a;
}

int oci_layer__parse_fmt(const char *name, enum oci_layer_fmt *fmt)
{
	if (strcmp(name, "erofs") == 0)
		*fmt = OCI_LAYER_EROFS;
	else if (strcmp(name, "squashfs") == 0)
		*fmt = OCI_LAYER_SQUASHFS;
	else
		return oci_err__set(-EINVAL, "layer format '%.40s' is neither erofs nor squashfs", name);
	return 0;
}

int oci_layer__default_fmt(enum oci_layer_fmt *fmt)
{
	const char *env = getenv("SM_LAYER_FORMAT");

	*fmt = OCI_LAYER_EROFS;
	return env && env[0] ? oci_layer__parse_fmt(env, fmt) : 0;
}

const char *oci_layer__fmt_name(enum oci_layer_fmt fmt)
{
	return fmt == OCI_LAYER_SQUASHFS ? "squashfs" : "erofs";
}

const char *oci_layer__fmt_ext(enum oci_layer_fmt fmt)
{
	return fmt == OCI_LAYER_SQUASHFS ? "sqfs" : "erofs";
}

int oci_layer__convert_file(const char *tar_path, const char *out_path, enum oci_layer_fmt fmt,
			    struct oci_layer_stats *st)
{
	struct archive *a = reader();
	int r;

	if (!a)
		return -ENOMEM;
	if (archive_read_open_filename(a, tar_path, READ_BLOCK) != ARCHIVE_OK)	/* a missing file is not a bad layer */
		r = oci_err__set(archive_errno(a) > 0 ? -archive_errno(a) : -EBADMSG, "layer %s: %s", tar_path,
				 archive_error_string(a));
	else
		r = convert(a, out_path, fmt, st);
	archive_read_free(a);
	return r;
}

int oci_layer__convert_mem(const void *buf, size_t len, const char *out_path, enum oci_layer_fmt fmt,
			   struct oci_layer_stats *st)
{
	struct archive *a = reader();
	int r;

	if (!a)
		return -ENOMEM;
	if (archive_read_open_memory(a, buf, len) != ARCHIVE_OK)
		r = oci_err__set(-EBADMSG, "layer: %s", archive_error_string(a));
	else
		r = convert(a, out_path, fmt, st);
	archive_read_free(a);
	return r;
}

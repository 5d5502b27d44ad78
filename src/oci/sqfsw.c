/* Squashfs image writer over libsquashfs (see sqfsw.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>

#include <sqfs/block.h>
#include <sqfs/block_processor.h>
#include <sqfs/block_writer.h>
#include <sqfs/compressor.h>
#include <sqfs/dir_writer.h>
#include <sqfs/error.h>
#include <sqfs/frag_table.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/meta_writer.h>
#include <sqfs/super.h>
#include <sqfs/xattr_writer.h>

#include "oci/err.h"
#include "oci/sqfsw.h"

#define SQFSW_ZSTD_LEVEL 6   /* compresses about as well as gzip -9, much faster */
/* Layers are stored uncompressed: the guest kernel decompresses, which is
 * emulated kernel work on kvm_pvm hosts and cost more than reading the
 * larger image (measured: docs/images.md §3).  true restores zstd. */
#define SQFSW_COMPRESS false
#define SQFSW_BACKLOG 32

struct sqfsw {
	struct imgw base;                      /* first: the imgw is the sqfsw */
	sqfs_file_t *file;
	sqfs_compressor_t *cmp, *uncmp;
	sqfs_super_t super;
	sqfs_block_writer_t *blkwr;
	sqfs_frag_table_t *frag;
	sqfs_block_processor_t *data;
	sqfs_id_table_t *ids;
	sqfs_xattr_writer_t *xwr;
	sqfs_meta_writer_t *im, *dm;
	sqfs_dir_writer_t *dirwr;
	uint32_t ninodes;
};

static int sqfs_fail(int r, const char *what)
{
	return oci_err__set(-EIO, "writing squashfs: %s failed (libsquashfs error %d)", what, r);
}

/* do_block's "did not get smaller": libsquashfs then stores the block as it
 * is, with the uncompressed bit set — for data, fragments and metadata. */
static sqfs_s32 store_only(sqfs_compressor_t *cmp, const sqfs_u8 *in, sqfs_u32 size, sqfs_u8 *out,
			   sqfs_u32 outsize)
{
	(void)cmp, (void)in, (void)size, (void)out, (void)outsize;
	return 0;
}

/* The superblock names gzip when nothing is compressed: the guest kernel
 * sets up a decompressor per mount anyway, and zlib's is the smallest. */
static int comp_id(void)
{
	return SQFSW_COMPRESS ? SQFS_COMP_ZSTD : SQFS_COMP_GZIP;
}

static int make_compressors(struct sqfsw *w)
{
	sqfs_compressor_config_t cfg;
	int r;

	r = sqfs_compressor_config_init(&cfg, comp_id(), SQFS_DEFAULT_BLOCK_SIZE, 0);
	if (r)
		return sqfs_fail(r, "compressor config");
	if (SQFSW_COMPRESS)
		cfg.level = SQFSW_ZSTD_LEVEL;
	r = sqfs_compressor_create(&cfg, &w->cmp);
	if (r)
		return sqfs_fail(r, "compressor");
	if (!SQFSW_COMPRESS)
		w->cmp->do_block = store_only;	/* copies for worker threads inherit it */
	cfg.flags |= SQFS_COMP_FLAG_UNCOMPRESS;
	r = sqfs_compressor_create(&cfg, &w->uncmp);
	return r ? sqfs_fail(r, "decompressor") : 0;
}

/* Fragment dedup reads candidates back (file + uncmp), never trusting a hash alone. */
static int make_data_path(struct sqfsw *w)
{
	sqfs_block_processor_desc_t desc = {
		.size = sizeof(desc),
		.max_block_size = SQFS_DEFAULT_BLOCK_SIZE,
		.num_workers = (sqfs_u32)(get_nprocs() > 1 ? get_nprocs() : 1),
		.max_backlog = SQFSW_BACKLOG,
	};
	int r;

	w->blkwr = sqfs_block_writer_create(w->file, SQFS_DEVBLK_SIZE, 0);
	w->frag = sqfs_frag_table_create(0);
	if (!w->blkwr || !w->frag)
		return -ENOMEM;
	desc.cmp = w->cmp;
	desc.wr = w->blkwr;
	desc.tbl = w->frag;
	desc.file = w->file;
	desc.uncmp = w->uncmp;
	r = sqfs_block_processor_create_ex(&desc, &w->data);
	return r ? sqfs_fail(r, "block processor") : 0;
}

static int open_parts(struct sqfsw *w)
{
	int r = make_compressors(w);

	if (r < 0)
		return r;
	r = sqfs_super_init(&w->super, SQFS_DEFAULT_BLOCK_SIZE, 0, comp_id());
	if (r == 0 && !SQFSW_COMPRESS)
		w->super.flags |= SQFS_FLAG_UNCOMPRESSED_INODES | SQFS_FLAG_UNCOMPRESSED_DATA |
				  SQFS_FLAG_UNCOMPRESSED_FRAGMENTS | SQFS_FLAG_UNCOMPRESSED_IDS |
				  SQFS_FLAG_UNCOMPRESSED_XATTRS;
	if (r == 0)
		r = sqfs_super_write(&w->super, w->file);
	if (r)
		return sqfs_fail(r, "super block");
	r = w->cmp->write_options(w->cmp, w->file);
	if (r < 0)
		return sqfs_fail(r, "compressor options");
	if (r > 0)
		w->super.flags |= SQFS_FLAG_COMPRESSOR_OPTIONS;
	r = make_data_path(w);
	if (r < 0)
		return r;
	w->ids = sqfs_id_table_create(0);
	w->xwr = sqfs_xattr_writer_create(0);
	w->im = sqfs_meta_writer_create(w->file, w->cmp, 0);
	w->dm = sqfs_meta_writer_create(w->file, w->cmp, SQFS_META_WRITER_KEEP_IN_MEMORY);
	w->dirwr = w->dm ? sqfs_dir_writer_create(w->dm, 0) : NULL;
	return w->ids && w->xwr && w->im && w->dirwr ? 0 : -ENOMEM;
}

static const struct imgw_ops sqfsw_ops;

static void sqfsw_close(struct imgw *base);

struct imgw *sqfsw__open(const char *path)
{
	struct sqfsw *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return NULL;
	w->base.ops = &sqfsw_ops;
	w->file = sqfs_open_file(path, SQFS_FILE_OPEN_OVERWRITE);
	if (!w->file) {
		r = oci_err__set(-errno, "create %s: %s", path, strerror(errno));
		goto fail;
	}
	r = open_parts(w);
	if (r == 0)
		return &w->base;
fail:
	sqfsw_close(&w->base);
	errno = -r;
	return NULL;
}

static int sqfsw_begin_file(struct imgw *base, struct tree_node *n)
{
	struct sqfsw *w = (struct sqfsw *)base;
	int r = sqfs_block_processor_begin_file(w->data, (sqfs_inode_generic_t **)&n->wdata, NULL, 0);

	return r ? sqfs_fail(r, "begin file") : 0;
}

static int sqfsw_append(struct imgw *base, const void *buf, size_t len)
{
	struct sqfsw *w = (struct sqfsw *)base;
	int r = sqfs_block_processor_append(w->data, buf, len);

	return r ? sqfs_fail(r, "file data") : 0;
}

static int sqfsw_end_file(struct imgw *base)
{
	struct sqfsw *w = (struct sqfsw *)base;
	int r = sqfs_block_processor_end_file(w->data);

	return r ? sqfs_fail(r, "end file") : 0;
}

static int push(struct tree_node ***v, size_t *len, size_t *cap, struct tree_node *n)
{
	if (*len == *cap) {
		struct tree_node **nv = realloc(*v, (*cap * 2 + 64) * sizeof(**v));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = *cap * 2 + 64;
	}
	(*v)[(*len)++] = n;
	return 0;
}

/* Post-order numbering: children (and link targets) before their directory. */
static int number(struct sqfsw *w, struct tree_node *dir, struct tree_node ***order, size_t *len, size_t *cap)
{
	int r = tree__sort(dir);

	for (struct tree_node *c = dir->children; c && r == 0; c = c->next) {
		struct tree_node *t = tree__final(c);

		if (t->inode_num)
			continue;
		if (S_ISDIR(t->mode)) {
			r = number(w, t, order, len, cap);
			continue;
		}
		t->inode_num = ++w->ninodes;
		r = push(order, len, cap, t);
	}
	if (r < 0)
		return r;
	dir->inode_num = ++w->ninodes;
	return push(order, len, cap, dir);
}

static int write_xattrs(struct sqfsw *w, struct tree_node *n)
{
	int r;

	if (!n->xattrs)
		return 0;
	r = sqfs_xattr_writer_begin(w->xwr, 0);
	for (struct tree_xattr *x = n->xattrs; x && r == 0; x = x->next)
		r = sqfs_xattr_writer_add(w->xwr, x->key, x->value, x->size);
	if (r == 0)
		r = sqfs_xattr_writer_end(w->xwr, &n->xattr_idx);
	return r ? sqfs_fail(r, "xattrs") : 0;
}

static sqfs_inode_generic_t *dir_inode(struct sqfsw *w, struct tree_node *n)
{
	sqfs_inode_generic_t *ino;
	uint32_t subdirs = 0;
	int r = sqfs_dir_writer_begin(w->dirwr, 0);

	for (struct tree_node *c = n->children; c && r == 0; c = c->next) {
		struct tree_node *t = tree__final(c);

		subdirs += S_ISDIR(t->mode);
		r = sqfs_dir_writer_add_entry(w->dirwr, c->name, t->inode_num, t->inode_ref, (sqfs_u16)t->mode);
	}
	if (r == 0)
		r = sqfs_dir_writer_end(w->dirwr);
	if (r) {
		sqfs_fail(r, "directory entries");
		return NULL;
	}
	ino = sqfs_dir_writer_create_inode(w->dirwr, 0, n->xattr_idx,
					   n->parent ? n->parent->inode_num : 0);
	if (!ino)
		return NULL;
	if (ino->base.type == SQFS_INODE_DIR)
		ino->data.dir.nlink = 2 + subdirs;
	else
		ino->data.dir_ext.nlink = 2 + subdirs;
	return ino;
}

static sqfs_inode_generic_t *file_inode(struct tree_node *n)
{
	sqfs_inode_generic_t *ino = n->wdata;

	n->wdata = NULL;
	if (ino && n->nlink > 1) {
		sqfs_inode_make_extended(ino);
		ino->data.file_ext.nlink = n->nlink;
	}
	return ino;
}

static sqfs_inode_generic_t *other_inode(struct tree_node *n)
{
	size_t extra = n->target ? strlen(n->target) : 0;
	sqfs_inode_generic_t *ino = calloc(1, sizeof(*ino) + extra);

	if (!ino)
		return NULL;
	switch (n->mode & S_IFMT) {
	case S_IFLNK:
		ino->base.type = SQFS_INODE_SLINK;
		ino->data.slink.nlink = n->nlink;
		ino->data.slink.target_size = (sqfs_u32)extra;
		ino->payload_bytes_available = ino->payload_bytes_used = (sqfs_u32)extra;
		memcpy(ino->extra, n->target, extra);
		break;
	case S_IFBLK:
	case S_IFCHR:
		ino->base.type = S_ISBLK(n->mode) ? SQFS_INODE_BDEV : SQFS_INODE_CDEV;
		ino->data.dev.nlink = n->nlink;
		ino->data.dev.devno = (sqfs_u32)n->devno;
		break;
	default:
		ino->base.type = S_ISSOCK(n->mode) ? SQFS_INODE_SOCKET : SQFS_INODE_FIFO;
		ino->data.ipc.nlink = n->nlink;
		break;
	}
	return ino;
}

static int write_inode(struct sqfsw *w, struct tree_node *n)
{
	sqfs_inode_generic_t *ino;
	sqfs_u32 off;
	sqfs_u64 blk;
	int r = write_xattrs(w, n);

	if (r < 0)
		return r;
	if (S_ISDIR(n->mode))
		ino = dir_inode(w, n);
	else if (S_ISREG(n->mode))
		ino = file_inode(n);
	else
		ino = other_inode(n);
	if (!ino)
		return oci_err__set(-ENOMEM, "writing squashfs: no inode for '%s'", n->name);
	ino->base.mode = (sqfs_u16)n->mode;
	ino->base.mod_time = n->mtime;
	ino->base.inode_number = n->inode_num;
	r = sqfs_inode_set_xattr_index(ino, n->xattr_idx);
	if (r == 0)
		r = sqfs_id_table_id_to_index(w->ids, n->uid, &ino->base.uid_idx);
	if (r == 0)
		r = sqfs_id_table_id_to_index(w->ids, n->gid, &ino->base.gid_idx);
	sqfs_meta_writer_get_position(w->im, &blk, &off);
	n->inode_ref = (blk << 16) | off;
	if (r == 0)
		r = sqfs_meta_writer_write_inode(w->im, ino);
	free(ino);
	return r ? sqfs_fail(r, "inode") : 0;
}

static int write_tree(struct sqfsw *w, struct tree_node *root)
{
	struct tree_node **order = NULL;
	size_t len = 0, cap = 0;
	int r = number(w, root, &order, &len, &cap);

	w->super.inode_table_start = w->file->get_size(w->file);
	for (size_t i = 0; i < len && r == 0; i++)
		r = write_inode(w, order[i]);
	free(order);
	if (r < 0)
		return r;
	if ((r = sqfs_meta_writer_flush(w->im)) || (r = sqfs_meta_writer_flush(w->dm)))
		return sqfs_fail(r, "metadata flush");
	w->super.root_inode_ref = root->inode_ref;
	w->super.directory_table_start = w->file->get_size(w->file);
	r = sqfs_meta_write_write_to_file(w->dm);
	return r ? sqfs_fail(r, "directory table") : 0;
}

/* Pads to the device block size so the image can back a block device. */
static int pad(struct sqfsw *w)
{
	static const char zero[SQFS_DEVBLK_SIZE];
	sqfs_u64 size = w->file->get_size(w->file);
	size_t n = size % SQFS_DEVBLK_SIZE;

	if (n == 0)
		return 0;
	return w->file->write_at(w->file, size, zero, SQFS_DEVBLK_SIZE - n) ? -EIO : 0;
}

static int sqfsw_finish(struct imgw *base, struct tree_node *root)
{
	struct sqfsw *w = (struct sqfsw *)base;
	int r = sqfs_block_processor_finish(w->data);

	if (r)
		return sqfs_fail(r, "data blocks");
	r = write_tree(w, root);
	if (r < 0)
		return r;
	w->super.inode_count = w->ninodes;
	if ((r = sqfs_frag_table_write(w->frag, w->file, &w->super, w->cmp)))
		return sqfs_fail(r, "fragment table");
	if ((r = sqfs_id_table_write(w->ids, w->file, &w->super, w->cmp)))
		return sqfs_fail(r, "id table");
	if ((r = sqfs_xattr_writer_flush(w->xwr, w->file, &w->super, w->cmp)))
		return sqfs_fail(r, "xattr table");
	w->super.bytes_used = w->file->get_size(w->file);
	if ((r = sqfs_super_write(&w->super, w->file)))
		return sqfs_fail(r, "super block");
	return pad(w) < 0 ? oci_err__set(-EIO, "writing squashfs: padding failed") : 0;
}

static void sqfsw_close(struct imgw *base)
{
	struct sqfsw *w = (struct sqfsw *)base;
	void *objs[] = { w->dirwr, w->dm, w->im, w->xwr, w->ids, w->data,
			 w->frag, w->blkwr, w->uncmp, w->cmp, w->file };

	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++)
		if (objs[i])
			sqfs_destroy(objs[i]);
	free(w);
}

static const struct imgw_ops sqfsw_ops = {
	.begin_file = sqfsw_begin_file,
	.append = sqfsw_append,
	.end_file = sqfsw_end_file,
	.finish = sqfsw_finish,
	.close = sqfsw_close,
};

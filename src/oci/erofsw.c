/*
 * EROFS image writer (see erofsw.h).  Image layout, in blocks of 4 KiB:
 *
 *   0          superblock at byte 1024 (written last, crc32c checksummed)
 *   1..D-1     regular file data, in tar order, as it streams in
 *   D..M-1     metadata (meta_blkaddr = D): inodes in breadth-first order,
 *              each followed by its inline xattrs and inline data tail
 *   M..end     directory and symlink blocks that are not inline
 *
 * Names and numbers below are those of Linux 6.1 fs/erofs/erofs_fs.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <fcntl.h>
#include <unistd.h>

#include "oci/erofsw.h"
#include "oci/err.h"

#define EROFS_BLKSZBITS 12
#define EROFS_BLKSIZ (1u << EROFS_BLKSZBITS)
#define EROFS_SUPER_OFFSET 1024
#define EROFS_SUPER_MAGIC_V1 0xE0F5E1E2u
#define EROFS_FEATURE_COMPAT_SB_CHKSUM 0x1u
#define EROFS_FEATURE_COMPAT_MTIME 0x2u
#define EROFS_ISLOTBITS 5                      /* nid = (inode offset - meta) / 32 */
#define EROFS_INODE_COMPACT_SIZE 32
#define EROFS_INODE_EXTENDED_SIZE 64
#define EROFS_INODE_LAYOUT_COMPACT 0
#define EROFS_INODE_LAYOUT_EXTENDED 1
#define EROFS_INODE_FLAT_PLAIN 0
#define EROFS_INODE_FLAT_INLINE 2
#define EROFS_I_DATALAYOUT_BIT 1
#define EROFS_XATTR_IBODY_HEADER_SIZE 12      /* struct erofs_xattr_ibody_header */
#define EROFS_XATTR_ENTRY_SIZE 4              /* struct erofs_xattr_entry, before the name */
#define EROFS_XATTR_INDEX_USER 1
#define EROFS_XATTR_INDEX_TRUSTED 4
#define EROFS_XATTR_INDEX_SECURITY 6
#define EROFS_DIRENT_SIZE 12                  /* struct erofs_dirent */
#define EROFS_NAME_LEN 255
/* file_type in dirents: the kernel's generic FT_* (include/linux/fs_types.h) */
enum { EROFS_FT_REG_FILE = 1, EROFS_FT_DIR, EROFS_FT_CHRDEV, EROFS_FT_BLKDEV,
       EROFS_FT_FIFO, EROFS_FT_SOCK, EROFS_FT_SYMLINK };

#define OUT_BUF (1u << 20)
/* Short file tails held in memory until their inode is written; past
 * this, tails go to a data block of their own (FLAT_PLAIN). */
#define TAILS_MAX (256u << 20)
/* Block addresses are 32-bit on disk. */
#define BLOCKS_MAX UINT32_MAX

/* n->wdata of every regular file, directory and symlink */
struct einfo {
	uint64_t size;
	uint32_t blkaddr;                      /* first data block, 0 if none */
	bool inl;                              /* last partial block inline (FLAT_INLINE) */
	uint16_t tail_len;                     /* regular file: inline tail in tail[] */
	unsigned char tail[];
};

/* Sequential buffered writer; a forward gap of a block or more stays a hole. */
struct out {
	int fd;
	uint64_t off;                          /* file offset of buf[0] */
	size_t len;
	unsigned char *buf;
};

struct erofsw {
	struct imgw base;                      /* first: the imgw is the erofsw */
	struct out o, dirs;                    /* file data, then metadata; dir blocks */
	uint64_t blk;                          /* next free block */
	struct tree_node *cur;                 /* regular file being streamed */
	uint64_t cur_start, cur_size, tails;
	size_t part_len;
	unsigned char part[EROFS_BLKSIZ];      /* the current file's partial block */
	struct tree_node **order;              /* inodes, breadth first */
	size_t norder, cap;
	uint32_t build_time;                   /* mtime of compact inodes */
	uint64_t meta_blk, meta_end;
};

struct shape {
	unsigned isize, xsize, inl;            /* inode, xattrs, inline data bytes */
	uint64_t size;
	bool compact;
};

static const unsigned char zero_blk[EROFS_BLKSIZ];

static int fail(int r, const char *what)
{
	return oci_err__set(r, "writing erofs: %s", what);
}

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* ---- output ---- */

static int out_flush(struct out *o)
{
	size_t done = 0;

	while (done < o->len) {
		ssize_t k = pwrite(o->fd, o->buf + done, o->len - done, (off_t)(o->off + done));

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return oci_err__set(k < 0 ? -errno : -EIO, "writing erofs: %s", strerror(k < 0 ? errno : EIO));
		done += (size_t)k;
	}
	o->off += o->len;
	o->len = 0;
	return 0;
}

static int out_put(struct out *o, const void *p, size_t n)
{
	while (n > 0) {
		size_t k = OUT_BUF - o->len < n ? OUT_BUF - o->len : n;
		int r;

		memcpy(o->buf + o->len, p, k);
		o->len += k;
		p = (const unsigned char *)p + k;
		n -= k;
		if (o->len == OUT_BUF && (r = out_flush(o)) < 0)
			return r;
	}
	return 0;
}

static int out_seek(struct out *o, uint64_t pos)
{
	uint64_t cur = o->off + o->len;
	int r;

	if (pos < cur)
		return fail(-EIO, "internal error: layout goes backwards");
	if (pos - cur < EROFS_BLKSIZ)
		return out_put(o, zero_blk, (size_t)(pos - cur));
	if ((r = out_flush(o)) < 0)
		return r;
	o->off = pos;
	return 0;
}

/* ---- file data, while the tar streams ---- */

static int data_block(struct erofsw *w, const unsigned char *p)
{
	int r = 0;

	if (w->blk >= BLOCKS_MAX)
		return fail(-EFBIG, "image larger than 16 TiB");
	/* an all-zero block (sparse files) stays a hole in the host file */
	if (memcmp(p, zero_blk, EROFS_BLKSIZ) != 0) {
		r = out_seek(&w->o, w->blk << EROFS_BLKSZBITS);
		if (r == 0)
			r = out_put(&w->o, p, EROFS_BLKSIZ);
	}
	w->blk++;
	return r;
}

static int erofsw_begin_file(struct imgw *base, struct tree_node *n)
{
	struct erofsw *w = (struct erofsw *)base;

	w->cur = n;
	w->cur_start = w->blk;
	w->cur_size = 0;
	w->part_len = 0;
	return 0;
}

static int erofsw_append(struct imgw *base, const void *buf, size_t len)
{
	struct erofsw *w = (struct erofsw *)base;
	const unsigned char *p = buf;
	int r = 0;

	w->cur_size += len;
	while (len > 0 && r == 0) {
		size_t k;

		if (w->part_len == 0 && len >= EROFS_BLKSIZ) {
			r = data_block(w, p);
			p += EROFS_BLKSIZ;
			len -= EROFS_BLKSIZ;
			continue;
		}
		k = EROFS_BLKSIZ - w->part_len < len ? EROFS_BLKSIZ - w->part_len : len;
		memcpy(w->part + w->part_len, p, k);
		w->part_len += k;
		p += k;
		len -= k;
		if (w->part_len == EROFS_BLKSIZ) {
			r = data_block(w, w->part);
			w->part_len = 0;
		}
	}
	return r;
}

static const struct { const char *prefix; uint8_t index; } xprefixes[] = {
	{ "user.", EROFS_XATTR_INDEX_USER },
	{ "trusted.", EROFS_XATTR_INDEX_TRUSTED },
	{ "security.", EROFS_XATTR_INDEX_SECURITY },
};

/* The name index of key, and the name after its prefix; -1 if none fits. */
static int xattr_index(const char *key, const char **suffix)
{
	for (size_t i = 0; i < sizeof(xprefixes) / sizeof(xprefixes[0]); i++) {
		size_t k = strlen(xprefixes[i].prefix);

		if (strncmp(key, xprefixes[i].prefix, k) == 0) {
			*suffix = key + k;
			return xprefixes[i].index;
		}
	}
	return -1;
}

static size_t xattr_entry_size(const struct tree_xattr *x)
{
	const char *suffix = x->key;

	xattr_index(x->key, &suffix);
	return (EROFS_XATTR_ENTRY_SIZE + strlen(suffix) + x->size + 3) & ~(size_t)3;
}

/* erofs_xattr_ibody_size(): header + entries, 0 without xattrs */
static size_t xattr_size(const struct tree_node *n)
{
	size_t s = 0;

	for (const struct tree_xattr *x = n->xattrs; x; x = x->next)
		s += xattr_entry_size(x);
	return s ? s + EROFS_XATTR_IBODY_HEADER_SIZE : 0;
}

/* Keeps a short tail for FLAT_INLINE when it will fit in one block with
 * even an extended inode and the xattrs; else pads it to a data block. */
static int erofsw_end_file(struct imgw *base)
{
	struct erofsw *w = (struct erofsw *)base;
	size_t tail = w->part_len;
	bool inl = tail > 0 && EROFS_INODE_EXTENDED_SIZE + xattr_size(w->cur) + tail <= EROFS_BLKSIZ &&
		   w->tails + tail <= TAILS_MAX;
	struct einfo *e = calloc(1, sizeof(*e) + (inl ? tail : 0));
	int r = 0;

	if (!e)
		return -ENOMEM;
	if (inl) {
		memcpy(e->tail, w->part, tail);
		e->tail_len = (uint16_t)tail;
		w->tails += tail;
	} else if (tail > 0) {
		memset(w->part + tail, 0, EROFS_BLKSIZ - tail);
		r = data_block(w, w->part);
	}
	e->inl = inl;
	e->size = w->cur_size;
	e->blkaddr = w->blk > w->cur_start ? (uint32_t)w->cur_start : 0;
	free(w->cur->wdata);
	w->cur->wdata = e;
	w->cur = NULL;
	w->part_len = 0;
	return r;
}

/* ---- directories ---- */

struct dent {
	const char *name;
	size_t len;
	struct tree_node *t;                   /* the inode it names */
};

/* Entries in byte order of names, "." and ".." merged in (erofs looks names
 * up by binary search over blocks, then within a block). */
struct diter {
	struct tree_node *dir, *c;
	int dots;                              /* how many of ".", ".." are out */
	bool have;                             /* pend holds the next entry */
	struct dent pend;
};

static void diter_init(struct diter *it, struct tree_node *dir)
{
	memset(it, 0, sizeof(*it));
	it->dir = dir;
	it->c = dir->children;
}

static bool diter_next(struct diter *it, struct dent *d)
{
	const char *dot = it->dots == 0 ? "." : it->dots == 1 ? ".." : NULL;

	if (dot && (!it->c || strcmp(dot, it->c->name) < 0)) {
		d->name = dot;
		d->len = strlen(dot);
		d->t = it->dots == 0 || !it->dir->parent ? it->dir : it->dir->parent;
		it->dots++;
		return true;
	}
	if (!it->c)
		return false;
	d->name = it->c->name;
	d->len = strlen(it->c->name);
	d->t = tree__final(it->c);
	it->c = it->c->next;
	return true;
}

static uint8_t file_type(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return EROFS_FT_REG_FILE;
	case S_IFDIR: return EROFS_FT_DIR;
	case S_IFCHR: return EROFS_FT_CHRDEV;
	case S_IFBLK: return EROFS_FT_BLKDEV;
	case S_IFIFO: return EROFS_FT_FIFO;
	case S_IFSOCK: return EROFS_FT_SOCK;
	default: return EROFS_FT_SYMLINK;
	}
}

/* The next directory block: struct erofs_dirent[k], then the k names
 * (nameoff of dirent 0 gives k).  Fills blk if not NULL; returns the bytes
 * used, 0 after the last block. */
static size_t dir_block(struct diter *it, unsigned char *blk)
{
	struct dent v[EROFS_BLKSIZ / (EROFS_DIRENT_SIZE + 1)];
	size_t k = 0, used = 0, nameoff;

	while (it->have || (it->have = diter_next(it, &it->pend))) {
		if (used + EROFS_DIRENT_SIZE + it->pend.len > EROFS_BLKSIZ)
			break;
		used += EROFS_DIRENT_SIZE + it->pend.len;
		v[k++] = it->pend;
		it->have = false;
	}
	if (!blk)
		return used;
	memset(blk, 0, EROFS_BLKSIZ);
	nameoff = k * EROFS_DIRENT_SIZE;
	for (size_t i = 0; i < k; i++) {
		unsigned char *de = blk + i * EROFS_DIRENT_SIZE;

		put64(de, v[i].t->inode_ref);
		put16(de + 8, (uint16_t)nameoff);
		de[10] = file_type(v[i].t->mode);
		memcpy(blk + nameoff, v[i].name, v[i].len);
		nameoff += v[i].len;
	}
	return used;
}

static uint64_t dir_size(struct tree_node *dir)
{
	struct diter it;
	uint64_t size = 0;
	size_t used;

	diter_init(&it, dir);
	while ((used = dir_block(&it, NULL)) > 0)
		size = (size + EROFS_BLKSIZ - 1) / EROFS_BLKSIZ * EROFS_BLKSIZ + used;
	return size;
}

/* ---- layout ---- */

static int push(struct erofsw *w, struct tree_node *n)
{
	if (w->norder == w->cap) {
		size_t cap = w->cap * 2 + 1024;
		struct tree_node **v = realloc(w->order, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		w->order = v;
		w->cap = cap;
	}
	n->inode_num = (uint32_t)++w->norder;  /* i_ino: 1 for the root */
	w->order[w->norder - 1] = n;
	return 0;
}

static struct einfo *einfo(struct tree_node *n)
{
	if (!n->wdata)
		n->wdata = calloc(1, sizeof(struct einfo));
	return n->wdata;
}

/* Directories and symlinks get their size here; files got it streaming. */
static int set_size(struct tree_node *n)
{
	struct einfo *e;

	if (!S_ISDIR(n->mode) && !S_ISREG(n->mode) && !S_ISLNK(n->mode))
		return 0;
	if (!(e = einfo(n)))
		return -ENOMEM;
	if (S_ISDIR(n->mode))
		e->size = dir_size(n);
	else if (S_ISLNK(n->mode))
		e->size = n->target ? strlen(n->target) : 0;
	return 0;
}

/* Breadth first: a directory's entries get neighbouring inodes, so a
 * listing with stat reads few metadata blocks. */
static int order_tree(struct erofsw *w, struct tree_node *root)
{
	int r = push(w, root);

	for (size_t i = 0; i < w->norder && r == 0; i++) {
		struct tree_node *d = w->order[i];
		uint32_t subdirs = 0;

		r = set_size(d);
		if (!S_ISDIR(d->mode))
			continue;
		for (struct tree_node *c = d->children; c && r == 0; c = c->next) {
			struct tree_node *t = tree__final(c);

			subdirs += S_ISDIR(t->mode);
			if (!t->inode_num)
				r = push(w, t);
		}
		d->nlink = 2 + subdirs;
	}
	return r;
}

static int by_value(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Compact inodes carry no mtime: they take the superblock's build_time,
 * so the most common mtime (the smallest of equals) makes most of them
 * compact. */
static int pick_build_time(struct erofsw *w)
{
	uint32_t *v = malloc(w->norder * sizeof(*v));
	size_t best = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < w->norder; i++)
		v[i] = w->order[i]->mtime;
	qsort(v, w->norder, sizeof(*v), by_value);
	for (size_t i = 0, j; i < w->norder; i = j) {
		for (j = i; j < w->norder && v[j] == v[i]; j++)
			;
		if (j - i > best) {
			best = j - i;
			w->build_time = v[i];
		}
	}
	free(v);
	return 0;
}

static void shape(const struct erofsw *w, struct tree_node *n, struct shape *s)
{
	struct einfo *e = n->wdata;
	unsigned tail;

	s->size = e ? e->size : 0;
	s->compact = n->uid <= UINT16_MAX && n->gid <= UINT16_MAX && n->nlink <= UINT16_MAX &&
		     s->size <= UINT32_MAX && n->mtime == w->build_time;
	s->isize = s->compact ? EROFS_INODE_COMPACT_SIZE : EROFS_INODE_EXTENDED_SIZE;
	s->xsize = (unsigned)xattr_size(n);
	s->inl = 0;
	if (!e)
		return;
	tail = (unsigned)(s->size % EROFS_BLKSIZ);
	if (S_ISDIR(n->mode) || S_ISLNK(n->mode))
		/* a dir tail keeps one zero byte after it: lookup reads its last
		 * name up to a NUL or the block end */
		e->inl = tail > 0 && s->isize + s->xsize + tail + S_ISDIR(n->mode) <= EROFS_BLKSIZ;
	s->inl = e->inl ? tail : 0;
}

static uint64_t extent(const struct tree_node *n, const struct shape *s)
{
	return s->isize + s->xsize + s->inl + (S_ISDIR(n->mode) && s->inl);
}

/* Metadata blocks still being filled: an inode goes into the first that has
 * room, so one whose inline tail does not fit here leaves the rest of the
 * block to the smaller ones after it (first fit over the last few blocks,
 * deterministic). */
#define OPEN_BLOCKS 32

struct meta_alloc {
	uint64_t next;                         /* next fresh block, from meta_blkaddr */
	uint64_t blk[OPEN_BLOCKS];
	unsigned used[OPEN_BLOCKS];
	int n;
};

static void open_block(struct meta_alloc *m, uint64_t blk, unsigned used)
{
	if (used >= EROFS_BLKSIZ)
		return;
	if (m->n == OPEN_BLOCKS) {           /* the oldest is as full as it gets */
		memmove(m->blk, m->blk + 1, (OPEN_BLOCKS - 1) * sizeof(m->blk[0]));
		memmove(m->used, m->used + 1, (OPEN_BLOCKS - 1) * sizeof(m->used[0]));
		m->n--;
	}
	m->blk[m->n] = blk;
	m->used[m->n++] = used;
}

static unsigned align32(uint64_t v)
{
	return (unsigned)((v + 31) & ~31ull);
}

/* Byte offset from meta_blkaddr for an inode of ext bytes (inode, xattrs,
 * inline data): inside one block when it fits one (inline data must not
 * cross a block), else from a fresh block on. */
static uint64_t meta_place(struct meta_alloc *m, uint64_t ext)
{
	uint64_t pos;

	if (ext > EROFS_BLKSIZ) {
		pos = m->next << EROFS_BLKSZBITS;
		m->next += (ext + EROFS_BLKSIZ - 1) >> EROFS_BLKSZBITS;
		return pos;
	}
	for (int i = 0; i < m->n; i++) {
		if (m->used[i] + ext > EROFS_BLKSIZ)
			continue;
		pos = (m->blk[i] << EROFS_BLKSZBITS) + m->used[i];
		m->used[i] = align32(m->used[i] + ext);
		if (m->used[i] == EROFS_BLKSIZ) {
			memmove(m->blk + i, m->blk + i + 1, (size_t)(m->n - i - 1) * sizeof(m->blk[0]));
			memmove(m->used + i, m->used + i + 1, (size_t)(m->n - i - 1) * sizeof(m->used[0]));
			m->n--;
		}
		return pos;
	}
	pos = m->next << EROFS_BLKSZBITS;
	open_block(m, m->next++, align32(ext));
	return pos;
}

static int by_nid(const void *a, const void *b)
{
	uint64_t x = (*(struct tree_node *const *)a)->inode_ref, y = (*(struct tree_node *const *)b)->inode_ref;

	return x < y ? -1 : x > y;
}

/* The blocks of non-inline dirs and symlinks, after the metadata. */
static int place_dir_blocks(struct erofsw *w)
{
	uint64_t blk = w->meta_blk + ((w->meta_end + EROFS_BLKSIZ - 1) >> EROFS_BLKSZBITS);
	struct shape s;

	if (blk > BLOCKS_MAX)
		return fail(-EFBIG, "image larger than 16 TiB");
	for (size_t i = 0; i < w->norder; i++) {
		struct tree_node *n = w->order[i];
		struct einfo *e = n->wdata;

		if (!e || S_ISREG(n->mode))
			continue;
		shape(w, n, &s);
		e->blkaddr = (s.size - s.inl) > 0 ? (uint32_t)blk : 0;
		blk += (s.size - s.inl + EROFS_BLKSIZ - 1) / EROFS_BLKSIZ;
		if (blk > BLOCKS_MAX)
			return fail(-EFBIG, "image larger than 16 TiB");
	}
	w->blk = blk;
	return 0;
}

/* nids, then the order by nid (the writers only go forward), then the
 * directory blocks in that order. */
static int layout(struct erofsw *w)
{
	struct meta_alloc m = { .next = 1, .blk = { 0 }, .used = { 1u << EROFS_ISLOTBITS }, .n = 1 };
	struct shape s;

	/* nid 0 stays unused: no inode number 0 */
	for (size_t i = 0; i < w->norder; i++) {
		struct tree_node *n = w->order[i];

		shape(w, n, &s);
		n->inode_ref = meta_place(&m, extent(n, &s)) >> EROFS_ISLOTBITS;
	}
	w->meta_end = m.next << EROFS_BLKSZBITS;
	qsort(w->order, w->norder, sizeof(*w->order), by_nid);
	return place_dir_blocks(w);
}

/* ---- metadata ---- */

static uint32_t rdev(const struct tree_node *n)
{
	unsigned ma = major(n->devno), mi = minor(n->devno);

	/* the kernel's new_encode_dev() */
	return (mi & 0xff) | (ma << 8) | ((mi & ~0xffu) << 12);
}

static size_t inode_bytes(const struct tree_node *n, const struct shape *s, unsigned char *p)
{
	const struct einfo *e = n->wdata;
	unsigned layout = s->inl ? EROFS_INODE_FLAT_INLINE : EROFS_INODE_FLAT_PLAIN;
	uint32_t iu = e ? e->blkaddr : S_ISCHR(n->mode) || S_ISBLK(n->mode) ? rdev(n) : 0;

	memset(p, 0, s->isize);
	put16(p, (uint16_t)(layout << EROFS_I_DATALAYOUT_BIT |
			    (s->compact ? EROFS_INODE_LAYOUT_COMPACT : EROFS_INODE_LAYOUT_EXTENDED)));
	/* i_xattr_icount: 1 for the 12-byte header, then one per 4 bytes */
	put16(p + 2, (uint16_t)(s->xsize ? 1 + (s->xsize - EROFS_XATTR_IBODY_HEADER_SIZE) / 4 : 0));
	put16(p + 4, (uint16_t)n->mode);
	put32(p + 16, iu);
	put32(p + 20, n->inode_num);
	if (s->compact) {
		put16(p + 6, (uint16_t)n->nlink);
		put32(p + 8, (uint32_t)s->size);
		put16(p + 24, (uint16_t)n->uid);
		put16(p + 26, (uint16_t)n->gid);
		return EROFS_INODE_COMPACT_SIZE;
	}
	put64(p + 8, s->size);
	put32(p + 24, n->uid);
	put32(p + 28, n->gid);
	put64(p + 32, n->mtime);
	put32(p + 44, n->nlink);
	return EROFS_INODE_EXTENDED_SIZE;
}

static int put_xattrs(struct out *o, const struct tree_node *n)
{
	unsigned char h[EROFS_XATTR_IBODY_HEADER_SIZE] = { 0 };
	int r;

	if (!n->xattrs)
		return 0;
	r = out_put(o, h, sizeof(h));
	for (const struct tree_xattr *x = n->xattrs; x && r == 0; x = x->next) {
		const char *suffix = "";
		int idx = xattr_index(x->key, &suffix);
		size_t nl = strlen(suffix), sz = xattr_entry_size(x);
		unsigned char eh[EROFS_XATTR_ENTRY_SIZE];

		/* layer.c lets only these through, names <= 255, values <= 65535 */
		if (idx < 0 || nl == 0 || nl > EROFS_NAME_LEN || x->size > UINT16_MAX)
			return fail(-EINVAL, "xattr the format cannot hold");
		eh[0] = (unsigned char)nl;
		eh[1] = (unsigned char)idx;
		put16(eh + 2, (uint16_t)x->size);
		if ((r = out_put(o, eh, sizeof(eh))) == 0 && (r = out_put(o, suffix, nl)) == 0 &&
		    (r = out_put(o, x->value, x->size)) == 0)
			r = out_put(o, zero_blk, sz - EROFS_XATTR_ENTRY_SIZE - nl - x->size);
	}
	return r;
}

/* Full blocks to the dir region, the partial last one inline or padded. */
static int put_dir(struct erofsw *w, struct tree_node *n, const struct shape *s)
{
	const struct einfo *e = n->wdata;
	unsigned char blk[EROFS_BLKSIZ];
	uint64_t nblk = (s->size - s->inl + EROFS_BLKSIZ - 1) / EROFS_BLKSIZ;
	struct diter it;
	size_t used;
	int r = 0;

	diter_init(&it, n);
	if (nblk)
		r = out_seek(&w->dirs, (uint64_t)e->blkaddr << EROFS_BLKSZBITS);
	for (uint64_t i = 0; r == 0 && (used = dir_block(&it, blk)) > 0; i++) {
		if (i < nblk)
			r = out_put(&w->dirs, blk, EROFS_BLKSIZ);
		else
			r = out_put(&w->o, blk, used + 1);   /* + the NUL, see shape() */
	}
	return r;
}

static int put_symlink(struct erofsw *w, struct tree_node *n, const struct shape *s)
{
	const struct einfo *e = n->wdata;
	size_t len = (size_t)s->size;
	int r;

	if (s->inl)
		return out_put(&w->o, n->target, len);
	if (len == 0)
		return 0;
	r = out_seek(&w->dirs, (uint64_t)e->blkaddr << EROFS_BLKSZBITS);
	if (r == 0)
		r = out_put(&w->dirs, n->target, len);
	return r == 0 ? out_put(&w->dirs, zero_blk, (EROFS_BLKSIZ - len % EROFS_BLKSIZ) % EROFS_BLKSIZ) : r;
}

static int put_inode(struct erofsw *w, struct tree_node *n)
{
	unsigned char ino[EROFS_INODE_EXTENDED_SIZE];
	const struct einfo *e = n->wdata;
	struct shape s;
	size_t isz;
	int r;

	shape(w, n, &s);
	if (S_ISREG(n->mode) && e && e->inl && s.isize + s.xsize + e->tail_len > EROFS_BLKSIZ)
		return fail(-EIO, "internal error: inline tail does not fit");
	isz = inode_bytes(n, &s, ino);
	r = out_seek(&w->o, (w->meta_blk << EROFS_BLKSZBITS) + (n->inode_ref << EROFS_ISLOTBITS));
	if (r == 0)
		r = out_put(&w->o, ino, isz);
	if (r == 0)
		r = put_xattrs(&w->o, n);
	if (r < 0)
		return r;
	if (S_ISDIR(n->mode))
		return put_dir(w, n, &s);
	if (S_ISLNK(n->mode))
		return put_symlink(w, n, &s);
	return s.inl ? out_put(&w->o, e->tail, e->tail_len) : 0;
}

/* ---- superblock ---- */

/* crc32c (Castagnoli, reflected 0x82f63b78) as the kernel's crc32c(~0, ...):
 * no final inversion */
static uint32_t crc32c(uint32_t crc, const unsigned char *p, size_t n)
{
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return crc;
}

static int put_super(struct erofsw *w, struct tree_node *root)
{
	unsigned char b[EROFS_BLKSIZ] = { 0 }, *sb = b + EROFS_SUPER_OFFSET;
	int r;

	put32(sb, EROFS_SUPER_MAGIC_V1);
	put32(sb + 8, EROFS_FEATURE_COMPAT_SB_CHKSUM | EROFS_FEATURE_COMPAT_MTIME);
	sb[12] = EROFS_BLKSZBITS;
	put16(sb + 14, (uint16_t)root->inode_ref);
	put64(sb + 16, w->norder);               /* inos */
	put64(sb + 24, w->build_time);
	put32(sb + 36, (uint32_t)w->blk);        /* blocks */
	put32(sb + 40, (uint32_t)w->meta_blk);
	put32(sb + 4, crc32c(~0u, sb, EROFS_BLKSIZ - EROFS_SUPER_OFFSET));
	w->o.off = 0;
	w->o.len = 0;
	r = out_put(&w->o, b, sizeof(b));
	return r < 0 ? r : out_flush(&w->o);
}

static int erofsw_finish(struct imgw *base, struct tree_node *root)
{
	struct erofsw *w = (struct erofsw *)base;
	int r = out_flush(&w->o);

	w->meta_blk = w->blk;
	if (r == 0)
		r = order_tree(w, root);
	if (r == 0)
		r = pick_build_time(w);
	if (r == 0)
		r = layout(w);
	if (r == 0 && root->inode_ref > UINT16_MAX)
		r = fail(-EIO, "internal error: root nid beyond 16 bits");
	w->dirs.off = (w->meta_blk + ((w->meta_end + EROFS_BLKSIZ - 1) >> EROFS_BLKSZBITS)) << EROFS_BLKSZBITS;
	for (size_t i = 0; i < w->norder && r == 0; i++)
		r = put_inode(w, w->order[i]);
	if (r == 0 && (r = out_flush(&w->o)) == 0 && (r = out_flush(&w->dirs)) == 0)
		r = put_super(w, root);
	if (r == 0 && ftruncate(w->o.fd, (off_t)(w->blk << EROFS_BLKSZBITS)) < 0)
		r = fail(-errno, strerror(errno));
	return r;
}

static void erofsw_close(struct imgw *base)
{
	struct erofsw *w = (struct erofsw *)base;

	if (w->o.fd >= 0)
		close(w->o.fd);
	free(w->o.buf);
	free(w->dirs.buf);
	free(w->order);
	free(w);
}

static const struct imgw_ops erofsw_ops = {
	.begin_file = erofsw_begin_file,
	.append = erofsw_append,
	.end_file = erofsw_end_file,
	.finish = erofsw_finish,
	.close = erofsw_close,
};

struct imgw *erofsw__open(const char *path)
{
	struct erofsw *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return NULL;
	w->base.ops = &erofsw_ops;
	w->blk = 1;                              /* block 0: the superblock */
	w->o.buf = malloc(OUT_BUF);
	w->dirs.buf = malloc(OUT_BUF);
	w->o.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	w->dirs.fd = w->o.fd;
	if (w->o.fd < 0) {
		r = oci_err__set(-errno, "create %s: %s", path, strerror(errno));
		erofsw_close(&w->base);
		errno = -r;
		return NULL;
	}
	w->o.off = (uint64_t)w->blk << EROFS_BLKSZBITS;
	if (!w->o.buf || !w->dirs.buf) {
		erofsw_close(&w->base);
		errno = ENOMEM;
		return NULL;
	}
	return &w->base;
}

/* Layer tar -> erofs (docs/images.md §3, §3.1).  Tars are written here with
 * libarchive, converted, and checked with the real tools: fsck.erofs (and
 * its --extract), dump.erofs, and — when this runs as root with loop
 * devices — the host kernel, by mounting the image, comparing it entry by
 * entry with the squashfs writer's image of the same tar, and stacking two
 * layers with overlayfs to see the whiteouts work. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "tap.h"
#include "oci/err.h"
#include "oci/layer.h"

/* LeakSanitizer hook, as in test_oci_layer.c: libsquashfs 1.2.0 leaks one
 * block per image in its teardown; not ours. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libsquashfs.so\n";
}

#define MTIME 1700000000
#define NMANY 700                 /* names of ~40 bytes: several dir blocks */
#define BIG (3 * 1024 * 1024 + 17)
#define NTAILS 300                /* inline tails of many sizes: metadata packing */
#define TAIL_SIZE(i) ((size_t)(i) * 397 % 4000 + 1)

static char tmpdir[256];

/* ---- tar writing ---- */

struct tw {
	struct archive *a;
	struct archive_entry *e;
};

static void tw_open(struct tw *t, const char *path)
{
	t->a = archive_write_new();
	t->e = archive_entry_new();
	archive_write_set_format_pax(t->a);
	archive_write_open_filename(t->a, path);
}

static void tw_close(struct tw *t)
{
	archive_write_close(t->a);
	archive_write_free(t->a);
	archive_entry_free(t->e);
}

static struct archive_entry *tw_ent(struct tw *t, const char *path, int type, int mode)
{
	archive_entry_clear(t->e);
	archive_entry_set_pathname(t->e, path);
	archive_entry_set_filetype(t->e, type);
	archive_entry_set_perm(t->e, mode);
	archive_entry_set_mtime(t->e, MTIME, 0);
	return t->e;
}

static void tw_put(struct tw *t, const void *data, size_t n)
{
	archive_entry_set_size(t->e, (la_int64_t)n);
	archive_write_header(t->a, t->e);
	if (n)
		archive_write_data(t->a, data, n);
}

static void pattern(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (unsigned char)(seed >> 16);
	}
}

static void file(struct tw *t, const char *path, size_t n, unsigned seed)
{
	unsigned char *p = malloc(n + 1);

	pattern(p, n, seed);
	tw_ent(t, path, AE_IFREG, 0644);
	tw_put(t, p, n);
	free(p);
}

static const size_t sizes[] = { 0, 1, 4095, 4096, 4097, 8192, 12345, BIG };

static void lower_layer(const char *path)
{
	struct tw t;
	char name[128], target[8192];

	tw_open(&t, path);
	tw_ent(&t, ".", AE_IFDIR, 0755);
	tw_put(&t, NULL, 0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(name, sizeof(name), "data/f%zu", sizes[i]);
		file(&t, name, sizes[i], (unsigned)i);
	}
	for (int i = 0; i < NMANY; i++) {
		snprintf(name, sizeof(name), "many/entry-with-a-fairly-long-name-%04d", i);
		file(&t, name, (size_t)i % 50, (unsigned)i);
	}
	for (int i = 0; i < NTAILS; i++) {
		snprintf(name, sizeof(name), "tails/t%03d", i);
		file(&t, name, TAIL_SIZE(i), (unsigned)i + 1000);
	}
	/* names that sort before "." and ".." */
	file(&t, "many/!bang", 3, 1);
	file(&t, "many/-dash", 3, 2);
	file(&t, "many/.hidden", 3, 3);
	tw_ent(&t, "deep/a/b/c/d/e", AE_IFDIR, 0700);
	tw_put(&t, NULL, 0);
	file(&t, "deep/a/b/c/d/e/leaf", 5, 9);
	tw_ent(&t, "links/short", AE_IFLNK, 0777);
	archive_entry_set_symlink(t.e, "../data/f1");
	tw_put(&t, NULL, 0);
	memset(target, 'x', 4095);
	target[4095] = '\0';
	tw_ent(&t, "links/long", AE_IFLNK, 0777);           /* 4095 bytes: not inline */
	archive_entry_set_symlink(t.e, target);
	tw_put(&t, NULL, 0);
	target[3000] = '\0';
	tw_ent(&t, "links/mid", AE_IFLNK, 0777);            /* 3000 bytes: inline */
	archive_entry_set_symlink(t.e, target);
	tw_put(&t, NULL, 0);
	tw_ent(&t, "links/hard1", AE_IFREG, 0644);
	archive_entry_set_hardlink(t.e, "data/f4097");
	tw_put(&t, NULL, 0);
	tw_ent(&t, "links/hard2", AE_IFREG, 0644);
	archive_entry_set_hardlink(t.e, "data/f4097");
	tw_put(&t, NULL, 0);
	tw_ent(&t, "dev/null", AE_IFCHR, 0666);
	archive_entry_set_rdevmajor(t.e, 1);
	archive_entry_set_rdevminor(t.e, 3);
	tw_put(&t, NULL, 0);
	tw_ent(&t, "dev/big", AE_IFBLK, 0660);
	archive_entry_set_rdevmajor(t.e, 259);
	archive_entry_set_rdevminor(t.e, 70000);
	tw_put(&t, NULL, 0);
	tw_ent(&t, "dev/fifo", AE_IFIFO, 0600);
	tw_put(&t, NULL, 0);
	tw_ent(&t, "own/u1000", AE_IFREG, 04750);
	archive_entry_set_uid(t.e, 1000);
	archive_entry_set_gid(t.e, 1001);
	tw_put(&t, "x", 1);
	tw_ent(&t, "own/u70000", AE_IFREG, 02640);         /* > 16 bits: extended inode */
	archive_entry_set_uid(t.e, 70000);
	archive_entry_set_gid(t.e, 4000000000u);
	tw_put(&t, "yy", 2);
	tw_ent(&t, "own/old", AE_IFDIR, 01777);            /* another mtime: extended */
	archive_entry_set_mtime(t.e, 1234567890, 0);
	tw_put(&t, NULL, 0);
	tw_ent(&t, "x/cap", AE_IFREG, 0755);
	archive_entry_xattr_add_entry(t.e, "security.capability",
				      "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);
	archive_entry_xattr_add_entry(t.e, "user.mime", "text/plain", 10);
	archive_entry_xattr_add_entry(t.e, "trusted.other", "t", 1);
	tw_put(&t, "#!/bin/sh\n", 10);
	memset(target, 'v', 6000);
	tw_ent(&t, "x/bigxattr", AE_IFREG, 0644);          /* inode + xattrs cross a block */
	archive_entry_xattr_add_entry(t.e, "user.big", target, 6000);
	tw_put(&t, "tail", 4);
	tw_ent(&t, "x/dir", AE_IFDIR, 0755);
	archive_entry_xattr_add_entry(t.e, "user.d", "1", 1);
	tw_put(&t, NULL, 0);
	tw_ent(&t, "x/ovl", AE_IFREG, 0644);               /* dropped: overlay's own */
	archive_entry_xattr_add_entry(t.e, "trusted.overlay.redirect", "/etc", 4);
	tw_put(&t, "o", 1);
	file(&t, "etc/passwd", 30, 5);
	file(&t, "opt/old/file", 30, 6);
	file(&t, "opt/kept-below", 3, 7);
	tw_close(&t);
}

/* Whiteouts over the lower layer. */
static void upper_layer(const char *path)
{
	struct tw t;

	tw_open(&t, path);
	tw_ent(&t, "etc/.wh.passwd", AE_IFREG, 0644);
	tw_put(&t, NULL, 0);
	tw_ent(&t, "opt/.wh..wh..opq", AE_IFREG, 0644);
	tw_put(&t, NULL, 0);
	file(&t, "opt/new", 3, 8);
	tw_ent(&t, "opt/.wh..wh.plnk", AE_IFREG, 0644);    /* aufs bookkeeping: dropped */
	tw_put(&t, NULL, 0);
	tw_close(&t);
}

/* ---- helpers ---- */

static char out[1 << 16];

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	FILE *p;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	return pclose(p);
}

static int conv(const char *tar, const char *img, enum oci_layer_fmt fmt)
{
	oci_err__clear();
	return oci_layer__convert_file(tar, img, fmt, NULL);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	*len = fread(buf, 1, (size_t)n, f);
	fclose(f);
	return buf;
}

static bool file_is(const char *path, size_t n, unsigned seed)
{
	unsigned char *want = malloc(n + 1);
	size_t len = 0;
	char *got = slurp(path, &len);
	bool same;

	pattern(want, n, seed);
	same = got && len == n && memcmp(got, want, n) == 0;
	free(want);
	free(got);
	return same;
}

/* ---- a listing of a mounted tree, the same for any filesystem ---- */

struct listing {
	char *buf;
	size_t len, cap;
};

static void lprintf(struct listing *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lprintf(struct listing *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (l->len + (size_t)n + 1 > l->cap) {
		l->cap = (l->len + (size_t)n + 1) * 2;
		l->buf = realloc(l->buf, l->cap);
	}
	va_start(ap, fmt);
	vsnprintf(l->buf + l->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	l->len += (size_t)n;
}

static uint64_t fnv(const char *path)
{
	size_t len = 0;
	char *p = slurp(path, &len);
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; p && i < len; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
	free(p);
	return h;
}

static void list_xattrs(struct listing *l, const char *path)
{
	char names[4096], val[8192];
	ssize_t n = llistxattr(path, names, sizeof(names));

	/* names in the order the filesystem gives; sorted here */
	for (int pass = 0; pass < 1 && n > 0; pass++) {
		const char *v[64];
		int k = 0;

		for (char *p = names; p < names + n && k < 64; p += strlen(p) + 1)
			v[k++] = p;
		for (int i = 0; i < k; i++)
			for (int j = i + 1; j < k; j++)
				if (strcmp(v[j], v[i]) < 0) {
					const char *s = v[i];

					v[i] = v[j];
					v[j] = s;
				}
		for (int i = 0; i < k; i++) {
			ssize_t vn = lgetxattr(path, v[i], val, sizeof(val));
			uint64_t h = 0xcbf29ce484222325ull;

			for (ssize_t j = 0; j < vn; j++)
				h = (h ^ (unsigned char)val[j]) * 0x100000001b3ull;
			lprintf(l, " %s=%zd:%016llx", v[i], vn, (unsigned long long)h);
		}
	}
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* One line per entry: what a container sees.  Hard links show as the
 * first path of their inode; every name is also looked up (stat), which
 * in erofs is a binary search over the directory blocks. */
static void walk(struct listing *l, const char *root, const char *rel, char (*inos)[2][2048], size_t *ninos)
{
	char path[4096], sub[2048], link[4096];
	struct dirent **v;
	int n;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	n = scandir(path, &v, NULL, by_name);
	for (int i = 0; i < n; i++) {
		struct stat st;
		const char *first = "";

		if (!strcmp(v[i]->d_name, ".") || !strcmp(v[i]->d_name, "..")) {
			free(v[i]);
			continue;
		}
		snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", v[i]->d_name);
		snprintf(path, sizeof(path), "%s/%s", root, sub);
		free(v[i]);
		if (lstat(path, &st) < 0) {
			lprintf(l, "%s: lstat failed: %s\n", sub, strerror(errno));
			continue;
		}
		if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
			char key[512];

			snprintf(key, sizeof(key), "%llu", (unsigned long long)st.st_ino);
			for (size_t k = 0; k < *ninos; k++)
				if (!strcmp(inos[k][0], key))
					first = inos[k][1];
			if (!first[0] && *ninos < 64) {
				snprintf(inos[*ninos][0], 2048, "%s", key);
				snprintf(inos[*ninos][1], 2048, "%s", sub);
				++*ninos;
			}
		}
		/* a directory's size is the format's own business */
		lprintf(l, "%s %o %u:%u n%lu s%lld t%lld d%u:%u =%s", sub, st.st_mode, st.st_uid, st.st_gid,
			(unsigned long)st.st_nlink, S_ISDIR(st.st_mode) ? 0LL : (long long)st.st_size, (long long)st.st_mtime,
			major(st.st_rdev), minor(st.st_rdev), first);
		if (S_ISLNK(st.st_mode)) {
			ssize_t k = readlink(path, link, sizeof(link) - 1);

			link[k > 0 ? k : 0] = '\0';
			lprintf(l, " -> %zd:%.20s", k, link);
		} else if (S_ISREG(st.st_mode)) {
			lprintf(l, " h%016llx", (unsigned long long)fnv(path));
		}
		list_xattrs(l, path);
		lprintf(l, "\n");
		if (S_ISDIR(st.st_mode))
			walk(l, root, sub, inos, ninos);
	}
	free(v);
}

static char *listing_of(const char *mnt)
{
	struct listing l = { 0 };
	static char inos[64][2][2048];
	size_t ninos = 0;

	lprintf(&l, "%s", "");
	walk(&l, mnt, "", inos, &ninos);
	return l.buf;
}

static bool mount_img(const char *img, const char *mnt, const char *type)
{
	char cmd[1024];

	mkdir(mnt, 0755);
	snprintf(cmd, sizeof(cmd), "mount -t %s -o loop,ro %s %s 2>/dev/null", type, img, mnt);
	return system(cmd) == 0;
}

static void unmount(const char *mnt)
{
	umount2(mnt, MNT_DETACH);
}

/* ---- the checks ---- */

static bool tails_read(const char *root)
{
	char p[600];

	for (int i = 0; i < NTAILS; i++) {
		snprintf(p, sizeof(p), "%s/tails/t%03d", root, i);
		if (!file_is(p, TAIL_SIZE(i), (unsigned)i + 1000))
			return false;
	}
	return true;
}

static void tools(const char *img)
{
	char ex[512], p[600];

	is(run("fsck.erofs %s 2>&1", img), 0, "fsck.erofs: image is consistent");
	snprintf(ex, sizeof(ex), "%s/extract", tmpdir);
	is(run("fsck.erofs --extract=%s %s 2>&1", ex, img), 0, "fsck.erofs --extract: every file's data reads");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(p, sizeof(p), "%s/data/f%zu", ex, sizes[i]);
		ok(file_is(p, sizes[i], (unsigned)i), "file of %zu bytes round trips", sizes[i]);
	}
	ok(tails_read(ex), "%d files with inline tails of 1..4000 bytes round trip", NTAILS);
	snprintf(p, sizeof(p), "%s/many/entry-with-a-fairly-long-name-0699", ex);
	ok(file_is(p, 699 % 50, 699), "last of %d entries in a many-block directory", NMANY);
	run("dump.erofs --path=/links/hard1 %s; dump.erofs --path=/data/f4097 %s", img, img);
	{
		char *a = strstr(out, "NID: "), *b = a ? strstr(a + 1, "NID: ") : NULL;

		ok(a && b && strncmp(a, b, 16) == 0 && strstr(a, "Links: 3"), "hard links: one inode (same nid), nlink 3");
	}
	run("dump.erofs --path=/own/u70000 %s", img);
	ok(strstr(out, "Uid: 70000   Gid: 4000000000") && strstr(out, "Inode size: 64"),
	   "uid/gid beyond 16 bits: extended inode");
	run("dump.erofs --path=/own/u1000 %s", img);
	ok(strstr(out, "Uid: 1000   Gid: 1001") && strstr(out, "Inode size: 32") && strstr(out, "Access: 0750"),
	   "uid 1000: compact inode");
	run("dump.erofs --path=/many %s", img);
	ok(strstr(out, "directory") && strstr(out, "Layout: 2"), "many-block directory, tail inline");
	run("dump.erofs --path=/links/long %s", img);
	ok(strstr(out, "Size: 4095") && strstr(out, "Layout: 0"), "4095-byte symlink in a block of its own");
	run("dump.erofs -s %s", img);
	ok(strstr(out, "sb_csum"), "superblock checksum on (fsck verified it)");
}

static void kernel(const char *img, const char *sqfs)
{
	char m1[512], m2[512], p[700], *a, *b;
	struct stat st;
	char v[8];

	snprintf(m1, sizeof(m1), "%s/m-erofs", tmpdir);
	snprintf(m2, sizeof(m2), "%s/m-sqfs", tmpdir);
	if (getuid() != 0 || !mount_img(img, m1, "erofs")) {
		ok(1, "# SKIP not root or no erofs/loop here: kernel read-back");
		return;
	}
	ok(1, "the kernel mounts the image");
	snprintf(p, sizeof(p), "%s/many/entry-with-a-fairly-long-name-0350", m1);
	ok(file_is(p, 350 % 50, 350), "lookup in the middle of a many-block directory");
	ok(tails_read(m1), "the kernel reads every inline tail");
	snprintf(p, sizeof(p), "%s/own/old", m1);
	ok(stat(p, &st) == 0 && st.st_mtime == 1234567890 && (st.st_mode & 07777) == 01777, "mtime and sticky bit");
	snprintf(p, sizeof(p), "%s/own/u1000", m1);
	ok(stat(p, &st) == 0 && (st.st_mode & 07777) == 04750 && st.st_uid == 1000 && st.st_gid == 1001, "setuid, uid/gid 1000");
	snprintf(p, sizeof(p), "%s/dev/big", m1);
	ok(stat(p, &st) == 0 && S_ISBLK(st.st_mode) && major(st.st_rdev) == 259 && minor(st.st_rdev) == 70000,
	   "block device 259:70000 (20-bit minor)");
	snprintf(p, sizeof(p), "%s/x/bigxattr", m1);
	ok(lgetxattr(p, "user.big", NULL, 0) == 6000, "6000-byte xattr across a block boundary");
	snprintf(p, sizeof(p), "%s/x/ovl", m1);
	ok(lgetxattr(p, "trusted.overlay.redirect", v, sizeof(v)) < 0, "trusted.overlay.* from the tar dropped");
	if (!mount_img(sqfs, m2, "squashfs")) {
		ok(0, "squashfs image mounts");
	} else {
		a = listing_of(m1);
		b = listing_of(m2);
		ok(strlen(a) > 1000 && strcmp(a, b) == 0, "erofs and squashfs images of one tar list the same (%zu bytes)", strlen(a));
		if (strcmp(a, b) != 0) {
			FILE *f;

			snprintf(p, sizeof(p), "%s/erofs.list", tmpdir);
			f = fopen(p, "w");
			fputs(a, f);
			fclose(f);
			snprintf(p, sizeof(p), "%s/sqfs.list", tmpdir);
			f = fopen(p, "w");
			fputs(b, f);
			fclose(f);
			run("diff %s/sqfs.list %s/erofs.list | head -20", tmpdir, tmpdir);
			printf("# %s\n", out);
		}
		free(a);
		free(b);
		unmount(m2);
	}
	unmount(m1);
}

static void overlay(const char *lower, const char *upper)
{
	char m1[512], m2[512], m3[512], opts[2048], p[700], v[4];

	snprintf(m1, sizeof(m1), "%s/l1", tmpdir);
	snprintf(m2, sizeof(m2), "%s/l2", tmpdir);
	snprintf(m3, sizeof(m3), "%s/ovl", tmpdir);
	if (getuid() != 0 || !mount_img(lower, m1, "erofs")) {
		ok(1, "# SKIP not root or no erofs/loop here: overlayfs check");
		return;
	}
	ok(mount_img(upper, m2, "erofs"), "whiteout layer mounts");
	snprintf(p, sizeof(p), "%s/opt", m2);
	ok(lgetxattr(p, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y', "opaque dir: trusted.overlay.opaque=y");
	mkdir(m3, 0755);
	snprintf(opts, sizeof(opts), "lowerdir=%s:%s", m2, m1);
	if (mount("overlay", m3, "overlay", MS_RDONLY, opts) < 0) {
		ok(1, "# SKIP overlay mount: %s", strerror(errno));
	} else {
		snprintf(p, sizeof(p), "%s/etc/passwd", m3);
		ok(access(p, F_OK) < 0 && errno == ENOENT, "overlayfs: whiteout hides the lower file");
		snprintf(p, sizeof(p), "%s/opt/kept-below", m3);
		ok(access(p, F_OK) < 0 && errno == ENOENT, "overlayfs: opaque dir hides the lower dir");
		snprintf(p, sizeof(p), "%s/opt/new", m3);
		ok(file_is(p, 3, 8), "overlayfs: upper file visible");
		snprintf(p, sizeof(p), "%s/data/f4097", m3);
		ok(file_is(p, 4097, 4), "overlayfs: lower file visible");
		umount2(m3, MNT_DETACH);
	}
	umount2(m2, MNT_DETACH);
	umount2(m1, MNT_DETACH);
}

static void deterministic(const char *tar, const char *img)
{
	char img2[512];
	size_t a = 0, b = 0;
	char *x, *y;

	snprintf(img2, sizeof(img2), "%s/again.erofs", tmpdir);
	is(conv(tar, img2, OCI_LAYER_EROFS), 0, "converts again");
	x = slurp(img, &a);
	y = slurp(img2, &b);
	ok(x && y && a == b && memcmp(x, y, a) == 0, "same tar, same bytes (%zu)", a);
	free(x);
	free(y);
}

static void refused(void)
{
	char tar[512], img[512], name[300];
	struct tw t;

	snprintf(tar, sizeof(tar), "%s/bad.tar", tmpdir);
	snprintf(img, sizeof(img), "%s/bad.erofs", tmpdir);
	tw_open(&t, tar);
	memset(name, 'n', 280);
	memcpy(name, "user.", 5);
	name[280] = '\0';
	tw_ent(&t, "f", AE_IFREG, 0644);
	archive_entry_xattr_add_entry(t.e, name, "v", 1);
	tw_put(&t, "x", 1);
	tw_close(&t);
	ok(conv(tar, img, OCI_LAYER_EROFS) < 0 && strstr(oci_err__msg(), "xattr name"), "long xattr name refused: %s", oci_err__msg());
	tw_open(&t, tar);
	tw_ent(&t, "dev/x", AE_IFCHR, 0644);
	archive_entry_set_rdevmajor(t.e, 5000);
	tw_put(&t, NULL, 0);
	tw_close(&t);
	ok(conv(tar, img, OCI_LAYER_EROFS) < 0 && strstr(oci_err__msg(), "device number"), "device major > 4095 refused: %s", oci_err__msg());
	tw_open(&t, tar);
	tw_ent(&t, "../x", AE_IFREG, 0644);
	tw_put(&t, "x", 1);
	tw_close(&t);
	ok(conv(tar, img, OCI_LAYER_EROFS) < 0, "'..' refused for erofs too: %s", oci_err__msg());
}

int main(void)
{
	char tar[512], up[512], img[512], upimg[512], sqfs[512];
	enum oci_layer_fmt fmt;

	snprintf(tmpdir, sizeof(tmpdir), "%s/sm-erofs-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir))
		return 1;
	snprintf(tar, sizeof(tar), "%s/lower.tar", tmpdir);
	snprintf(up, sizeof(up), "%s/upper.tar", tmpdir);
	snprintf(img, sizeof(img), "%s/lower.erofs", tmpdir);
	snprintf(upimg, sizeof(upimg), "%s/upper.erofs", tmpdir);
	snprintf(sqfs, sizeof(sqfs), "%s/lower.sqfs", tmpdir);
	lower_layer(tar);
	upper_layer(up);
	unsetenv("SM_LAYER_FORMAT");
	ok(oci_layer__default_fmt(&fmt) == 0 && fmt == OCI_LAYER_EROFS, "erofs is the default format");
	setenv("SM_LAYER_FORMAT", "squashfs", 1);
	ok(oci_layer__default_fmt(&fmt) == 0 && fmt == OCI_LAYER_SQUASHFS, "SM_LAYER_FORMAT=squashfs");
	setenv("SM_LAYER_FORMAT", "ext4", 1);
	ok(oci_layer__default_fmt(&fmt) < 0, "SM_LAYER_FORMAT=ext4 refused: %s", oci_err__msg());
	unsetenv("SM_LAYER_FORMAT");
	is(conv(tar, img, OCI_LAYER_EROFS), 0, "layer converts to erofs");
	is(conv(up, upimg, OCI_LAYER_EROFS), 0, "whiteout layer converts to erofs");
	is(conv(tar, sqfs, OCI_LAYER_SQUASHFS), 0, "same layer converts to squashfs");
	tools(img);
	is(run("fsck.erofs %s 2>&1", upimg), 0, "fsck.erofs: whiteout layer");
	run("dump.erofs --path=/etc/passwd %s", upimg);
	ok(strstr(out, "char dev") && strstr(out, "Access: 0000"), "whiteout: char device, mode 0");
	deterministic(tar, img);
	kernel(img, sqfs);
	overlay(img, upimg);
	refused();
	if (!getenv("SM_KEEP_TMP"))
		run("rm -rf %s", tmpdir);
	return done_testing();
}

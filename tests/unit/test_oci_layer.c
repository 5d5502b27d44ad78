/* Layer tar -> squashfs (docs/images.md §3): tars are written here with
 * libarchive, converted, and read back with unsquashfs (squashfs-tools). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "tap.h"
#include "oci/err.h"
#include "oci/layer.h"

/* LeakSanitizer hook (unused without ASan): libsquashfs 1.2.0 (Debian 12)
 * leaks one data block per image in its block processor teardown; bounded
 * and not ours (tests/fuzz/lsan.supp says the same for `make fuzz`). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libsquashfs.so\n";
}

struct ent { const char *path; int type; int mode; int uid; const char *data; const char *link; };

static size_t build(const struct ent *v, int gzip, char *buf, size_t cap)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	size_t used = 0;

	archive_write_set_format_pax(a);
	if (gzip)
		archive_write_add_filter_gzip(a);
	archive_write_open_memory(a, buf, cap, &used);
	for (; v->path; v++) {
		archive_entry_clear(e);
		archive_entry_set_pathname(e, v->path);
		archive_entry_set_filetype(e, v->type);
		archive_entry_set_perm(e, v->mode);
		archive_entry_set_uid(e, v->uid);
		archive_entry_set_gid(e, v->uid);
		archive_entry_set_mtime(e, 1700000000, 0);
		if (v->type == AE_IFLNK)
			archive_entry_set_symlink(e, v->link);
		else if (v->link)
			archive_entry_set_hardlink(e, v->link);
		if (v->type == AE_IFCHR)
			archive_entry_set_rdevmajor(e, 1), archive_entry_set_rdevminor(e, 3);
		if (!strcmp(v->path, "x/attr"))
			archive_entry_xattr_add_entry(e, "user.k", "v", 1);
		if (!strcmp(v->path, "x/ovl"))
			archive_entry_xattr_add_entry(e, "trusted.overlay.redirect", "/etc", 4);
		archive_entry_set_size(e, v->data ? (la_int64_t)strlen(v->data) : 0);
		archive_write_header(a, e);
		if (v->data)
			archive_write_data(a, v->data, strlen(v->data));
	}
	archive_write_close(a);
	archive_write_free(a);
	archive_entry_free(e);
	return used;
}

static char listing[65536];

/* unsquashfs -lln into listing, with the "squashfs-root" prefix kept. */
static int list(const char *img)
{
	char cmd[4200];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "unsquashfs -lln %s 2>&1", img);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	n = fread(listing, 1, sizeof(listing) - 1, p);
	listing[n] = '\0';
	return pclose(p);
}

static bool has(const char *needle)
{
	return strstr(listing, needle) != NULL;
}

static int convert(const struct ent *v, int gzip, const char *out)
{
	static char buf[1 << 20];
	size_t n = build(v, gzip, buf, sizeof(buf));

	oci_err__clear();
	return oci_layer__convert_mem(buf, n, out, OCI_LAYER_SQUASHFS, NULL);
}

static const struct ent good[] = {
	{ "bin", AE_IFDIR, 0755, 0, NULL, NULL },
	{ "bin/su", AE_IFREG, 04755, 0, "#!/bin/sh\n", NULL },
	{ "bin/su2", AE_IFREG, 0, 0, NULL, "bin/su" },
	{ "bin/sh", AE_IFLNK, 0777, 0, NULL, "busybox" },
	{ "bin/out", AE_IFLNK, 0777, 0, NULL, "../../../../etc/shadow" },
	{ "home/user/f", AE_IFREG, 0600, 1000, "mine", NULL },
	{ "dev/null", AE_IFCHR, 0666, 0, NULL, NULL },
	{ "etc/.wh.passwd", AE_IFREG, 0644, 0, NULL, NULL },
	{ "opt/.wh..wh..opq", AE_IFREG, 0644, 0, NULL, NULL },
	{ "x/attr", AE_IFREG, 0644, 0, "a", NULL },
	{ "x/ovl", AE_IFREG, 0644, 0, "b", NULL },
	{ "./dup", AE_IFREG, 0644, 0, "first", NULL },
	{ "dup", AE_IFREG, 0644, 0, "second!", NULL },
	{ NULL, 0, 0, 0, NULL, NULL },
};

static void converts(const char *dir)
{
	char img[4096], cmd[8300];

	snprintf(img, sizeof(img), "%s/good.sqfs", dir);
	is(convert(good, 1, img), 0, "gzip layer converts");
	ok(list(img) == 0, "unsquashfs reads the image");
	ok(has("-rwsr-xr-x 0/0                      10 2023-11-14 22:13 squashfs-root/bin/su\n"), "setuid file, size, mtime");
	ok(has("squashfs-root/bin/su2\n") && has("-rwsr-xr-x 0/0                      10 2023-11-14 22:13 squashfs-root/bin/su2"),
	   "hard link shares the inode");
	ok(has("squashfs-root/bin/sh -> busybox"), "symlink");
	is_str(strstr(listing, "/bin/out -> ") ? "listed" : "missing", "listed", "outside symlink listed");
	ok(has("squashfs-root/bin/out -> ../../../../etc/shadow"), "outside symlink kept as data");
	ok(has("-rw------- 1000/1000                 4 2023-11-14 22:13 squashfs-root/home/user/f"), "uid/gid 1000");
	ok(has("crw-rw-rw- 0/0                   1,  3 2023-11-14 22:13 squashfs-root/dev/null"), "device node");
	ok(has("c--------- 0/0                   0,  0 1970-01-01 00:00 squashfs-root/etc/passwd"), "whiteout -> char 0:0");
	ok(!has(".wh."), "no .wh. names left");
	ok(has("-rw-r--r-- 0/0                       7 2023-11-14 22:13 squashfs-root/dup"), "later entry wins");
	snprintf(cmd, sizeof(cmd), "sqfs2tar %s | python3 -c \"import tarfile,sys; t=tarfile.open(fileobj=sys.stdin.buffer,mode='r|');"
		 "print(sorted((m.name,k,v) for m in t for k,v in m.pax_headers.items() if 'xattr' in k))\" > %s/x.txt", img, dir);
	ok(system(cmd) == 0, "sqfs2tar reads xattrs");
	snprintf(cmd, sizeof(cmd), "%s/x.txt", dir);
	{
		FILE *f = fopen(cmd, "r");
		size_t n = f ? fread(listing, 1, sizeof(listing) - 1, f) : 0;

		listing[n] = '\0';
		if (f)
			fclose(f);
	}
	ok(has("('opt', 'SCHILY.xattr.trusted.overlay.opaque', 'y')"), "opaque dir -> trusted.overlay.opaque=y");
	ok(has("('x/attr', 'SCHILY.xattr.user.k', 'v')"), "user xattr kept");
	ok(!has("redirect"), "trusted.overlay.* from the tar dropped");
	snprintf(img, sizeof(img), "%s/plain.sqfs", dir);
	is(convert(good, 0, img), 0, "uncompressed layer converts");
}

static void refuses(const char *dir)
{
	static const struct ent dotdot[] = { { "a/../../escape", AE_IFREG, 0644, 0, "x", NULL }, { NULL, 0, 0, 0, NULL, NULL } };
	static const struct ent abs[] = { { "/etc/abs", AE_IFREG, 0644, 0, "x", NULL }, { NULL, 0, 0, 0, NULL, NULL } };
	static const struct ent nolink[] = { { "l", AE_IFREG, 0644, 0, NULL, "not/here" }, { NULL, 0, 0, 0, NULL, NULL } };
	static const struct ent outlink[] = { { "l", AE_IFREG, 0644, 0, NULL, "../etc/passwd" }, { NULL, 0, 0, 0, NULL, NULL } };
	static const struct ent dirlink[] = { { "d", AE_IFDIR, 0755, 0, NULL, NULL }, { "l", AE_IFREG, 0644, 0, NULL, "d" },
					      { NULL, 0, 0, 0, NULL, NULL } };
	static const struct ent notdir[] = { { "f", AE_IFREG, 0644, 0, "x", NULL }, { "f/g", AE_IFREG, 0644, 0, "y", NULL },
					     { NULL, 0, 0, 0, NULL, NULL } };
	char img[4096];

	snprintf(img, sizeof(img), "%s/bad.sqfs", dir);
	ok(convert(dotdot, 1, img) == -EBADMSG && strstr(oci_err__msg(), "'..'"), "'..' refused: %s", oci_err__msg());
	ok(access("escape", F_OK) != 0 && access("../escape", F_OK) != 0, "nothing written through a '..' path");
	ok(convert(abs, 1, img) == -EBADMSG && strstr(oci_err__msg(), "absolute"), "absolute refused: %s", oci_err__msg());
	ok(convert(nolink, 1, img) == -EBADMSG && strstr(oci_err__msg(), "not in this layer"),
	   "hard link to nothing refused: %s", oci_err__msg());
	ok(convert(outlink, 1, img) == -EBADMSG, "hard link outside refused: %s", oci_err__msg());
	ok(convert(dirlink, 1, img) == -EBADMSG, "hard link to a directory refused: %s", oci_err__msg());
	ok(convert(notdir, 1, img) == -EBADMSG, "file under a file refused: %s", oci_err__msg());
	ok(oci_layer__convert_mem("not a tar at all, not at all......", 34, img, OCI_LAYER_SQUASHFS, NULL) < 0, "garbage refused: %s", oci_err__msg());
}

int main(void)
{
	char dir[] = "/tmp/sm-test-layer.XXXXXX", cmd[64];

	if (!mkdtemp(dir))
		return 1;
	converts(dir);
	refuses(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return done_testing();
}

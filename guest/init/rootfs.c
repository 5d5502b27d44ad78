#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net.h"
#include "rootfs.h"

#define SQUASHFS_MAGIC	0x73717368u	/* "hsqs" at offset 0 */
#define EROFS_MAGIC	0xe0f5e1e2u	/* at offset 1024 (EROFS_SUPER_OFFSET) */
#define NEWROOT		"/sm/root"

static bool prepared;
static char volumes[ROOTFS_MAX_VOLUMES][256];
static int nr_volumes;

bool rootfs__ready(void)
{
	return prepared;
}

int rootfs__nr_volumes(void)
{
	return nr_volumes;
}

/* "vda", "vdab": nothing that could walk out of /dev */
static bool disk_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > 6 || strncmp(s, "vd", 2))
		return false;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 'a' || s[i] > 'z')
			return false;
	return true;
}

static int read_u32(int fd, off_t off, uint32_t *v)
{
	return pread(fd, v, sizeof(*v), off) == (ssize_t)sizeof(*v) ? 0 : -1;
}

/* The layer's filesystem, by its superblock magic. */
static const char *fs_type(const char *dev)
{
	int fd = open(dev, O_RDONLY | O_CLOEXEC);
	uint32_t m = 0;
	const char *t = NULL;

	if (fd < 0)
		return NULL;
	if (read_u32(fd, 0, &m) == 0 && m == SQUASHFS_MAGIC)
		t = "squashfs";
	else if (read_u32(fd, 1024, &m) == 0 && m == EROFS_MAGIC)
		t = "erofs";
	close(fd);
	return t;
}

/* mkdir -p, under the current root */
int rootfs__mkdirs(const char *path, mode_t mode)
{
	char p[256];
	size_t n = strlen(path);

	if (n >= sizeof(p))
		return -1;
	memcpy(p, path, n + 1);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			if (mkdir(p, mode) < 0 && errno != EEXIST)
				return -1;
			*s = '/';
		}
	return mkdir(p, mode) < 0 && errno != EEXIST ? -1 : 0;
}

static int mount_layer(const char *name, int i, char *msg, size_t msglen)
{
	char dev[32], dir[32];
	const char *type;

	if (!disk_name_ok(name)) {
		snprintf(msg, msglen, "layer %d: bad disk name '%.16s'", i, name);
		return -1;
	}
	snprintf(dev, sizeof(dev), "/dev/%s", name);
	snprintf(dir, sizeof(dir), "/sm/l/%d", i);
	type = fs_type(dev);
	if (!type) {
		snprintf(msg, msglen, "layer %d (%s): neither squashfs nor erofs", i, dev);
		return -1;
	}
	if (rootfs__mkdirs(dir, 0755) < 0 || mount(dev, dir, type, MS_RDONLY, NULL) < 0) {
		snprintf(msg, msglen, "layer %d: mount %s (%s): %s", i, dev, type, strerror(errno));
		return -1;
	}
	return 0;
}

/* lowerdir lists the top layer first: the image's last layer shadows the rest. */
static int mount_overlay(int n, char *msg, size_t msglen)
{
	char opts[4096];
	size_t off = (size_t)snprintf(opts, sizeof(opts), "lowerdir=");

	for (int i = n - 1; i >= 0 && off < sizeof(opts); i--)
		off += (size_t)snprintf(opts + off, sizeof(opts) - off, "/sm/l/%d%s", i, i ? ":" : "");
	if (off < sizeof(opts))
		off += (size_t)snprintf(opts + off, sizeof(opts) - off,
					",upperdir=/sm/rw/upper,workdir=/sm/rw/work");
	if (off >= sizeof(opts)) {
		snprintf(msg, msglen, "overlay: too many layers (%d)", n);
		return -1;
	}
	if (rootfs__mkdirs("/sm/rw", 0755) < 0 || mount("tmpfs", "/sm/rw", "tmpfs", 0, "mode=0755") < 0 ||
	    rootfs__mkdirs("/sm/rw/upper", 0755) < 0 || rootfs__mkdirs("/sm/rw/work", 0755) < 0 ||
	    rootfs__mkdirs(NEWROOT, 0755) < 0 || mount("overlay", NEWROOT, "overlay", 0, opts) < 0) {
		snprintf(msg, msglen, "overlay over %d layers: %s", n, strerror(errno));
		return -1;
	}
	return 0;
}

struct basic {
	const char *dir, *type;
	unsigned long flags;
	const char *data;
	mode_t mode;
};

/* What a container expects to find mounted (Docker's defaults). */
static const struct basic basics[] = {
	{ "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0555 },
	{ "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0555 },
	{ "/dev", "devtmpfs", MS_NOSUID, "mode=0755", 0755 },
	{ "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666", 0755 },
	{ "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 01777 },
	{ "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 01777 },
	{ "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", 0755 },
};

static int mount_basics_in(const char *root, char *msg, size_t msglen)
{
	char dir[64];

	for (size_t i = 0; i < sizeof(basics) / sizeof(basics[0]); i++) {
		const struct basic *b = &basics[i];

		snprintf(dir, sizeof(dir), "%s%s", root, b->dir);
		if (rootfs__mkdirs(dir, b->mode) < 0 || mount(b->type, dir, b->type, b->flags, b->data) < 0) {
			snprintf(msg, msglen, "mount %s in the rootfs: %s", b->dir, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* The links a container's /dev has (OCI runtime spec, "Dev symbolic
 * links"), which devtmpfs does not make: images link their logs to
 * /dev/stdout (Docker's nginx does), scripts write to /dev/stderr, bash's
 * <(...) opens /dev/fd/N.  Without them a root workload opening a log
 * silently creates /dev/stdout as a plain file. */
static const char *const dev_links[][2] = {
	{ "/dev/fd", "/proc/self/fd" },
	{ "/dev/stdin", "/proc/self/fd/0" },
	{ "/dev/stdout", "/proc/self/fd/1" },
	{ "/dev/stderr", "/proc/self/fd/2" },
};

static int link_dev_in(const char *root, char *msg, size_t msglen)
{
	char path[64];

	for (size_t i = 0; i < sizeof(dev_links) / sizeof(dev_links[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", root, dev_links[i][0]);
		if (symlink(dev_links[i][1], path) < 0 && errno != EEXIST) {
			snprintf(msg, msglen, "link %s in the rootfs: %s", dev_links[i][0], strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* path := text, replacing whatever the image has there (a symlink too). */
static int write_file(const char *path, const char *text, char *msg, size_t msglen)
{
	size_t n = strlen(text);
	int fd;

	if (unlink(path) < 0 && errno != ENOENT)
		goto fail;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		goto fail;
	if (write(fd, text, n) != (ssize_t)n) {
		close(fd);
		goto fail;
	}
	close(fd);
	return 0;
fail:
	snprintf(msg, msglen, "writing %s in the rootfs: %s", path, strerror(errno));
	return -1;
}

/* The runtime owns /etc/hosts and /etc/hostname, as Docker's does (it
 * bind-mounts generated ones): an image's are another machine's, and a
 * distribution's base image has none, so neither "localhost" nor the
 * hostname would resolve (glibc special-cases neither).  Written in the
 * overlay's upper (guest RAM), under the current root. */
static int write_etc(char *msg, size_t msglen)
{
	char host[65] = "", text[256];

	if (gethostname(host, sizeof(host) - 1) < 0 || !host[0] || !strcmp(host, "(none)"))
		snprintf(host, sizeof(host), "localhost");
	if (rootfs__mkdirs("/etc", 0755) < 0) {
		snprintf(msg, msglen, "/etc in the rootfs: %s", strerror(errno));
		return -1;
	}
	snprintf(text, sizeof(text), "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t%s\n",
		 host);
	if (write_file("/etc/hosts", text, msg, msglen) < 0)
		return -1;
	snprintf(text, sizeof(text), "%s\n", host);
	if (write_file("/etc/hostname", text, msg, msglen) < 0)
		return -1;
	/* egress: slirp's resolver forwarder (docs/network.md); else the image's */
	if (!net__dns())
		return 0;
	snprintf(text, sizeof(text), "nameserver %s\n", net__dns());
	return write_file("/etc/resolv.conf", text, msg, msglen);
}

/* The initramfs is rootfs, which pivot_root refuses: move the new root over
 * it and chroot, as switch_root does. */
static int enter(char *msg, size_t msglen)
{
	if (chdir(NEWROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
	    chdir("/") < 0) {
		snprintf(msg, msglen, "moving into the rootfs: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int rootfs__prepare(const char *const *layers, int n, char *msg, size_t msglen)
{
	if (prepared) {
		snprintf(msg, msglen, "the rootfs is prepared already");
		return -1;
	}
	if (n < 1 || n > ROOTFS_MAX_LAYERS) {
		snprintf(msg, msglen, "%d layers: must be 1..%d", n, ROOTFS_MAX_LAYERS);
		return -1;
	}
	for (int i = 0; i < n; i++)
		if (mount_layer(layers[i], i, msg, msglen) < 0)
			return -1;
	if (mount_overlay(n, msg, msglen) < 0 || mount_basics_in(NEWROOT, msg, msglen) < 0 ||
	    link_dev_in(NEWROOT, msg, msglen) < 0 || enter(msg, msglen) < 0 || write_etc(msg, msglen) < 0)
		return -1;
	prepared = true;
	return 0;
}

/* absolute, no "..", no empty or "." components: mounted where it says */
static bool target_ok(const char *t)
{
	if (t[0] != '/' || strlen(t) >= sizeof(volumes[0]) || !strcmp(t, "/"))
		return false;
	for (const char *s = t; *s; s++)
		if (s[0] == '/' && (s[1] == '/' || s[1] == '\0' || (s[1] == '.' && (s[2] == '/' || s[2] == '\0' ||
		    (s[2] == '.' && (s[3] == '/' || s[3] == '\0'))))))
			return false;
	return true;
}

int rootfs__mount_volume(const char *spec, char *msg, size_t msglen)
{
	char name[16], dev[32];
	const char *target = strchr(spec, ':');

	if (!target || target - spec >= (long)sizeof(name)) {
		snprintf(msg, msglen, "volume '%.64s': want vdX:/path", spec);
		return -1;
	}
	memcpy(name, spec, (size_t)(target - spec));
	name[target - spec] = '\0';
	target++;
	if (!disk_name_ok(name) || !target_ok(target) || nr_volumes == ROOTFS_MAX_VOLUMES) {
		snprintf(msg, msglen, "volume '%.64s': want vdX:/absolute/path (at most %d volumes)", spec,
			 ROOTFS_MAX_VOLUMES);
		return -1;
	}
	snprintf(dev, sizeof(dev), "/dev/%s", name);
	if (rootfs__mkdirs(target, 0755) < 0 || mount(dev, target, "ext4", MS_NOSUID | MS_NODEV, NULL) < 0) {
		snprintf(msg, msglen, "volume %s at %s: %s (is it ext4?)", dev, target, strerror(errno));
		return -1;
	}
	snprintf(volumes[nr_volumes++], sizeof(volumes[0]), "%s", target);
	return 0;
}

void rootfs__unmount_volumes(void)
{
	sync();
	while (nr_volumes > 0) {
		const char *t = volumes[--nr_volumes];

		if (umount(t) < 0) {
			dprintf(2, "sm init: unmounting the volume at %s: %s — remounting it read-only\n", t,
				strerror(errno));
			mount(NULL, t, NULL, MS_REMOUNT | MS_RDONLY, NULL);
		}
	}
	sync();
}

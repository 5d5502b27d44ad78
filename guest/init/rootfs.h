#ifndef SM_GUEST_ROOTFS_H
#define SM_GUEST_ROOTFS_H
/*
 * The image's root filesystem (docs/init-channel.md, "Rootfs"): read-only
 * layer disks (squashfs or erofs) stacked with overlayfs under a tmpfs
 * upper, the basics mounted inside, and init moved into it.  Volumes are
 * ext4 disks mounted read-write inside it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define ROOTFS_MAX_LAYERS 64
#define ROOTFS_MAX_VOLUMES 16

/* layers[0] is the image's first (lowest) layer, e.g. "vda".  Afterwards
 * init's root is the overlay.  0, or -1 with msg (one line). */
int rootfs__prepare(const char *const *layers, int n, char *msg, size_t msglen);
bool rootfs__ready(void);
/* "vdX:/target": mount the ext4 disk read-write at target. */
int rootfs__mount_volume(const char *spec, char *msg, size_t msglen);
/* sync, then unmount every volume (last first). */
void rootfs__unmount_volumes(void);
int rootfs__nr_volumes(void);
/* mkdir -p under the current root: 0 or -1 (errno). */
int rootfs__mkdirs(const char *path, mode_t mode);
#endif

#ifndef SM_DEVICES_VIRTIO_BLK_H
#define SM_DEVICES_VIRTIO_BLK_H
/* virtio-blk over a raw image file, read-only or read-write. */
#include <stdbool.h>
#include <stddef.h>
#include "vmm/vm.h"

struct virtio_blk;

/* NULL with msg set (one line) on failure. */
struct virtio_blk *virtio_blk__new(struct vm *vm, const char *path, bool ro,
				   char *cmdline, size_t cmdlen, char *msg, size_t msglen);
#endif

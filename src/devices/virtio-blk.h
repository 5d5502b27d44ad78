#ifndef SM_DEVICES_VIRTIO_BLK_H
#define SM_DEVICES_VIRTIO_BLK_H
/* virtio-blk over a raw image file, read-only or read-write. */
#include <stdbool.h>
#include <stddef.h>
#include "vmm/vm.h"

struct virtio_blk;

/* An empty slot (capacity 0) declared on cmdline; NULL if no slot is free.
 * VMs always have the same slots, so a boot snapshot can get its disks
 * attached at restore time (docs/snapshot-format.md). */
struct virtio_blk *virtio_blk__new(struct vm *vm, char *cmdline, size_t cmdlen);
/* Closes the image; the transport stays with the VM's slot (vm__destroy). */
void virtio_blk__free(struct virtio_blk *b);
/* Back the slot with a raw image: 0, or -errno with msg (one line). */
int virtio_blk__attach(struct virtio_blk *b, const char *path, bool ro, char *msg, size_t msglen);
uint64_t virtio_blk__sectors(struct virtio_blk *b);
/* Tell a running guest the capacity changed (after attaching on restore). */
void virtio_blk__announce(struct virtio_blk *b);
#endif

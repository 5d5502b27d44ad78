#ifndef SM_DEVICES_VIRTIO_MMIO_H
#define SM_DEVICES_VIRTIO_MMIO_H
/*
 * virtio-mmio transport (virtio 1.1 §4.2, version 2 registers).  A device
 * is an ops table plus its state; the transport owns the registers, the
 * queues and the interrupt.  Devices are declared to the guest on the
 * kernel command line (virtio_mmio.device=4K@ADDR:IRQ).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "devices/virtqueue.h"
#include "vmm/vm.h"

#define VIRTIO_MMIO_MAX_QUEUES	4
#define VIRTIO_F_VERSION_1	(1ULL << 32)

enum { VIRTIO_ID_NET = 1, VIRTIO_ID_BLOCK = 2, VIRTIO_ID_RNG = 4, VIRTIO_ID_VSOCK = 19 };

struct virtio_mmio;

struct virtio_dev_ops {
	const char *name;
	uint32_t device_id;
	int nr_queues;
	uint16_t queue_max;
	uint64_t (*features)(void *dev);
	/* config space: off/len already bounds-checked against config_size */
	size_t config_size;
	void (*config_read)(void *dev, uint32_t off, uint8_t *data, uint32_t len);
	/* the driver put buffers on queue q (called with the transport locked) */
	void (*notify)(void *dev, struct virtio_mmio *t, int q);
	void (*reset)(void *dev);
};

/* Claims the next MMIO slot and IRQ; appends its declaration to cmdline. */
struct virtio_mmio *virtio_mmio__new(struct vm *vm, const struct virtio_dev_ops *ops, void *dev,
				     char *cmdline, size_t cmdlen);
/* A transport belongs to its VM's slot: vm__destroy frees it (its device's
 * __free does not), after every thread that could touch it has stopped. */
void virtio_mmio__free(struct virtio_mmio *t);
/*
 * For devices.  notify() runs with the transport locked; a device touching
 * its queues from another thread (a host socket's event loop) takes the
 * lock itself.  Chains come out validated (virtqueue.c): a device never
 * sees the ring.
 */
void virtio_mmio__lock(struct virtio_mmio *t);
void virtio_mmio__unlock(struct virtio_mmio *t);
/* The features the driver accepted (called locked, like the rest). */
uint64_t virtio_mmio__driver_features(struct virtio_mmio *t);
/* Queue q is enabled and the device has not failed. */
bool virtio_mmio__queue_ready(struct virtio_mmio *t, int q);
/* The next available chain of queue q: 1 with *c; 0 when there is none or
 * the queue is unusable (a broken ring fails the device, logged); -1 for a
 * malformed chain, logged and already completed empty. */
int virtio_mmio__pop(struct virtio_mmio *t, int q, struct virtq_chain *c);
/* Completes chain head with len bytes written into it; the guest hears of
 * it at virtio_mmio__signal_used. */
void virtio_mmio__push(struct virtio_mmio *t, int q, uint16_t head, uint32_t len);
/* Pushed buffers on a queue: interrupt the guest if it wants. */
void virtio_mmio__signal_used(struct virtio_mmio *t, int q);
/* For devices: run fn on every available chain of queue q, complete each
 * with the length fn returns (a malformed chain is logged and completed
 * empty), then interrupt the guest once. */
typedef uint32_t (*virtq_handler)(void *dev, struct virtq_chain *c);
void virtio_mmio__drain(struct virtio_mmio *t, int q, virtq_handler fn, void *dev);
/* For devices: the guest broke the queue; stop the device until reset. */
void virtio_mmio__fail(struct virtio_mmio *t, const char *why);
/* Transport state in snapshots (docs/snapshot-format.md). */
struct virtio_mmio_state {
	uint32_t status, isr, dev_feat_sel, drv_feat_sel, queue_sel, config_gen;
	uint64_t driver_features;
	uint32_t failed, nr_queues;
	struct {
		uint32_t num, ready;
		uint64_t desc, avail, used;
		uint16_t last_avail, used_idx;
		uint32_t pad;
	} q[VIRTIO_MMIO_MAX_QUEUES];
};
void virtio_mmio__save(struct virtio_mmio *t, struct virtio_mmio_state *out);
/* Queues are revalidated against guest RAM: 0 or -EINVAL. */
int virtio_mmio__restore(struct virtio_mmio *t, const struct virtio_mmio_state *in);
/* The device's config space changed (e.g. a disk was attached): tell the guest. */
void virtio_mmio__config_changed(struct virtio_mmio *t);
/* Register access, exported for unit tests. */
void virtio_mmio__io(void *dev, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
#endif

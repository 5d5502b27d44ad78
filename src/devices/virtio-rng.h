#ifndef SM_DEVICES_VIRTIO_RNG_H
#define SM_DEVICES_VIRTIO_RNG_H
/* virtio-rng: entropy from the host's getrandom(), so the guest's crng is
 * ready at once instead of after a slow jitter-entropy warm-up. */
#include <stddef.h>
#include "vmm/vm.h"
struct virtio_rng;

/* Claims a virtio-mmio slot declared on cmdline; NULL if none is free. */
struct virtio_rng *virtio_rng__new(struct vm *vm, char *cmdline, size_t cmdlen);
void virtio_rng__free(struct virtio_rng *r);
#endif

#ifndef SM_DEVICES_VIRTIO_RNG_H
#define SM_DEVICES_VIRTIO_RNG_H
/* virtio-rng: entropy from the host's getrandom(), so the guest's crng is
 * ready at once instead of after a slow jitter-entropy warm-up. */
#include <stddef.h>
#include "vmm/vm.h"
int virtio_rng__init(struct vm *vm, char *cmdline, size_t cmdlen);
#endif

/* A struct vm without KVM for device tests: RAM is plain memory, IRQs are no-ops. */
#ifndef SM_TEST_FAKEVM_H
#define SM_TEST_FAKEVM_H
#include <stdlib.h>
#include "devices/virtio-mmio.h"
#include "vmm/bus.h"
#include "vmm/vm.h"

static inline struct vm *fakevm_new(uint64_t ram)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	vm->vm_fd = -1;
	vm->mem_size = ram;
	vm->regions[0] = (struct mem_region){ 0, ram, calloc(1, ram) };
	vm->nr_regions = 1;
	vm->pio = bus__new();
	vm->mmio = bus__new();
	return vm;
}

/* What vm__destroy frees, for RAM from calloc: the transports and buses. */
static inline void fakevm_free(struct vm *vm)
{
	for (int i = 0; i < vm->nr_virtio; i++)
		virtio_mmio__free(vm->virtio[i]);
	bus__free(vm->pio);
	bus__free(vm->mmio);
	free(vm->regions[0].hva);
	free(vm);
}
#endif

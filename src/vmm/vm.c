/*
 * The VM object (vm.h): KVM's VM with its in-kernel irqchip and PIT, guest
 * RAM and the one place guest physical addresses become host pointers, the
 * device buses and virtio slots, interrupts, pausing every vCPU, and the
 * VM's end.  Opening /dev/kvm is kvm.c; saving and restoring is vm-state.c.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio-mmio.h"
#include "vmm/bus.h"
#include "vmm/log.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

/* Where KVM keeps the TSS and identity map it needs on Intel (below the LAPIC). */
#define KVM_TSS_ADDR		0xfffbd000
#define KVM_IDENTITY_MAP_ADDR	0xfffbc000

static int add_region(struct vm *vm, uint64_t gpa, uint64_t size, int fd, uint64_t off)
{
	int slot = vm->nr_regions;
	struct kvm_userspace_memory_region r;
	void *hva;

	/* NORESERVE: guest RAM is only backed where the guest touches it;
	 * a snapshot's pages are shared through the page cache until written */
	hva = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_NORESERVE | (fd < 0 ? MAP_ANONYMOUS : 0), fd, (off_t)off);
	if (hva == MAP_FAILED)
		return -errno;
	if (fd < 0)
		madvise(hva, size, MADV_MERGEABLE);
	r = (struct kvm_userspace_memory_region){
		.slot = slot, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
		int err = errno;

		munmap(hva, size);
		return -err;
	}
	vm->regions[slot] = (struct mem_region){ gpa, size, hva };
	vm->nr_regions++;
	return 0;
}

static int setup_memory(struct vm *vm, uint64_t mem_mib, int fd)
{
	uint64_t size = mem_mib << 20, low = size < GPA_LOW_END ? size : GPA_LOW_END;
	int r;

	vm->mem_size = size;
	r = add_region(vm, 0, low, fd, 0);
	if (r == 0 && size > low)
		r = add_region(vm, GPA_HIGH_START, size - low, fd, low);
	return r;
}

int vm__create(struct vm *vm, uint64_t mem_mib, int mem_fd, char *msg, size_t msglen)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t ident = KVM_IDENTITY_MAP_ADDR;
	const char *what;
	int r;

	pthread_mutex_init(&vm->end_lock, NULL);
	pthread_cond_init(&vm->end_cond, NULL);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	what = "KVM_CREATE_VM";
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->run_size <= 0 || vm->vm_fd < 0)
		goto fail;
	what = "KVM_SET_TSS_ADDR";
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0)
		goto fail;
	ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident);	/* Intel only; optional */
	what = "KVM_CREATE_IRQCHIP";
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		goto fail;
	what = "KVM_CREATE_PIT2";
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		goto fail;
	r = setup_memory(vm, mem_mib, mem_fd);
	if (r < 0) {
		snprintf(msg, msglen, "guest memory (%llu MiB): %s — try a smaller --memory",
			 (unsigned long long)mem_mib, strerror(-r));
		return r;
	}
	vm->pio = bus__new();
	vm->mmio = bus__new();
	return vm->pio && vm->mmio ? 0 : -ENOMEM;
fail:
	r = -errno;
	snprintf(msg, msglen, "%s: %s", what, strerror(errno));
	return r;
}

void vm__destroy(struct vm *vm)
{
	for (int i = 0; i < vm->nr_virtio; i++)
		virtio_mmio__free(vm->virtio[i]);
	vm->nr_virtio = 0;
	for (int i = 0; i < vm->nr_regions; i++)
		munmap(vm->regions[i].hva, vm->regions[i].size);
	bus__free(vm->pio);
	bus__free(vm->mmio);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
}

void vm__irq_line(struct vm *vm, int irq, int level)
{
	struct kvm_irq_level l = { .irq = irq, .level = level };

	if (vm->vm_fd < 0)		/* device unit tests run without KVM */
		return;
	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) < 0)
		log__warn("KVM_IRQ_LINE %d: %s", irq, strerror(errno));
}

void vm__irq_pulse(struct vm *vm, int irq)
{
	vm__irq_line(vm, irq, 1);
	vm__irq_line(vm, irq, 0);
}

void vm__end(struct vm *vm, enum vm_end how, int value, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&vm->end_lock);
	if (vm->end == VM_RUNNING) {
		vm->end = how;
		vm->end_value = value;
		va_start(ap, fmt);
		vsnprintf(vm->end_msg, sizeof(vm->end_msg), fmt, ap);
		va_end(ap);
		pthread_cond_broadcast(&vm->end_cond);
	}
	pthread_mutex_unlock(&vm->end_lock);
}

bool vm__ended(struct vm *vm)
{
	return __atomic_load_n(&vm->end, __ATOMIC_ACQUIRE) != VM_RUNNING;
}

void *vm__gpa(struct vm *vm, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < vm->nr_regions; i++) {
		struct mem_region *r = &vm->regions[i];

		/* written so that no sum can overflow */
		if (gpa < r->gpa || gpa - r->gpa > r->size || len > r->size - (gpa - r->gpa))
			continue;
		return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

int vm__pause_all(struct vm *vm)
{
	struct timespec deadline;
	int r = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 5;
	pthread_mutex_lock(&vm->pause_lock);
	__atomic_store_n(&vm->pause_req, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < vm->nr_vcpus; i++)
		vcpu__kick(vm->vcpus[i]);
	while (vm->paused < vm->nr_vcpus && r == 0)
		r = pthread_cond_timedwait(&vm->pause_cond, &vm->pause_lock, &deadline);
	pthread_mutex_unlock(&vm->pause_lock);
	return vm->paused == vm->nr_vcpus ? 0 : -ETIMEDOUT;
}

void vm__resume_all(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	__atomic_store_n(&vm->pause_req, 0, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

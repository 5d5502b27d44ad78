#ifndef SM_VMM_VM_H
#define SM_VMM_VM_H
/* One virtual machine: KVM handles, guest RAM, vCPUs and the device buses. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#define VM_MAX_VCPUS	16
#define VM_MIN_MEM_MIB	64
#define VM_MAX_MEM_MIB	16384

/* Guest physical layout (docs/vmm.md). */
#define GPA_LOW_END	0xc0000000ULL	/* RAM below, MMIO hole above */
#define GPA_HIGH_START	0x100000000ULL	/* RAM past the hole continues here */
#define GPA_VIRTIO_BASE	0xd0000000ULL	/* virtio-mmio slots, 4 KiB apart */
#define GPA_IOAPIC	0xfec00000ULL
#define GPA_LAPIC	0xfee00000ULL

/* How a VM ended, reported by `sm vmm` on its status fd. */
enum vm_end {
	VM_RUNNING = 0,
	VM_END_EXIT,		/* workload exited: value = status */
	VM_END_SIGNAL,		/* workload killed by signal: value = signo */
	VM_END_POWEROFF,	/* guest powered off without reporting */
	VM_END_REBOOT,		/* guest asked for a reset */
	VM_END_PANIC,		/* guest kernel panicked */
	VM_END_CRASH,		/* triple fault / unhandled exit */
	VM_END_KILLED,		/* host asked us to stop */
	VM_END_SNAPSHOT,	/* a snapshot was written and the VM stopped there */
};

struct vcpu;
struct bus;
struct virtio_mmio;
struct profile;

#define VM_MAX_VIRTIO	64	/* virtio-mmio slots; IRQ lines 5..23 are shared (docs/vmm.md) */

struct mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct vm {
	int kvm_fd;
	int vm_fd;
	int run_size;			/* mmap size of struct kvm_run */
	bool emulating_host;		/* kvm_pvm: see docs/emulating-hosts.md */

	uint64_t mem_size;
	struct mem_region regions[2];
	int nr_regions;

	int nr_vcpus;
	struct vcpu *vcpus[VM_MAX_VCPUS];

	struct bus *pio;
	struct bus *mmio;
	int nr_virtio;
	struct virtio_mmio *virtio[VM_MAX_VIRTIO];	/* by slot */

	/* The end of the VM: set once by whoever ends it, then everyone stops. */
	pthread_mutex_t end_lock;
	pthread_cond_t end_cond;
	enum vm_end end;
	int end_value;
	char end_msg[256];

	uint64_t emul_exits;		/* emulation failures handled (atomic) */
	struct profile *profile;	/* --profile: the sampler (profile.c), else NULL */

	/* Pausing every vCPU at a rendezvous (snapshots): see vcpu.c. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	int pause_req;
	int paused;
};

/* The VM on an open /dev/kvm (vm->kvm_fd): irqchip, PIT, buses and guest
 * RAM — anonymous, or with mem_fd >= 0 a private (copy-on-write) mapping of
 * a snapshot's mem file, regions back to back.  0, or -errno with msg. */
int vm__create(struct vm *vm, uint64_t mem_mib, int mem_fd, char *msg, size_t msglen);
/* Frees what vm__create made and the virtio transports in vm->virtio[]. */
void vm__destroy(struct vm *vm);

/* Guest RAM: a host pointer for [gpa, gpa+len) if it lies wholly in RAM, else NULL. */
void *vm__gpa(struct vm *vm, uint64_t gpa, uint64_t len);

/* End the VM (first caller wins) and wake vmm__main. */
void vm__end(struct vm *vm, enum vm_end how, int value, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
bool vm__ended(struct vm *vm);

/* Raise (level 1) or lower a GSI on the in-kernel irqchip; pulse = edge. */
void vm__irq_line(struct vm *vm, int irq, int level);
void vm__irq_pulse(struct vm *vm, int irq);

/* Stop every vCPU outside KVM_RUN with its pending I/O completed, so its
 * state is consistent (snapshots): 0, or -ETIMEDOUT after 5 s.
 * vm__resume_all lets them run again. */
int vm__pause_all(struct vm *vm);
void vm__resume_all(struct vm *vm);

/* The VM's own snapshot sections — irqchip, PIT, kvmclock (vm-state.c;
 * the vCPUs' are vcpu-state.c's): 0, or -errno with msg. */
struct state_buf;
struct state_view;
int vm__save(struct vm *vm, struct state_buf *b, char *msg, size_t msglen);
int vm__restore(struct vm *vm, const struct state_view *sv, char *msg, size_t msglen);
/* kvmclock alone, as saved (again at a standby's `go`). */
int vm__restore_clock(struct vm *vm, const struct state_view *sv, char *msg, size_t msglen);

#endif

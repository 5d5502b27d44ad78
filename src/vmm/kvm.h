#ifndef SM_VMM_KVM_H
#define SM_VMM_KVM_H
/* Opening /dev/kvm and creating the VM: RAM, in-kernel irqchip and PIT. */
#include <stddef.h>
#include "vmm/vm.h"

/* Fills msg (one line, says how to fix it) and returns -errno on failure. */
int kvm__open(const char *path, char *msg, size_t msglen);
/* 0 if this user can open path read-write; else -errno with msg saying how
 * to fix it (the same words as kvm__open; sm.vm asks before spawning). */
int kvm__check_access(const char *path, char *msg, size_t msglen);
/* kvm_pvm (no VMX/SVM, guest kernel mode emulated): docs/emulating-hosts.md.
 * SM_HOST_KIND=pvm|hw overrides the detection. */
bool kvm__emulating_host(void);
/* Guest RAM is anonymous, or with mem_fd >= 0 a private (copy-on-write)
 * mapping of a snapshot's mem file, regions back to back. */
int kvm__create_vm(struct vm *vm, uint64_t mem_mib, int mem_fd, char *msg, size_t msglen);
void kvm__destroy_vm(struct vm *vm);
#endif

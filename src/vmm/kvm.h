#ifndef SM_VMM_KVM_H
#define SM_VMM_KVM_H
/* Opening /dev/kvm and knowing what kind of host it is (vm.c creates the VM). */
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
#endif

#ifndef SM_VMM_CPUID_H
#define SM_VMM_CPUID_H
#include <linux/kvm.h>
#include <stdbool.h>

/* KVM_GET_SUPPORTED_CPUID, allocated (free() it); NULL with errno. */
struct kvm_cpuid2 *cpuid__supported(int kvm_fd);
/* Per-vCPU ids, and the masks emulating hosts need (docs/emulating-hosts.md). */
void cpuid__adjust(struct kvm_cpuid2 *c, int vcpu_id, int nr_vcpus, bool emulating_host);
#endif

/* The CPUID a guest sees: what KVM supports, minus what breaks on kvm_pvm. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "vmm/cpuid.h"

#define CPUID_1_ECX_CX16	(1u << 13)
#define CPUID_1_ECX_HYPERVISOR	(1u << 31)
/* leaf 0x40000001 EAX: features that make the guest issue hypercalls,
 * which livelock inside KVM on kvm_pvm hosts */
#define KVM_FEATURE_PV_UNHALT		(1u << 7)
#define KVM_FEATURE_PV_SEND_IPI		(1u << 11)
#define KVM_FEATURE_PV_SCHED_YIELD	(1u << 13)

struct kvm_cpuid2 *cpuid__supported(int kvm_fd)
{
	for (int n = 64; n <= 1024; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

		if (!c)
			return NULL;
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		free(c);
		if (errno != E2BIG)
			return NULL;
	}
	return NULL;
}

void cpuid__adjust(struct kvm_cpuid2 *c, int vcpu_id, int nr_vcpus, bool emulating_host)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			if (emulating_host)
				e->ecx &= ~CPUID_1_ECX_CX16;	/* lock cmpxchg16b is not emulated */
			/* initial APIC id and logical processor count */
			e->ebx = (e->ebx & 0x0000ffff) | ((uint32_t)vcpu_id << 24) |
				 ((uint32_t)nr_vcpus << 16);
			break;
		case 0xb:
		case 0x1f:
			e->edx = (uint32_t)vcpu_id;		/* x2APIC id */
			break;
		case 0x40000001:
			if (emulating_host)
				e->eax &= ~(KVM_FEATURE_PV_UNHALT | KVM_FEATURE_PV_SEND_IPI |
					    KVM_FEATURE_PV_SCHED_YIELD);
			break;
		}
	}
}

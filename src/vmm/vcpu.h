#ifndef SM_VMM_VCPU_H
#define SM_VMM_VCPU_H
/* A vCPU: its KVM fd, its kvm_run page and the thread that runs it. */
#include <linux/kvm.h>
#include <pthread.h>
#include "vmm/boot.h"
#include "vmm/vm.h"

struct vcpu {
	struct vm *vm;
	int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	int sample_req;			/* the profiler asks for a sample (profile.c) */
};

int vcpu__create(struct vm *vm, int id, char *msg, size_t msglen);
/* Registers for the 64-bit boot entry (BSP only; APs wait for SIPI). */
int vcpu__setup_boot(struct vcpu *v, const struct boot_info *bi);
int vcpu__start(struct vcpu *v);
/* Queue an exception for the guest (KVM_SET_VCPU_EVENTS); 0 or -1. */
int vcpu__inject_exception(struct vcpu *v, int vector, int has_error_code, uint32_t error_code);
struct emul_insn;
/* The guest kernel's XSAVE/XRSTOR (vcpu-xsave.c): 0 done (RIP advanced),
 * 1 a fault injected instead, -1 the VM cannot go on (why says so). */
int vcpu__xsave(struct vcpu *v, const struct emul_insn *in, struct kvm_regs *regs,
		char *why, size_t whylen);
/* Make a vCPU leave KVM_RUN soon (after vm__end). */
void vcpu__kick(struct vcpu *v);

struct state_buf;
struct state_view;
/* Save / restore one vCPU's whole state (docs/snapshot-format.md). */
int vcpu__save(struct vcpu *v, struct state_buf *b, char *msg, size_t msglen);
int vcpu__restore(struct vcpu *v, const struct state_view *sv, char *msg, size_t msglen);
/* The TSC and TSC deadline again, as saved: they run from KVM_SET_MSRS on,
 * so a standby sets them at `go` and its wait does not show in the guest. */
int vcpu__restore_tsc(struct vcpu *v, const struct state_view *sv, char *msg, size_t msglen);
#endif

/*
 * A vCPU's state for snapshots: registers, system registers, FPU/XSAVE,
 * XCRs, LAPIC, MSRs, pending events, MP state and debug registers.  Restore
 * sets them in the order KVM needs (after Firecracker's): CPUID is already
 * set, then MP state, regs, sregs, xsave, xcrs, debug regs, LAPIC, MSRs,
 * events.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "snapshot/state.h"
#include "vmm/vcpu.h"

#define MAX_MSRS	256
#define MSR_IA32_TSC	0x10
#define MSR_TSC_DEADLINE 0x6e0

struct msrs {
	struct kvm_msrs hdr;
	struct kvm_msr_entry e[MAX_MSRS];
};

/* The MSRs KVM saves for us: its index list, minus any this vCPU refuses.
 * The TSC goes first and the TSC deadline last so the deadline is
 * interpreted against the restored TSC. */
static int msr_list(struct vcpu *v, struct msrs *m)
{
	struct { struct kvm_msr_list l; uint32_t idx[MAX_MSRS]; } list = { .l.nmsrs = MAX_MSRS };
	uint32_t n = 0, deadline = 0;

	if (ioctl(v->vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &list) < 0)
		return -errno;
	m->e[n++].index = MSR_IA32_TSC;
	for (uint32_t i = 0; i < list.l.nmsrs && n < MAX_MSRS - 1; i++) {
		struct { struct kvm_msrs h; struct kvm_msr_entry e; } one = { .h.nmsrs = 1 };

		if (list.idx[i] == MSR_IA32_TSC)
			continue;
		if (list.idx[i] == MSR_TSC_DEADLINE) {
			deadline = 1;
			continue;
		}
		one.e.index = list.idx[i];
		if (ioctl(v->fd, KVM_GET_MSRS, &one) == 1)
			m->e[n++].index = list.idx[i];
	}
	if (deadline)
		m->e[n++].index = MSR_TSC_DEADLINE;
	m->hdr.nmsrs = n;
	return 0;
}

/* ioctl into a struct and add it as a section, or say which failed. */
#define SAVE(tag, req, type)							\
	do {									\
		type x_;							\
		memset(&x_, 0, sizeof(x_));					\
		if (ioctl(v->fd, req, &x_) < 0) {				\
			snprintf(msg, msglen, "vCPU %d: " #req ": %s", v->id, strerror(errno)); \
			return -errno;						\
		}								\
		state__add(b, tag, v->id, &x_, sizeof(x_));			\
	} while (0)

int vcpu__save(struct vcpu *v, struct state_buf *b, char *msg, size_t msglen)
{
	struct msrs *m;
	int r;

	SAVE(ST_VCPU_MPSTATE, KVM_GET_MP_STATE, struct kvm_mp_state);
	SAVE(ST_VCPU_REGS, KVM_GET_REGS, struct kvm_regs);
	SAVE(ST_VCPU_SREGS, KVM_GET_SREGS, struct kvm_sregs);
	SAVE(ST_VCPU_XSAVE, KVM_GET_XSAVE, struct kvm_xsave);
	SAVE(ST_VCPU_XCRS, KVM_GET_XCRS, struct kvm_xcrs);
	SAVE(ST_VCPU_DEBUGREGS, KVM_GET_DEBUGREGS, struct kvm_debugregs);
	SAVE(ST_VCPU_LAPIC, KVM_GET_LAPIC, struct kvm_lapic_state);
	SAVE(ST_VCPU_EVENTS, KVM_GET_VCPU_EVENTS, struct kvm_vcpu_events);
	m = calloc(1, sizeof(*m));	/* after the SAVEs: their early returns would leak it */
	if (!m)
		return -ENOMEM;
	r = msr_list(v, m);
	if (r == 0 && ioctl(v->fd, KVM_GET_MSRS, m) != (int)m->hdr.nmsrs)
		r = -EIO;
	if (r < 0)
		snprintf(msg, msglen, "vCPU %d: reading MSRs: %s", v->id, strerror(-r));
	else
		state__add(b, ST_VCPU_MSRS, v->id, m, sizeof(m->hdr) + m->hdr.nmsrs * sizeof(m->e[0]));
	free(m);
	return r;
}

#define RESTORE(tag, req, type)							\
	do {									\
		type x_;							\
		if (state__get(sv, tag, v->id, &x_, sizeof(x_)) < 0) {		\
			snprintf(msg, msglen, "vCPU %d: state has no valid " #type, v->id); \
			return -EINVAL;						\
		}								\
		if (ioctl(v->fd, req, &x_) < 0) {				\
			snprintf(msg, msglen, "vCPU %d: " #req ": %s", v->id, strerror(errno)); \
			return -errno;						\
		}								\
	} while (0)

static int restore_msrs(struct vcpu *v, const struct state_view *sv, char *msg, size_t msglen)
{
	size_t len;
	const struct kvm_msrs *src = state__find(sv, ST_VCPU_MSRS, v->id, &len);
	struct msrs *m;
	int r = 0;

	if (!src || len < sizeof(*src) || src->nmsrs > MAX_MSRS ||
	    len != sizeof(*src) + src->nmsrs * sizeof(struct kvm_msr_entry)) {
		snprintf(msg, msglen, "vCPU %d: state has no valid MSR list", v->id);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	memcpy(m, src, len);
	r = ioctl(v->fd, KVM_SET_MSRS, m);
	if (r != (int)m->hdr.nmsrs) {
		snprintf(msg, msglen, "vCPU %d: KVM_SET_MSRS set %d of %u (MSR %#x refused)", v->id, r,
			 m->hdr.nmsrs, r >= 0 && r < (int)m->hdr.nmsrs ? m->e[r].index : 0);
		r = -EINVAL;
	} else {
		r = 0;
	}
	free(m);
	return r;
}

int vcpu__restore(struct vcpu *v, const struct state_view *sv, char *msg, size_t msglen)
{
	RESTORE(ST_VCPU_MPSTATE, KVM_SET_MP_STATE, struct kvm_mp_state);
	RESTORE(ST_VCPU_REGS, KVM_SET_REGS, struct kvm_regs);
	RESTORE(ST_VCPU_SREGS, KVM_SET_SREGS, struct kvm_sregs);
	RESTORE(ST_VCPU_XSAVE, KVM_SET_XSAVE, struct kvm_xsave);
	RESTORE(ST_VCPU_XCRS, KVM_SET_XCRS, struct kvm_xcrs);
	RESTORE(ST_VCPU_DEBUGREGS, KVM_SET_DEBUGREGS, struct kvm_debugregs);
	RESTORE(ST_VCPU_LAPIC, KVM_SET_LAPIC, struct kvm_lapic_state);
	if (restore_msrs(v, sv, msg, msglen) < 0)
		return -EINVAL;
	RESTORE(ST_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, struct kvm_vcpu_events);
	return 0;
}

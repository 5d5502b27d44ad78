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

#include "snapshot/sections.h"
#include "snapshot/state.h"
#include "vmm/vcpu.h"

ST_PIN(struct kvm_mp_state, ST_SIZE_VCPU_MPSTATE);
ST_PIN(struct kvm_regs, ST_SIZE_VCPU_REGS);
ST_PIN(struct kvm_sregs, ST_SIZE_VCPU_SREGS);
ST_PIN(struct kvm_xsave, ST_SIZE_VCPU_XSAVE);
ST_PIN(struct kvm_xcrs, ST_SIZE_VCPU_XCRS);
ST_PIN(struct kvm_debugregs, ST_SIZE_VCPU_DEBUGREGS);
ST_PIN(struct kvm_lapic_state, ST_SIZE_VCPU_LAPIC);
ST_PIN(struct kvm_vcpu_events, ST_SIZE_VCPU_EVENTS);
ST_PIN(struct kvm_msrs, ST_SIZE_VCPU_MSRS_HDR);
ST_PIN(struct kvm_msr_entry, ST_SIZE_VCPU_MSR_ENTRY);

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

/*
 * The fixed-size sections, in the order restore must set them (KVM's and
 * Firecracker's order: MP state first, MSRs after the LAPIC, pending events
 * last).  Save and restore both walk this one list; the MSRs, whose size
 * varies, have their own functions and sit in the list as a marker.
 */
struct vcpu_section {
	uint32_t tag;
	unsigned long get, set;		/* KVM_GET_x / KVM_SET_x */
	size_t size;			/* 0: the MSR list */
	const char *name;
};

static const struct vcpu_section sections[] = {
	{ ST_VCPU_MPSTATE, KVM_GET_MP_STATE, KVM_SET_MP_STATE, sizeof(struct kvm_mp_state), "MP state" },
	{ ST_VCPU_REGS, KVM_GET_REGS, KVM_SET_REGS, sizeof(struct kvm_regs), "registers" },
	{ ST_VCPU_SREGS, KVM_GET_SREGS, KVM_SET_SREGS, sizeof(struct kvm_sregs), "system registers" },
	{ ST_VCPU_XSAVE, KVM_GET_XSAVE, KVM_SET_XSAVE, sizeof(struct kvm_xsave), "XSAVE area" },
	{ ST_VCPU_XCRS, KVM_GET_XCRS, KVM_SET_XCRS, sizeof(struct kvm_xcrs), "XCRs" },
	{ ST_VCPU_DEBUGREGS, KVM_GET_DEBUGREGS, KVM_SET_DEBUGREGS, sizeof(struct kvm_debugregs), "debug registers" },
	{ ST_VCPU_LAPIC, KVM_GET_LAPIC, KVM_SET_LAPIC, sizeof(struct kvm_lapic_state), "LAPIC" },
	{ ST_VCPU_MSRS, 0, 0, 0, "MSRs" },
	{ ST_VCPU_EVENTS, KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, sizeof(struct kvm_vcpu_events), "events" },
};

/* room for the largest fixed section (the XSAVE area) */
union section_buf {
	struct kvm_xsave xsave;
	struct kvm_lapic_state lapic;
	struct kvm_sregs sregs;
	struct kvm_vcpu_events events;
};

static int save_msrs(struct vcpu *v, struct state_buf *b, char *msg, size_t msglen)
{
	struct msrs *m = calloc(1, sizeof(*m));
	int r;

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

int vcpu__save(struct vcpu *v, struct state_buf *b, char *msg, size_t msglen)
{
	union section_buf x;

	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		const struct vcpu_section *s = &sections[i];
		int r;

		if (!s->size) {
			if ((r = save_msrs(v, b, msg, msglen)) < 0)
				return r;
			continue;
		}
		memset(&x, 0, sizeof(x));
		if (ioctl(v->fd, s->get, &x) < 0) {
			r = -errno;
			snprintf(msg, msglen, "vCPU %d: reading the %s: %s", v->id, s->name, strerror(-r));
			return r;
		}
		state__add(b, s->tag, v->id, &x, s->size);
	}
	return 0;
}

/* The saved MSR list, its size checked, or NULL with msg. */
static const struct kvm_msrs *saved_msrs(struct vcpu *v, const struct state_view *sv, size_t *len,
					 char *msg, size_t msglen)
{
	const struct kvm_msrs *src = state__find(sv, ST_VCPU_MSRS, v->id, len);

	if (!src || *len < sizeof(*src) || src->nmsrs > MAX_MSRS ||
	    *len != sizeof(*src) + src->nmsrs * sizeof(struct kvm_msr_entry)) {
		snprintf(msg, msglen, "vCPU %d: state has no valid MSR list", v->id);
		return NULL;
	}
	return src;
}

static int set_msrs(struct vcpu *v, struct msrs *m, char *msg, size_t msglen)
{
	int r = ioctl(v->fd, KVM_SET_MSRS, m);

	if (r == (int)m->hdr.nmsrs)
		return 0;
	snprintf(msg, msglen, "vCPU %d: KVM_SET_MSRS set %d of %u (MSR %#x refused)", v->id, r,
		 m->hdr.nmsrs, r >= 0 && r < (int)m->hdr.nmsrs ? m->e[r].index : 0);
	return -EINVAL;
}

/* All of them, or only the TSC and the TSC deadline (in their saved order:
 * the deadline is read against the TSC). */
static int restore_msrs(struct vcpu *v, const struct state_view *sv, bool tsc_only, char *msg,
			size_t msglen)
{
	size_t len;
	const struct kvm_msrs *src = saved_msrs(v, sv, &len, msg, msglen);
	struct msrs *m;
	int r;

	if (!src)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	memcpy(m, src, len);
	if (tsc_only) {
		uint32_t n = 0;

		for (uint32_t i = 0; i < m->hdr.nmsrs; i++)
			if (m->e[i].index == MSR_IA32_TSC || m->e[i].index == MSR_TSC_DEADLINE)
				m->e[n++] = m->e[i];
		m->hdr.nmsrs = n;
	}
	r = set_msrs(v, m, msg, msglen);
	free(m);
	return r;
}

int vcpu__restore_tsc(struct vcpu *v, const struct state_view *sv, char *msg, size_t msglen)
{
	return restore_msrs(v, sv, true, msg, msglen);
}

int vcpu__restore(struct vcpu *v, const struct state_view *sv, char *msg, size_t msglen)
{
	union section_buf x;

	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		const struct vcpu_section *s = &sections[i];

		if (!s->size) {
			if (restore_msrs(v, sv, false, msg, msglen) < 0)
				return -EINVAL;
			continue;
		}
		if (state__get(sv, s->tag, v->id, &x, s->size) < 0) {
			snprintf(msg, msglen, "vCPU %d: state has no valid %s", v->id, s->name);
			return -EINVAL;
		}
		if (ioctl(v->fd, s->set, &x) < 0) {
			int r = -errno;

			snprintf(msg, msglen, "vCPU %d: setting the %s: %s", v->id, s->name, strerror(-r));
			return r;
		}
	}
	return 0;
}

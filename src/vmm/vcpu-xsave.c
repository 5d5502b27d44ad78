/*
 * The guest kernel's XSAVE / XRSTOR on kvm_pvm hosts (xsave.h says why):
 * the vCPU's live extended state comes from KVM_GET_XSAVE, the guest's
 * area is read and written through KVM_TRANSLATE page by page, and what
 * the CPU would fault on is injected as the CPU would (#GP for a
 * misaligned area or a bad header, #PF for a page not there, so the
 * kernel's exception fixups for signal frames in user memory work).
 */
#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/emulate.h"
#include "vmm/vcpu.h"
#include "vmm/xsave.h"

#define GP_VECTOR	13
#define PF_VECTOR	14
#define PF_PRESENT	1u
#define PF_WRITE	2u
#define PAGE		4096ULL

static struct xsave_layout layout;
static pthread_once_t layout_once = PTHREAD_ONCE_INIT;

/* KVM's XSAVE buffer uses the host's standard-form offsets (CPUID 0xD),
 * and the guest kernel reads the same ones through KVM's CPUID. */
static void layout_init(void)
{
	unsigned int eax, ebx, ecx, edx;

	for (int i = 2; i < XSAVE_COMPONENTS; i++) {
		if (!__get_cpuid_count(0xd, (unsigned int)i, &eax, &ebx, &ecx, &edx) || !eax)
			continue;
		layout.off[i] = ebx;
		layout.size[i] = eax;
		layout.known |= 1ULL << i;
	}
}

/* The guest-physical address of gva, or -1 with the #PF error code. */
static int64_t translate(struct vcpu *v, uint64_t gva, int write, uint32_t *pf_err)
{
	struct kvm_translation tr = { .linear_address = gva };

	if (ioctl(v->fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid) {
		*pf_err = write ? PF_WRITE : 0;
		return -1;
	}
	if (write && !tr.writeable) {
		*pf_err = PF_PRESENT | PF_WRITE;
		return -1;
	}
	return (int64_t)tr.physical_address;
}

/* Copies len bytes between buf and the guest at gva (to the guest if
 * to_guest; XSAVE checks its pages writable already when reading them).
 * 0, or -1 with *fault_at / *pf_err: a page the CPU would fault on
 * (nothing copied then: every page is checked first). */
static int guest_copy(struct vcpu *v, uint64_t gva, uint8_t *buf, size_t len, int to_guest,
		      int write, uint64_t *fault_at, uint32_t *pf_err)
{
	void *host[XSAVE_KVM_SIZE / PAGE + 2];
	size_t chunk[XSAVE_KVM_SIZE / PAGE + 2], n = 0, done;

	for (done = 0; done < len; done += chunk[n++]) {
		uint64_t at = gva + done;
		int64_t gpa = translate(v, at, write, pf_err);

		chunk[n] = PAGE - (at & (PAGE - 1));
		if (chunk[n] > len - done)
			chunk[n] = len - done;
		host[n] = gpa < 0 ? NULL : vm__gpa(v->vm, (uint64_t)gpa, chunk[n]);
		if (!host[n]) {
			*fault_at = at;
			if (gpa >= 0)
				*pf_err = (write ? PF_WRITE : 0) | PF_PRESENT;	/* not RAM */
			return -1;
		}
	}
	for (size_t i = 0, off = 0; i < n; off += chunk[i++]) {
		if (to_guest)
			memcpy(host[i], buf + off, chunk[i]);
		else
			memcpy(buf + off, host[i], chunk[i]);
	}
	return 0;
}

static int inject_pf(struct vcpu *v, uint64_t addr, uint32_t err)
{
	struct kvm_sregs s;

	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return -1;
	s.cr2 = addr;
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0)
		return -1;
	return vcpu__inject_exception(v, PF_VECTOR, 1, err);
}

static uint64_t guest_xcr0(struct vcpu *v)
{
	struct kvm_xcrs x;

	if (ioctl(v->fd, KVM_GET_XCRS, &x) < 0)
		return 0;
	for (uint32_t i = 0; i < x.nr_xcrs && i < KVM_MAX_XCRS; i++)
		if (x.xcrs[i].xcr == 0)
			return x.xcrs[i].value;
	return 0;
}

int vcpu__xsave(struct vcpu *v, const struct emul_insn *in, struct kvm_regs *regs,
		char *why, size_t whylen)
{
	int store = in->op == EMUL_XSAVE;
	uint64_t xcr0 = guest_xcr0(v), fault_at = 0;
	uint64_t rfbm = xcr0 & (((regs->rdx & 0xffffffffULL) << 32) | (regs->rax & 0xffffffffULL));
	uint8_t mem[XSAVE_KVM_SIZE];
	struct kvm_xsave live;
	uint32_t pf_err = 0;
	size_t span;

	pthread_once(&layout_once, layout_init);
	if (!xsave__supported(&layout, rfbm)) {
		snprintf(why, whylen, "vCPU %d: %s with components %#llx this VMM cannot hold (KVM's "
			 "4 KiB XSAVE buffer) — report it with this mask", v->id, store ? "xsave" : "xrstor",
			 (unsigned long long)rfbm);
		return -1;
	}
	if (regs->rdi & 63)
		return vcpu__inject_exception(v, GP_VECTOR, 1, 0) < 0 ? -1 : 1;
	span = xsave__span(&layout, rfbm);
	if (guest_copy(v, regs->rdi, mem, span, 0, store, &fault_at, &pf_err) < 0)
		return inject_pf(v, fault_at, pf_err) < 0 ? -1 : 1;
	if (ioctl(v->fd, KVM_GET_XSAVE, &live) < 0)
		goto kvm_failed;
	if (store) {
		xsave__store(&layout, rfbm, (const uint8_t *)live.region, mem);
		if (guest_copy(v, regs->rdi, mem, span, 1, 1, &fault_at, &pf_err) < 0)
			return inject_pf(v, fault_at, pf_err) < 0 ? -1 : 1;
	} else {
		if (xsave__load(&layout, rfbm, xcr0, mem, (uint8_t *)live.region) < 0)
			return vcpu__inject_exception(v, GP_VECTOR, 1, 0) < 0 ? -1 : 1;
		if (ioctl(v->fd, KVM_SET_XSAVE, &live) < 0)
			goto kvm_failed;
	}
	regs->rip += (uint64_t)in->len;
	return 0;
kvm_failed:
	snprintf(why, whylen, "vCPU %d: %s: %s", v->id, store ? "KVM_GET_XSAVE" : "KVM_SET_XSAVE",
		 strerror(errno));
	return -1;
}

#ifndef SM_VMM_XSAVE_H
#define SM_VMM_XSAVE_H
/*
 * XSAVE and XRSTOR (standard form) done by the VMM for the guest kernel on
 * kvm_pvm hosts (docs/emulating-hosts.md, "Extended register state").
 * There guest user mode runs on the host's CPU with the host's XCR0, so
 * programs use AVX/AVX-512, but KVM cannot emulate these two instructions
 * in guest kernel mode: without them the kernel would switch only the
 * FXSAVE state and one process's vector registers would leak into the next.
 *
 * Pure functions over byte buffers: `regs` is the vCPU's live state in
 * KVM_GET_XSAVE's layout, `mem` the guest's XSAVE area (already read from
 * guest memory).  Unit tested in tests/unit/test_xsave.c.
 */
#include <stddef.h>
#include <stdint.h>

#define XSAVE_COMPONENTS	32
#define XSAVE_LEGACY_SIZE	512
#define XSAVE_HEADER_SIZE	64
#define XSAVE_MIN_SIZE		(XSAVE_LEGACY_SIZE + XSAVE_HEADER_SIZE)
#define XSAVE_KVM_SIZE		4096	/* struct kvm_xsave */

/* Where each component >= 2 lives in the standard form (CPUID 0xD). */
struct xsave_layout {
	uint64_t known;				/* components with an offset and size */
	uint32_t off[XSAVE_COMPONENTS], size[XSAVE_COMPONENTS];
};

/* Bytes of the area an instruction with mask rfbm touches (>= 576). */
size_t xsave__span(const struct xsave_layout *l, uint64_t rfbm);
/* rfbm has a component the layout does not know, or that lies past
 * KVM's 4 KiB buffer: the VMM cannot do this one. */
int xsave__supported(const struct xsave_layout *l, uint64_t rfbm);
/* XSAVE: writes the components rfbm selects from regs into mem (span
 * bytes) and their XSTATE_BV bits; leaves everything else as it was. */
void xsave__store(const struct xsave_layout *l, uint64_t rfbm, const uint8_t *regs, uint8_t *mem);
/* XRSTOR: loads the components rfbm selects from mem into regs (those
 * XSTATE_BV marks as in their initial state are initialised).  0, or -1
 * where the CPU raises #GP: a header bit outside xcr0, a compacted or
 * nonzero reserved header, MXCSR bits the CPU does not have. */
int xsave__load(const struct xsave_layout *l, uint64_t rfbm, uint64_t xcr0, const uint8_t *mem,
		uint8_t *regs);
#endif

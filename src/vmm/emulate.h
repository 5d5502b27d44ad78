#ifndef SM_VMM_EMULATE_H
#define SM_VMM_EMULATE_H
/*
 * The few instructions KVM fails to emulate in guest kernel mode on kvm_pvm
 * hosts (docs/emulating-hosts.md).  KVM hands us their bytes in an
 * emulation-failure exit; we finish them here.  Pure functions: unit tested.
 */
#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

enum emul_op {
	EMUL_UNKNOWN = 0,
	EMUL_INT3,	/* cc: step over, then inject #BP (a trap: RIP after it) */
	EMUL_SKIP,	/* 9b fwait: nothing to wait for */
	EMUL_CLAC,	/* 0f 01 ca */
	EMUL_STAC,	/* 0f 01 cb */
	EMUL_POPCNT,	/* f3 [rex] 0f b8 /r, register operands only */
	EMUL_LSL,	/* [rex] 0f 03 /r, register operands only: needs the GDT */
	EMUL_XSAVE,	/* 48 0f ae 27 xsave64 (%rdi): needs guest memory, vcpu-xsave.c */
	EMUL_XRSTOR,	/* 48 0f ae 2f xrstor64 (%rdi) */
};

struct emul_insn {
	enum emul_op op;
	int len;
	int dst, src;	/* x86 register numbers 0..15 (popcnt) */
	int width;	/* operand bits (popcnt) */
};

/* Decode insn[0..n); returns 0 or -1 (op EMUL_UNKNOWN) for anything else. */
int emulate__decode(const uint8_t *insn, int n, struct emul_insn *out);
/* Apply to the registers (advances RIP).  EMUL_INT3 additionally needs the
 * caller to inject #BP. */
void emulate__apply(const struct emul_insn *in, struct kvm_regs *regs);
/* LSL: the limit of descriptor `desc` as selected by `sel`; 0 and *limit
 * set (ZF=1), or -1 when LSL would clear ZF (null, LDT or system segments
 * that have no limit, or privilege the selector lacks). */
int emulate__lsl_limit(uint64_t desc, uint16_t sel, int cpl, uint32_t *limit);
/* Finish LSL given the limit (or none): sets dst and ZF, advances RIP. */
void emulate__apply_lsl(const struct emul_insn *in, struct kvm_regs *regs, int ok, uint32_t limit);
/* The selector operand of a decoded LSL. */
uint16_t emulate__lsl_selector(const struct emul_insn *in, struct kvm_regs *regs);
/* The one-line message for an instruction we cannot finish. */
void emulate__describe_failure(char *buf, size_t len, int vcpu, uint64_t rip,
			       const uint8_t *insn, int n);
#endif

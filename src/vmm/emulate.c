#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vmm/emulate.h"

#define RFLAGS_CF (1u << 0)
#define RFLAGS_PF (1u << 2)
#define RFLAGS_AF (1u << 4)
#define RFLAGS_ZF (1u << 6)
#define RFLAGS_SF (1u << 7)
#define RFLAGS_OF (1u << 11)
#define RFLAGS_AC (1u << 18)

/* [rex] 0f OPCODE /r with register operands only (memory forms are not
 * needed and not decoded); pre is the length of a mandatory prefix. */
static int decode_reg_reg(const uint8_t *p, int n, int pre, uint8_t opcode, enum emul_op op,
			  struct emul_insn *out)
{
	int i = pre, rex = 0, modrm;

	if (i < n && (p[i] & 0xf0) == 0x40)
		rex = p[i++];
	if (i + 3 > n || p[i] != 0x0f || p[i + 1] != opcode)
		return -1;
	modrm = p[i + 2];
	if ((modrm >> 6) != 3)
		return -1;
	out->op = op;
	out->len = i + 3;
	out->dst = ((modrm >> 3) & 7) | ((rex & 4) ? 8 : 0);
	out->src = (modrm & 7) | ((rex & 1) ? 8 : 0);
	out->width = (rex & 8) ? 64 : 32;
	return 0;
}

int emulate__decode(const uint8_t *p, int n, struct emul_insn *out)
{
	memset(out, 0, sizeof(*out));
	if (n <= 0)
		return -1;
	if (p[0] == 0xcc)
		*out = (struct emul_insn){ .op = EMUL_INT3, .len = 1 };
	else if (p[0] == 0x9b)
		*out = (struct emul_insn){ .op = EMUL_SKIP, .len = 1 };
	else if (n >= 3 && p[0] == 0x0f && p[1] == 0x01 && (p[2] == 0xca || p[2] == 0xcb))
		*out = (struct emul_insn){ .op = p[2] == 0xca ? EMUL_CLAC : EMUL_STAC, .len = 3 };
	else if (p[0] == 0xf3 && decode_reg_reg(p, n, 1, 0xb8, EMUL_POPCNT, out) == 0)
		return 0;
	else if (decode_reg_reg(p, n, 0, 0x03, EMUL_LSL, out) == 0)
		return 0;
	/* the kernel's XSTATE_OP macros: always REX.W and (%rdi) */
	else if (n >= 4 && p[0] == 0x48 && p[1] == 0x0f && p[2] == 0xae && (p[3] == 0x27 || p[3] == 0x2f))
		*out = (struct emul_insn){ .op = p[3] == 0x27 ? EMUL_XSAVE : EMUL_XRSTOR, .len = 4 };
	else
		out->op = EMUL_UNKNOWN;
	return out->op == EMUL_UNKNOWN ? -1 : 0;
}

/* x86 register number -> field of struct kvm_regs */
static __u64 *reg(struct kvm_regs *r, int n)
{
	__u64 *map[16] = { &r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp, &r->rbp, &r->rsi, &r->rdi,
			      &r->r8, &r->r9, &r->r10, &r->r11, &r->r12, &r->r13, &r->r14, &r->r15 };

	return map[n & 15];
}

void emulate__apply(const struct emul_insn *in, struct kvm_regs *regs)
{
	uint64_t v;

	switch (in->op) {
	case EMUL_CLAC:
		regs->rflags &= ~(uint64_t)RFLAGS_AC;
		break;
	case EMUL_STAC:
		regs->rflags |= RFLAGS_AC;
		break;
	case EMUL_POPCNT:
		v = *reg(regs, in->src);
		if (in->width == 32)
			v &= 0xffffffffu;
		regs->rflags &= ~(uint64_t)(RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF |
					    RFLAGS_SF | RFLAGS_OF);
		if (v == 0)
			regs->rflags |= RFLAGS_ZF;
		*reg(regs, in->dst) = (uint64_t)__builtin_popcountll(v);
		break;
	default:
		break;
	}
	regs->rip += in->len;
}

int emulate__lsl_limit(uint64_t desc, uint16_t sel, int cpl, uint32_t *limit)
{
	uint32_t type = (desc >> 40) & 0xf, dpl = (desc >> 45) & 3;
	bool system = !((desc >> 44) & 1), present = (desc >> 47) & 1, conforming_code = (type & 0xc) == 0xc;
	uint32_t lim = (uint32_t)(desc & 0xffff) | (uint32_t)((desc >> 32) & 0xf0000);

	if ((sel & ~3) == 0 || (sel & 4) || !present)
		return -1;
	/* SDM LSL: system types with a limit are LDT (2) and the TSS types (1, 3, 9, 11) */
	if (system && type != 1 && type != 2 && type != 3 && type != 9 && type != 11)
		return -1;
	if (!conforming_code && (dpl < (uint32_t)cpl || dpl < (sel & 3u)))
		return -1;
	if ((desc >> 55) & 1)			/* 4 KiB granularity */
		lim = (lim << 12) | 0xfff;
	*limit = lim;
	return 0;
}

uint16_t emulate__lsl_selector(const struct emul_insn *in, struct kvm_regs *regs)
{
	return (uint16_t)*reg(regs, in->src);
}

void emulate__apply_lsl(const struct emul_insn *in, struct kvm_regs *regs, int ok, uint32_t limit)
{
	if (ok == 0) {
		*reg(regs, in->dst) = limit;	/* zero-extended in both widths */
		regs->rflags |= RFLAGS_ZF;
	} else {
		regs->rflags &= ~(uint64_t)RFLAGS_ZF;
	}
	regs->rip += in->len;
}

void emulate__describe_failure(char *buf, size_t len, int vcpu, uint64_t rip,
			       const uint8_t *insn, int n)
{
	char hex[15 * 3 + 1] = "unknown";
	size_t used = 0;

	for (int i = 0; i < n && i < 15; i++)
		used += snprintf(hex + used, sizeof(hex) - used, "%s%02x", i ? " " : "", insn[i]);
	snprintf(buf, len, "vCPU %d: unhandled emulation failure at rip %#llx, instruction bytes [%s] "
		 "— the guest kernel uses an instruction this host cannot run; report it with these bytes",
		 vcpu, (unsigned long long)rip, hex);
}

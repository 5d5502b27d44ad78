/* Emulation-failure handling on kvm_pvm hosts (docs/emulating-hosts.md). */
#include <string.h>

#include "tap.h"
#include "vmm/emulate.h"

static void test_decode(void)
{
	struct emul_insn in;
	const uint8_t int3[] = { 0xcc, 0x90 }, fwait[] = { 0x9b }, clac[] = { 0x0f, 0x01, 0xca },
		      stac[] = { 0x0f, 0x01, 0xcb }, popcnt[] = { 0xf3, 0x48, 0x0f, 0xb8, 0xc7 },
		      popcnt32[] = { 0xf3, 0x0f, 0xb8, 0xc1 }, popcnt_mem[] = { 0xf3, 0x48, 0x0f, 0xb8, 0x07 },
		      xrstor[] = { 0x48, 0x0f, 0xae, 0x2f }, xsave[] = { 0x48, 0x0f, 0xae, 0x27 },
		      xsave_rsi[] = { 0x48, 0x0f, 0xae, 0x26 }, xsave32[] = { 0x0f, 0xae, 0x27 },
		      vmcall[] = { 0x0f, 0x01, 0xc1 };

	ok(emulate__decode(int3, 2, &in) == 0 && in.op == EMUL_INT3 && in.len == 1, "int3 decodes");
	ok(emulate__decode(fwait, 1, &in) == 0 && in.op == EMUL_SKIP && in.len == 1, "fwait decodes");
	ok(emulate__decode(clac, 3, &in) == 0 && in.op == EMUL_CLAC && in.len == 3, "clac decodes");
	ok(emulate__decode(stac, 3, &in) == 0 && in.op == EMUL_STAC, "stac decodes");
	ok(emulate__decode(popcnt, 5, &in) == 0 && in.op == EMUL_POPCNT && in.len == 5 &&
	   in.dst == 0 && in.src == 7 && in.width == 64, "popcnt rax, rdi decodes");
	ok(emulate__decode(popcnt32, 4, &in) == 0 && in.width == 32 && in.dst == 0 && in.src == 1,
	   "popcnt eax, ecx decodes");
	ok(emulate__decode(popcnt_mem, 5, &in) < 0, "popcnt with a memory operand is refused");
	ok(emulate__decode(xrstor, 4, &in) == 0 && in.op == EMUL_XRSTOR && in.len == 4,
	   "xrstor64 (%%rdi) decodes");
	ok(emulate__decode(xsave, 4, &in) == 0 && in.op == EMUL_XSAVE && in.len == 4,
	   "xsave64 (%%rdi) decodes");
	ok(emulate__decode(xsave_rsi, 4, &in) < 0, "xsave64 (%%rsi) is unknown (the kernel uses %%rdi)");
	ok(emulate__decode(xsave32, 3, &in) < 0, "xsave without REX.W is unknown");
	ok(emulate__decode(xsave, 3, &in) < 0, "truncated xsave is unknown");
	ok(emulate__decode(vmcall, 3, &in) < 0, "vmcall is unknown");
	ok(emulate__decode(clac, 2, &in) < 0, "truncated clac is unknown");
	ok(emulate__decode(int3, 0, &in) < 0, "no bytes at all is unknown");
}

static void test_apply(void)
{
	struct kvm_regs r = { .rip = 0x1000, .rflags = 0x2 | (1 << 6) | 1, .rdi = 0xff00ff, .rax = 5 };
	struct emul_insn in;
	const uint8_t popcnt[] = { 0xf3, 0x48, 0x0f, 0xb8, 0xc7 }, clac[] = { 0x0f, 0x01, 0xca },
		      stac[] = { 0x0f, 0x01, 0xcb }, int3[] = { 0xcc };

	emulate__decode(popcnt, 5, &in);
	emulate__apply(&in, &r);
	is(r.rax, 16, "popcnt counts the bits");
	is(r.rip, 0x1005, "popcnt advances rip");
	is(r.rflags & ((1 << 6) | 1), 0, "popcnt of non-zero clears ZF and CF");
	r.rdi = 0;
	emulate__decode(popcnt, 5, &in);
	emulate__apply(&in, &r);
	ok(r.rax == 0 && (r.rflags & (1 << 6)), "popcnt of zero sets ZF");
	emulate__decode(stac, 3, &in);
	emulate__apply(&in, &r);
	ok(r.rflags & (1 << 18), "stac sets AC");
	emulate__decode(clac, 3, &in);
	emulate__apply(&in, &r);
	ok(!(r.rflags & (1 << 18)), "clac clears AC");
	r.rip = 0x2000;
	emulate__decode(int3, 1, &in);
	emulate__apply(&in, &r);
	is(r.rip, 0x2001, "int3 leaves rip after itself (a trap) for the injected #BP");
}

static void test_lsl(void)
{
	/* lsl rax, eax as in the kernel's vdso_read_cpunode(): 48 0f 03 c0 */
	const uint8_t lsl[] = { 0x48, 0x0f, 0x03, 0xc0 }, lsl_mem[] = { 0x0f, 0x03, 0x00 };
	/* the per-CPU segment: data, DPL 3, byte granular, limit = cpu 3 | node 0 << 12 */
	uint64_t cpunode = 0x0040f50000000003ULL, null_desc = 0, tss_busy = 0x00008b0000000067ULL,
		 call_gate = 0x0000ec0000000000ULL, paged = 0x00cf93000000ffffULL;
	struct kvm_regs r = { .rip = 0x100, .rax = 0x7b, .rflags = 2 };
	struct emul_insn in;
	uint32_t limit = 0;

	ok(emulate__decode(lsl, 4, &in) == 0 && in.op == EMUL_LSL && in.len == 4 && in.dst == 0 &&
	   in.src == 0, "lsl rax, eax decodes");
	ok(emulate__decode(lsl_mem, 3, &in) < 0, "lsl with a memory operand is refused");
	is(emulate__lsl_selector(&in, &r), 0x7b, "selector comes from the source register");
	ok(emulate__lsl_limit(cpunode, 0x7b, 3, &limit) == 0 && limit == 3, "per-CPU segment limit (cpu 3)");
	ok(emulate__lsl_limit(paged, 0x10, 0, &limit) == 0 && limit == 0xffffffff, "4 KiB granular limit");
	ok(emulate__lsl_limit(tss_busy, 0x40, 0, &limit) == 0 && limit == 0x67, "TSS has a limit");
	ok(emulate__lsl_limit(null_desc, 0, 0, &limit) < 0, "null selector: ZF clear");
	ok(emulate__lsl_limit(call_gate, 0x50, 0, &limit) < 0, "gate descriptor: ZF clear");
	ok(emulate__lsl_limit(cpunode, 0x7c, 3, &limit) < 0, "LDT selector: ZF clear");
	ok(emulate__lsl_limit(paged, 0x13, 3, &limit) < 0, "DPL 0 segment from CPL 3: ZF clear");
	emulate__decode(lsl, 4, &in);
	emulate__apply_lsl(&in, &r, 0, 3);
	ok(r.rax == 3 && (r.rflags & (1 << 6)) && r.rip == 0x104, "lsl result, ZF and rip");
	r.rax = 99;
	emulate__apply_lsl(&in, &r, -1, 0);
	ok(r.rax == 99 && !(r.rflags & (1 << 6)), "failed lsl leaves dst and clears ZF");
}

static void test_message(void)
{
	const uint8_t xrstor[] = { 0x48, 0x0f, 0xae, 0x2f };
	char msg[256];

	emulate__describe_failure(msg, sizeof(msg), 1, 0xffffffff81000000ULL, xrstor, 4);
	ok(strstr(msg, "vCPU 1: unhandled emulation failure at rip 0xffffffff81000000") != NULL,
	   "failure message names the vCPU and rip");
	ok(strstr(msg, "[48 0f ae 2f]") != NULL, "failure message lists the instruction bytes");
	ok(!strchr(msg, '\n'), "failure message is one line");
	emulate__describe_failure(msg, sizeof(msg), 0, 0x10, xrstor, 0);
	ok(strstr(msg, "[unknown]") != NULL, "no bytes: says unknown");
}

int main(void)
{
	test_decode();
	test_apply();
	test_lsl();
	test_message();
	return done_testing();
}

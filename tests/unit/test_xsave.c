/* XSAVE / XRSTOR done by the VMM on kvm_pvm hosts (src/vmm/xsave.c,
 * docs/emulating-hosts.md "Extended register state"): what each writes
 * and leaves alone, the initial states, and every #GP XRSTOR raises. */
#include <string.h>

#include "tap.h"
#include "vmm/xsave.h"

/* this host's AVX-512 layout: AVX, opmask, ZMM_Hi256, Hi16_ZMM */
static const struct xsave_layout L = {
	.known = (1u << 2) | (1u << 5) | (1u << 6) | (1u << 7),
	.off = { [2] = 576, [5] = 832, [6] = 896, [7] = 1408 },
	.size = { [2] = 256, [5] = 64, [6] = 512, [7] = 1024 },
};
#define XCR0 0xe7ULL

static uint8_t regs[XSAVE_KVM_SIZE], mem[XSAVE_KVM_SIZE];

static uint64_t bv(const uint8_t *a)
{
	uint64_t v;

	memcpy(&v, a + 512, 8);
	return v;
}

static void set_bv(uint8_t *a, uint64_t v)
{
	memcpy(a + 512, &v, 8);
}

static int all(const uint8_t *p, size_t n, uint8_t b)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != b)
			return 0;
	return 1;
}

/* regs: every byte 0x11 except a valid MXCSR and a header of "all in use" */
static void fill(void)
{
	memset(regs, 0x11, sizeof(regs));
	memset(regs + 512, 0, 64);
	set_bv(regs, XCR0);
	memcpy(regs + 24, &(uint32_t){ 0x1f80 }, 4);
	memcpy(regs + 28, &(uint32_t){ 0xffff }, 4);
	memset(mem, 0xaa, sizeof(mem));
	memset(mem + 512, 0, 64);
}

static void test_layout(void)
{
	struct xsave_layout big = L;

	is(xsave__span(&L, 3), 576, "x87+SSE spans the legacy region and header");
	is(xsave__span(&L, 7), 832, "with AVX: up to the end of the AVX component");
	is(xsave__span(&L, XCR0), 2432, "AVX-512: 2432 bytes, as the guest kernel computes");
	ok(xsave__supported(&L, XCR0), "every component of this host is supported");
	ok(!xsave__supported(&L, XCR0 | (1u << 9)), "a component the layout does not know is not");
	big.known |= 1u << 17;
	big.off[17] = 2752;
	big.size[17] = 8192;
	ok(!xsave__supported(&big, 1u << 17), "a component past KVM's 4 KiB buffer is not");
	big.off[17] = 100;
	big.size[17] = 8;
	ok(!xsave__supported(&big, 1u << 17), "a component inside the legacy region is not");
}

static void test_store(void)
{
	fill();
	set_bv(mem, 1u << 5);			/* a component outside the mask, in use */
	xsave__store(&L, 7, regs, mem);
	ok(all(mem, 24, 0x11) && all(mem + 32, 128, 0x11), "x87 state is stored");
	ok(all(mem + 160, 256, 0x11), "the XMM registers are stored");
	ok(all(mem + 416, 96, 0xaa), "bytes 416..511 are left alone");
	ok(all(mem + 576, 256, 0x11), "the AVX upper halves are stored");
	ok(all(mem + 832, 2432 - 832, 0xaa), "components outside the mask are left alone");
	is(bv(mem), 7 | (1u << 5), "XSTATE_BV: the mask's bits from the CPU, the others kept");

	fill();
	xsave__store(&L, 4, regs, mem);
	ok(memcmp(mem + 24, regs + 24, 8) == 0 && all(mem + 160, 256, 0xaa) && all(mem, 24, 0xaa),
	   "AVX alone: MXCSR goes with it, x87 and XMM do not");
	set_bv(regs, 3);			/* AVX in its initial state */
	xsave__store(&L, 4, regs, mem);
	is(bv(mem) & 4, 0, "a component in its initial state is marked so");
}

static void test_load(void)
{
	fill();
	memset(mem, 0x22, 2432);
	memset(mem + 512, 0, 64);
	set_bv(mem, 1u << 1);			/* x87 and AVX initial, XMM from memory */
	memcpy(mem + 24, &(uint32_t){ 0x1fa0 }, 4);
	ok(xsave__load(&L, 7, XCR0, mem, regs) == 0, "a valid area loads");
	is(regs[0] | regs[1] << 8, 0x037f, "x87 initial state: FCW 0x37f");
	ok(all(regs + 2, 22, 0) && all(regs + 32, 128, 0), "x87 initial state: the rest zero");
	ok(all(regs + 160, 256, 0x22), "XMM registers come from memory");
	is(regs[24] | regs[25] << 8, 0x1fa0, "MXCSR is loaded from memory");
	ok(all(regs + 576, 256, 0), "AVX initial state: zero");
	ok(all(regs + 832, 2432 - 832, 0x11), "components outside the mask are left alone");
	is(bv(regs), XCR0 & ~4ULL, "the vCPU's header: AVX now initial, the components outside the mask kept");

	fill();
	memset(mem + 576, 0x33, 2432 - 576);
	set_bv(mem, XCR0);
	memcpy(mem + 24, &(uint32_t){ 0x1f80 }, 4);
	ok(xsave__load(&L, XCR0, XCR0, mem, regs) == 0 && all(regs + 1408, 1024, 0x33),
	   "the AVX-512 components come from memory");
}

static void test_load_faults(void)
{
	fill();
	set_bv(mem, 1u << 9);
	ok(xsave__load(&L, XCR0, XCR0, mem, regs) < 0, "#GP: XSTATE_BV names a component XCR0 lacks");
	set_bv(mem, 3);
	mem[520 + 7] = 0x80;
	ok(xsave__load(&L, XCR0, XCR0, mem, regs) < 0, "#GP: the compacted form");
	mem[520 + 7] = 0;
	mem[530] = 1;
	ok(xsave__load(&L, XCR0, XCR0, mem, regs) < 0, "#GP: reserved header bytes not zero");
	mem[530] = 0;
	mem[540] = 1;
	memcpy(mem + 24, &(uint32_t){ 0x1f80 }, 4);
	ok(xsave__load(&L, XCR0, XCR0, mem, regs) == 0, "header bytes past 24 are not checked (as the CPU)");
	memcpy(mem + 24, &(uint32_t){ 0x10000 }, 4);
	ok(xsave__load(&L, XCR0, XCR0, mem, regs) < 0, "#GP: MXCSR bits the CPU does not have");
	ok(xsave__load(&L, 1, XCR0, mem, regs) == 0, "x87 alone does not load MXCSR, so no #GP");
	memcpy(regs + 28, &(uint32_t){ 0 }, 4);
	memcpy(mem + 24, &(uint32_t){ 0x40 }, 4);
	ok(xsave__load(&L, 3, XCR0, mem, regs) < 0, "a zero MXCSR_MASK means 0xffbf: DAZ (bit 6) is refused");
}

static void test_round_trip(void)
{
	uint8_t saved[XSAVE_KVM_SIZE];

	fill();
	for (size_t i = 0; i < 2432; i++)
		if (i < 24 || i >= 32)
			regs[i] = (uint8_t)(i * 7 + 3);
	memset(regs + 416, 0, 96 + 64);
	set_bv(regs, XCR0);
	memcpy(saved, regs, sizeof(saved));
	memset(mem, 0, sizeof(mem));
	xsave__store(&L, XCR0, regs, mem);
	memset(regs, 0, 2432);
	memcpy(regs + 28, saved + 28, 4);
	ok(xsave__load(&L, XCR0, XCR0, mem, regs) == 0, "what XSAVE stored, XRSTOR loads");
	ok(memcmp(regs, saved, 416) == 0 && memcmp(regs + 576, saved + 576, 2432 - 576) == 0,
	   "every register comes back as it was");
}

int main(void)
{
	test_layout();
	test_store();
	test_load();
	test_load_faults();
	test_round_trip();
	return done_testing();
}

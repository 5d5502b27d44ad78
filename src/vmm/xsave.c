/*
 * XSAVE / XRSTOR in standard form (Intel SDM vol. 1 §13.7–13.8) over byte
 * buffers; see xsave.h for why the VMM does them.  The legacy region is
 * split as the SDM splits it: x87 (component 0), XMM registers
 * (component 1), and MXCSR, which goes with component 1 or 2.
 */
#include <string.h>

#include "vmm/xsave.h"

#define OFF_MXCSR	24
#define OFF_MXCSR_MASK	28
#define OFF_ST		32
#define OFF_XMM		160
#define OFF_XSTATE_BV	512
#define OFF_XCOMP_BV	520
#define X87_FCW_INIT	0x037f
#define MXCSR_MASK_DEFAULT 0xffbf	/* when the CPU stores 0 there (SDM 10.5.1.2) */

#define BIT(i)		(1ULL << (i))

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static int extended(const struct xsave_layout *l, int i, uint64_t rfbm)
{
	return i >= 2 && (rfbm & BIT(i)) && (l->known & BIT(i));
}

size_t xsave__span(const struct xsave_layout *l, uint64_t rfbm)
{
	size_t end = XSAVE_MIN_SIZE;

	for (int i = 2; i < XSAVE_COMPONENTS; i++)
		if (extended(l, i, rfbm) && (size_t)l->off[i] + l->size[i] > end)
			end = (size_t)l->off[i] + l->size[i];
	return end;
}

int xsave__supported(const struct xsave_layout *l, uint64_t rfbm)
{
	for (int i = 2; i < XSAVE_COMPONENTS; i++) {
		if (!(rfbm & BIT(i)))
			continue;
		if (!(l->known & BIT(i)) || l->off[i] < XSAVE_MIN_SIZE ||
		    (size_t)l->off[i] + l->size[i] > XSAVE_KVM_SIZE)
			return 0;
	}
	return 1;
}

void xsave__store(const struct xsave_layout *l, uint64_t rfbm, const uint8_t *regs, uint8_t *mem)
{
	uint64_t bv = get64(mem + OFF_XSTATE_BV);

	if (rfbm & BIT(0)) {
		memcpy(mem, regs, OFF_MXCSR);
		memcpy(mem + OFF_ST, regs + OFF_ST, OFF_XMM - OFF_ST);
	}
	if (rfbm & (BIT(1) | BIT(2)))
		memcpy(mem + OFF_MXCSR, regs + OFF_MXCSR, 8);
	if (rfbm & BIT(1))
		memcpy(mem + OFF_XMM, regs + OFF_XMM, 16 * 16);
	for (int i = 2; i < XSAVE_COMPONENTS; i++)
		if (extended(l, i, rfbm))
			memcpy(mem + l->off[i], regs + l->off[i], l->size[i]);
	bv = (bv & ~rfbm) | (get64(regs + OFF_XSTATE_BV) & rfbm);
	put64(mem + OFF_XSTATE_BV, bv);
}

/* What XRSTOR refuses with #GP before it loads anything. */
static int header_ok(uint64_t rfbm, uint64_t xcr0, const uint8_t *mem, const uint8_t *regs)
{
	uint32_t mask = get32(regs + OFF_MXCSR_MASK);

	if (get64(mem + OFF_XSTATE_BV) & ~xcr0)
		return 0;
	if (get64(mem + OFF_XCOMP_BV) || get64(mem + OFF_XCOMP_BV + 8))
		return 0;			/* compacted form, or reserved bytes */
	if (!mask)
		mask = MXCSR_MASK_DEFAULT;
	if ((rfbm & (BIT(1) | BIT(2))) && (get32(mem + OFF_MXCSR) & ~mask))
		return 0;
	return 1;
}

static void load_x87(int from_mem, const uint8_t *mem, uint8_t *regs)
{
	if (from_mem) {
		memcpy(regs, mem, OFF_MXCSR);
		memcpy(regs + OFF_ST, mem + OFF_ST, OFF_XMM - OFF_ST);
		return;
	}
	memset(regs, 0, OFF_MXCSR);		/* FSW, FTW (all empty), FOP, FIP, FDP */
	regs[0] = X87_FCW_INIT & 0xff;
	regs[1] = X87_FCW_INIT >> 8;
	memset(regs + OFF_ST, 0, OFF_XMM - OFF_ST);
}

int xsave__load(const struct xsave_layout *l, uint64_t rfbm, uint64_t xcr0, const uint8_t *mem,
		uint8_t *regs)
{
	uint64_t mem_bv = get64(mem + OFF_XSTATE_BV), bv = get64(regs + OFF_XSTATE_BV);

	if (!header_ok(rfbm, xcr0, mem, regs))
		return -1;
	if (rfbm & BIT(0))
		load_x87(!!(mem_bv & BIT(0)), mem, regs);
	if (rfbm & (BIT(1) | BIT(2)))
		memcpy(regs + OFF_MXCSR, mem + OFF_MXCSR, 4);
	if (rfbm & BIT(1)) {
		if (mem_bv & BIT(1))
			memcpy(regs + OFF_XMM, mem + OFF_XMM, 16 * 16);
		else
			memset(regs + OFF_XMM, 0, 16 * 16);
	}
	for (int i = 2; i < XSAVE_COMPONENTS; i++) {
		if (!extended(l, i, rfbm))
			continue;
		if (mem_bv & BIT(i))
			memcpy(regs + l->off[i], mem + l->off[i], l->size[i]);
		else
			memset(regs + l->off[i], 0, l->size[i]);	/* every init state is 0 */
	}
	/* x87 and SSE are written out explicitly above, so they are "in use";
	 * the rest follow the area's header */
	bv = (bv & ~rfbm) | (mem_bv & rfbm) | (rfbm & (BIT(0) | BIT(1)));
	put64(regs + OFF_XSTATE_BV, bv);
	return 0;
}

/*
 * libFuzzer: page-operation requests (src/devices/pageops.c) as a hostile
 * guest could make them — mailboxes anywhere (also outside RAM, unaligned,
 * straddling the end), any op, count, address and reserved value — through
 * the port write and pageops__run.  A model says what each must answer;
 * guest RAM must then equal the model's copy: a done request changed only
 * its destination pages, a refused one nothing but its status word.
 */
#include "devices/pageops.h"
#include "fuzzvm.h"

#define PG	4096ull
#define PAGES	24
#define RAM	(PAGES * PG)
#define MAX_REQUESTS	16

struct box { uint32_t op, count; uint64_t dst, src; uint32_t status, reserved; };

static struct vm *vm;
static struct pageops *po;
static uint8_t model[RAM];

/* Mostly pages of this small RAM, sometimes anything at all. */
static uint64_t addr(struct fuzz_in *in)
{
	uint8_t how = fuzz_u8(in);

	if (how < 200)
		return (how % (PAGES + 2)) * PG + (fuzz_u8(in) < 16 ? fuzz_u16(in) % PG : 0);
	return fuzz_u64(in);
}

static uint32_t count(struct fuzz_in *in)
{
	uint8_t how = fuzz_u8(in);

	return how < 240 ? how % 6 : fuzz_u32(in);
}

static bool in_ram(uint64_t a, uint64_t len)
{
	return a <= RAM && len <= RAM - a;
}

static uint32_t expect(uint64_t box, const struct box *b)
{
	uint64_t len = (uint64_t)b->count * PG;

	if ((b->op != PAGEOP_CLEAR && b->op != PAGEOP_COPY) || b->reserved || (b->op == PAGEOP_CLEAR && b->src))
		return PAGEOP_EOP;
	if (b->count == 0 || b->count > PAGEOPS_MAX_PAGES)
		return PAGEOP_ECOUNT;
	if (b->dst % PG || b->src % PG)
		return PAGEOP_EALIGN;
	if (!in_ram(b->dst, len) || (b->op == PAGEOP_COPY && !in_ram(b->src, len)))
		return PAGEOP_ERANGE;
	if ((b->dst < box + PAGEOPS_BOX_SIZE && box < b->dst + len) ||
	    (b->op == PAGEOP_COPY && b->dst < b->src + len && b->src < b->dst + len))
		return PAGEOP_EOVERLAP;
	return PAGEOP_DONE;
}

static void one(struct fuzz_in *in)
{
	uint8_t how = fuzz_u8(in);
	uint64_t box = how < 200 ? (fuzz_u16(in) % (RAM / 8 + 16)) * 8 : fuzz_u64(in);
	struct box b = { fuzz_u8(in) % 4, count(in), addr(in), 0, fuzz_u32(in), fuzz_u8(in) < 8 };
	bool via_port = how & 1, box_ok = box % 8 == 0 && in_ram(box, PAGEOPS_BOX_SIZE);
	uint32_t want;

	if (b.op == PAGEOP_COPY || fuzz_u8(in) < 8)
		b.src = addr(in);
	if (via_port) {			/* a port write can only name a 64-byte-aligned mailbox */
		box &= ~63ull;
		box %= 1ull << 38;
		box_ok = in_ram(box, PAGEOPS_BOX_SIZE);
	}
	if (box_ok)
		memcpy(vm->regions[0].hva + box, &b, sizeof(b));
	memcpy(model, vm->regions[0].hva, RAM);
	want = box_ok ? expect(box, &b) : PAGEOP_EBOX;
	if (via_port) {
		uint32_t v = (uint32_t)(box / 64);

		bus__access(vm->pio, PAGEOPS_PORT, (uint8_t *)&v, 4, true);
	} else {
		FUZZ_CHECK(pageops__run(po, box) == want);
	}
	if (want == PAGEOP_DONE && b.op == PAGEOP_CLEAR)
		memset(model + b.dst, 0, b.count * PG);
	else if (want == PAGEOP_DONE)
		memmove(model + b.dst, model + b.src, b.count * PG);
	if (box_ok)
		memcpy(model + box + offsetof(struct box, status), &want, 4);
	FUZZ_CHECK(memcmp(model, vm->regions[0].hva, RAM) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };

	if (!vm) {
		vm = fakevm_new(RAM);
		po = pageops__new(vm);
		FUZZ_CHECK(po != NULL);
	}
	for (uint64_t i = 0; i < RAM; i++)
		vm->regions[0].hva[i] = (uint8_t)(i * 13 + i / PG);
	for (int i = 0; i < MAX_REQUESTS && in.n; i++)
		one(&in);
	return 0;
}

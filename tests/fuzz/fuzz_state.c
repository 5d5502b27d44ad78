/*
 * libFuzzer: vm.state files (src/snapshot/state.c, docs/snapshot-format.md)
 * and the device restore functions that need no KVM, as restore_devices in
 * src/vmm/vmm-snapshot.c calls them: serial__restore for both UARTs,
 * virtio_mmio__restore for a virtio-rng and a virtio-blk slot on a fake VM,
 * initchan__restore.  The input is the whole file:
 *   - state__check accepts it iff the harness's own walk of the format does,
 *     and then state__find returns the first section of each (tag, index);
 *     on a file it refused, state__find must still stay inside it;
 *   - a restored UART reads back the saved queue; a restored virtio slot has
 *     its live rings inside guest RAM and survives a notify of each queue
 *     over guest RAM taken from the file (section FUZZ_TAG_RAM, harness-only);
 *   - a restored init channel decoder is in a state its guest could have made.
 */
#include <errno.h>

#include "devices/serial.h"
#include "devices/virtio-blk.h"
#include "devices/virtio-mmio.h"
#include "devices/virtio-rng.h"
#include "fuzzvm.h"
#include "vmm/initchan.h"

#define RAM		0x40000
#define HDR_LEN		16		/* magic[8], u32 version, u32 reserved */
#define SEC_HDR_LEN	16		/* u32 tag, u32 index, u64 len */
#define FUZZ_TAG_RAM	0x4d4152	/* not a vm.state tag: guest RAM for the rings */
#define MAX_SECTIONS	64
#define PAD8(n)		((8 - (n) % 8) % 8)

/* As vmm-snapshot.c saves a UART. */
struct serial_state {
	struct serial_regs regs;
	uint8_t rx[SERIAL_RX_MAX];
};

static struct vm *vm;
static struct serial *uarts[2];

/* The format's reading: where each section's payload is, or -1 if the file is bad. */
struct section {
	uint32_t tag, index;
	size_t off, len;
};

static int walk(const uint8_t *p, size_t n, struct section *s, int *nr)
{
	uint32_t ver;
	size_t off = HDR_LEN;

	*nr = 0;
	if (n < HDR_LEN || memcmp(p, "SMSTATE", 8))
		return -1;
	memcpy(&ver, p + 8, 4);
	if (ver != STATE_VERSION)
		return -1;
	while (off < n) {
		uint64_t len;

		if (n - off < SEC_HDR_LEN)
			return -1;
		memcpy(&len, p + off + 8, 8);
		if (len > n - off - SEC_HDR_LEN || PAD8(len) > n - off - SEC_HDR_LEN - len)
			return -1;
		if (*nr < MAX_SECTIONS) {
			memcpy(&s[*nr].tag, p + off, 4);
			memcpy(&s[*nr].index, p + off + 4, 4);
			s[*nr].off = off + SEC_HDR_LEN;
			s[(*nr)++].len = (size_t)len;
		}
		off += SEC_HDR_LEN + len + PAD8(len);
	}
	return 0;
}

static const struct section *first(const struct section *s, int nr, uint32_t tag, uint32_t index)
{
	for (int i = 0; i < nr; i++)
		if (s[i].tag == tag && s[i].index == index)
			return &s[i];
	return NULL;
}

static void check_find(const struct state_view *sv, const struct section *s, int nr, bool valid,
		       uint32_t tag, uint32_t index)
{
	const struct section *want = valid ? first(s, nr, tag, index) : NULL;
	size_t len = 0;
	const uint8_t *p = state__find(sv, tag, index, &len);

	if (p)
		FUZZ_CHECK(p >= sv->p && p <= sv->p + sv->len && len <= (size_t)(sv->p + sv->len - p));
	if (valid && nr < MAX_SECTIONS)
		FUZZ_CHECK(want ? p == sv->p + want->off && len == want->len : !p);
}

/* The transport is opaque: a slot is known by its MMIO base (as its
 * driver knows it) and its saved state. */
static uint64_t slot_gpa[2];
#define FZ_QUEUE_NUM_MAX 0x034

static void setup(void)
{
	char cmdline[256] = "";

	vm = fakevm_new(RAM);
	FUZZ_CHECK(virtio_rng__new(vm, cmdline, sizeof(cmdline)));
	slot_gpa[0] = fz_slot(cmdline);
	FUZZ_CHECK(virtio_blk__new(vm, cmdline, sizeof(cmdline)));	/* an empty slot */
	slot_gpa[1] = fz_slot(cmdline);
	uarts[0] = serial__new(vm, 0x3f8, 4, NULL, NULL);
	uarts[1] = serial__new(vm, 0x2f8, 3, NULL, NULL);
	FUZZ_CHECK(uarts[0] && uarts[1]);
}

/* A restored UART hands the guest its saved queue, in order. */
static void restore_serial(const struct state_view *sv, uint32_t i)
{
	static struct serial_state ss;
	uint8_t b, lsr;

	if (state__get(sv, ST_DEV_SERIAL, i, &ss, sizeof(ss)) < 0)
		return;
	if (serial__restore(uarts[i], &ss.regs, ss.rx) < 0) {
		FUZZ_CHECK(ss.regs.rx_len > SERIAL_RX_MAX);
		return;
	}
	FUZZ_CHECK(ss.regs.rx_len <= SERIAL_RX_MAX);
	serial__io(uarts[i], 3, &(uint8_t){ 0 }, 1, true);	/* DLAB off: offset 0 is RBR */
	for (uint32_t k = 0; k < 16 && k < ss.regs.rx_len; k++) {
		serial__io(uarts[i], 5, &lsr, 1, false);
		serial__io(uarts[i], 0, &b, 1, false);
		FUZZ_CHECK((lsr & 1) && b == ss.rx[k]);
	}
	serial__io(uarts[i], 2, &b, 1, false);
}

/* A restored slot's live rings are in RAM; every queue is notified once. */
static void restore_virtio(const struct state_view *sv, uint32_t i)
{
	struct virtio_mmio *t = vm->virtio[i];
	struct fz_dev d = { vm, slot_gpa[i] };
	struct virtio_mmio_state vs, got;

	if (state__get(sv, ST_DEV_VIRTIO, i, &vs, sizeof(vs)) < 0)
		return;
	if (virtio_mmio__restore(t, &vs) < 0)
		return;
	virtio_mmio__save(t, &got);
	FUZZ_CHECK(got.nr_queues == 1 && vs.nr_queues == 1);	/* rng and blk: one queue each */
	for (uint32_t q = 0; q < got.nr_queues; q++) {
		uint32_t num = got.q[q].num;

		fz_w32(&d, FZ_QUEUE_SEL, q);
		FUZZ_CHECK(got.q[q].ready == !!vs.q[q].ready && num <= fz_r32(&d, FZ_QUEUE_NUM_MAX));
		if (!got.q[q].ready)
			continue;
		FUZZ_CHECK(vm__gpa(vm, got.q[q].desc, 16ULL * num) && vm__gpa(vm, got.q[q].avail, 6 + 2ULL * num) &&
			   vm__gpa(vm, got.q[q].used, 6 + 8ULL * num));
		fz_w32(&d, FZ_QUEUE_NOTIFY, q);
	}
	fz_r32(&d, FZ_STATUS);
	fz_w32(&d, FZ_STATUS, 0);			/* and a reset puts it back to new */
	virtio_mmio__save(t, &got);
	FUZZ_CHECK(!got.q[0].ready && !got.failed);
}

static void restore_initchan(const struct state_view *sv)
{
	static const struct initchan_ops ops;
	static struct initchan c;
	uint32_t len;

	initchan__init(&c, &ops, NULL);
	if (initchan__restore(&c, sv) < 0) {
		FUZZ_CHECK(c.have == 0);
		return;
	}
	len = c.hdr[2] | (uint32_t)c.hdr[3] << 8;
	FUZZ_CHECK(c.have < INITCHAN_HDR_LEN || (initchan__check_header(c.hdr, IC_FROM_GUEST) >= 0 &&
						  c.have < INITCHAN_HDR_LEN + len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state_view sv = { data, size };
	struct section s[MAX_SECTIONS];
	char why[160] = "";
	const void *ram;
	size_t ram_len;
	int nr, valid;

	if (!vm)
		setup();
	valid = walk(data, size, s, &nr) == 0;
	FUZZ_CHECK((state__check(&sv, why, sizeof(why)) == 0) == valid && (valid || why[0]));
	for (int i = 0; i < nr; i++)
		check_find(&sv, s, nr, valid, s[i].tag, s[i].index);
	check_find(&sv, s, nr, valid, ST_DEV_VSOCK, 0);
	if (!valid)
		return 0;
	memset(vm->regions[0].hva, 0, RAM);
	if ((ram = state__find(&sv, FUZZ_TAG_RAM, 0, &ram_len)))
		memcpy(vm->regions[0].hva, ram, ram_len < RAM ? ram_len : RAM);
	restore_serial(&sv, 0);
	restore_serial(&sv, 1);
	restore_virtio(&sv, 0);
	restore_virtio(&sv, 1);
	restore_initchan(&sv);
	return 0;
}

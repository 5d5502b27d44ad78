/*
 * The device harnesses' VM: tests/unit/fakevm.h (guest RAM is plain memory,
 * no /dev/kvm), the VMM symbols the devices and vm.c call that would need
 * a vCPU or flood stderr (so vcpu.c and log.c are not linked), and the
 * virtio-mmio register access a guest driver does.  Include once per harness.
 */
#ifndef SM_FUZZ_FUZZVM_H
#define SM_FUZZ_FUZZVM_H
#include <stdarg.h>
#include <stdbool.h>

#include "fakevm.h"
#include "fuzz.h"
#include "vmm/log.h"
#include "vmm/vcpu.h"

/* vm.c is linked (interrupts on vm_fd -1 go nowhere: the harness reads the
 * used rings itself); no vCPU exists to pause, so no vcpu.c. */
void vcpu__kick(struct vcpu *v)
{
	(void)v;
}

/* Hostile input makes the devices warn on every run; FUZZ_LOG=1 shows it. */
int log__verbose;

static void fuzz_vlog(const char *fmt, va_list ap)
{
	static int on = -1;

	if (on < 0)
		on = getenv("FUZZ_LOG") != NULL;
	if (on) {
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
}

void log__warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fuzz_vlog(fmt, ap);
	va_end(ap);
}

void log__info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fuzz_vlog(fmt, ap);
	va_end(ap);
}

/* virtio 1.1 §4.2.2 register offsets a driver uses (virtio-mmio.c has the rest) */
enum {
	FZ_QUEUE_SEL = 0x030, FZ_QUEUE_NUM = 0x038, FZ_QUEUE_READY = 0x044, FZ_QUEUE_NOTIFY = 0x050,
	FZ_STATUS = 0x070, FZ_DRV_FEATURES = 0x020, FZ_DRV_FEATURES_SEL = 0x024,
	FZ_QUEUE_DESC = 0x080, FZ_QUEUE_DRIVER = 0x090, FZ_QUEUE_DEVICE = 0x0a0,
};
#define FZ_STATUS_NEEDS_RESET	64

/* One virtio-mmio device as its driver sees it: the VM and the slot's base. */
struct fz_dev {
	struct vm *vm;
	uint64_t base;
};

static inline void fz_w32(struct fz_dev *d, uint64_t off, uint32_t v)
{
	bus__access(d->vm->mmio, d->base + off, (uint8_t *)&v, 4, true);
}

static inline uint32_t fz_r32(struct fz_dev *d, uint64_t off)
{
	uint32_t v = 0;

	bus__access(d->vm->mmio, d->base + off, (uint8_t *)&v, 4, false);
	return v;
}

static inline uint8_t *fz_ram(struct fz_dev *d, uint64_t gpa)
{
	return d->vm->regions[0].hva + gpa;
}

/* The slot a device just declared on cmdline ("virtio_mmio.device=4K@ADDR:IRQ"). */
static inline uint64_t fz_slot(const char *cmdline)
{
	const char *at = strrchr(cmdline, '@');

	return at ? strtoull(at + 1, NULL, 16) : 0;
}

/* Split-ring layout of queue q: desc, avail (+0x1000), used (+0x2000). */
#define FZ_QBASE(q)	(0x1000 + (uint64_t)(q) * 0x3000)
#define FZ_DESC(q)	FZ_QBASE(q)
#define FZ_AVAIL(q)	(FZ_QBASE(q) + 0x1000)
#define FZ_USED(q)	(FZ_QBASE(q) + 0x2000)

/* Reset, VERSION_1 negotiated, nq queues of num entries live, DRIVER_OK:
 * what the Linux driver does (virtio 1.1 §3.1.1). */
static inline void fz_driver_init(struct fz_dev *d, int nq, uint16_t num)
{
	memset(fz_ram(d, FZ_QBASE(0)), 0, 0x3000 * (size_t)nq);
	fz_w32(d, FZ_STATUS, 0);
	fz_w32(d, FZ_STATUS, 1 | 2);
	fz_w32(d, FZ_DRV_FEATURES_SEL, 1);
	fz_w32(d, FZ_DRV_FEATURES, 1);
	fz_w32(d, FZ_STATUS, 1 | 2 | 8);
	for (int q = 0; q < nq; q++) {
		fz_w32(d, FZ_QUEUE_SEL, (uint32_t)q);
		fz_w32(d, FZ_QUEUE_NUM, num);
		fz_w32(d, FZ_QUEUE_DESC, (uint32_t)FZ_DESC(q));
		fz_w32(d, FZ_QUEUE_DRIVER, (uint32_t)FZ_AVAIL(q));
		fz_w32(d, FZ_QUEUE_DEVICE, (uint32_t)FZ_USED(q));
		fz_w32(d, FZ_QUEUE_READY, 1);
	}
	fz_w32(d, FZ_STATUS, 1 | 2 | 4 | 8);
}

struct fz_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};
#define FZ_F_NEXT	1
#define FZ_F_WRITE	2

static inline void fz_set_desc(struct fz_dev *d, int q, int i, struct fz_desc v)
{
	memcpy(fz_ram(d, FZ_DESC(q) + 16 * (uint64_t)i), &v, sizeof(v));
}

static inline uint16_t fz_avail_idx(struct fz_dev *d, int q)
{
	uint16_t v;

	memcpy(&v, fz_ram(d, FZ_AVAIL(q) + 2), 2);
	return v;
}

/* Offers chain `head` on queue q of num entries (does not notify). */
static inline void fz_offer(struct fz_dev *d, int q, uint16_t num, uint16_t head)
{
	uint16_t idx = fz_avail_idx(d, q);

	memcpy(fz_ram(d, FZ_AVAIL(q) + 4 + 2 * (uint64_t)(idx % num)), &head, 2);
	idx++;
	memcpy(fz_ram(d, FZ_AVAIL(q) + 2), &idx, 2);
}

static inline uint16_t fz_used_idx(struct fz_dev *d, int q)
{
	uint16_t v;

	memcpy(&v, fz_ram(d, FZ_USED(q) + 2), 2);
	return v;
}

/* Used element i (mod num) of queue q. */
static inline void fz_used_elem(struct fz_dev *d, int q, uint16_t num, uint16_t i, uint32_t *id, uint32_t *len)
{
	uint64_t at = FZ_USED(q) + 4 + 8 * (uint64_t)(i % num);

	memcpy(id, fz_ram(d, at), 4);
	memcpy(len, fz_ram(d, at + 4), 4);
}
#endif

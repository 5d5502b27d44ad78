/*
 * The guest side of virtio-mmio split rings over fakevm, shared by the
 * device drivers of the unit tests (vsockdrv.h, test_virtio_net.c): the
 * registers, descriptors, offering a chain and reading the used ring.
 * Queue q's rings live at QBASE(q): descriptors, available (+0x1000) and
 * used (+0x2000).  The includer defines QSIZE and VQDRV_QUEUES first.
 * Include once per program.
 */
#ifndef SM_TEST_VQDRV_H
#define SM_TEST_VQDRV_H
#include <stdint.h>
#include <string.h>

#include "fakevm.h"

#define QBASE(q) (0x1000 + (q) * 0x3000)

struct desc { uint64_t addr; uint32_t len; uint16_t flags, next; };

static struct vm *vm;
static uint64_t base;		/* the device's MMIO slot */
static uint16_t avail_idx[VQDRV_QUEUES], used_seen[VQDRV_QUEUES];

static inline void w32(uint64_t off, uint32_t v) { bus__access(vm->mmio, base + off, (uint8_t *)&v, 4, true); }
static inline uint32_t r32(uint64_t off)
{
	uint32_t v = 0;

	bus__access(vm->mmio, base + off, (uint8_t *)&v, 4, false);
	return v;
}
static inline uint8_t *ram(uint64_t gpa) { return vm->regions[0].hva + gpa; }

static inline void set_desc(int q, int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct desc d = { addr, len, flags, next };

	memcpy(ram(QBASE(q) + 16 * i), &d, sizeof(d));
}

static inline void offer(int q, uint16_t head)
{
	memcpy(ram(QBASE(q) + 0x1000 + 4 + 2 * (avail_idx[q] % QSIZE)), &head, 2);
	avail_idx[q]++;
	memcpy(ram(QBASE(q) + 0x1000 + 2), &avail_idx[q], 2);
}

/* Next used element of queue q: its id, or -1; *len set. */
static inline int used(int q, uint32_t *len)
{
	uint16_t idx;
	uint32_t id;

	memcpy(&idx, ram(QBASE(q) + 0x2000 + 2), 2);
	if (idx == used_seen[q])
		return -1;
	memcpy(&id, ram(QBASE(q) + 0x2000 + 4 + 8 * (used_seen[q] % QSIZE)), 4);
	memcpy(len, ram(QBASE(q) + 0x2000 + 4 + 8 * (used_seen[q] % QSIZE) + 4), 4);
	used_seen[q]++;
	return (int)id;
}

/* Reset, negotiate VERSION_1 plus features0 (word 0), set up every queue
 * at its QBASE, DRIVER_OK (virtio 1.1 §3.1.1).  Rings start zeroed. */
static inline void vqdrv__start(uint32_t features0)
{
	memset(avail_idx, 0, sizeof(avail_idx));
	memset(used_seen, 0, sizeof(used_seen));
	memset(ram(QBASE(0)), 0, 0x3000 * VQDRV_QUEUES);
	w32(0x70, 0);
	w32(0x70, 1 | 2);
	w32(0x24, 1);
	w32(0x20, 1);			/* VERSION_1 */
	if (features0) {
		w32(0x24, 0);
		w32(0x20, features0);
	}
	w32(0x70, 1 | 2 | 8);
	for (int q = 0; q < VQDRV_QUEUES; q++) {
		w32(0x30, (uint32_t)q);
		w32(0x38, QSIZE);
		w32(0x80, QBASE(q)); w32(0x84, 0);
		w32(0x90, QBASE(q) + 0x1000); w32(0x94, 0);
		w32(0xa0, QBASE(q) + 0x2000); w32(0xa4, 0);
		w32(0x44, 1);
	}
	w32(0x70, 1 | 2 | 4 | 8);
}
#endif

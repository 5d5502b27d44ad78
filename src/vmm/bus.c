#include <errno.h>
#include <stdlib.h>

#include "vmm/bus.h"

#define BUS_MAX 96	/* 64 virtio-mmio slots + the IOAPIC/LAPIC and friends */

struct bus_range {
	uint64_t base, len;
	bus_fn fn;
	void *dev;
};

struct bus {
	int n;
	struct bus_range r[BUS_MAX];
};

struct bus *bus__new(void)
{
	return calloc(1, sizeof(struct bus));
}

void bus__free(struct bus *b)
{
	free(b);
}

int bus__register(struct bus *b, uint64_t base, uint64_t len, bus_fn fn, void *dev)
{
	if (len == 0 || base + len < base)
		return -EINVAL;
	for (int i = 0; i < b->n; i++)		/* two devices on one address: a set-up bug */
		if (base < b->r[i].base + b->r[i].len && b->r[i].base < base + len)
			return -EBUSY;
	if (b->n == BUS_MAX)
		return -ENOSPC;
	b->r[b->n++] = (struct bus_range){ base, len, fn, dev };
	return 0;
}

bool bus__access(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	for (int i = 0; i < b->n; i++) {
		struct bus_range *r = &b->r[i];

		if (addr < r->base || addr - r->base >= r->len)
			continue;
		/* an access straddling the end of a range is the guest's bug: drop it */
		if (len > r->len - (addr - r->base))
			return false;
		r->fn(r->dev, addr - r->base, data, len, is_write);
		return true;
	}
	return false;
}

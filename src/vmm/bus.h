#ifndef SM_VMM_BUS_H
#define SM_VMM_BUS_H
/* Port-I/O and MMIO dispatch: a device claims [base, base+len). */
#include <stdbool.h>
#include <stdint.h>

/* data is len bytes (1, 2, 4 or 8), little endian; on reads the handler fills it. */
typedef void (*bus_fn)(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

struct bus;

struct bus *bus__new(void);
void bus__free(struct bus *b);
/* 0, -EBUSY if the range overlaps one already claimed, -EINVAL, -ENOSPC. */
int bus__register(struct bus *b, uint64_t base, uint64_t len, bus_fn fn, void *dev);
/* Returns false when nothing claims addr (the caller decides what that means). */
bool bus__access(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);
#endif

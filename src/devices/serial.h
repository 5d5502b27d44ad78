#ifndef SM_DEVICES_SERIAL_H
#define SM_DEVICES_SERIAL_H
/* An 8250/16550A UART on the port-I/O bus; transmitted bytes go to a sink. */
#include <stddef.h>
#include <stdint.h>
#include "vmm/vm.h"

typedef void (*serial_sink)(void *ctx, uint8_t byte);

#define SERIAL_RX_MAX 8192	/* a TIME and a full CONFIG frame (init-channel.md) */

/* The register file, as saved in snapshots (docs/snapshot-format.md). */
struct serial_regs {
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm, pad;
	int32_t thri_pending, irq_level;
	uint32_t rx_head, rx_len;
};

struct serial;

struct serial *serial__new(struct vm *vm, uint16_t port, int irq, serial_sink sink, void *ctx);
void serial__free(struct serial *s);
/* Host -> guest bytes; returns how many fit in the receive queue. */
size_t serial__receive(struct serial *s, const uint8_t *buf, size_t len);
/* rx holds SERIAL_RX_MAX bytes. */
void serial__save(struct serial *s, struct serial_regs *out, uint8_t *rx);
int serial__restore(struct serial *s, const struct serial_regs *in, const uint8_t *rx);
/* For unit tests: the register interface without a bus. */
void serial__io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
#endif

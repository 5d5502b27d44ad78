#ifndef SM_DEVICES_SERIAL_H
#define SM_DEVICES_SERIAL_H
/* An 8250/16550A UART on the port-I/O bus; transmitted bytes go to a sink. */
#include <stddef.h>
#include <stdint.h>
#include "vmm/vm.h"

typedef void (*serial_sink)(void *ctx, uint8_t byte);

struct serial;

struct serial *serial__new(struct vm *vm, uint16_t port, int irq, serial_sink sink, void *ctx);
void serial__free(struct serial *s);
/* For unit tests: the register interface without a bus. */
void serial__io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
#endif

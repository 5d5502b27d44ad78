/*
 * Just enough of the PC keyboard controller for `reboot=k`: the status port
 * reads "not busy" (0xff would make the guest spin on it for ~65k exits)
 * and command 0xfe (pulse reset) ends the VM as a reboot.
 */
#include <stdlib.h>

#include "devices/i8042.h"
#include "vmm/bus.h"

#define I8042_DATA	0x60
#define I8042_CMD	0x64
#define I8042_RESET	0xfe

struct i8042 {
	struct vm *vm;
};

static void i8042_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct vm *vm = ((struct i8042 *)dev)->vm;

	if (!is_write) {
		for (uint32_t i = 0; i < len; i++)
			data[i] = 0;
		return;
	}
	if (offset == I8042_CMD - I8042_DATA && data[0] == I8042_RESET)
		vm__end(vm, VM_END_REBOOT, 0, "guest reset");
}

struct i8042 *i8042__new(struct vm *vm)
{
	struct i8042 *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->vm = vm;
	if (bus__register(vm->pio, I8042_DATA, I8042_CMD - I8042_DATA + 1, i8042_io, k) < 0) {
		free(k);
		return NULL;
	}
	return k;
}

/* The bus range stays registered: buses go with the VM (vm__destroy). */
void i8042__free(struct i8042 *k)
{
	free(k);
}

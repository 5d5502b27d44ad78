#ifndef SM_DEVICES_I8042_H
#define SM_DEVICES_I8042_H
#include "vmm/vm.h"
/* The PC keyboard controller's reset line (reboot=k); NULL on failure. */
struct i8042;

struct i8042 *i8042__new(struct vm *vm);
void i8042__free(struct i8042 *k);
#endif

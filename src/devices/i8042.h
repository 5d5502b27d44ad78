#ifndef SM_DEVICES_I8042_H
#define SM_DEVICES_I8042_H
#include "vmm/vm.h"
int i8042__init(struct vm *vm);
#endif

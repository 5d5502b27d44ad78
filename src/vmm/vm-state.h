#ifndef SM_VMM_VM_STATE_H
#define SM_VMM_VM_STATE_H
#include <stddef.h>
#include "vmm/vm.h"
struct state_buf;
struct state_view;
int vm__save(struct vm *vm, struct state_buf *b, char *msg, size_t msglen);
int vm__restore(struct vm *vm, const struct state_view *sv, char *msg, size_t msglen);
/* kvmclock alone, as saved (again at a standby's `go`). */
int vm__restore_clock(struct vm *vm, const struct state_view *sv, char *msg, size_t msglen);
#endif

/* Guest RAM and the one place guest physical addresses become host pointers. */
#include "vmm/vm.h"

void *vm__gpa(struct vm *vm, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < vm->nr_regions; i++) {
		struct mem_region *r = &vm->regions[i];

		/* written so that no sum can overflow */
		if (gpa < r->gpa || gpa - r->gpa > r->size || len > r->size - (gpa - r->gpa))
			continue;
		return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

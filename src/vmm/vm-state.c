/* VM-wide state for snapshots: the in-kernel PIC pair and IOAPIC, the PIT
 * and kvmclock (restored so the guest's clock continues, not jumps). */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "snapshot/sections.h"
#include "snapshot/state.h"
#include "vmm/vm.h"

ST_PIN(struct kvm_irqchip, ST_SIZE_VM_IRQCHIP);
ST_PIN(struct kvm_pit_state2, ST_SIZE_VM_PIT);
ST_PIN(struct kvm_clock_data, ST_SIZE_VM_CLOCK);

#define NR_IRQCHIPS 3		/* PIC master, PIC slave, IOAPIC */

int vm__save(struct vm *vm, struct state_buf *b, char *msg, size_t msglen)
{
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;

	for (uint32_t i = 0; i < NR_IRQCHIPS; i++) {
		struct kvm_irqchip chip = { .chip_id = i };

		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &chip) < 0)
			goto fail;
		state__add(b, ST_VM_IRQCHIP, i, &chip, sizeof(chip));
	}
	memset(&clock, 0, sizeof(clock));
	if (ioctl(vm->vm_fd, KVM_GET_PIT2, &pit) < 0 || ioctl(vm->vm_fd, KVM_GET_CLOCK, &clock) < 0)
		goto fail;
	state__add(b, ST_VM_PIT, 0, &pit, sizeof(pit));
	clock.flags = 0;		/* only the value travels; see vm__restore */
	state__add(b, ST_VM_CLOCK, 0, &clock, sizeof(clock));
	return 0;
fail:
	snprintf(msg, msglen, "saving VM state: %s", strerror(errno));
	return -errno;
}

/* kvmclock runs from KVM_SET_CLOCK on, vCPUs or not: a standby sets it
 * again at `go`, so its wait does not show as a jump of the guest's clock. */
int vm__restore_clock(struct vm *vm, const struct state_view *sv, char *msg, size_t msglen)
{
	struct kvm_clock_data clock;

	if (state__get(sv, ST_VM_CLOCK, 0, &clock, sizeof(clock)) < 0) {
		snprintf(msg, msglen, "state has no valid clock");
		return -EINVAL;
	}
	clock.flags = 0;
	if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &clock) < 0) {
		snprintf(msg, msglen, "restoring kvmclock: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int vm__restore(struct vm *vm, const struct state_view *sv, char *msg, size_t msglen)
{
	struct kvm_pit_state2 pit;
	int r;

	if (state__get(sv, ST_VM_PIT, 0, &pit, sizeof(pit)) < 0) {
		snprintf(msg, msglen, "state has no valid PIT");
		return -EINVAL;
	}
	if (ioctl(vm->vm_fd, KVM_SET_PIT2, &pit) < 0)
		goto fail;
	if ((r = vm__restore_clock(vm, sv, msg, msglen)) < 0)
		return r;
	for (uint32_t i = 0; i < NR_IRQCHIPS; i++) {
		struct kvm_irqchip chip;

		if (state__get(sv, ST_VM_IRQCHIP, i, &chip, sizeof(chip)) < 0 || chip.chip_id != i) {
			snprintf(msg, msglen, "state has no valid irqchip %u", i);
			return -EINVAL;
		}
		if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &chip) < 0)
			goto fail;
	}
	return 0;
fail:
	snprintf(msg, msglen, "restoring VM state: %s", strerror(errno));
	return -errno;
}

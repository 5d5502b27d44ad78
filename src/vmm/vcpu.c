/*
 * vCPU set-up and the run loop: one thread per vCPU, KVM_RUN until the VM
 * ends.  Port I/O and MMIO exits go to the buses; emulation failures on
 * kvm_pvm hosts go to emulate.c; anything else ends the VM with a reason.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vmm/bus.h"
#include "vmm/cpuid.h"
#include "vmm/emulate.h"
#include "vmm/log.h"
#include "vmm/profile.h"
#include "vmm/vcpu.h"

#define X86_CR0_PE	(1ULL << 0)
#define X86_CR0_PG	(1ULL << 31)
#define X86_CR4_PAE	(1ULL << 5)
#define EFER_LME	(1ULL << 8)
#define EFER_LMA	(1ULL << 10)
#define APIC_LVT_LINT0	0x350
#define APIC_LVT_LINT1	0x360
#define APIC_MODE_NMI	0x4
#define APIC_MODE_EXTINT 0x7
#define BP_VECTOR	3

static int set_cpuid(struct vcpu *v)
{
	struct kvm_cpuid2 *c = cpuid__supported(v->vm->kvm_fd);
	int r;

	if (!c)
		return -errno;
	cpuid__adjust(c, v->id, v->vm->nr_vcpus, v->vm->emulating_host);
	r = ioctl(v->fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
	free(c);
	return r;
}

/* LINT0 = ExtINT (the 8259 behind the LAPIC), LINT1 = NMI, as on a PC. */
static int set_lint(struct vcpu *v)
{
	struct kvm_lapic_state l;
	uint32_t *lint0 = (uint32_t *)(l.regs + APIC_LVT_LINT0);
	uint32_t *lint1 = (uint32_t *)(l.regs + APIC_LVT_LINT1);

	if (ioctl(v->fd, KVM_GET_LAPIC, &l) < 0)
		return -errno;
	*lint0 = (*lint0 & ~0x700u) | (APIC_MODE_EXTINT << 8);
	*lint1 = (*lint1 & ~0x700u) | (APIC_MODE_NMI << 8);
	return ioctl(v->fd, KVM_SET_LAPIC, &l) < 0 ? -errno : 0;
}

int vcpu__create(struct vm *vm, int id, char *msg, size_t msglen)
{
	struct vcpu *v = calloc(1, sizeof(*v));
	const char *what = "KVM_CREATE_VCPU";
	int r;

	if (!v)
		return -ENOMEM;
	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, id);
	if (v->fd < 0)
		goto fail;
	what = "mmap kvm_run";
	v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED)
		goto fail;
	what = "KVM_SET_CPUID2";
	if ((r = set_cpuid(v)) < 0)
		goto fail_r;
	what = "KVM_SET_LAPIC";
	if ((r = set_lint(v)) < 0)
		goto fail_r;
	vm->vcpus[id] = v;
	return 0;
fail:
	r = -errno;
fail_r:
	snprintf(msg, msglen, "vCPU %d: %s: %s", id, what, strerror(-r));
	if (v->fd >= 0)
		close(v->fd);
	free(v);
	return r;
}

static void set_segments(struct kvm_sregs *s, const struct boot_info *bi)
{
	struct kvm_segment code = { .base = 0, .limit = 0xfffff, .selector = 0x8, .type = 0xb,
				    .present = 1, .dpl = 0, .db = 0, .s = 1, .l = 1, .g = 1 };
	struct kvm_segment data = { .base = 0, .limit = 0xfffff, .selector = 0x10, .type = 0x3,
				    .present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1 };
	struct kvm_segment tss = { .base = 0, .limit = 0xfffff, .selector = 0x18, .type = 0xb,
				   .present = 1, .dpl = 0, .db = 0, .s = 0, .l = 0, .g = 1 };

	s->cs = code;
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->tr = tss;
	s->gdt.base = bi->gdt;
	s->gdt.limit = 4 * 8 - 1;
	s->idt.base = bi->idt;
	s->idt.limit = 7;
}

int vcpu__setup_boot(struct vcpu *v, const struct boot_info *bi)
{
	struct kvm_sregs s;
	struct kvm_regs r = { .rflags = 2, .rip = bi->entry, .rsp = bi->stack, .rbp = bi->stack,
			      .rsi = bi->boot_params };
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };

	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	set_segments(&s, bi);
	s.cr0 = (s.cr0 | X86_CR0_PE | X86_CR0_PG) & ~(3ULL << 29);	/* caches on (CD, NW off) */
	s.cr3 = bi->pml4;
	s.cr4 |= X86_CR4_PAE;
	s.efer |= EFER_LME | EFER_LMA;
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0 || ioctl(v->fd, KVM_SET_REGS, &r) < 0 ||
	    ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	return 0;
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		if (!bus__access(v->vm->pio, run->io.port, data, run->io.size, is_write) && !is_write)
			memset(data, 0xff, run->io.size);	/* nothing there: floating bus */
	}
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint32_t len = run->mmio.len;

	if (len > sizeof(run->mmio.data))
		return;
	if (!bus__access(v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len, run->mmio.is_write) &&
	    !run->mmio.is_write)
		memset(run->mmio.data, 0, len);
}

int vcpu__inject_exception(struct vcpu *v, int vector, int has_error_code, uint32_t error_code)
{
	struct kvm_vcpu_events ev;

	if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -1;
	ev.exception.injected = 1;
	ev.exception.nr = (uint8_t)vector;
	ev.exception.has_error_code = (uint8_t)!!has_error_code;
	ev.exception.error_code = error_code;
	ev.flags = 0;
	return ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0 ? -1 : 0;
}

/* LSL needs the descriptor its selector names: walk to it through the
 * guest's GDT (a guest virtual address, translated by KVM). */
static int lsl_lookup(struct vcpu *v, uint16_t sel, uint32_t *limit)
{
	struct kvm_sregs s;
	struct kvm_translation tr = { 0 };
	uint64_t desc, *p;

	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0 || (uint32_t)(sel | 7) > s.gdt.limit)
		return -1;
	tr.linear_address = s.gdt.base + (sel & ~7u);
	if (ioctl(v->fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid || (tr.physical_address & 7))
		return -1;
	p = vm__gpa(v->vm, tr.physical_address, 8);
	if (!p)
		return -1;
	memcpy(&desc, p, 8);
	return emulate__lsl_limit(desc, sel, s.cs.selector & 3, limit);
}

/* KVM could not emulate an instruction: finish it here or end the VM. */
static void handle_emulation_failure(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	struct emul_insn in;
	struct kvm_regs regs;
	const uint8_t *bytes = run->emulation_failure.insn_bytes;
	int n = 0;
	char why[256];

	if (run->emulation_failure.ndata >= 3 &&
	    (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES))
		n = run->emulation_failure.insn_size > 15 ? 15 : run->emulation_failure.insn_size;
	if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0) {
		vm__end(v->vm, VM_END_CRASH, 0, "vCPU %d: KVM_GET_REGS: %s", v->id, strerror(errno));
		return;
	}
	if (emulate__decode(bytes, n, &in) < 0) {
		emulate__describe_failure(why, sizeof(why), v->id, regs.rip, bytes, n);
		vm__end(v->vm, VM_END_CRASH, 0, "%s", why);
		return;
	}
	if (in.op == EMUL_LSL) {
		uint32_t limit = 0;
		int found = lsl_lookup(v, emulate__lsl_selector(&in, &regs), &limit);

		emulate__apply_lsl(&in, &regs, found, limit);
	} else if (in.op == EMUL_XSAVE || in.op == EMUL_XRSTOR) {
		if (vcpu__xsave(v, &in, &regs, why, sizeof(why)) < 0) {
			vm__end(v->vm, VM_END_CRASH, 0, "%s", why);
			return;
		}
	} else {
		emulate__apply(&in, &regs);
	}
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0) {
		vm__end(v->vm, VM_END_CRASH, 0, "vCPU %d: KVM_SET_REGS: %s", v->id, strerror(errno));
		return;
	}
	if (in.op == EMUL_INT3)
		vcpu__inject_exception(v, BP_VECTOR, 0, 0);
	__atomic_add_fetch(&v->vm->emul_exits, 1, __ATOMIC_RELAXED);
}

static void handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(v);
		break;
	case KVM_EXIT_MMIO:
		handle_mmio(v);
		break;
	case KVM_EXIT_INTR:
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION) {
			handle_emulation_failure(v);
			break;
		}
		vm__end(v->vm, VM_END_CRASH, 0, "vCPU %d: KVM internal error, suberror %u",
			v->id, run->internal.suberror);
		break;
	case KVM_EXIT_SHUTDOWN:
		vm__end(v->vm, VM_END_CRASH, 0, "vCPU %d: guest triple fault", v->id);
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
			vm__end(v->vm, VM_END_REBOOT, 0, "guest reset");
		else
			vm__end(v->vm, VM_END_POWEROFF, 0, "guest powered off");
		break;
	case KVM_EXIT_HLT:
		vm__end(v->vm, VM_END_POWEROFF, 0, "guest halted");
		break;
	case KVM_EXIT_FAIL_ENTRY:
		vm__end(v->vm, VM_END_CRASH, 0, "vCPU %d: KVM entry failed, reason %#llx", v->id,
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	default:
		vm__end(v->vm, VM_END_CRASH, 0, "vCPU %d: unexpected KVM exit %u", v->id, run->exit_reason);
	}
}

/*
 * Park at the pause rendezvous.  KVM finishes an emulated I/O instruction on
 * the next KVM_RUN, so run once with immediate_exit first: then registers
 * and device state agree.
 */
static void park(struct vcpu *v)
{
	struct vm *vm = v->vm;

	v->run->immediate_exit = 1;
	ioctl(v->fd, KVM_RUN, 0);		/* returns EINTR at once */
	v->run->immediate_exit = 0;
	pthread_mutex_lock(&vm->pause_lock);
	vm->paused++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (vm->pause_req && !vm__ended(vm))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	vm->paused--;
	pthread_mutex_unlock(&vm->pause_lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;

	while (!vm__ended(v->vm)) {
		if (__atomic_load_n(&v->vm->pause_req, __ATOMIC_ACQUIRE)) {
			park(v);
			continue;
		}
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			int e = errno;

			if (e == EINTR && v->vm->profile)
				profile__sample(v);
			if (e == EINTR || e == EAGAIN)
				continue;
			vm__end(v->vm, VM_END_CRASH, 0, "vCPU %d: KVM_RUN: %s", v->id, strerror(e));
			break;
		}
		handle_exit(v);
	}
	return NULL;
}

static void kick_handler(int sig)
{
	(void)sig;
}

int vcpu__start(struct vcpu *v)
{
	struct sigaction sa = { .sa_handler = kick_handler };

	sigaction(SIGUSR1, &sa, NULL);		/* no SA_RESTART: KVM_RUN returns EINTR */
	return -pthread_create(&v->thread, NULL, vcpu_thread, v);
}

void vcpu__kick(struct vcpu *v)
{
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
	pthread_kill(v->thread, SIGUSR1);
}

#ifndef SM_VMM_PROFILE_H
#define SM_VMM_PROFILE_H
/*
 * The guest profiler (`sm vmm --profile FILE`, docs/profiling.md): a sampler
 * thread kicks every vCPU out of KVM_RUN every interval; the vCPU thread
 * reads where the guest was and counts it.  The counts are written to FILE
 * when the VM ends, in the text format docs/profiling.md describes.
 */
#include <stddef.h>
#include <stdint.h>

#define PROFILE_FORMAT_VERSION	1
#define PROFILE_MIN_US		100
#define PROFILE_MAX_US		1000000
#define PROFILE_DEFAULT_US	1000
#define PROFILE_MAX_CALLERS	6	/* return-address candidates kept per kernel sample */
#define PROFILE_SCAN_WORDS	64	/* kernel stack words read per sample for them */
#define PROFILE_MAX_STACKS	65536	/* distinct samples kept; more are counted as dropped */

/* Guest kernel text, modules included: x86-64's __START_KERNEL_map to the
 * end of the module area (Documentation/x86/x86_64/mm.rst). */
#define PROFILE_KTEXT_START	0xffffffff80000000ULL
#define PROFILE_KTEXT_END	0xffffffffff000000ULL

enum profile_mode { PROFILE_KERNEL = 0, PROFILE_USER = 1, PROFILE_HALTED = 2 };

/* One sample; the whole struct is the key (no padding: all 8-byte fields
 * but the two 4-byte ones, which pair up). */
struct profile_key {
	uint64_t rip;
	uint64_t cr3;			/* user samples: the address space; else 0 */
	uint32_t mode;			/* enum profile_mode */
	uint32_t ncallers;
	uint64_t callers[PROFILE_MAX_CALLERS];
};

struct profile;
struct vm;
struct vcpu;

/* The counting table alone (no VM, no thread): unit-testable. */
struct profile *profile__new(unsigned interval_us);
void profile__free(struct profile *p);
/* Count one sample: 0, or -ENOSPC when the table is full (counted as dropped). */
int profile__add(struct profile *p, const struct profile_key *k);
/* Return-address candidates among a kernel stack's words: those inside
 * kernel text, in stack order, at most max; returns how many. */
int profile__callers(const uint64_t *words, size_t n, uint64_t *out, int max);
/* The sample file (docs/profiling.md), lines in no order: 0 or -errno. */
int profile__write(struct profile *p, int fd);

/* The VM's profiler: FILE opened now (before the sandbox), written at the end. */
int profile__open(struct vm *vm, const char *path, unsigned interval_us, char *msg, size_t msglen);
int profile__start(struct vm *vm);		/* the sampler thread, once the vCPUs run */
/* Sampling on or off (`profile on|off`, --profile-paused): ticks while off
 * are not counted.  -ENOENT without --profile. */
int profile__set_sampling(struct vm *vm, int on);
void profile__sample(struct vcpu *v);		/* vCPU thread, after KVM_RUN returned EINTR */
int profile__finish(struct vm *vm, char *msg, size_t msglen);	/* stop sampling, write FILE */
#endif

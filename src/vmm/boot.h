#ifndef SM_VMM_BOOT_H
#define SM_VMM_BOOT_H
/* Loading an uncompressed vmlinux with its initrd and command line. */
#include <stddef.h>
#include <stdint.h>
#include "vmm/vm.h"

struct boot_info {
	uint64_t entry;		/* 64-bit entry point (physical) */
	uint64_t boot_params;	/* zero page, handed over in RSI */
	uint64_t pml4;		/* identity page tables for the entry */
	uint64_t gdt, idt;
	uint64_t stack;
};

/* ELF checks on a buffer: 0 or -EINVAL with msg saying what is wrong. */
int boot__check_vmlinux(const uint8_t *img, size_t len, char *msg, size_t msglen);
int boot__load(struct vm *vm, const char *kernel, const char *initrd, const char *cmdline,
	       struct boot_info *bi, char *msg, size_t msglen);
#endif

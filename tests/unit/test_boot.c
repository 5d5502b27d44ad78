/* Which files sm accepts as a kernel, and what it says about the rest. */
#include <elf.h>
#include <string.h>

#include "tap.h"
#include "vmm/boot.h"

int main(void)
{
	static uint8_t img[8192];
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	char msg[256];

	memset(img, 0, sizeof(img));
	img[0] = 'M';
	img[1] = 'Z';
	memcpy(img + 0x202, "HdrS", 4);
	ok(boot__check_vmlinux(img, sizeof(img), msg, sizeof(msg)) < 0 && strstr(msg, "bzImage"),
	   "bzImage refused: %s", msg);
	memset(img, 0, sizeof(img));
	memcpy(img, "#!/bin/sh\n", 10);
	ok(boot__check_vmlinux(img, sizeof(img), msg, sizeof(msg)) < 0 && strstr(msg, "no ELF header"),
	   "script refused: %s", msg);
	ok(boot__check_vmlinux(img, 10, msg, sizeof(msg)) < 0, "short file refused");
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS32;
	ok(boot__check_vmlinux(img, sizeof(img), msg, sizeof(msg)) < 0 && strstr(msg, "not an x86-64"),
	   "32-bit ELF refused: %s", msg);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_machine = EM_X86_64;
	eh->e_type = ET_DYN;
	ok(boot__check_vmlinux(img, sizeof(img), msg, sizeof(msg)) < 0, "shared object refused");
	eh->e_type = ET_EXEC;
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 1000;
	eh->e_phoff = 64;
	ok(boot__check_vmlinux(img, sizeof(img), msg, sizeof(msg)) < 0 && strstr(msg, "program headers"),
	   "program headers past the end refused: %s", msg);
	eh->e_phnum = 2;
	ok(boot__check_vmlinux(img, sizeof(img), msg, sizeof(msg)) == 0, "x86-64 ELF executable accepted");
	return done_testing();
}

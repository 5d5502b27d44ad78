/*
 * 64-bit boot protocol (Documentation/x86/boot.rst, "64-bit boot protocol"):
 * load the vmlinux PT_LOAD segments at their physical addresses, build the
 * zero page (boot_params: e820 map, command line, initrd) and identity page
 * tables, and enter startup_64 in long mode with RSI = &boot_params.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <asm/bootparam.h>

#include "vmm/boot.h"
#include "vmm/mptable.h"

/* Low-memory layout used at entry (all below 1 MiB, like Firecracker). */
#define BOOT_GDT	0x500
#define BOOT_IDT	0x520
#define BOOT_PARAMS	0x7000
#define BOOT_STACK	0x8ff0
#define BOOT_PML4	0x9000
#define BOOT_PDPT	0xa000
#define BOOT_PD		0xb000
#define BOOT_CMDLINE	0x20000
#define BOOT_CMDLINE_MAX 2048		/* COMMAND_LINE_SIZE on x86 */
#define EBDA_START	0x9fc00
#define HIMEM_START	0x100000
#define BIOS_START	0xf0000

#define E820_RAM	1
#define E820_RESERVED	2

struct file_map {
	uint8_t *p;
	size_t len;
};

static int map_file(const char *path, struct file_map *m, const char *what, char *msg, size_t msglen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		int err = errno;

		snprintf(msg, msglen, "%s %s: %s", what, path, strerror(err));
		if (fd >= 0)
			close(fd);
		return -err;
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		snprintf(msg, msglen, "%s %s: not a regular, non-empty file", what, path);
		close(fd);
		return -EINVAL;
	}
	m->len = st.st_size;
	m->p = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m->p == MAP_FAILED) {
		snprintf(msg, msglen, "%s %s: %s", what, path, strerror(errno));
		return -errno;
	}
	return 0;
}

int boot__check_vmlinux(const uint8_t *img, size_t len, char *msg, size_t msglen)
{
	const Elf64_Ehdr *eh = (const void *)img;

	if (len >= 0x206 && img[0] == 'M' && img[1] == 'Z' && !memcmp(img + 0x202, "HdrS", 4)) {
		snprintf(msg, msglen, "is a compressed bzImage; sm boots the uncompressed vmlinux "
			 "(build one with `make kernel`, or extract it with the kernel's scripts/extract-vmlinux)");
		return -EINVAL;
	}
	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG)) {
		snprintf(msg, msglen, "not a vmlinux (no ELF header)");
		return -EINVAL;
	}
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_X86_64 || eh->e_type != ET_EXEC) {
		snprintf(msg, msglen, "not an x86-64 vmlinux (ELF class %d, machine %d, type %d)",
			 eh->e_ident[EI_CLASS], eh->e_machine, eh->e_type);
		return -EINVAL;
	}
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
	    eh->e_phoff > len || (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > len - eh->e_phoff) {
		snprintf(msg, msglen, "not a vmlinux (bad program headers)");
		return -EINVAL;
	}
	return 0;
}

static int load_segments(struct vm *vm, const struct file_map *k, uint64_t *entry, char *msg, size_t msglen)
{
	const Elf64_Ehdr *eh = (const void *)k->p;
	const Elf64_Phdr *ph = (const void *)(k->p + eh->e_phoff);
	int loaded = 0;

	for (int i = 0; i < eh->e_phnum; i++) {
		uint8_t *dst;

		if (ph[i].p_type != PT_LOAD)
			continue;
		dst = vm__gpa(vm, ph[i].p_paddr, ph[i].p_memsz);
		if (!dst || ph[i].p_filesz > ph[i].p_memsz || ph[i].p_offset > k->len ||
		    ph[i].p_filesz > k->len - ph[i].p_offset) {
			snprintf(msg, msglen, "kernel segment %d (%#llx+%#llx) does not fit guest memory — "
				 "try a larger --memory", i, (unsigned long long)ph[i].p_paddr,
				 (unsigned long long)ph[i].p_memsz);
			return -EINVAL;
		}
		memcpy(dst, k->p + ph[i].p_offset, ph[i].p_filesz);
		memset(dst + ph[i].p_filesz, 0, ph[i].p_memsz - ph[i].p_filesz);
		loaded++;
	}
	if (!loaded || !vm__gpa(vm, eh->e_entry, 1)) {
		snprintf(msg, msglen, "not a bootable vmlinux (no loadable segment at its entry point)");
		return -EINVAL;
	}
	*entry = eh->e_entry;
	return 0;
}

static void add_e820(struct boot_params *bp, uint64_t addr, uint64_t size, uint32_t type)
{
	struct boot_e820_entry *e = &bp->e820_table[bp->e820_entries++];

	e->addr = addr;
	e->size = size;
	e->type = type;
}

static uint64_t low_ram_end(struct vm *vm)
{
	return vm->regions[0].size;
}

/* The initrd goes at the top of low RAM, page aligned, clear of the kernel. */
static int place_initrd(struct vm *vm, const struct file_map *rd, uint64_t kernel_end,
			struct boot_params *bp, char *msg, size_t msglen)
{
	uint64_t top = low_ram_end(vm), addr;

	if (rd->len > top || (addr = (top - rd->len) & ~0xfffULL) < kernel_end) {
		snprintf(msg, msglen, "initrd (%zu KiB) does not fit beside the kernel — try a larger --memory",
			 rd->len >> 10);
		return -ENOMEM;
	}
	memcpy(vm__gpa(vm, addr, rd->len), rd->p, rd->len);
	bp->hdr.ramdisk_image = (uint32_t)addr;
	bp->hdr.ramdisk_size = (uint32_t)rd->len;
	return 0;
}

static uint64_t kernel_end(const struct file_map *k)
{
	const Elf64_Ehdr *eh = (const void *)k->p;
	const Elf64_Phdr *ph = (const void *)(k->p + eh->e_phoff);
	uint64_t end = 0;

	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_paddr + ph[i].p_memsz > end)
			end = ph[i].p_paddr + ph[i].p_memsz;
	return end;
}

static void setup_boot_params(struct vm *vm, struct boot_params *bp, size_t cmdlen)
{
	bp->hdr.type_of_loader = 0xff;
	bp->hdr.boot_flag = 0xaa55;
	bp->hdr.header = 0x53726448;		/* "HdrS" */
	bp->hdr.version = 0x020f;
	bp->hdr.kernel_alignment = 0x1000000;
	bp->hdr.cmd_line_ptr = BOOT_CMDLINE;
	bp->hdr.cmdline_size = (uint32_t)cmdlen;
	add_e820(bp, 0, EBDA_START, E820_RAM);
	add_e820(bp, EBDA_START, 0xa0000 - EBDA_START, E820_RESERVED);
	add_e820(bp, BIOS_START, HIMEM_START - BIOS_START, E820_RESERVED);
	add_e820(bp, HIMEM_START, low_ram_end(vm) - HIMEM_START, E820_RAM);
	if (vm->nr_regions > 1)
		add_e820(bp, vm->regions[1].gpa, vm->regions[1].size, E820_RAM);
}

/* Identity-map the first GiB with 2 MiB pages: enough for startup_64. */
static void setup_page_tables(struct vm *vm)
{
	uint64_t *pml4 = vm__gpa(vm, BOOT_PML4, 4096);
	uint64_t *pdpt = vm__gpa(vm, BOOT_PDPT, 4096);
	uint64_t *pd = vm__gpa(vm, BOOT_PD, 4096);

	pml4[0] = BOOT_PDPT | 0x3;			/* present, writable */
	pdpt[0] = BOOT_PD | 0x3;
	for (uint64_t i = 0; i < 512; i++)
		pd[i] = (i << 21) | 0x83;		/* present, writable, 2 MiB */
}

static void setup_gdt(struct vm *vm)
{
	uint64_t *gdt = vm__gpa(vm, BOOT_GDT, 4 * 8);

	gdt[0] = 0;
	gdt[1] = 0x00af9b000000ffffULL;		/* 64-bit code */
	gdt[2] = 0x00cf93000000ffffULL;		/* data */
	gdt[3] = 0x008f8b000000ffffULL;		/* TSS */
}

int boot__load(struct vm *vm, const char *kernel, const char *initrd, const char *cmdline,
	       struct boot_info *bi, char *msg, size_t msglen)
{
	struct file_map k = { 0 }, rd = { 0 };
	struct boot_params *bp = vm__gpa(vm, BOOT_PARAMS, sizeof(*bp));
	size_t cmdlen = strlen(cmdline);
	char why[256];
	int r;

	if (cmdlen >= BOOT_CMDLINE_MAX) {
		snprintf(msg, msglen, "kernel command line is %zu bytes, the limit is %d", cmdlen,
			 BOOT_CMDLINE_MAX - 1);
		return -E2BIG;
	}
	r = map_file(kernel, &k, "kernel", msg, msglen);
	if (r < 0)
		return r;
	r = boot__check_vmlinux(k.p, k.len, why, sizeof(why));
	if (r < 0)
		snprintf(msg, msglen, "kernel %s: %s", kernel, why);
	if (r == 0)
		r = load_segments(vm, &k, &bi->entry, msg, msglen);
	memset(bp, 0, sizeof(*bp));
	if (r == 0 && initrd && *initrd) {
		r = map_file(initrd, &rd, "initrd", msg, msglen);
		if (r == 0)
			r = place_initrd(vm, &rd, kernel_end(&k), bp, msg, msglen);
	}
	if (r == 0) {
		memcpy(vm__gpa(vm, BOOT_CMDLINE, cmdlen + 1), cmdline, cmdlen + 1);
		setup_boot_params(vm, bp, cmdlen);
		setup_page_tables(vm);
		setup_gdt(vm);
		r = mptable__write(vm__gpa(vm, EBDA_START, 0xa0000 - EBDA_START), EBDA_START,
				   0xa0000 - EBDA_START, vm->nr_vcpus);
		if (r < 0)
			snprintf(msg, msglen, "MP table for %d vCPUs does not fit", vm->nr_vcpus);
	}
	*bi = (struct boot_info){ bi->entry, BOOT_PARAMS, BOOT_PML4, BOOT_GDT, BOOT_IDT, BOOT_STACK };
	if (k.p)
		munmap(k.p, k.len);
	if (rd.p)
		munmap(rd.p, rd.len);
	return r;
}

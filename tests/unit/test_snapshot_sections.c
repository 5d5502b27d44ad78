/* Every fixed-size vm.state section has the size recorded for this snapshot
 * format in tests/vectors/snapshot-sections.txt (the savers pin their
 * structs to src/snapshot/sections.h at compile time; this pins
 * sections.h to the format version). */
#include <stdio.h>
#include <string.h>

#include "snapshot/sections.h"
#include "snapshot/snapshot.h"
#include "tap.h"

#define S(name) { #name, ST_SIZE_##name }
static const struct { const char *name; long size; } sections[] = {
	S(VM_IRQCHIP), S(VM_PIT), S(VM_CLOCK), S(VCPU_REGS), S(VCPU_SREGS), S(VCPU_XSAVE),
	S(VCPU_XCRS), S(VCPU_LAPIC), S(VCPU_EVENTS), S(VCPU_MPSTATE), S(VCPU_DEBUGREGS),
	S(VCPU_MSRS_HDR), S(VCPU_MSR_ENTRY), S(DEV_SERIAL), S(DEV_VIRTIO), S(DEV_VSOCK), S(DEV_NET),
	S(DEV_INITCHAN_HAVE), S(DEV_INITCHAN_HDR), S(DEV_INITCHAN_PAYLOAD),
};
#define N_SECTIONS (sizeof(sections) / sizeof(sections[0]))

/* The size recorded for (format, name), or -1. */
static long recorded(FILE *f, int format, const char *name)
{
	char line[256], n[64];
	int fmt;
	long size;

	rewind(f);
	while (fgets(line, sizeof(line), f))
		if (line[0] != '#' && sscanf(line, "%d %63s %ld", &fmt, n, &size) == 3 &&
		    fmt == format && strcmp(n, name) == 0)
			return size;
	return -1;
}

int main(void)
{
	FILE *f = fopen("tests/vectors/snapshot-sections.txt", "r");

	ok(f != NULL, "tests/vectors/snapshot-sections.txt opens");
	if (!f)
		return done_testing();
	for (size_t i = 0; i < N_SECTIONS; i++) {
		long want = recorded(f, SNAPSHOT_FORMAT, sections[i].name);

		if (want != sections[i].size)
			printf("# ""%s: %ld bytes in sections.h, %ld recorded for format %d — a section that changes size "
			     "needs a new SNAPSHOT_FORMAT\n", sections[i].name, sections[i].size, want, SNAPSHOT_FORMAT);
		ok(want == sections[i].size, "format %d section %s is %ld bytes", SNAPSHOT_FORMAT, sections[i].name,
		   sections[i].size);
	}
	fclose(f);
	return done_testing();
}

#ifndef SM_VMM_MPTABLE_H
#define SM_VMM_MPTABLE_H
/* Intel MultiProcessor Specification 1.4 tables: how the guest finds its
 * CPUs, the IOAPIC and the ISA interrupt wiring without ACPI. */
#include <stddef.h>
#include <stdint.h>

#define MPTABLE_IOAPIC_PINS 24

/* Writes the floating pointer + configuration table into buf, which the
 * guest sees at physical address gpa.  Returns bytes used or -ENOSPC/-EINVAL. */
int mptable__write(void *buf, uint64_t gpa, size_t size, int nr_cpus);
#endif

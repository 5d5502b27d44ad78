#include <errno.h>
#include <string.h>

#include "vmm/mptable.h"
#include "vmm/vm.h"

/* MP spec 1.4, chapter 4: entry types and sizes. */
enum { MP_PROCESSOR = 0, MP_BUS = 1, MP_IOAPIC = 2, MP_INTSRC = 3, MP_LINTSRC = 4 };
enum { MP_IRQ_INT = 0, MP_IRQ_NMI = 1, MP_IRQ_EXTINT = 3 };
#define APIC_VERSION	0x14
#define IOAPIC_VERSION	0x11
#define CPU_ENABLED	1
#define CPU_BSP		2

struct mpf {			/* floating pointer, 16 bytes */
	char sig[4];
	uint32_t physptr;
	uint8_t length, specrev, checksum, feature[5];
} __attribute__((packed));

struct mpc {			/* configuration table header, 44 bytes */
	char sig[4];
	uint16_t length;
	uint8_t spec, checksum;
	char oem[8], product[12];
	uint32_t oemptr;
	uint16_t oemsize, count;
	uint32_t lapic;
	uint32_t reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type, apicid, apicver, cpuflag;
	uint32_t signature, featureflag, reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type, busid;
	char bustype[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type, apicid, apicver, flags;
	uint32_t addr;
} __attribute__((packed));

struct mpc_irq {		/* I/O and local interrupt assignment entries */
	uint8_t type, irqtype;
	uint16_t irqflag;
	uint8_t srcbus, srcbusirq, dstapic, dstirq;
} __attribute__((packed));

static uint8_t checksum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (n--)
		sum += *b++;
	return (uint8_t)-sum;
}

static size_t table_size(int nr_cpus)
{
	return sizeof(struct mpf) + sizeof(struct mpc) + nr_cpus * sizeof(struct mpc_cpu) +
	       sizeof(struct mpc_bus) + sizeof(struct mpc_ioapic) +
	       (MPTABLE_IOAPIC_PINS + 2) * sizeof(struct mpc_irq);
}

int mptable__write(void *buf, uint64_t gpa, size_t size, int nr_cpus)
{
	struct mpf *mpf = buf;
	struct mpc *mpc = (struct mpc *)(mpf + 1);
	uint8_t *p = (uint8_t *)(mpc + 1);
	uint8_t ioapic_id = (uint8_t)nr_cpus;
	uint16_t count = 0;

	if (nr_cpus < 1 || nr_cpus > VM_MAX_VCPUS)
		return -EINVAL;
	if (table_size(nr_cpus) > size)
		return -ENOSPC;
	memset(buf, 0, table_size(nr_cpus));
	for (int i = 0; i < nr_cpus; i++, count++) {
		struct mpc_cpu c = { MP_PROCESSOR, (uint8_t)i, APIC_VERSION,
				     CPU_ENABLED | (i == 0 ? CPU_BSP : 0), 0x600, 0x201, { 0, 0 } };

		memcpy(p, &c, sizeof(c));
		p += sizeof(c);
	}
	memcpy(p, &(struct mpc_bus){ MP_BUS, 0, "ISA   " }, sizeof(struct mpc_bus));
	p += sizeof(struct mpc_bus), count++;
	memcpy(p, &(struct mpc_ioapic){ MP_IOAPIC, ioapic_id, IOAPIC_VERSION, 1, (uint32_t)GPA_IOAPIC },
	       sizeof(struct mpc_ioapic));
	p += sizeof(struct mpc_ioapic), count++;
	for (int pin = 0; pin < MPTABLE_IOAPIC_PINS; pin++, count++) {
		struct mpc_irq e = { MP_INTSRC, MP_IRQ_INT, 0, 0, (uint8_t)pin, ioapic_id, (uint8_t)pin };

		memcpy(p, &e, sizeof(e));
		p += sizeof(e);
	}
	/* LINT0 takes the 8259's ExtINT on the BSP; LINT1 is NMI everywhere */
	memcpy(p, &(struct mpc_irq){ MP_LINTSRC, MP_IRQ_EXTINT, 0, 0, 0, 0, 0 }, sizeof(struct mpc_irq));
	p += sizeof(struct mpc_irq), count++;
	memcpy(p, &(struct mpc_irq){ MP_LINTSRC, MP_IRQ_NMI, 0, 0, 0, 0xff, 1 }, sizeof(struct mpc_irq));
	p += sizeof(struct mpc_irq), count++;

	memcpy(mpc->sig, "PCMP", 4);
	mpc->length = (uint16_t)(p - (uint8_t *)mpc);
	mpc->spec = 4;
	memcpy(mpc->oem, "SUPERMCH", 8);
	memcpy(mpc->product, "SM-MICROVM  ", 12);
	mpc->count = count;
	mpc->lapic = (uint32_t)GPA_LAPIC;
	mpc->checksum = checksum(mpc, mpc->length);

	memcpy(mpf->sig, "_MP_", 4);
	mpf->physptr = (uint32_t)(gpa + sizeof(*mpf));
	mpf->length = 1;
	mpf->specrev = 4;
	mpf->checksum = checksum(mpf, sizeof(*mpf));
	return (int)(p - (uint8_t *)buf);
}

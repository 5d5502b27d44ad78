#ifndef SM_SNAPSHOT_STATE_H
#define SM_SNAPSHOT_STATE_H
/*
 * The vm.state file: a header and tagged sections (docs/snapshot-format.md).
 * Writers append sections to a growable buffer; readers look sections up
 * by tag and index with every length checked, because a snapshot on disk is
 * untrusted input.
 */
#include <stddef.h>
#include <stdint.h>

#define STATE_MAGIC	"SMSTATE\0"
#define STATE_VERSION	1

enum state_tag {
	ST_VM_IRQCHIP = 1, ST_VM_PIT = 2, ST_VM_CLOCK = 3,
	ST_VCPU_REGS = 10, ST_VCPU_SREGS, ST_VCPU_XSAVE, ST_VCPU_FPU, ST_VCPU_XCRS,
	ST_VCPU_LAPIC, ST_VCPU_MSRS, ST_VCPU_EVENTS, ST_VCPU_MPSTATE, ST_VCPU_DEBUGREGS,
	ST_DEV_SERIAL = 30, ST_DEV_VIRTIO, ST_DEV_INITCHAN, ST_DEV_BLK, ST_DEV_VSOCK,
	ST_DEV_NET,
};

struct state_buf {
	uint8_t *p;
	size_t len, cap;
	int err;		/* sticky -ENOMEM */
};

void state__init(struct state_buf *b);
void state__free(struct state_buf *b);
void state__add(struct state_buf *b, uint32_t tag, uint32_t index, const void *data, size_t len);

/* A validated, read-only view of a state file in memory. */
struct state_view {
	const uint8_t *p;
	size_t len;
};

/* 0, or -EINVAL with why set: bad magic/version, a section running past the end. */
int state__check(const struct state_view *v, char *why, size_t whylen);
/* The payload of (tag, index) or NULL; *len gets its size. */
const void *state__find(const struct state_view *v, uint32_t tag, uint32_t index, size_t *len);
/* Copy exactly len bytes of (tag, index) into out: 0, or -ENOENT / -EINVAL (size differs). */
int state__get(const struct state_view *v, uint32_t tag, uint32_t index, void *out, size_t len);
#endif

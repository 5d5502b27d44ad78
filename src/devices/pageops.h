#ifndef SM_DEVICES_PAGEOPS_H
#define SM_DEVICES_PAGEOPS_H
/*
 * Page operations for hosts that emulate guest kernel mode: the guest
 * kernel (guest/kernel/pageops.patch, "sm_pageops") asks the VMM to clear
 * or copy whole pages of guest RAM.  Format: docs/emulating-hosts.md
 * "Page operations".
 */
#include <stdint.h>
#include "vmm/vm.h"

#define PAGEOPS_PORT		0x5e0	/* outl(mailbox gpa / 64); inl gives the version */
#define PAGEOPS_VERSION		1
#define PAGEOPS_BOX_SIZE	32
#define PAGEOPS_MAX_PAGES	512	/* 2 MiB per request */

enum pageop { PAGEOP_CLEAR = 1, PAGEOP_COPY = 2 };

/* The status the VMM writes back; anything but DONE: the guest does it itself. */
enum pageop_status {
	PAGEOP_DONE = 0,
	PAGEOP_EOP = 1,		/* unknown op or reserved field set */
	PAGEOP_ECOUNT = 2,	/* 0 pages or more than PAGEOPS_MAX_PAGES */
	PAGEOP_EALIGN = 3,	/* dst or src not page aligned */
	PAGEOP_ERANGE = 4,	/* a range not inside one RAM region */
	PAGEOP_EOVERLAP = 5,	/* dst overlaps src or the mailbox */
	PAGEOP_EBOX = 6,	/* the mailbox is not in RAM: nothing written back */
};

struct pageops;

/* Claims PAGEOPS_PORT on vm's port-I/O bus; NULL on failure. */
struct pageops *pageops__new(struct vm *vm);
void pageops__free(struct pageops *p);
/* One request, as the port write makes it: the status (also written back). */
enum pageop_status pageops__run(struct pageops *p, uint64_t box_gpa);
/* Requests done and refused so far. */
void pageops__counts(const struct pageops *p, uint64_t *done, uint64_t *refused);
#endif

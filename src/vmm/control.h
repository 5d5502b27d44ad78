#ifndef SM_VMM_CONTROL_H
#define SM_VMM_CONTROL_H
/* Commands the host sends `sm vmm` on --control-fd, one per line (docs/vmm.md). */
#include <stddef.h>
#include <stdint.h>

enum control_kind {
	CONTROL_SNAPSHOT,		/* snapshot DIR */
	CONTROL_GO,			/* go [T0_NS]: a standby VM starts */
	CONTROL_PROFILE,		/* profile on|off: sample (--profile) or not */
};

struct control_cmd {
	enum control_kind kind;
	const char *dir;		/* CONTROL_SNAPSHOT: points into the line */
	uint64_t t0_ns;			/* CONTROL_GO: when the host sent it (CLOCK_MONOTONIC), or 0 */
	int on;				/* CONTROL_PROFILE: 1 on, 0 off */
};

/* line: len bytes without the '\n'.  now_ns bounds go's T0_NS (a time to
 * come is refused).  0, or -1 with a one-line msg. */
int control__parse(const char *line, size_t len, uint64_t now_ns, struct control_cmd *c,
		   char *msg, size_t msglen);
#endif

/*
 * The --control-fd command line parser: host input, so it is checked whole
 * (no NUL inside, exact words, numbers without sign, space or overflow)
 * before the VMM acts on it.
 */
#include <stdio.h>
#include <string.h>

#include "vmm/control.h"

#define T0_DIGITS_MAX 20		/* 2^64 - 1 has 20 digits */

/* 1..20 decimal digits, nothing else, no overflow: 0, or -1 */
static int parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > T0_DIGITS_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int parse_go(const char *arg, size_t len, uint64_t now_ns, struct control_cmd *c,
		    char *msg, size_t msglen)
{
	c->kind = CONTROL_GO;
	c->t0_ns = 0;
	if (len == 0)
		return 0;
	if (parse_u64(arg, len, &c->t0_ns) < 0) {
		snprintf(msg, msglen, "go: want 'go' or 'go T0_NS' (decimal CLOCK_MONOTONIC ns)");
		return -1;
	}
	if (c->t0_ns > now_ns) {
		snprintf(msg, msglen, "go: T0_NS %llu is later than now (%llu)",
			 (unsigned long long)c->t0_ns, (unsigned long long)now_ns);
		return -1;
	}
	return 0;
}

int control__parse(const char *line, size_t len, uint64_t now_ns, struct control_cmd *c,
		   char *msg, size_t msglen)
{
	if (memchr(line, '\0', len)) {
		snprintf(msg, msglen, "a command with a NUL byte");
		return -1;
	}
	if (len > 9 && !memcmp(line, "snapshot ", 9)) {
		c->kind = CONTROL_SNAPSHOT;
		c->dir = line + 9;
		return 0;
	}
	if ((len == 10 && !memcmp(line, "profile on", 10)) || (len == 11 && !memcmp(line, "profile off", 11))) {
		c->kind = CONTROL_PROFILE;
		c->on = len == 10;
		return 0;
	}
	if (len == 2 && !memcmp(line, "go", 2))
		return parse_go(line + 2, 0, now_ns, c, msg, msglen);
	if (len > 3 && !memcmp(line, "go ", 3))
		return parse_go(line + 3, len - 3, now_ns, c, msg, msglen);
	snprintf(msg, msglen, "unknown command (docs/vmm.md lists them)");
	return -1;
}

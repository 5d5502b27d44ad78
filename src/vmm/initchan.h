#ifndef SM_VMM_INITCHAN_H
#define SM_VMM_INITCHAN_H
/*
 * The init channel: guest init (PID 1) talks to the VMM over the second
 * UART in frames (docs/init-channel.md): hello, workload stdout/stderr,
 * the workload's exit.  Everything in it is guest-controlled.
 */
#include <stdbool.h>
#include <stdint.h>

#define INITCHAN_VERSION	2
#define INITCHAN_MAX_PAYLOAD	4096

enum initchan_type {
	IC_HELLO = 1,		/* payload: u8 version */
	IC_STDOUT = 2,		/* payload: bytes */
	IC_STDERR = 3,		/* payload: bytes */
	IC_EXIT = 4,		/* payload: u8 kind (0 exited, 1 signaled), u8 pad[3], s32 value */
	IC_LOG = 5,		/* payload: a line from init itself */
	IC_CONFIG = 6,		/* host -> guest: entries of u8 kind + NUL-terminated string */
	IC_TIME = 7,		/* host -> guest: s64 sec, u32 nsec of the host's CLOCK_REALTIME */
	IC_PREPARED = 8,	/* guest: rootfs ready, waiting for a CONFIG with the workload */
	IC_ENTROPY = 9,		/* host -> guest: u8 seed[32], u8 worker_id[16] */
};
#define INITCHAN_TIME_FRAME	(4 + 12)
#define INITCHAN_SEED_BYTES	32
#define INITCHAN_WORKER_ID_BYTES 16
#define INITCHAN_ENTROPY_FRAME	(4 + INITCHAN_SEED_BYTES + INITCHAN_WORKER_ID_BYTES)

/* CONFIG entry kinds */
#define IC_CFG_ARG	'a'	/* next argv element of the workload */
#define IC_CFG_ENV	'e'	/* "KEY=value" */
#define IC_CFG_RO_DISK	'r'	/* a disk (e.g. "vdb") to mark read-only */
#define IC_CFG_DISK	'd'	/* "vda:SECTORS": wait until the guest sees this size */
/* Kinds the host passes through from `--init K:VALUE` (init-channel.md, version 2). */
#define IC_CFG_PASS_KINDS "ehwulvt"

struct initchan_ops {
	void (*hello)(void *ctx, int version);
	void (*output)(void *ctx, int stream, const uint8_t *buf, uint32_t len);	/* 1 or 2 */
	void (*exit)(void *ctx, bool signaled, int value);
	void (*log)(void *ctx, const char *line);
	void (*error)(void *ctx, const char *why);	/* stream unusable from here on */
	void (*prepared)(void *ctx);			/* optional */
};

struct initchan {
	const struct initchan_ops *ops;
	void *ctx;
	bool broken;
	uint32_t have;			/* bytes of the current frame so far */
	uint8_t hdr[4];
	uint8_t payload[INITCHAN_MAX_PAYLOAD + 1];
};

/* Encode a CONFIG frame into out (4 + INITCHAN_MAX_PAYLOAD bytes); returns
 * its length, or -E2BIG if the entries do not fit.  kinds[i] goes with strs[i]. */
int initchan__encode_config(uint8_t *out, const char *kinds, const char *const *strs, int n);
/* Encode a TIME frame (INITCHAN_TIME_FRAME bytes) for the given wall time. */
void initchan__encode_time(uint8_t *out, int64_t sec, uint32_t nsec);
/* Encode an ENTROPY frame (INITCHAN_ENTROPY_FRAME bytes) from seed and worker id. */
void initchan__encode_entropy(uint8_t *out, const uint8_t *seed, const uint8_t *worker_id);
void initchan__init(struct initchan *c, const struct initchan_ops *ops, void *ctx);
void initchan__byte(struct initchan *c, uint8_t b);
#endif

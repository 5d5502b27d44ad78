#ifndef SM_NET_INITCHAN_PROTO_H
#define SM_NET_INITCHAN_PROTO_H
/*
 * The init channel's wire format, version 2 (docs/init-channel.md): frames
 * between guest init (PID 1) and the VMM over the second UART, both ways.
 * This file is compiled into both the VMM (libsm) and the guest init (musl,
 * static), so it uses nothing but libc.  Whatever arrives was written by
 * the other side, which may be hostile: every decoder checks lengths.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INITCHAN_VERSION	2
#define INITCHAN_HDR_LEN	4
#define INITCHAN_MAX_PAYLOAD	4096

enum initchan_type {
	IC_HELLO = 1,		/* guest: u8 version */
	IC_STDOUT = 2,		/* guest: bytes */
	IC_STDERR = 3,		/* guest: bytes */
	IC_EXIT = 4,		/* guest: u8 kind (0 exited, 1 signaled), u8 pad[3], s32 value */
	IC_LOG = 5,		/* guest: a line from init itself */
	IC_CONFIG = 6,		/* host: entries of u8 kind + NUL-terminated string */
	IC_TIME = 7,		/* host: s64 sec, u32 nsec of the host's CLOCK_REALTIME */
	IC_PREPARED = 8,	/* guest: rootfs ready, waiting for a CONFIG with the workload */
	IC_ENTROPY = 9,		/* host: u8 seed[32], u8 worker_id[16] */
};
#define INITCHAN_EXIT_LEN	8
#define INITCHAN_TIME_LEN	12
#define INITCHAN_TIME_FRAME	(INITCHAN_HDR_LEN + INITCHAN_TIME_LEN)
#define INITCHAN_SEED_BYTES	32
#define INITCHAN_WORKER_ID_BYTES 16
#define INITCHAN_ENTROPY_LEN	(INITCHAN_SEED_BYTES + INITCHAN_WORKER_ID_BYTES)
#define INITCHAN_ENTROPY_FRAME	(INITCHAN_HDR_LEN + INITCHAN_ENTROPY_LEN)

/* CONFIG entry kinds */
#define IC_CFG_ARG	'a'	/* next argv element of the workload */
#define IC_CFG_ENV	'e'	/* "KEY=value" */
#define IC_CFG_RO_DISK	'r'	/* a disk (e.g. "vdb") to mark read-only */
#define IC_CFG_DISK	'd'	/* "vda:SECTORS": wait until the guest sees this size */
/* Kinds the host passes through from `--init K:VALUE` (version 2). */
#define IC_CFG_PASS_KINDS "ehwulvt"

/* Who sent a frame: each side accepts only the other's types. */
enum initchan_dir { IC_FROM_GUEST, IC_FROM_HOST };

/* Writes a frame header; len <= INITCHAN_MAX_PAYLOAD. */
void initchan__put_header(uint8_t *out, int type, uint32_t len);
/* The payload length a received header announces, or -1 if the header is
 * malformed (flags set, length over the maximum, a type `from` never sends). */
int initchan__check_header(const uint8_t *hdr, enum initchan_dir from);

/* Encoders write the whole frame and return its length. */
size_t initchan__encode_hello(uint8_t *out);
size_t initchan__encode_exit(uint8_t *out, bool signaled, int32_t value);
void initchan__encode_time(uint8_t *out, int64_t sec, uint32_t nsec);
void initchan__encode_entropy(uint8_t *out, const uint8_t *seed, const uint8_t *worker_id);
/* A CONFIG frame (4 + INITCHAN_MAX_PAYLOAD bytes of out); its length, or
 * -E2BIG if the entries do not fit.  kinds[i] goes with strs[i]. */
int initchan__encode_config(uint8_t *out, const char *kinds, const char *const *strs, int n);

/* Payload decoders: 0, or -1 if the payload is malformed. */
int initchan__decode_exit(const uint8_t *p, size_t len, bool *signaled, int32_t *value);
int initchan__decode_time(const uint8_t *p, size_t len, int64_t *sec, uint32_t *nsec);
int initchan__decode_entropy(const uint8_t *p, size_t len, const uint8_t **seed, const uint8_t **worker_id);
#endif

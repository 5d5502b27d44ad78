#ifndef SM_NET_AGENT_PROTO_H
#define SM_NET_AGENT_PROTO_H
/*
 * The guest agent's wire protocol, version 2 (docs/agent-protocol.md).
 * Frames on a vsock stream: an 8-byte header, then the payload.  This file
 * is compiled into both the host (libsm) and the guest init (musl, static),
 * so it uses nothing but libc.
 */
#include <stddef.h>
#include <stdint.h>

#define AGENT_PROTO_VERSION	2	/* what PING answers: 2 added PUT */
#define AGENT_FRAME_VERSION	1	/* every header's version byte: unchanged since 1 */
#define AGENT_VSOCK_PORT	1024
#define AGENT_HDR_LEN		8
#define AGENT_MAX_PAYLOAD	65536
#define AGENT_MAX_ARGS		256
#define AGENT_MAX_ENV		256
#define AGENT_EXEC_TTY		1	/* exec flags */
#define AGENT_PATH_MAX		4095	/* a PUT entry's path or symlink target, bytes */
#define AGENT_NAME_MAX		255	/* one component of a PUT path */
#define AGENT_PUT_KEEP		1	/* PUT flags: an existing directory keeps its mode and owner */

enum agent_type {
	/* host → agent: the first frame of a connection says what it is for */
	AGENT_EXEC = 1,		/* exec request (below) */
	AGENT_PROXY = 2,	/* u16 TCP port; after OK the stream is raw bytes */
	AGENT_LISTENING = 3,	/* u16 TCP port → OK u8 (1 = listening) */
	AGENT_STOP = 4,		/* i32 signal for the workload → OK */
	AGENT_PING = 5,		/* → OK u8 protocol version */
	AGENT_PUT = 6,		/* (version 2) one entry of a file copy (below); again per entry */
	/* host → agent during an exec */
	AGENT_STDIN = 16,	/* bytes for the process's stdin; empty = EOF */
	AGENT_SIGNAL = 17,	/* i32 signal for the process */
	AGENT_RESIZE = 18,	/* u16 rows, u16 cols (tty only) */
	/* host → agent during a put */
	AGENT_DATA = 19,	/* bytes of the current file; empty = its end */
	AGENT_DONE = 20,	/* empty: no more entries → OK u32 entries written */
	/* agent → host */
	AGENT_OK = 32,
	AGENT_ERROR = 33,	/* UTF-8 message; the agent closes the connection */
	AGENT_STARTED = 34,	/* i32 pid */
	AGENT_STDOUT = 35,
	AGENT_STDERR = 36,
	AGENT_EXIT = 37,	/* u8 kind (0 exit, 1 signal), u8 pad[3], i32 value; then close */
};

struct agent_hdr {
	uint8_t version, type;
	uint16_t flags;
	uint32_t len;
};

struct agent_exec {
	uint32_t flags;
	uint16_t rows, cols;
	const char *cwd, *user;		/* "" = the default (/, root) */
	int argc, envc;
	const char *argv[AGENT_MAX_ARGS + 1];
	const char *env[AGENT_MAX_ENV + 1];
};

enum agent_put_kind { AGENT_PUT_FILE = 1, AGENT_PUT_DIR = 2, AGENT_PUT_SYMLINK = 3 };

struct agent_put {
	uint8_t kind, flags;
	uint16_t mode;			/* permission bits, <= 07777 (ignored for symlinks) */
	int64_t mtime;			/* seconds since the epoch; 0 = leave it at the write time */
	const char *path, *owner, *target;	/* owner as EXEC's user; target: symlinks only */
};

void agent__put16(uint8_t *p, uint16_t v);
void agent__put32(uint8_t *p, uint32_t v);
uint16_t agent__get16(const uint8_t *p);
uint32_t agent__get32(const uint8_t *p);

void agent_hdr__encode(uint8_t out[AGENT_HDR_LEN], int type, uint32_t len);
/* 0, or -1 with *why: wrong version, flags set, unknown type, too long. */
int agent_hdr__decode(const uint8_t in[AGENT_HDR_LEN], struct agent_hdr *h, const char **why);
/* Exec payload; e's strings point into payload (which must stay alive). */
int agent_exec__decode(const uint8_t *payload, uint32_t len, struct agent_exec *e, const char **why);
/* Whole EXEC frame (header included) into out: its length, or -1 if it does not fit. */
int agent_exec__encode(uint8_t *out, size_t cap, const struct agent_exec *e);
/* PUT payload; p's strings point into payload.  The path is checked with
 * agent_path__check, the target is non-empty exactly for a symlink. */
int agent_put__decode(const uint8_t *payload, uint32_t len, struct agent_put *p, const char **why);
/* Whole PUT frame into out: its length, or -1 (*why) if p is invalid or does not fit. */
int agent_put__encode(uint8_t *out, size_t cap, const struct agent_put *p, const char **why);
/* 0 if path is absolute, at most AGENT_PATH_MAX bytes, and every component
 * is non-empty, not "." or "..", at most AGENT_NAME_MAX bytes (so no "//"
 * and no trailing "/"; "/" itself is a path); else -1 with *why. */
int agent_path__check(const char *path, const char **why);
#endif

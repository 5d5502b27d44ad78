#ifndef SM_GUEST_AGENT_H
#define SM_GUEST_AGENT_H
/*
 * The guest agent (docs/agent-protocol.md): exec, port proxy, listener
 * checks, workload signals and file copies over vsock port 1024.  It runs as a child
 * process of init so that a bug in it cannot take PID 1 (and with it the
 * guest kernel) down, and so that it reaps its own exec'd processes
 * without racing init's waitpid(-1).
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent-proto.h"

/* Forks the agent and returns once it listens (or after AGENT_START_MS):
 * its pid in init, -1 if it could not start. */
pid_t agent__start(void);

/* netwarm.c: loopback up, and the guest kernel's costly first TCP connect done. */
void netwarm__run(void);

/* exec.c: a user as Docker reads it, from the current root's /etc/passwd
 * and /etc/group: supplementary groups are the user's memberships. */
#define IDENT_MAX_GROUPS 64
struct ident {
	uid_t uid;
	gid_t gid;
	int ngroups;			/* groups[0] is gid */
	gid_t groups[IDENT_MAX_GROUPS];
	char home[256];
};
/* "", "name", "uid", "name:group", "uid:gid": 0, or -1 with msg. */
int exec__resolve_user(const char *spec, struct ident *id, char *msg, size_t msglen);
/* In a child: become id (groups, gid, uid); -1 with errno. */
int exec__become(const struct ident *id);

/* exec.c: process creation without fork()'s page-table copy and
 * copy-on-write faults.  fn runs in a child that shares our memory, on its
 * own stack, until it execs or exits (we are suspended until then): it may
 * make system calls and use its stack, nothing else — no malloc, no stdio
 * but dprintf.  The child's pid, or -1 with errno. */
pid_t exec__vfork(int (*fn)(void *), void *arg);
/* The environment for a child, built before exec__vfork: base, then each
 * extra "K=V" replacing the same K or appended, a bare "K" removing K (as
 * putenv(3) would do to environ).  NULL-terminated; free() the array. */
char **exec__env(const char *const *base, int nbase, const char *const *extra, int nextra);
/* execvp(3) searching env's PATH (not ours); returns only on failure, errno set.
 * Safe in an exec__vfork child. */
void exec__search(const char *file, char *const argv[], char *const env[]);

/* exec.c: start a process for an exec request. */
struct agent_exec;
struct exec_io {
	pid_t pid;
	int in, out, err;	/* our ends; with a tty, in == out == the pty master, err = -1 */
};
/* 0, or -1 with msg (e.g. unknown user). */
int exec__spawn(const struct agent_exec *e, struct exec_io *io, char *msg, size_t msglen);

/* put.c: the entries of a PUT connection, one at a time.  Zeroed = ready. */
struct agent_put;
struct put {
	bool open;			/* a file entry waits for its DATA */
	int fd;				/* its temporary file */
	char tmp[AGENT_PATH_MAX + 32], final[AGENT_PATH_MAX + 1];
	char parent[AGENT_PATH_MAX + 1];	/* the last parent known to exist ("" = none) */
	uint16_t mode;
	int64_t mtime;
	bool owner_known;		/* owner → uid, gid: looked up once per owner */
	char owner[128];
	uid_t uid;
	gid_t gid;
	uint32_t entries;
};
/* A PUT entry: a directory or symlink is made at once, a file is opened for
 * its DATA.  0, or -1 with msg naming the path and the errno text. */
int put__entry(struct put *p, const struct agent_put *e, char *msg, size_t msglen);
/* DATA of the open file; n == 0 ends it (mode, owner, rename into place). */
int put__data(struct put *p, const uint8_t *b, uint32_t n, char *msg, size_t msglen);
/* Drops a half-written file (its temporary name only). */
void put__abort(struct put *p);

/* ports.c: is a TCP socket listening on port (IPv4 or IPv6)? */
bool ports__listening(unsigned port);
#endif

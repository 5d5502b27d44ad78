#ifndef SM_GUEST_AGENT_H
#define SM_GUEST_AGENT_H
/*
 * The guest agent (docs/agent-protocol.md): exec, port proxy, listener
 * checks and workload signals over vsock port 1024.  It runs as a child
 * process of init so that a bug in it cannot take PID 1 (and with it the
 * guest kernel) down, and so that it reaps its own exec'd processes
 * without racing init's waitpid(-1).
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

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

/* exec.c: start a process for an exec request. */
struct agent_exec;
struct exec_io {
	pid_t pid;
	int in, out, err;	/* our ends; with a tty, in == out == the pty master, err = -1 */
};
/* 0, or -1 with msg (e.g. unknown user). */
int exec__spawn(const struct agent_exec *e, struct exec_io *io, char *msg, size_t msglen);

/* ports.c: is a TCP socket listening on port (IPv4 or IPv6)? */
bool ports__listening(unsigned port);
#endif

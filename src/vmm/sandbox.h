#ifndef SM_VMM_SANDBOX_H
#define SM_VMM_SANDBOX_H
/*
 * The VMM's sandbox (docs/security.md): once the VM is set up, sm-vmm sets
 * no_new_privs and installs a seccomp allowlist for itself and every thread
 * it starts later — the KVM ioctls, the file and socket calls its devices
 * and snapshots need, nothing else.  A forbidden call is reported on the
 * status fd and stderr, and the VMM dies by SIGSYS.
 */
#include <stdbool.h>
#include <stddef.h>

/* Enters the sandbox unless SM_VMM_SANDBOX=0: 0, or -1 with msg.  status_fd
 * (or -1) gets the report of a forbidden call.  Without snapshots (sm-vmm
 * --no-snapshots) the calls that write a snapshot directory are forbidden
 * too, and open may not create or truncate a file.  With egress (sm-vmm
 * --egress) slirp may also open IPv4/IPv6 sockets. */
int sandbox__enter(int status_fd, bool snapshots, bool egress, char *msg, size_t msglen);
#endif

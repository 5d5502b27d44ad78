#ifndef SM_GUEST_NET_H
#define SM_GUEST_NET_H
/*
 * eth0 for egress (docs/network.md, "The guest's view"): when the kernel
 * command line carries sm.net=ADDR/PREFIX,GATEWAY,DNS,MTU (the VMM adds it
 * with --egress), init configures eth0 with ioctls before HELLO, so a boot
 * snapshot holds it configured; no DHCP client, no `ip` binary.  Without
 * it there is no eth0 at all (the VMM attached no device): only lo.
 */
#include <stdbool.h>
#include <stddef.h>

/* Reads /proc/cmdline; configures eth0 if asked.  0 (nothing asked, or
 * done), or -1 with msg. */
int net__setup(char *msg, size_t msglen);
/* The resolver for the workload's /etc/resolv.conf, or NULL without egress. */
const char *net__dns(void);
#endif

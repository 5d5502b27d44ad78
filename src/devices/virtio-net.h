#ifndef SM_DEVICES_VIRTIO_NET_H
#define SM_DEVICES_VIRTIO_NET_H
/*
 * virtio-net (virtio 1.1 §5.1) backed by libslirp: user-mode NAT in the
 * VMM, no privileges (docs/network.md).  Every frame the guest sends is
 * judged by the egress policy (src/net/egress-filter.h) before slirp sees
 * it.  slirp's sockets are served by the device's event loop thread
 * (src/net/evloop.c); slirp and the queues are guarded by the transport
 * lock.  The guest's network, as slirp is configured:
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "vmm/vm.h"

#define NET_GUEST_ADDR	"10.0.2.15"
#define NET_PREFIX	24
#define NET_GATEWAY	"10.0.2.2"	/* slirp's host: the host's 127.0.0.1 */
#define NET_DNS		"10.0.2.3"	/* slirp's resolver forwarder */
#define NET_MTU_DEFAULT	65520		/* slirp's largest; measured in docs/network.md */
#define NET_MTU_MIN	1280
#define NET_MTU_MAX	65520

struct virtio_net;
struct egress_policy;

/* The device on the next virtio-mmio slot, judging by *policy (kept by
 * pointer: it must outlive the device).  NULL with msg on failure. */
struct virtio_net *virtio_net__new(struct vm *vm, const struct egress_policy *policy,
				   const char *policy_name, int mtu, char *cmdline, size_t cmdlen,
				   char *msg, size_t msglen);
/* The kernel command line word guest init configures eth0 from. */
void virtio_net__cmdline(const struct virtio_net *n, char *out, size_t len);
/* Starts the slirp thread. 0 or -errno. */
int virtio_net__start(struct virtio_net *n);
/* Snapshots: no slirp callback (and no guest-RAM write) between the two. */
void virtio_net__pause(struct virtio_net *n);
void virtio_net__resume(struct virtio_net *n);
/* Unit tests without the thread: one round of slirp's fds and timers. */
int virtio_net__poll(struct virtio_net *n, int timeout_ms);
/* Has the guest a driver on the device (DRIVER_OK)?  A guest that unbound
 * it (a bake with egress.during_bake) is snapshotted without the device. */
bool virtio_net__driver_bound(struct virtio_net *n);
/* Frames dropped by the policy (tests, diagnostics). */
uint64_t virtio_net__denied(const struct virtio_net *n);
/* Snapshot state: the guest-visible configuration, re-checked on restore. */
struct virtio_net_state {
	uint8_t mac[6];
	uint16_t mtu;
};
void virtio_net__save(const struct virtio_net *n, struct virtio_net_state *out);
int virtio_net__restore(struct virtio_net *n, const struct virtio_net_state *in);
void virtio_net__free(struct virtio_net *n);
#endif

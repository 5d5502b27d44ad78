#ifndef SM_DEVICES_VIRTIO_VSOCK_H
#define SM_DEVICES_VIRTIO_VSOCK_H
/*
 * virtio-vsock (virtio 1.1 §5.10), emulated in the VMM, with Firecracker's
 * "hybrid" host side: the VMM listens on the Unix socket `uds`; a host
 * client connects, writes "CONNECT <port>\n", reads "OK <hostport>\n", and
 * then has a byte stream to guest vsock port <port>.  A guest connection to
 * host port P is relayed to the Unix socket "<uds>_<P>".  Host sockets are
 * served by an epoll thread (src/net/evloop.c); all state is guarded by
 * the transport lock.
 */
#include <stddef.h>
#include <stdint.h>
#include "vmm/vm.h"

#define VSOCK_DEFAULT_GUEST_CID	3

struct virtio_vsock;

/* Creates the device and, given a `uds` path, binds the listener (without
 * one the guest sees the device but nobody can connect: a VM booted for a
 * snapshot others restore with their own socket); it accepts from
 * virtio_vsock__listen or __start on.  NULL with msg on failure. */
struct virtio_vsock *virtio_vsock__new(struct vm *vm, uint64_t guest_cid, const char *uds,
				       char *cmdline, size_t cmdlen, char *msg, size_t msglen);
/* Clients may connect from now on (no-op without a socket). 0 or -errno. */
int virtio_vsock__listen(struct virtio_vsock *v);
/* Listens and starts the host-socket thread. 0 or -errno. */
int virtio_vsock__start(struct virtio_vsock *v);
/* Snapshots: the host port counter is saved, so a restored VM never
 * reuses a (host port, guest port) pair its guest may still remember. */
uint32_t virtio_vsock__next_port(struct virtio_vsock *v);
void virtio_vsock__set_next_port(struct virtio_vsock *v, uint32_t port);
/* Snapshots: no host-socket callback (and so no guest-RAM write by the
 * device) between pause and resume. */
void virtio_vsock__pause(struct virtio_vsock *v);
void virtio_vsock__resume(struct virtio_vsock *v);
/* Unit tests without the thread: one round of host-socket events. */
int virtio_vsock__poll(struct virtio_vsock *v, int timeout_ms);
/* After a snapshot restore: every host connection is gone; tell the guest
 * (VIRTIO_VSOCK_EVENT_TRANSPORT_RESET on the event queue) so it drops its
 * sockets too.  0, or -EAGAIN if the guest has no event buffer posted. */
int virtio_vsock__reset_transport(struct virtio_vsock *v);
/* Live host connections (tests, diagnostics). */
int virtio_vsock__nr_conns(struct virtio_vsock *v);
uint64_t virtio_vsock__guest_cid(struct virtio_vsock *v);
void virtio_vsock__free(struct virtio_vsock *v);
#endif

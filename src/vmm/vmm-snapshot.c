/*
 * What `sm vmm` puts in a snapshot and takes back out: VM and vCPU state,
 * the UARTs, every virtio-mmio transport, the disks' sizes and the init
 * channel decoder (a frame may be half-sent when we pause).  vsock host
 * connections are not saved: a restored guest gets a transport reset.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "devices/serial.h"
#include "devices/virtio-blk.h"
#include "devices/virtio-mmio.h"
#include "devices/virtio-net.h"
#include "devices/virtio-vsock.h"
#include "snapshot/sections.h"
#include "util/sha256.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"
#include "vmm/vmm.h"

struct serial_state {
	struct serial_regs regs;
	uint8_t rx[SERIAL_RX_MAX];
};
ST_PIN(struct serial_state, ST_SIZE_DEV_SERIAL);
ST_PIN(struct virtio_mmio_state, ST_SIZE_DEV_VIRTIO);
ST_PIN(uint32_t, ST_SIZE_DEV_VSOCK);
ST_PIN(struct virtio_net_state, ST_SIZE_DEV_NET);

static int hash_file(const char *path, char *out, size_t len)
{
	static uint8_t buf[1 << 20];
	struct sha256 h;
	uint8_t sum[32];
	char d[72];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	sha256__init(&h);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		sha256__update(&h, buf, (size_t)n);
	close(fd);
	if (n < 0)
		return -EIO;
	sha256__final(&h, sum);
	sha256__format(sum, d);
	snprintf(out, len, "%s", d);
	return 0;
}

/* The network device goes into the snapshot only while the guest drives
 * it: a guest that unbound its driver restores without one (network.md). */
static bool net_in_snapshot(struct vmm *m)
{
	return m->net && virtio_net__driver_bound(m->net);
}

static void save_devices(struct vmm *m, struct state_buf *b)
{
	static struct serial_state ss;
	struct serial *uarts[2] = { m->con_uart, m->chan_uart };
	uint32_t next_port;

	for (uint32_t i = 0; i < 2; i++) {
		serial__save(uarts[i], &ss.regs, ss.rx);
		state__add(b, ST_DEV_SERIAL, i, &ss, sizeof(ss));
	}
	for (int i = 0; i < m->vm.nr_virtio; i++) {
		struct virtio_mmio_state vs;

		virtio_mmio__save(m->vm.virtio[i], &vs);
		state__add(b, ST_DEV_VIRTIO, (uint32_t)i, &vs, sizeof(vs));
	}
	next_port = virtio_vsock__next_port(m->vsock);
	state__add(b, ST_DEV_VSOCK, 0, &next_port, sizeof(next_port));
	if (net_in_snapshot(m)) {
		struct virtio_net_state ns;

		virtio_net__save(m->net, &ns);
		state__add(b, ST_DEV_NET, 0, &ns, sizeof(ns));
	}
	initchan__save(&m->chan, b);
}

static int fill_meta(struct vmm *m, struct snapshot_meta *meta, char *msg, size_t msglen)
{
	memset(meta, 0, sizeof(*meta));
	meta->format = SNAPSHOT_FORMAT;
	meta->vcpus = m->vm.nr_vcpus;
	meta->mem_bytes = m->vm.mem_size;
	meta->disk_slots = VMM_MAX_DISKS;
	meta->net_mtu = !net_in_snapshot(m) ? 0 : m->o.restore ? m->snap.meta.net_mtu : m->o.egress_mtu;
	if (meta->net_mtu)
		snprintf(meta->egress_policy, sizeof(meta->egress_policy), "%s", m->o.egress);
	if (snapshot__fingerprint(&m->vm, meta->cpu, sizeof(meta->cpu)) < 0)
		return -EIO;
	if (m->o.restore) {		/* the kernel is whatever the source snapshot booted */
		memcpy(meta->kernel, m->snap.meta.kernel, sizeof(meta->kernel));
		memcpy(meta->kernel_sha256, m->snap.meta.kernel_sha256, sizeof(meta->kernel_sha256));
		return 0;
	}
	snprintf(meta->kernel, sizeof(meta->kernel), "%s", m->o.kernel);
	if (hash_file(m->o.kernel, meta->kernel_sha256, sizeof(meta->kernel_sha256)) < 0) {
		snprintf(msg, msglen, "snapshot: hashing %s: %s", m->o.kernel, strerror(errno));
		return -EIO;
	}
	return 0;
}

int vmm__save(struct vmm *m, const char *dir, char *msg, size_t msglen)
{
	struct snapshot_meta meta;
	struct state_buf b;
	int r;

	if (vm__pause_all(&m->vm) < 0) {
		snprintf(msg, msglen, "snapshot: the vCPUs did not pause within 5 s");
		return -ETIMEDOUT;
	}
	/* the vsock host-socket thread writes guest RAM too: park it until mem is written */
	virtio_vsock__pause(m->vsock);
	if (m->net)
		virtio_net__pause(m->net);
	state__init(&b);
	r = vm__save(&m->vm, &b, msg, msglen);
	for (int i = 0; r == 0 && i < m->vm.nr_vcpus; i++)
		r = vcpu__save(m->vm.vcpus[i], &b, msg, msglen);
	if (r == 0) {
		save_devices(m, &b);
		r = fill_meta(m, &meta, msg, msglen);
	}
	if (r == 0)
		r = snapshot__write(&m->vm, dir, &b, &meta, msg, msglen);
	state__free(&b);
	virtio_vsock__resume(m->vsock);
	if (m->net)
		virtio_net__resume(m->net);
	return r;
}

static int restore_devices(struct vmm *m, const struct state_view *sv, char *msg, size_t msglen)
{
	static struct serial_state ss;
	struct serial *uarts[2] = { m->con_uart, m->chan_uart };
	uint32_t next_port;

	for (uint32_t i = 0; i < 2; i++)
		if (state__get(sv, ST_DEV_SERIAL, i, &ss, sizeof(ss)) < 0 ||
		    serial__restore(uarts[i], &ss.regs, ss.rx) < 0)
			goto bad;
	for (int i = 0; i < m->vm.nr_virtio; i++) {
		struct virtio_mmio_state vs;

		if (state__get(sv, ST_DEV_VIRTIO, (uint32_t)i, &vs, sizeof(vs)) < 0 ||
		    virtio_mmio__restore(m->vm.virtio[i], &vs) < 0)
			goto bad;
	}
	if (state__get(sv, ST_DEV_VSOCK, 0, &next_port, sizeof(next_port)) < 0)
		goto bad;
	virtio_vsock__set_next_port(m->vsock, next_port);
	if (m->net) {
		struct virtio_net_state ns;

		if (state__get(sv, ST_DEV_NET, 0, &ns, sizeof(ns)) < 0 || virtio_net__restore(m->net, &ns) < 0)
			goto bad;
	}
	if (initchan__restore(&m->chan, sv) < 0) {
		snprintf(msg, msglen, "snapshot state: the init channel decoder's state is missing or impossible");
		return -EINVAL;
	}
	return 0;
bad:
	snprintf(msg, msglen, "snapshot state: a device's state is missing or malformed");
	return -EINVAL;
}

int vmm__restore(struct vmm *m, char *msg, size_t msglen)
{
	struct state_view sv = { m->snap.state, m->snap.state_len };
	int r = vm__restore(&m->vm, &sv, msg, msglen);

	for (int i = 0; r == 0 && i < m->vm.nr_vcpus; i++)
		r = vcpu__restore(m->vm.vcpus[i], &sv, msg, msglen);
	if (r == 0)
		r = restore_devices(m, &sv, msg, msglen);
	return r;
}

int vmm__resume(struct vmm *m, char *msg, size_t msglen)
{
	struct state_view sv = { m->snap.state, m->snap.state_len };
	/* a cold restore set them a moment ago: only a standby's have run on */
	int r = m->o.standby ? vm__restore_clock(&m->vm, &sv, msg, msglen) : 0;

	for (int i = 0; r == 0 && m->o.standby && i < m->vm.nr_vcpus; i++)
		r = vcpu__restore_tsc(m->vm.vcpus[i], &sv, msg, msglen);
	/* host connections did not survive; the guest must forget its side
	 * (and re-read its CID, which may differ).  Now, not at set-up: the
	 * device waits RESET_GRACE_MS from here for the guest to handle it.
	 * -EAGAIN: its driver had not posted event buffers yet, so it has no
	 * connections either. */
	if (r == 0)
		virtio_vsock__reset_transport(m->vsock);
	return r;
}

/*
 * A minimal virtio-vsock guest driver over fakevm, for the device's unit
 * test and its host-side benchmark: rings at fixed guest addresses, rx
 * buffers of one descriptor each (as Linux 6.2+ posts them), tx packets
 * as header + payload descriptors.  Include once per program.
 */
#ifndef SM_TEST_VSOCKDRV_H
#define SM_TEST_VSOCKDRV_H
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio-vsock.h"

#define QSIZE	16
#define VQDRV_QUEUES 3
#include "vqdrv.h"
#define RXBUF(i) (0x10000 + (i) * 0x2000)
#define RXLEN	(44 + 4096)
#define TXHDR	0x40000
#define TXDATA	0x41000
#define EVBUF	0x60000
enum { RX, TX, EV };
enum { REQUEST = 1, RESPONSE, RST, SHUTDOWN, RW, CREDIT_UPDATE, CREDIT_REQUEST };

struct hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

static struct virtio_vsock *dev;
static char uds[96];
static bool rx_credit_too;	/* rx() returns CREDIT_UPDATE packets too (else skips them) */

static inline void driver_init(void)
{
	vqdrv__start(0);
	for (int i = 0; i < QSIZE; i++) {
		set_desc(RX, i, RXBUF(i), RXLEN, 2, 0);
		offer(RX, (uint16_t)i);
	}
	w32(0x50, RX);
}

/* Guest packet on the tx queue; returns whether the device consumed it. */
static inline bool tx(const struct hdr *h, const void *payload, uint32_t plen)
{
	uint32_t len;

	memcpy(ram(TXHDR), h, sizeof(*h));
	set_desc(TX, 0, TXHDR, sizeof(*h), plen ? 1 : 0, 1);
	if (plen) {
		memcpy(ram(TXDATA), payload, plen);
		set_desc(TX, 1, TXDATA, plen, 0, 0);
	}
	offer(TX, 0);
	w32(0x50, TX);
	return used(TX, &len) == 0;
}

static inline struct hdr guest_hdr(uint16_t op, uint32_t gport, uint32_t hport, uint32_t len)
{
	return (struct hdr){ .src_cid = 3, .dst_cid = 2, .src_port = gport, .dst_port = hport, .len = len,
			     .type = 1, .op = op, .buf_alloc = 65536, .fwd_cnt = 0 };
}

/* Next packet the device put on the rx queue (payload into data), after
 * letting the host-socket loop run; the buffer is given back. */
static inline bool rx(struct hdr *h, char *data, size_t cap)
{
	uint32_t len;
	int id;

	for (int tries = 0; tries < 20; tries++) {
		id = used(RX, &len);
		if (id >= 0 && len == 0) {	/* a bad buffer the device skipped: mend it */
			set_desc(RX, id, RXBUF(id), RXLEN, 2, 0);
			offer(RX, (uint16_t)id);
			continue;
		}
		if (id >= 0 && !rx_credit_too && ((struct hdr *)ram(RXBUF(id)))->op == CREDIT_UPDATE) {
			offer(RX, (uint16_t)id);	/* a credit update the test did not ask about */
			w32(0x50, RX);
			continue;
		}
		if (id >= 0)
			break;
		virtio_vsock__poll(dev, 50);
	}
	if (id < 0)
		return false;
	memcpy(h, ram(RXBUF(id)), sizeof(*h));
	if (data && h->len <= cap)
		memcpy(data, ram(RXBUF(id) + sizeof(*h)), h->len);
	offer(RX, (uint16_t)id);
	w32(0x50, RX);
	return true;
}

/* Forget whatever the device still had to say (credit updates, RSTs). */
static inline void drain(void)
{
	struct hdr h;

	while (rx(&h, NULL, 0))
		;
}

static inline int client(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, uds);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	return fd;
}

static inline ssize_t read_to(int fd, char *buf, size_t n, int ms)
{
	struct pollfd p = { fd, POLLIN, 0 };

	for (int i = 0; i < ms / 20; i++) {
		virtio_vsock__poll(dev, 0);
		if (poll(&p, 1, 20) > 0)
			return read(fd, buf, n);
	}
	errno = ETIMEDOUT;
	return -1;
}

/* A host client through CONNECT + the guest's RESPONSE; *hport = its host port. */
static inline int open_stream(uint32_t gport, uint32_t *hport)
{
	char line[64] = "";
	struct hdr h;
	int fd = client();

	dprintf(fd, "CONNECT %u\n", gport);
	if (!rx(&h, NULL, 0) || h.op != REQUEST || h.dst_port != gport)
		return -1;
	*hport = h.src_port;
	tx(&(struct hdr){ .src_cid = 3, .dst_cid = 2, .src_port = gport, .dst_port = h.src_port, .type = 1,
			  .op = RESPONSE, .buf_alloc = 65536 }, NULL, 0);
	if (read_to(fd, line, sizeof(line) - 1, 1000) <= 0)
		return -1;
	return fd;
}

/* A device on a fresh fakevm listening on path (NULL: no socket); 0 or -1. */
static inline int vsockdrv_setup(const char *path)
{
	char cmdline[256] = "", msg[256] = "";
	const char *at;

	vm = fakevm_new(1 << 20);
	snprintf(uds, sizeof(uds), "%s", path ? path : "");
	memset(avail_idx, 0, sizeof(avail_idx));
	memset(used_seen, 0, sizeof(used_seen));
	dev = virtio_vsock__new(vm, 3, path ? uds : NULL, cmdline, sizeof(cmdline), msg, sizeof(msg));
	at = strstr(cmdline, "virtio_mmio.device=4K@");
	if (!dev || !at || virtio_vsock__listen(dev) < 0) {
		fprintf(stderr, "vsock device: %s\n", msg);
		return -1;
	}
	base = strtoull(at + 22, NULL, 16);
	return 0;
}
#endif

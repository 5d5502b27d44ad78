/*
 * virtio-net through the virtio-mmio registers, as a guest driver would
 * drive it (virtio 1.1 §5.1), with real libslirp behind it: ARP answered,
 * hostile chains (short, oversize, offloads asked for, tiny receive
 * buffers) dropped without harm, a TCP SYN to 10.0.2.2 reaching a listener
 * on the host's 127.0.0.1 only when the policy allows 127.0.0.1
 * (docs/network.md).
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/virtio-net.h"
#include "net/egress-policy.h"
#include "tap.h"

#define QSIZE	16
#define VQDRV_QUEUES 2
#include "vqdrv.h"
#define RXBUF(i) (0x10000 + (i) * 0x2000)
#define RXLEN	0x2000
#define TXBUF	0x40000
#define HDR	12
enum { RX, TX };

static struct virtio_net *dev;
static struct egress_policy policy;
static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static void driver_init(uint32_t rxlen)
{
	vqdrv__start((1 << 5) | (1 << 3) | (1 << 1));	/* MAC, MTU, GUEST_CSUM */
	for (int i = 0; i < QSIZE; i++) {
		set_desc(RX, i, RXBUF(i), rxlen, 2, 0);
		offer(RX, (uint16_t)i);
	}
	w32(0x50, RX);
}

/* A frame (header first) on the tx queue; whether it was completed. */
static bool tx_raw(const uint8_t *buf, uint32_t len)
{
	uint32_t ulen;

	memcpy(ram(TXBUF), buf, len);
	set_desc(TX, 0, TXBUF, len, 0, 0);
	offer(TX, 0);
	w32(0x50, TX);
	return used(TX, &ulen) == 0;
}

static bool tx_frame(const uint8_t *frame, uint32_t len)
{
	static uint8_t buf[HDR + 70000];

	memset(buf, 0, HDR);
	memcpy(buf + HDR, frame, len);
	return tx_raw(buf, HDR + len);
}

/* The next frame the device delivered (after slirp's loop ran): its
 * length without the header (0: a buffer completed empty), -1: none. */
static int rx(uint8_t *out, size_t cap)
{
	uint32_t len;
	int id = -1;

	for (int tries = 0; tries < 20 && (id = used(RX, &len)) < 0; tries++)
		virtio_net__poll(dev, 20);
	if (id < 0)
		return -1;
	if (len >= HDR && len - HDR <= cap)
		memcpy(out, ram(RXBUF(id) + HDR), len - HDR);
	offer(RX, (uint16_t)id);
	w32(0x50, RX);
	return len >= HDR ? (int)(len - HDR) : 0;
}

static size_t arp_request(uint8_t *f)
{
	static const uint8_t head[] = { 0, 1, 8, 0, 6, 4, 0, 1 };

	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	f[12] = 8, f[13] = 6;
	memcpy(f + 14, head, sizeof(head));
	memcpy(f + 22, guest_mac, 6);
	inet_pton(AF_INET, "10.0.2.15", f + 28);
	memset(f + 32, 0, 6);
	inet_pton(AF_INET, "10.0.2.2", f + 38);
	return 42;
}

static uint16_t csum(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* A TCP SYN from 10.0.2.15:40000 to 10.0.2.2:port, checksums right. */
static size_t tcp_syn(uint8_t *f, const uint8_t gw_mac[6], uint16_t port)
{
	uint8_t *ip = f + 14, *tcp = ip + 20, pseudo[12];
	uint16_t c;

	memset(f, 0, 54);
	memcpy(f, gw_mac, 6);
	memcpy(f + 6, guest_mac, 6);
	f[12] = 8;
	ip[0] = 0x45, ip[3] = 40, ip[8] = 64, ip[9] = 6;
	inet_pton(AF_INET, "10.0.2.15", ip + 12);
	inet_pton(AF_INET, "10.0.2.2", ip + 16);
	c = csum(ip, 20, 0);
	ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
	tcp[0] = 40000 >> 8, tcp[1] = 40000 & 0xff, tcp[2] = (uint8_t)(port >> 8), tcp[3] = (uint8_t)port;
	tcp[7] = 1, tcp[12] = 5 << 4, tcp[13] = 0x02, tcp[14] = 0xff, tcp[15] = 0xff;
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0, pseudo[9] = 6, pseudo[10] = 0, pseudo[11] = 20;
	c = csum(tcp, 20, (uint32_t)(0xffff & ~csum(pseudo, 12, 0)));
	tcp[16] = (uint8_t)(c >> 8), tcp[17] = (uint8_t)c;
	return 54;
}

static void make_dev(const char *spec)
{
	char msg[256];

	if (dev) {
		virtio_net__free(dev);
		fakevm_free(vm);
	}
	ok(egress_policy__parse(spec, &policy, msg, sizeof(msg)) == 0, "policy %s parses", spec);
	vm = fakevm_new(1 << 20);
	dev = virtio_net__new(vm, &policy, spec, 65520, NULL, 0, msg, sizeof(msg));
	ok(dev != NULL, "device created (%s)", dev ? "ok" : msg);
	base = 0xd0000000;
}

/* ARP for the gateway: slirp answers with its MAC (into gw_mac). */
static bool arp_gateway(uint8_t gw_mac[6])
{
	uint8_t f[64], in[2048];
	int n;

	tx_frame(f, (uint32_t)arp_request(f));
	n = rx(in, sizeof(in));
	if (n < 42 || in[12] != 8 || in[13] != 6 || in[21] != 2)
		return false;
	memcpy(gw_mac, in + 22, 6);
	return true;
}

static void test_identity_and_arp(void)
{
	uint8_t cfg[12], gw[6];

	make_dev("allowlist:127.0.0.1/32");
	is(r32(0x008), 1, "device id: network (1)");
	for (int i = 0; i < 12; i++)
		bus__access(vm->mmio, base + 0x100 + (uint64_t)i, cfg + i, 1, false);
	ok(!memcmp(cfg, guest_mac, 6), "config: MAC 52:54:00:12:34:56");
	is(cfg[10] | cfg[11] << 8, 65520, "config: MTU 65520");
	driver_init(RXLEN);
	ok(arp_gateway(gw), "ARP for 10.0.2.2 answered by slirp");
}

static void test_hostile_chains(void)
{
	uint8_t buf[HDR + 70000] = { 0 }, gw[6];

	ok(tx_raw(buf, 5), "a chain shorter than the header is completed");
	ok(tx_raw(buf, HDR + 10), "a frame shorter than an Ethernet header is completed");
	ok(tx_raw(buf, HDR + 14 + 4 + 65520 + 1), "a frame over the MTU is completed");
	buf[0] = 1;			/* VIRTIO_NET_HDR_F_NEEDS_CSUM: not offered */
	arp_request(buf + HDR);
	ok(tx_raw(buf, HDR + 42), "a header asking for an offload is completed");
	is(rx(buf, sizeof(buf)), -1, "none of them reached slirp (no ARP answer)");
	is(r32(0x70) & 0x40, 0, "the device did not fail");
	ok(arp_gateway(gw), "and a good frame still works");
	driver_init(8);			/* receive buffers too small for any frame */
	arp_request(buf + HDR);
	buf[0] = 0;
	tx_raw(buf, HDR + 42);
	is(rx(buf, sizeof(buf)), 0, "a receive buffer too small: completed empty");
}

static int listener(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	listen(fd, 4);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	*port = ntohs(sa.sin_port);
	return fd;
}

static bool rst_seen;		/* an RST from 10.0.2.2 came back */

static bool is_rst_from_gateway(const uint8_t *f, int n)
{
	static const uint8_t gw[4] = { 10, 0, 2, 2 };

	return n >= 54 && f[12] == 8 && f[13] == 0 && f[23] == 6 && !memcmp(f + 26, gw, 4) &&
	       (f[14 + 20 + 13] & 0x04);
}

/* Does a SYN to 10.0.2.2:port get a host connection on 127.0.0.1? */
static bool syn_reaches_host(int lfd, uint16_t port)
{
	uint8_t f[64], gw[6], in[2048];
	struct pollfd p = { lfd, POLLIN, 0 };
	int c;

	driver_init(RXLEN);
	if (!arp_gateway(gw))
		return false;
	rst_seen = false;
	tx_frame(f, (uint32_t)tcp_syn(f, gw, port));
	for (int i = 0; i < 10; i++) {
		virtio_net__poll(dev, 20);
		rst_seen |= is_rst_from_gateway(in, rx(in, sizeof(in)));
	}
	if (poll(&p, 1, 200) <= 0)
		return false;
	c = accept(lfd, NULL, NULL);
	if (c >= 0)
		close(c);
	return c >= 0;
}

static void test_policy(void)
{
	uint16_t port;
	int lfd = listener(&port);

	make_dev("allowlist:127.0.0.1/32");
	ok(syn_reaches_host(lfd, port), "allowlist:127.0.0.1/32: a SYN to 10.0.2.2:%u reaches 127.0.0.1", port);
	is(virtio_net__denied(dev), 0, "nothing denied");
	make_dev("deny_private");
	ok(!syn_reaches_host(lfd, port), "deny_private: the same SYN never reaches the host");
	ok(virtio_net__denied(dev) >= 1, "the VMM dropped it before slirp");
	ok(rst_seen, "and answered it with a RST that comes from 10.0.2.2 (the guest's view)");
	close(lfd);
}

int main(void)
{
	test_identity_and_arp();
	test_hostile_chains();
	test_policy();
	virtio_net__free(dev);
	fakevm_free(vm);
	return done_testing();
}

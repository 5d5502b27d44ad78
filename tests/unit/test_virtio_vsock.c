/*
 * virtio-vsock through the virtio-mmio registers, as the guest driver would
 * drive it (virtio 1.1 §5.10), with host clients on the hybrid Unix socket
 * (docs/vsock.md): packets, credit, RST, hostile descriptors and clients.
 */
#include <stdlib.h>

#include "tap.h"
#include "vsockdrv.h"

static char dir[64];

static void test_identity(void)
{
	uint64_t cid = 0;

	is(r32(0x008), 19, "device id: socket (19)");
	bus__access(vm->mmio, base + 0x100, (uint8_t *)&cid, 8, false);
	is(cid, 3, "config: guest_cid 3");
}

static void test_host_connect(void)
{
	char line[64] = "", data[64] = "";
	struct hdr h;
	uint32_t hport;
	int fd;

	driver_init();
	fd = client();
	ok(fd >= 0, "host client connects to %s", uds);
	dprintf(fd, "CONNECT 1024\n");
	ok(rx(&h, NULL, 0) && h.op == REQUEST && h.dst_port == 1024 && h.dst_cid == 3 && h.src_cid == 2,
	   "CONNECT 1024 → REQUEST to guest port 1024");
	ok(h.src_port >= (1u << 30), "host port from the ephemeral range: %u", h.src_port);
	hport = h.src_port;
	tx(&(struct hdr){ .src_cid = 3, .dst_cid = 2, .src_port = 1024, .dst_port = hport, .type = 1,
			  .op = RESPONSE, .buf_alloc = 65536 }, NULL, 0);
	ok(read_to(fd, line, sizeof(line) - 1, 1000) > 0, "client reads the answer");
	snprintf(data, sizeof(data), "OK %u\n", hport);
	is_str(line, data, "answer is OK <hostport>");
	write(fd, "hello", 5);
	ok(rx(&h, data, sizeof(data)) && h.op == RW && h.len == 5 && !memcmp(data, "hello", 5),
	   "host bytes reach the guest as RW");
	is(h.buf_alloc, 256 * 1024, "device advertises its buffer space");
	h = guest_hdr(RW, 1024, hport, 5);
	tx(&h, "world", 5);
	memset(line, 0, sizeof(line));
	ok(read_to(fd, line, sizeof(line), 1000) == 5 && !strcmp(line, "world"), "guest RW reaches the host client");
	close(fd);
	ok(rx(&h, NULL, 0) && h.op == SHUTDOWN && (h.flags & 2), "client close → SHUTDOWN(send) to the guest");
	h = guest_hdr(SHUTDOWN, 1024, hport, 0);
	h.flags = 3;
	tx(&h, NULL, 0);
	ok(rx(&h, NULL, 0) && h.op == RST, "guest shuts down too → RST, connection gone");
	is(virtio_vsock__nr_conns(dev), 0, "no connections left");
}

static void test_credit(void)
{
	char big[100], data[128];
	struct hdr h;
	uint32_t hport;
	int fd = open_stream(1024, &hport);

	drain();

	ok(fd >= 0, "credit: stream open");
	h = guest_hdr(CREDIT_UPDATE, 1024, hport, 0);
	h.buf_alloc = 8;			/* the guest has room for 8 bytes */
	tx(&h, NULL, 0);
	memset(big, 'x', sizeof(big));
	write(fd, big, sizeof(big));
	ok(rx(&h, data, sizeof(data)) && h.op == RW && h.len == 8, "only the guest's 8 bytes of credit are sent");
	ok(!rx(&h, NULL, 0), "then nothing until the guest frees space");
	h = guest_hdr(CREDIT_UPDATE, 1024, hport, 0);
	h.buf_alloc = 8;
	h.fwd_cnt = 8;
	tx(&h, NULL, 0);
	ok(rx(&h, data, sizeof(data)) && h.op == RW && h.len == 8, "credit update → the next 8 bytes");
	h = guest_hdr(CREDIT_REQUEST, 1024, hport, 0);
	h.buf_alloc = 8;
	h.fwd_cnt = 8;				/* still full: no data may come */
	tx(&h, NULL, 0);
	rx_credit_too = true;
	ok(rx(&h, NULL, 0) && h.op == CREDIT_UPDATE && h.fwd_cnt == 0, "CREDIT_REQUEST → CREDIT_UPDATE");
	rx_credit_too = false;
	close(fd);
	rx(&h, NULL, 0);
	h = guest_hdr(RST, 1024, hport, 0);
	tx(&h, NULL, 0);
	is(virtio_vsock__nr_conns(dev), 0, "guest RST frees the connection");
}

/* The host client does not read; the guest may send what the host socket
 * takes plus its 256 KiB of credit and no more: the excess is refused with
 * RST, our memory stays bounded by the credit. */
static void test_overrun(void)
{
	static char chunk[60000];
	struct hdr h;
	uint32_t hport, sent = 0;
	int fd = open_stream(1024, &hport);
	bool reset = false;

	drain();

	memset(chunk, 'y', sizeof(chunk));
	while (!reset && sent < 4000000) {
		h = guest_hdr(RW, 1024, hport, sizeof(chunk));
		tx(&h, chunk, sizeof(chunk));
		sent += sizeof(chunk);
		reset = virtio_vsock__nr_conns(dev) == 1 && rx(&h, NULL, 0) && h.op == RST;
	}
	ok(reset && sent > 256 * 1024 && sent <= 256 * 1024 + 4 * 1024 * 1024,
	   "guest past its credit is reset (after %u bytes: credit + the socket's buffer)", sent);
	close(fd);
	is(virtio_vsock__nr_conns(dev), 0, "and the connection is gone");
}

static void test_guest_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct hdr h;
	char buf[16] = "";
	int l = socket(AF_UNIX, SOCK_STREAM, 0), c;

	drain();

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_5000", uds);
	bind(l, (struct sockaddr *)&sa, sizeof(sa));
	listen(l, 4);
	h = guest_hdr(REQUEST, 777, 5000, 0);
	tx(&h, NULL, 0);
	ok(rx(&h, NULL, 0) && h.op == RESPONSE && h.dst_port == 777, "guest → host port 5000 (listening): RESPONSE");
	c = accept(l, NULL, NULL);
	h = guest_hdr(RW, 777, 5000, 3);
	tx(&h, "abc", 3);
	ok(c >= 0 && read(c, buf, sizeof(buf)) == 3 && !strcmp(buf, "abc"), "bytes reach <uds>_5000");
	h = guest_hdr(REQUEST, 778, 5001, 0);
	tx(&h, NULL, 0);
	ok(rx(&h, NULL, 0) && h.op == RST && h.dst_port == 778, "guest → host port 5001 (nothing there): RST");
	h = guest_hdr(RST, 777, 5000, 0);
	tx(&h, NULL, 0);
	ok(read(c, buf, sizeof(buf)) == 0, "guest RST closes the host side");
	close(c);
	close(l);
	unlink(sa.sun_path);
	is(virtio_vsock__nr_conns(dev), 0, "nothing left");
}

static void test_bad_clients(void)
{
	char buf[64];
	int fd = client(), fd2, good;
	uint32_t hport;

	drain();

	dprintf(fd, "GET / HTTP/1.0\n");
	ok(read_to(fd, buf, sizeof(buf), 1000) == 0, "garbage before CONNECT: closed");
	close(fd);
	fd = client();
	memset(buf, 'z', 40);
	write(fd, buf, 40);
	ok(read_to(fd, buf, sizeof(buf), 1000) <= 0 && errno != ETIMEDOUT, "40 bytes without a newline: closed");
	close(fd);
	fd = client();
	dprintf(fd, "CONNECT 99999999999\n");
	ok(read_to(fd, buf, sizeof(buf), 1000) == 0, "port out of range: closed");
	close(fd);
	fd = client();
	write(fd, "CONNECT 1024\0x\n", 15);		/* a NUL does not end the line */
	ok(read_to(fd, buf, sizeof(buf), 1000) == 0, "CONNECT 1024<NUL>x: closed");
	close(fd);
	fd = client();
	dprintf(fd, "CONNECT 10");			/* part of a line, then gone */
	virtio_vsock__poll(dev, 0);
	close(fd);
	for (int i = 0; i < 5; i++)
		virtio_vsock__poll(dev, 0);
	is(virtio_vsock__nr_conns(dev), 0, "a client that hangs up mid-line is closed at once, not at its time-out");
	fd2 = client();				/* connects and says nothing: stays until its time-out */
	good = open_stream(1024, &hport);
	ok(good >= 0, "a well-behaved client still works beside them");
	close(good);
	close(fd2);
	for (int i = 0; i < 200; i++) {		/* connect-and-drop */
		fd = client();
		if (i % 2)
			dprintf(fd, "CONNECT 1024\n");
		close(fd);
		virtio_vsock__poll(dev, 0);
	}
	for (int i = 0; i < 1000; i++) {	/* the guest answers the REQUESTs it got */
		struct hdr h;

		if (!rx(&h, NULL, 0))
			break;
		if (h.op == REQUEST) {
			h = (struct hdr){ .src_cid = 3, .dst_cid = 2, .src_port = h.dst_port, .dst_port = h.src_port,
					  .type = 1, .op = RESPONSE, .buf_alloc = 65536 };
			tx(&h, NULL, 0);
		} else if (h.op != RST) {
			h = (struct hdr){ .src_cid = 3, .dst_cid = 2, .src_port = h.dst_port, .dst_port = h.src_port,
					  .type = 1, .op = RST };
			tx(&h, NULL, 0);
		}
	}
	is(virtio_vsock__nr_conns(dev), 0, "200 connect-and-drop clients leave no connection behind");
}

static void test_malformed(void)
{
	struct hdr h;
	uint32_t len, hport;
	int fd;

	drain();

	set_desc(TX, 0, TXHDR, 20, 0, 0);	/* shorter than a header */
	offer(TX, 0);
	w32(0x50, TX);
	ok(used(TX, &len) == 0 && len == 0, "short tx packet: consumed and dropped");
	h = guest_hdr(RW, 1, 2, 0);
	h.src_cid = 99;
	ok(tx(&h, NULL, 0) && !rx(&h, NULL, 0), "wrong source CID: dropped, no answer");
	h = guest_hdr(RW, 4242, 4343, 0);
	tx(&h, NULL, 0);
	ok(rx(&h, NULL, 0) && h.op == RST && h.dst_port == 4242, "data for no connection: RST");
	fd = open_stream(1024, &hport);
	h = guest_hdr(RW, 1024, hport, 1000);	/* claims 1000 bytes, carries 10 */
	tx(&h, "0123456789", 10);
	ok(rx(&h, NULL, 0) && h.op == RST, "length beyond the buffer: that connection is reset");
	close(fd);
	fd = open_stream(1024, &hport);
	h = guest_hdr(99, 1024, hport, 0);
	tx(&h, NULL, 0);
	ok(rx(&h, NULL, 0) && h.op == RST, "unknown op: reset");
	close(fd);
	set_desc(TX, 0, 0xfffff000ULL, 44, 0, 0);	/* outside guest RAM */
	offer(TX, 0);
	w32(0x50, TX);
	ok(used(TX, &len) == 0 && len == 0, "tx descriptor outside RAM: completed empty");
	driver_init();
	set_desc(RX, 0, 0xfffff000ULL, RXLEN, 2, 0);	/* a hostile rx buffer */
	set_desc(RX, 1, RXBUF(1), 10, 2, 0);		/* too small for a header */
	fd = open_stream(1024, &hport);
	ok(fd >= 0, "bad rx buffers are skipped; the next good one is used");
	close(fd);
	ok(!(r32(0x70) & 64), "device still healthy");
	driver_init();
}

/* A guest that floods REQUESTs (to a port where nothing listens) while not
 * reading its rx queue: the owed RSTs are bounded by the slots a guest may
 * hold (224 of 256) plus the RST queue (64), the rest is dropped with a
 * log line, and it all drains afterwards. */
static void test_request_flood(void)
{
	struct hdr h;
	int n, rsts = 0;

	drain();
	for (int i = 0; i < 400; i++) {
		h = guest_hdr(REQUEST, 20000 + (uint32_t)i, 6000, 0);
		tx(&h, NULL, 0);
	}
	n = virtio_vsock__nr_conns(dev);
	ok(n > 0 && n <= 224, "a guest holds at most 224 of the 256 slots under a REQUEST flood (%d in use)", n);
	while (rx(&h, NULL, 0))
		rsts += h.op == RST;
	ok(rsts >= 224 + 64 && rsts < 400, "RSTs owed were sent once the guest read them: slots + RST queue, at least (%d)", rsts);
	is(virtio_vsock__nr_conns(dev), 0, "and nothing is left");
}

static void test_reset_transport(void)
{
	uint32_t hport, len, id = 0xff;
	struct hdr h;
	int fd;
	char c;

	driver_init();
	ok(virtio_vsock__reset_transport(dev) == -EAGAIN, "no event buffer: -EAGAIN");
	set_desc(EV, 0, EVBUF, 4, 2, 0);
	offer(EV, 0);
	w32(0x50, EV);
	fd = open_stream(1024, &hport);
	ok(virtio_vsock__reset_transport(dev) == 0, "reset_transport with an event buffer");
	ok(used(EV, &len) == 0 && len == 4, "event used, 4 bytes");
	memcpy(&id, ram(EVBUF), 4);
	is(id, 0, "VIRTIO_VSOCK_EVENT_TRANSPORT_RESET");
	is(virtio_vsock__nr_conns(dev), 0, "connections dropped");
	ok(read_to(fd, &c, 1, 500) == 0, "host client sees EOF");
	close(fd);

	/* the guest would answer with its old CID until it re-reads the config */
	fd = client();
	dprintf(fd, "CONNECT 1024\n");
	ok(!rx(&h, NULL, 0), "after a reset, a host REQUEST waits for the guest to re-read its CID");
	is(r32(0x100), 3, "the guest reads its CID");
	ok(rx(&h, NULL, 0) && h.op == REQUEST && h.dst_port == 1024, "then the REQUEST goes out");
	close(fd);
}

/* A VM booted without --vsock-uds (e.g. for a boot snapshot) has the
 * device, but nobody to connect to: the guest gets RST, not a path "_P". */
static void test_no_socket(void)
{
	static struct vm *first;	/* its bus still holds the old transport: keep it reachable */
	struct hdr h;

	first = vm;
	virtio_vsock__free(dev);
	ok(first && vsockdrv_setup(NULL) == 0, "a device without a socket");
	driver_init();
	h = guest_hdr(REQUEST, 900, 5000, 0);
	tx(&h, NULL, 0);
	ok(rx(&h, NULL, 0) && h.op == RST && h.dst_port == 900, "guest → host port 5000: RST");
	is(virtio_vsock__nr_conns(dev), 0, "nothing left");
	ok(access("_5000", F_OK) < 0, "no relative socket path was tried");
}

int main(void)
{
	char path[80];

	snprintf(dir, sizeof(dir), "/tmp/sm-vsock-test.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/v.sock", dir);
	ok(vsockdrv_setup(path) == 0, "device created, declared on the kernel command line");
	test_identity();
	test_host_connect();
	test_credit();
	test_overrun();
	test_guest_connect();
	test_bad_clients();
	test_malformed();
	test_request_flood();
	test_reset_transport();
	test_no_socket();
	virtio_vsock__free(dev);
	rmdir(dir);
	return done_testing();
}

/*
 * libFuzzer: guest packets on the virtio-vsock tx queue
 * (src/devices/virtio-vsock.c, virtio 1.1 §5.10.6) through the device's
 * notify path, with the host side real: a Unix listener on "<uds>_5000"
 * whose connections the harness reads, writes and closes as the input
 * says.  Every packet the device puts on the rx queue must be a well-formed
 * host → guest header; a first REQUEST for a (guest port, host port) pair
 * must be answered, RESPONSE for port 5000 and RST for any other; a reset
 * must leave no connection behind.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "fuzzvm.h"
#include "vsockdrv.h"

#define LISTEN_PORT	5000
#define MAX_PACKETS	32
#define MAX_PLEN	0x8000		/* TXDATA .. EVBUF */
#define MAX_HOST	64

static int listen_fd = -1, host_fds[MAX_HOST], nr_host;
static char dir[64];

/* (guest port, host port) pairs this input has used, and the answers owed. */
struct pair {
	uint32_t gport, hport;
	int want;			/* op the device owes the guest, or 0 */
};
static struct pair pairs[MAX_PACKETS];
static int nr_pairs;

static void cleanup(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s_%d", uds, LISTEN_PORT);
	unlink(p);
	unlink(uds);
	rmdir(dir);
}

static void setup(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[96];

	snprintf(dir, sizeof(dir), "/tmp/sm-fuzz-vsock.%d", (int)getpid());
	FUZZ_CHECK(mkdir(dir, 0700) == 0 || errno == EEXIST);
	snprintf(path, sizeof(path), "%s/v.sock", dir);
	FUZZ_CHECK(vsockdrv_setup(path) == 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%d", uds, LISTEN_PORT);
	unlink(sa.sun_path);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	FUZZ_CHECK(bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(listen_fd, 128) == 0);
	atexit(cleanup);
}

static struct pair *pair_of(uint32_t gport, uint32_t hport)
{
	for (int i = 0; i < nr_pairs; i++)
		if (pairs[i].gport == gport && pairs[i].hport == hport)
			return &pairs[i];
	return NULL;
}

/* The host peers: accept what connected, read what came, write or close as told. */
static void host_side(uint8_t action)
{
	char buf[4096];
	int fd;

	while (nr_host < MAX_HOST && (fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
		host_fds[nr_host++] = fd;
	for (int i = 0; i < nr_host; i++) {
		while (read(host_fds[i], buf, sizeof(buf)) > 0)
			;
		if (action & 1)
			send(host_fds[i], "host bytes", 10, MSG_NOSIGNAL);
		if ((action & 2) && i == nr_host - 1) {
			close(host_fds[i]);
			host_fds[i] = host_fds[--nr_host];
		}
	}
	if (action & 4)
		virtio_vsock__poll(dev, 0);
}

/* One rx packet: a host → guest header that fits its buffer (§5.10.6). */
static void check_rx(int id, uint32_t len)
{
	struct hdr h;
	struct pair *p;

	FUZZ_CHECK(id < QSIZE && len >= sizeof(h) && len <= RXLEN);
	memcpy(&h, ram(RXBUF(id)), sizeof(h));
	FUZZ_CHECK(h.src_cid == 2 && h.dst_cid == 3 && h.type == 1);
	FUZZ_CHECK(h.op >= REQUEST && h.op <= CREDIT_REQUEST && h.len == len - sizeof(h));
	FUZZ_CHECK(h.op == RW || h.len == 0);
	p = pair_of(h.dst_port, h.src_port);
	if (p && p->want == h.op)
		p->want = 0;
}

/* Takes every rx packet and gives the buffers back until the device has
 * nothing more to say (each notify lets it fill the buffers again). */
static void drain_rx(void)
{
	uint32_t len;
	int id, got = 1;

	for (int round = 0; got && round < 64; round++) {
		for (got = 0; (id = used(RX, &len)) >= 0; got++) {
			check_rx(id, len);
			offer(RX, (uint16_t)id);
		}
		w32(0x50, RX);
	}
	FUZZ_CHECK(!got);
}

/* A guest packet: header (split over two descriptors at `split`, if not 0) + payload. */
static void send_packet(const struct hdr *h, unsigned split, uint32_t plen)
{
	int n = 0;
	uint32_t len;

	memcpy(ram(TXHDR), h, sizeof(*h));
	if (split) {
		set_desc(TX, n, TXHDR, split, 1, (uint16_t)(n + 1));
		n++;
	}
	set_desc(TX, n, TXHDR + split, (uint32_t)sizeof(*h) - split, plen ? 1 : 0, (uint16_t)(n + 1));
	if (plen)
		set_desc(TX, ++n, TXDATA, plen, 0, 0);
	offer(TX, 0);
	w32(0x50, TX);
	FUZZ_CHECK(used(TX, &len) == 0 && len == 0);
}

/* Mostly a packet the device would take from a Linux guest; sometimes raw bytes. */
static uint32_t read_packet(struct fuzz_in *in, struct hdr *h)
{
	uint8_t kind = fuzz_u8(in);
	uint32_t plen;

	if (kind & 0x80) {
		fuzz_take(in, h, sizeof(*h));
		plen = fuzz_u16(in) % MAX_PLEN;
	} else {
		uint8_t op = fuzz_u8(in), gp = fuzz_u8(in), hp = fuzz_u8(in);

		plen = (op % 8) == RW ? fuzz_u16(in) % MAX_PLEN : 0;
		*h = guest_hdr((uint16_t)(op % 8), 1024 + gp % 4, hp & 0x80 ? fuzz_u32(in) : LISTEN_PORT + hp % 2,
			       plen);
		h->flags = fuzz_u8(in) % 4;
		h->buf_alloc = kind & 1 ? fuzz_u32(in) : 65536;
		h->fwd_cnt = kind & 2 ? fuzz_u32(in) : 0;
	}
	memset(ram(TXDATA), 'g', plen);
	fuzz_take(in, ram(TXDATA), plen < in->n ? plen : in->n);
	return plen;
}

/* A first, well-formed REQUEST for a pair is owed an answer. */
static void expect(const struct hdr *h, uint32_t plen)
{
	bool fresh = !pair_of(h->src_port, h->dst_port);

	if (fresh && nr_pairs < MAX_PACKETS)
		pairs[nr_pairs++] = (struct pair){ h->src_port, h->dst_port, 0 };
	if (!fresh || nr_pairs == MAX_PACKETS || h->op != REQUEST || h->src_cid != 3 || h->dst_cid != 2 ||
	    h->type != 1 || h->len || plen)
		return;
	pairs[nr_pairs - 1].want = h->dst_port == LISTEN_PORT ? RESPONSE : RST;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct hdr h;

	if (!vm)
		setup();
	driver_init();
	nr_pairs = 0;
	for (int n = 0; n < MAX_PACKETS && in.n; n++) {
		uint8_t split = fuzz_u8(&in) % 48;
		uint32_t plen = read_packet(&in, &h);

		send_packet(&h, split < sizeof(h) ? split : 0, plen);
		expect(&h, plen);
		host_side(fuzz_u8(&in));
		drain_rx();
		for (int i = 0; i < nr_pairs; i++)
			FUZZ_CHECK(pairs[i].want == 0);
	}
	w32(0x70, 0);				/* reset: the guest forgot every connection */
	FUZZ_CHECK(virtio_vsock__nr_conns(dev) == 0);
	while (nr_host)
		close(host_fds[--nr_host]);
	return 0;
}

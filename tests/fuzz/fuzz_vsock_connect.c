/*
 * libFuzzer: the host side of virtio-vsock's hybrid socket
 * (docs/vsock.md, src/devices/virtio-vsock.c read_connect_line and
 * parse_connect): a host client connects to the real Unix socket and
 * writes the input in fuzzer-chosen chunks, the device's event loop is run
 * by hand, and the guest answers from a fake driver.  The device must do
 * exactly what the protocol says:
 *   - "CONNECT <1..10 digits, at most 2^32-1>\n" and nothing else in the
 *     line: one REQUEST to that guest port from a host port >= 2^30; after
 *     the guest's RESPONSE the client reads "OK <host port>\n" and every
 *     byte it sent after the line reaches the guest, in order; its close
 *     becomes SHUTDOWN.  After the guest's RST instead, the client is closed.
 *   - anything else: no REQUEST; the client is closed once the device has
 *     seen a newline or 32 bytes, or kept waiting until then.
 * Either way no connection is left once the client and the guest are done.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "fuzzvm.h"
#include "vsockdrv.h"

#define LINE_MAX_LEN	32	/* as the device: "CONNECT 4294967295\n" fits */
#define HOST_PORT_FIRST	(1u << 30)
#define MAX_REST	4096

static char dir[64];

static void cleanup(void)
{
	unlink(uds);
	rmdir(dir);
}

static void setup(void)
{
	char path[96];

	snprintf(dir, sizeof(dir), "/tmp/sm-fuzz-vsockc.%d", (int)getpid());
	FUZZ_CHECK(mkdir(dir, 0700) == 0 || errno == EEXIST);
	snprintf(path, sizeof(path), "%s/v.sock", dir);
	FUZZ_CHECK(vsockdrv_setup(path) == 0);
	atexit(cleanup);
}

/* The protocol's own reading of the bytes: the guest port, or -1 if not a CONNECT line. */
static int64_t model_line(const uint8_t *p, size_t n, size_t *line_len)
{
	uint64_t port = 0;
	size_t i = 8;

	if (n < 10 || memcmp(p, "CONNECT ", 8))
		return -1;
	for (; i < n && i < 18 && p[i] >= '0' && p[i] <= '9'; i++)
		port = port * 10 + (p[i] - '0');
	if (i == 8 || i == n || p[i] != '\n' || port > UINT32_MAX)
		return -1;
	*line_len = i + 1;
	return (int64_t)port;
}

/* Runs the device's event loop until it has nothing left to do. */
static void settle(void)
{
	for (int i = 0; i < 64 && virtio_vsock__poll(dev, 0) > 0; i++)
		;
}

/* Next rx packet other than a credit update (payload appended to *rest). */
static bool next_rx(struct hdr *h, uint8_t *rest, size_t *rest_len)
{
	uint32_t len;
	int id;

	while ((id = used(RX, &len)) >= 0) {
		FUZZ_CHECK(len >= sizeof(*h) && len <= RXLEN);
		memcpy(h, ram(RXBUF(id)), sizeof(*h));
		FUZZ_CHECK(h->src_cid == 2 && h->dst_cid == 3 && h->type == 1 && h->len == len - sizeof(*h));
		if (h->op == RW) {
			FUZZ_CHECK(rest && *rest_len + h->len <= MAX_REST);
			memcpy(rest + *rest_len, ram(RXBUF(id) + sizeof(*h)), h->len);
			*rest_len += h->len;
		}
		offer(RX, (uint16_t)id);
		w32(0x50, RX);
		if (h->op != CREDIT_UPDATE && h->op != RW)
			return true;
	}
	return false;
}

/* Writes the input in chunks of 1..40 bytes (0: all at once), letting the
 * device read between; returns how many went out before the socket was
 * full (many tiny writes the device does not read yet fill it early). */
static size_t send_chunks(int fd, const uint8_t *p, size_t n, uint8_t chunk)
{
	size_t step = chunk % 41 ? chunk % 41 : n, at = 0;

	while (at < n) {
		ssize_t w = send(fd, p + at, n - at < step ? n - at : step, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w <= 0)
			break;
		at += (size_t)w;
		settle();
	}
	return at;
}

/* Client bytes read without waiting: count, 0 once the device closed (a
 * close with the client's bytes unread is a reset), -1 if nothing yet. */
static ssize_t client_read(int fd, char *buf, size_t n)
{
	ssize_t r = recv(fd, buf, n, MSG_DONTWAIT);

	if (r < 0 && errno == ECONNRESET)
		return 0;
	FUZZ_CHECK(r >= 0 || errno == EAGAIN);
	return r;
}

/* The guest accepts (and the stream runs and ends) or refuses with RST. */
static void guest_answers(int fd, const struct hdr *req, bool accept, const uint8_t *rest, size_t rest_n)
{
	static uint8_t got[MAX_REST];
	size_t got_n = 0;
	char line[64], want[32];
	struct hdr h = guest_hdr(accept ? RESPONSE : RST, req->dst_port, req->src_port, 0);
	ssize_t r;

	tx(&h, NULL, 0);
	settle();
	if (!accept) {
		FUZZ_CHECK(client_read(fd, line, sizeof(line)) == 0);
		return;
	}
	snprintf(want, sizeof(want), "OK %u\n", req->src_port);
	r = client_read(fd, line, strlen(want));
	FUZZ_CHECK(r == (ssize_t)strlen(want) && !memcmp(line, want, strlen(want)));
	shutdown(fd, SHUT_WR);			/* the client is done sending */
	settle();
	FUZZ_CHECK(next_rx(&h, got, &got_n) && h.op == SHUTDOWN && (h.flags & 2));
	FUZZ_CHECK(got_n == rest_n && !memcmp(got, rest, rest_n));
	h = guest_hdr(RST, req->dst_port, req->src_port, 0);
	tx(&h, NULL, 0);
	FUZZ_CHECK(client_read(fd, line, sizeof(line)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t chunk = fuzz_u8(&in), answer = fuzz_u8(&in);
	size_t line_len = 0, n;
	int64_t port;
	char buf[64];
	struct hdr h;
	int fd;

	if (!vm)
		setup();
	driver_init();
	fd = client();
	FUZZ_CHECK(fd >= 0);
	settle();
	n = send_chunks(fd, in.p, in.n, chunk);
	port = model_line(in.p, n, &line_len);
	if (port >= 0) {
		FUZZ_CHECK(next_rx(&h, NULL, NULL) && h.op == REQUEST);
		FUZZ_CHECK(h.dst_port == (uint32_t)port && h.src_port >= HOST_PORT_FIRST);
		guest_answers(fd, &h, answer & 1, in.p + line_len, n - line_len);
	} else {
		FUZZ_CHECK(!next_rx(&h, NULL, NULL));
		if (memchr(in.p, '\n', n < LINE_MAX_LEN ? n : LINE_MAX_LEN) || n >= LINE_MAX_LEN)
			FUZZ_CHECK(client_read(fd, buf, sizeof(buf)) == 0);
		else
			FUZZ_CHECK(client_read(fd, buf, sizeof(buf)) < 0 && virtio_vsock__nr_conns(dev) == 1);
	}
	close(fd);
	settle();
	FUZZ_CHECK(virtio_vsock__nr_conns(dev) == 0);
	return 0;
}

/*
 * virtio 1.1 §5.10: socket device, emulated in the VMM (no vhost), with the
 * host side on Unix sockets (Firecracker's "hybrid vsock", see the header).
 *
 * Flow control is the spec's credit scheme (§5.10.6.3) in both directions:
 *  - host → guest: we read a host socket only into a guest rx buffer and
 *    only as much as the guest's credit allows, so nothing is buffered here;
 *    a slow guest reader leaves the bytes in the host socket.
 *  - guest → host: we advertise CONN_BUF_ALLOC per connection and count
 *    what reached the host socket in fwd_cnt; what the host socket cannot
 *    take yet waits in a per-connection ring of at most CONN_BUF_ALLOC.
 *    A guest sending past its credit is reset.
 * All connection state is guarded by the transport lock, taken by the vCPU
 * threads (queue notifications) and by the host-socket thread alike.
 * Headers are little endian on the wire, as is this (x86-64) host.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio-mmio.h"
#include "devices/virtio-vsock.h"
#include "net/evloop.h"
#include "vmm/log.h"
#include "util/clock.h"

/* §5.10.6: every packet starts with this header */
struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));
_Static_assert(sizeof(struct vsock_hdr) == 44, "virtio_vsock_hdr is 44 bytes");

enum {
	OP_REQUEST = 1, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW, OP_CREDIT_UPDATE, OP_CREDIT_REQUEST,
};
#define TYPE_STREAM		1
#define SHUTDOWN_RCV		1
#define SHUTDOWN_SEND		2
#define HOST_CID		2
#define EVENT_TRANSPORT_RESET	0	/* §5.10.6.7 */
enum { Q_RX, Q_TX, Q_EVENT, NR_QUEUES };	/* §5.10.2 */

#define QUEUE_SIZE		256
#define CONN_BUF_ALLOC		(256 * 1024)	/* guest → host bytes held per connection */
#define MAX_CONNS		256
/* A guest may hold this many connections to host ports: the rest of the
 * slots stay for the host's own clients (the agent, exec, the router), so
 * a guest cannot lock its host out of its own control channel. */
#define GUEST_CONNS_MAX		(MAX_CONNS - 32)
#define RSTQ_MAX		64		/* RSTs owed with no slot to hold them */
#define MAX_AWAITING		64		/* host clients yet to send CONNECT */
#define MAX_PAYLOAD		(64 * 1024)
#define LINE_MAX_LEN		32		/* "CONNECT 4294967295\n" fits */
#define AWAIT_TIMEOUT_MS	5000
#define HOST_PORT_FIRST		(1u << 30)	/* like Firecracker's local ports */
#define LISTEN_TOKEN		((uint64_t)MAX_CONNS)
#define RESET_GRACE_MS		2000		/* see await_cid_read */
#define WARN_PER_WINDOW		20		/* log lines per window, the rest counted */
#define WARN_WINDOW_MS		10000

/* control packets a connection owes the guest */
enum { P_REQUEST = 1, P_RESPONSE = 2, P_SHUTDOWN = 4, P_CREDIT = 8, P_RST = 16 };

enum conn_state {
	C_FREE,
	C_AWAIT,		/* host client accepted, reading its CONNECT line */
	C_CONNECTING,		/* REQUEST sent to the guest */
	C_ESTABLISHED,
	C_CLOSING,		/* RST owed to the guest, then free */
};

struct conn {
	enum conn_state state;
	uint32_t gen;
	int fd;
	uint32_t host_port, guest_port;
	unsigned pending;
	bool readable, host_eof, guest_no_send, guest_no_rcv, wr_shut;
	uint32_t rx_cnt, peer_buf_alloc, peer_fwd_cnt;	/* host → guest */
	uint32_t tx_cnt, fwd_cnt, fwd_cnt_told;		/* guest → host */
	uint8_t *buf;					/* ring of unwritten guest bytes */
	uint32_t head, len;
	uint64_t born_ms;
	bool from_guest;				/* the guest connected (counts in nr_guest) */
};

struct virtio_vsock {
	struct vm *vm;
	struct virtio_mmio *t;
	uint64_t guest_cid;
	char uds[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd;
	struct evloop *loop;
	struct conn conns[MAX_CONNS];
	int nr_awaiting;
	int nr_guest;			/* slots held by guest-initiated connections */
	/* RSTs for guest packets no slot could take (every slot in use, or the
	 * guest at GUEST_CONNS_MAX): a refused connect fails at once instead
	 * of after the guest's connect timeout.  Not in snapshots. */
	struct { uint32_t host_port, guest_port; } rstq[RSTQ_MAX];
	int rstq_n;
	int hi;				/* slots in use are below this */
	int rr;				/* round-robin cursor for the rx queue */
	uint32_t next_port;
	/* After a transport reset the guest answers with its old CID until it
	 * re-reads the config (and resets its sockets right after): host
	 * REQUESTs wait for that read, or RESET_GRACE_MS. */
	bool await_cid_read;
	uint64_t reset_ms;
	uint64_t warn_window;
	unsigned warn_count, warn_dropped;
};

/* Guest- and client-triggered warnings, rate-limited so a flood cannot
 * flood the log: WARN_PER_WINDOW per window, then a count. */
__attribute__((format(printf, 2, 3)))
static void warn(struct virtio_vsock *v, const char *fmt, ...)
{
	uint64_t now = clock__ms();
	char buf[256];
	va_list ap;

	if (now - v->warn_window >= WARN_WINDOW_MS) {
		if (v->warn_dropped)
			log__warn("virtio-vsock: %u more warnings not shown", v->warn_dropped);
		v->warn_window = now;
		v->warn_count = v->warn_dropped = 0;
	}
	if (v->warn_count++ >= WARN_PER_WINDOW) {
		v->warn_dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log__warn("virtio-vsock: %s", buf);
}

/* ---- iovec helpers ---- */

/* out[] = the bytes of iov[] from `skip` on, at most `max`; returns the count. */
static int iov_window(const struct iovec *iov, int n, size_t skip, size_t max, struct iovec *out)
{
	int k = 0;

	for (int i = 0; i < n && max; i++) {
		size_t len = iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		len -= skip;
		if (len > max)
			len = max;
		out[k++] = (struct iovec){ (uint8_t *)iov[i].iov_base + skip, len };
		max -= len;
		skip = 0;
	}
	return k;
}

static void iov_put(const struct iovec *iov, int n, const void *src, size_t len)
{
	const uint8_t *p = src;

	for (int i = 0; i < n && len; i++) {
		size_t k = iov[i].iov_len < len ? iov[i].iov_len : len;

		memcpy(iov[i].iov_base, p, k);
		p += k;
		len -= k;
	}
}

/* ---- connections ---- */

static uint64_t conn_token(struct virtio_vsock *v, struct conn *c)
{
	return (uint64_t)c->gen << 32 | (uint64_t)(c - v->conns);
}

static struct conn *conn_by_token(struct virtio_vsock *v, uint64_t token)
{
	uint32_t idx = (uint32_t)token;
	struct conn *c;

	if (idx >= MAX_CONNS)
		return NULL;
	c = &v->conns[idx];
	return c->state != C_FREE && c->gen == (uint32_t)(token >> 32) ? c : NULL;
}

static struct conn *conn_alloc(struct virtio_vsock *v, enum conn_state state)
{
	for (int i = 0; i < MAX_CONNS; i++) {
		struct conn *c = &v->conns[i];
		uint32_t gen = c->gen + 1;

		if (c->state != C_FREE)
			continue;
		memset(c, 0, sizeof(*c));
		c->gen = gen;
		c->fd = -1;
		c->state = state;
		c->born_ms = clock__ms();
		if (i >= v->hi)
			v->hi = i + 1;
		return c;
	}
	return NULL;
}

static void conn_free(struct virtio_vsock *v, struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);			/* also leaves the epoll set */
	if (c->state == C_AWAIT)
		v->nr_awaiting--;
	if (c->from_guest)
		v->nr_guest--;
	free(c->buf);
	c->buf = NULL;
	c->fd = -1;
	c->state = C_FREE;
	while (v->hi && v->conns[v->hi - 1].state == C_FREE)
		v->hi--;
}

/* Drop the host side now; the guest gets an RST from the rx path. */
static void conn_reset(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	c->buf = NULL;
	c->fd = -1;
	c->len = 0;
	c->state = C_CLOSING;
	c->pending = P_RST;
}

static struct conn *conn_find(struct virtio_vsock *v, uint32_t host_port, uint32_t guest_port)
{
	for (int i = 0; i < MAX_CONNS; i++) {
		struct conn *c = &v->conns[i];

		if (c->state > C_AWAIT && c->host_port == host_port && c->guest_port == guest_port)
			return c;
	}
	return NULL;
}

/* An RST owed to the guest with no connection slot to carry it. */
static void rst_later(struct virtio_vsock *v, const struct vsock_hdr *h)
{
	if (v->rstq_n == RSTQ_MAX) {
		warn(v, "no room to answer port %u with RST", h->src_port);
		return;
	}
	v->rstq[v->rstq_n].host_port = h->dst_port;
	v->rstq[v->rstq_n].guest_port = h->src_port;
	v->rstq_n++;
}

/* An RST for a packet that belongs to no connection (§5.10.6.4). */
static void reply_rst(struct virtio_vsock *v, const struct vsock_hdr *h)
{
	struct conn *c = conn_alloc(v, C_CLOSING);

	if (!c)
		return rst_later(v, h);
	c->host_port = h->dst_port;
	c->guest_port = h->src_port;
	c->pending = P_RST;
}

static uint32_t peer_credit(const struct conn *c)
{
	uint32_t used = c->rx_cnt - c->peer_fwd_cnt;

	return used >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - used;
}

/* ---- guest → host bytes ---- */

static void ring_put(struct conn *c, const struct iovec *iov, int n)
{
	for (int i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t left = iov[i].iov_len;

		while (left) {
			uint32_t tail = (c->head + c->len) % CONN_BUF_ALLOC;
			size_t k = CONN_BUF_ALLOC - tail < left ? CONN_BUF_ALLOC - tail : left;

			memcpy(c->buf + tail, p, k);
			c->len += (uint32_t)k;
			p += k;
			left -= k;
		}
	}
}

/* Non-blocking send of iov to the host socket: bytes sent, 0 if full, -1 if it failed. */
static ssize_t host_send(int fd, struct iovec *iov, int n)
{
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };
	ssize_t w;

	do
		w = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w < 0 && errno == EINTR);
	if (w < 0 && errno == EAGAIN)
		return 0;
	return w;
}

static void forwarded(struct conn *c, size_t n)
{
	c->fwd_cnt += (uint32_t)n;
	if (c->fwd_cnt - c->fwd_cnt_told >= CONN_BUF_ALLOC / 2)
		c->pending |= P_CREDIT;
}

/* Writes buffered guest bytes to the host; false if the host socket failed. */
static bool flush_host(struct conn *c)
{
	while (c->len) {
		uint32_t first = CONN_BUF_ALLOC - c->head < c->len ? CONN_BUF_ALLOC - c->head : c->len;
		struct iovec iov[2] = { { c->buf + c->head, first }, { c->buf, c->len - first } };
		ssize_t w = host_send(c->fd, iov, c->len > first ? 2 : 1);

		if (w < 0)
			return false;
		if (w == 0)
			return true;
		c->head = (c->head + (uint32_t)w) % CONN_BUF_ALLOC;
		c->len -= (uint32_t)w;
		forwarded(c, (size_t)w);
	}
	free(c->buf);			/* drained: idle connections hold no buffer */
	c->buf = NULL;
	c->head = 0;
	return true;
}

/* Both directions are done: close with an RST (§5.10.6.5). */
static void maybe_finish(struct conn *c)
{
	if (c->state != C_ESTABLISHED || c->len)
		return;
	if (c->guest_no_send && !c->wr_shut) {
		shutdown(c->fd, SHUT_WR);
		c->wr_shut = true;
	}
	if (c->guest_no_send && (c->guest_no_rcv || c->host_eof))
		conn_reset(c);
}

static void guest_data(struct virtio_vsock *v, struct conn *c, struct virtq_chain *ch, uint32_t len)
{
	struct iovec iov[CHAIN_MAX_SEGS];
	int n = iov_window(ch->out, ch->nr_out, 0, len, iov);
	ssize_t w = 0;

	if (c->state != C_ESTABLISHED || c->guest_no_send) {
		warn(v, "data on port %u→%u outside an open stream — reset", c->guest_port, c->host_port);
		conn_reset(c);
		return;
	}
	if (len > CONN_BUF_ALLOC - (c->tx_cnt - c->fwd_cnt)) {
		warn(v, "guest port %u sent %u bytes past its credit — reset", c->guest_port, len);
		conn_reset(c);
		return;
	}
	c->tx_cnt += len;
	if (!c->len && (w = host_send(c->fd, iov, n)) < 0) {
		conn_reset(c);		/* the host peer is gone */
		return;
	}
	forwarded(c, (size_t)w);
	if ((uint32_t)w == len)
		return;
	if (!c->buf && !(c->buf = malloc(CONN_BUF_ALLOC))) {
		conn_reset(c);
		return;
	}
	n = iov_window(iov, n, (size_t)w, len, iov);
	ring_put(c, iov, n);
}

/* ---- connection set-up ---- */

/* The guest connects to host port P: relay to the Unix socket "<uds>_<P>". */
static void guest_connect(struct virtio_vsock *v, const struct vsock_hdr *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct conn *c = v->nr_guest < GUEST_CONNS_MAX ? conn_alloc(v, C_CLOSING) : NULL;
	int n;

	if (!c) {
		warn(v, "too many connections: guest port %u → host port %u refused (RST)", h->src_port, h->dst_port);
		return rst_later(v, h);
	}
	c->from_guest = true;
	v->nr_guest++;
	c->host_port = h->dst_port;
	c->guest_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->pending = P_RST;			/* unless the connect below works */
	if (!v->uds[0]) {
		log__info("virtio-vsock: guest connect to host port %u: this VM has no vsock socket — RST",
			 h->dst_port);
		return;
	}
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", v->uds, h->dst_port);
	if (n >= (int)sizeof(sa.sun_path))
		return;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    evloop__add(v->loop, c->fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, conn_token(v, c)) < 0) {
		log__info("virtio-vsock: guest connect to %s: %s — RST", sa.sun_path, strerror(errno));
		conn_reset(c);
		return;
	}
	c->state = C_ESTABLISHED;
	c->pending = P_RESPONSE;
}

static void guest_response(struct virtio_vsock *v, struct conn *c)
{
	char ok[32];
	int n = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);

	if (c->state != C_CONNECTING) {
		warn(v, "unexpected RESPONSE on port %u — reset", c->guest_port);
		conn_reset(c);
		return;
	}
	if (send(c->fd, ok, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
		conn_reset(c);		/* the client left while we connected */
		return;
	}
	c->state = C_ESTABLISHED;
}

/* ---- tx queue: packets from the guest ---- */

static void guest_op(struct virtio_vsock *v, struct conn *c, const struct vsock_hdr *h,
		     struct virtq_chain *ch)
{
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	switch (h->op) {
	case OP_RW:
		guest_data(v, c, ch, h->len);
		break;
	case OP_RESPONSE:
		guest_response(v, c);
		break;
	case OP_RST:
		conn_free(v, c);
		return;
	case OP_SHUTDOWN:
		c->guest_no_rcv |= !!(h->flags & SHUTDOWN_RCV);
		c->guest_no_send |= !!(h->flags & SHUTDOWN_SEND);
		break;
	case OP_CREDIT_UPDATE:
		break;				/* the credit fields above are the update */
	case OP_CREDIT_REQUEST:
		c->pending |= P_CREDIT;
		break;
	default:
		warn(v, "op %u on port %u→%u — reset", h->op, h->src_port, h->dst_port);
		conn_reset(c);
		return;
	}
	maybe_finish(c);
}

static uint32_t tx_packet(void *dev, struct virtq_chain *ch)
{
	struct virtio_vsock *v = dev;
	struct vsock_hdr h;
	struct conn *c;

	if (chain__pull(ch, &h, sizeof(h)) < 0) {
		warn(v, "tx packet shorter than its %zu-byte header — dropped", sizeof(h));
		return 0;
	}
	if (h.src_cid != v->guest_cid || h.dst_cid != HOST_CID) {
		warn(v, "tx packet from cid %llu to cid %llu — dropped", (unsigned long long)h.src_cid,
		     (unsigned long long)h.dst_cid);
		return 0;
	}
	c = conn_find(v, h.dst_port, h.src_port);
	if (h.len > MAX_PAYLOAD || h.len > chain__out_len(ch) || (h.len && h.op != OP_RW) ||
	    h.type != TYPE_STREAM) {
		warn(v, "malformed packet (type %u, op %u, len %u, %zu bytes) on port %u — reset",
		     h.type, h.op, h.len, chain__out_len(ch), h.src_port);
		if (c)
			conn_reset(c);
		else if (h.op != OP_RST)
			reply_rst(v, &h);
		return 0;
	}
	if (c && c->state == C_CLOSING)
		return 0;			/* already being torn down */
	if (c)
		guest_op(v, c, &h, ch);
	else if (h.op == OP_REQUEST)
		guest_connect(v, &h);
	else if (h.op != OP_RST)
		reply_rst(v, &h);
	return 0;
}

/* ---- rx queue: packets to the guest ---- */

/* What c should send the guest next (an op), or 0 for nothing now.  RW is
 * a guess (the socket may have nothing after all): rx_fill corrects it. */
static int rx_want(struct conn *c)
{
	if (c->pending & P_RST)
		return OP_RST;
	if (c->pending & P_REQUEST)
		return OP_REQUEST;
	if (c->pending & P_RESPONSE)
		return OP_RESPONSE;
	if (c->state == C_ESTABLISHED && c->readable && !c->host_eof && !c->guest_no_rcv &&
	    peer_credit(c) > 0)
		return OP_RW;
	if (c->pending & P_SHUTDOWN)
		return OP_SHUTDOWN;
	if (c->pending & P_CREDIT)
		return OP_CREDIT_UPDATE;
	return 0;
}

/* Host bytes into the rx buffer after the header: the count, 0 at EOF,
 * -1 with errno. */
static ssize_t rx_read(struct conn *c, struct virtq_chain *ch)
{
	struct iovec iov[CHAIN_MAX_SEGS];
	size_t room = chain__in_len(ch) - sizeof(struct vsock_hdr);
	uint32_t credit = peer_credit(c);
	int n;
	ssize_t r;

	if (room > credit)
		room = credit;
	if (room > MAX_PAYLOAD)
		room = MAX_PAYLOAD;
	n = iov_window(ch->in, ch->nr_in, sizeof(struct vsock_hdr), room, iov);
	do
		r = readv(c->fd, iov, n);
	while (r < 0 && errno == EINTR);
	if (r > 0 && (size_t)r < room)
		c->readable = false;	/* drained for now; the next edge says more */
	if (r > 0)
		c->rx_cnt += (uint32_t)r;
	return r;
}

/* Fills one rx buffer for c; returns the used length.  For RW, *op becomes
 * what the socket turned out to have: SHUTDOWN at EOF, CREDIT_UPDATE when
 * it was empty after all (any header is welcome), RST on error. */
static uint32_t rx_fill(struct virtio_vsock *v, struct conn *c, struct virtq_chain *ch, int *op)
{
	struct vsock_hdr h = {
		.src_cid = HOST_CID, .dst_cid = v->guest_cid,
		.src_port = c->host_port, .dst_port = c->guest_port,
		.type = TYPE_STREAM, .op = (uint16_t)*op,
		.buf_alloc = CONN_BUF_ALLOC, .fwd_cnt = c->fwd_cnt,
	};

	if (*op == OP_RW) {
		ssize_t r = rx_read(c, ch);

		if (r > 0) {
			h.len = (uint32_t)r;
		} else if (r < 0 && errno == EAGAIN) {
			c->readable = false;
			*op = OP_CREDIT_UPDATE;
		} else if (r == 0) {
			c->host_eof = true;
			*op = OP_SHUTDOWN;
		} else {
			conn_reset(c);
			*op = OP_RST;
		}
		h.op = (uint16_t)*op;
	}
	if (*op == OP_SHUTDOWN)
		h.flags = SHUTDOWN_SEND;
	c->fwd_cnt_told = c->fwd_cnt;
	iov_put(ch->in, ch->nr_in, &h, sizeof(h));
	return (uint32_t)sizeof(h) + h.len;
}

static void rx_sent(struct virtio_vsock *v, struct conn *c, int op)
{
	static const unsigned bit[] = { [OP_REQUEST] = P_REQUEST, [OP_RESPONSE] = P_RESPONSE,
		[OP_SHUTDOWN] = P_SHUTDOWN, [OP_CREDIT_UPDATE] = P_CREDIT, [OP_RST] = P_RST };

	c->pending &= ~(bit[op] | P_CREDIT);	/* every header carries fwd_cnt */
	if (op == OP_RST && c->state == C_CLOSING)
		conn_free(v, c);
	else if (op == OP_REQUEST)
		c->state = C_CONNECTING;
	else
		maybe_finish(c);
}

/* Next rx buffer: 1, 0 when none is posted, -1 for a bad one (completed empty). */
static int rx_pop(struct virtio_vsock *v, struct virtq_chain *ch)
{
	int r = virtio_mmio__pop(v->t, Q_RX, ch);

	if (r > 0 && chain__in_len(ch) <= sizeof(struct vsock_hdr)) {
		warn(v, "bad rx buffer: %s — skipped", "smaller than a header");
		virtio_mmio__push(v->t, Q_RX, ch->head, 0);
		return -1;
	}
	return r;
}

/* The RSTs rst_later queued, first (each frees a guest socket at once). */
static bool flush_rstq(struct virtio_vsock *v)
{
	struct virtq_chain ch;
	bool pushed = false;

	while (v->rstq_n > 0 && virtio_mmio__queue_ready(v->t, Q_RX)) {
		int r = rx_pop(v, &ch);
		struct vsock_hdr h = { .src_cid = HOST_CID, .dst_cid = v->guest_cid, .type = TYPE_STREAM,
				       .op = OP_RST };

		if (r == 0)
			break;
		pushed = true;
		if (r < 0)
			continue;
		v->rstq_n--;
		h.src_port = v->rstq[v->rstq_n].host_port;
		h.dst_port = v->rstq[v->rstq_n].guest_port;
		iov_put(ch.in, ch.nr_in, &h, sizeof(h));
		virtio_mmio__push(v->t, Q_RX, ch.head, sizeof(h));
	}
	return pushed;
}

/* Moves whatever the connections owe the guest into rx buffers, fairly. */
static void flush_rx(struct virtio_vsock *v)
{
	struct virtq_chain ch;
	bool pushed = flush_rstq(v);
	int idle = 0;

	while (idle < v->hi && virtio_mmio__queue_ready(v->t, Q_RX)) {
		struct conn *c;
		int op, r;

		if (v->rr >= v->hi)
			v->rr = 0;
		c = &v->conns[v->rr];
		op = c->state > C_AWAIT ? rx_want(c) : 0;
		if (op == OP_REQUEST && v->await_cid_read)
			op = 0;
		if (!op) {
			v->rr++;
			idle++;
			continue;
		}
		r = rx_pop(v, &ch);
		if (r == 0)
			break;
		pushed = true;
		if (r < 0)
			continue;
		virtio_mmio__push(v->t, Q_RX, ch.head, rx_fill(v, c, &ch, &op));
		rx_sent(v, c, op);
		v->rr++;
		idle = 0;
	}
	if (pushed)
		virtio_mmio__signal_used(v->t, Q_RX);
}

static void vsock_notify(void *dev, struct virtio_mmio *t, int q)
{
	struct virtio_vsock *v = dev;

	if (q == Q_TX)
		virtio_mmio__drain(t, Q_TX, tx_packet, v);
	if (q != Q_EVENT)			/* event buffers wait for a reset */
		flush_rx(v);
}

/* ---- host clients ---- */

/* The line without its '\n', n bytes: a NUL inside is not the end of it. */
static bool parse_connect(const char *s, size_t n, uint32_t *port)
{
	const char *end = s + n;
	unsigned long long p = 0;
	int digits = 0;

	if (n < 8 || memcmp(s, "CONNECT ", 8))
		return false;
	for (s += 8; s < end && *s >= '0' && *s <= '9' && digits < 10; s++, digits++)
		p = p * 10 + (unsigned)(*s - '0');
	if (s != end || !digits || p > UINT32_MAX)
		return false;
	*port = (uint32_t)p;
	return true;
}

static uint32_t alloc_host_port(struct virtio_vsock *v, uint32_t guest_port)
{
	do
		v->next_port = v->next_port + 1 < HOST_PORT_FIRST ? HOST_PORT_FIRST : v->next_port + 1;
	while (conn_find(v, v->next_port, guest_port));
	return v->next_port;
}

static void printable(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			s[i] = '?';
}

/* "CONNECT <port>\n" from an accepted client: peek, then take exactly the
 * line.  A client that hung up (eof) will not finish its line: close it now,
 * not at its time-out, or part-lines and a close would hold the slots. */
static void read_connect_line(struct virtio_vsock *v, struct conn *c, bool eof)
{
	char line[LINE_MAX_LEN + 1];
	ssize_t n = recv(c->fd, line, LINE_MAX_LEN, MSG_PEEK | MSG_DONTWAIT);
	char *nl;
	size_t len;
	uint32_t port;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_free(v, c);		/* left before saying anything */
		return;
	}
	nl = memchr(line, '\n', (size_t)n);
	if (!nl && n < LINE_MAX_LEN && !eof)
		return;				/* the rest of the line is on its way */
	if (nl && recv(c->fd, line, (size_t)(nl - line + 1), MSG_DONTWAIT) != nl - line + 1)
		nl = NULL;
	len = nl ? (size_t)(nl - line) : (size_t)n;
	if (!nl || !parse_connect(line, len, &port)) {
		line[len] = '\0';
		printable(line, len);
		warn(v, "host client sent \"%s\", not \"CONNECT <port>\\n\" — closed", line);
		conn_free(v, c);
		return;
	}
	v->nr_awaiting--;
	c->state = C_CONNECTING;
	c->guest_port = port;
	c->host_port = alloc_host_port(v, port);
	c->pending = P_REQUEST;
	c->readable = true;			/* bytes after the line may be there already */
}

static void accept_clients(struct virtio_vsock *v)
{
	for (;;) {
		int fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				warn(v, "accept on %s: %s", v->uds, strerror(errno));
			return;
		}
		c = v->nr_awaiting < MAX_AWAITING ? conn_alloc(v, C_AWAIT) : NULL;
		if (!c) {
			warn(v, "too many host connections — one refused");
			close(fd);
			continue;
		}
		c->fd = fd;
		v->nr_awaiting++;
		if (evloop__add(v->loop, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, conn_token(v, c)) < 0)
			conn_free(v, c);
	}
}

static void conn_event(struct conn *c, uint32_t events)
{
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->readable = true;
	if (c->state != C_ESTABLISHED || !(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) || !c->len)
		return;
	if (!flush_host(c))
		conn_reset(c);
	else
		maybe_finish(c);
}

static void on_event(void *ctx, uint64_t token, uint32_t events)
{
	struct virtio_vsock *v = ctx;
	struct conn *c;

	virtio_mmio__lock(v->t);
	if (token == LISTEN_TOKEN)
		accept_clients(v);
	else if ((c = conn_by_token(v, token)) && c->state == C_AWAIT)
		read_connect_line(v, c, events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR));
	else if (c)
		conn_event(c, events);
	flush_rx(v);
	virtio_mmio__unlock(v->t);
}

/* Host clients that never finish their CONNECT line are closed. */
static void on_tick(void *ctx)
{
	struct virtio_vsock *v = ctx;
	uint64_t now = clock__ms();

	virtio_mmio__lock(v->t);
	for (int i = 0; i < MAX_CONNS; i++) {
		struct conn *c = &v->conns[i];

		if (c->state == C_AWAIT && now - c->born_ms > AWAIT_TIMEOUT_MS) {
			warn(v, "host client sent no CONNECT line in %d ms — closed", AWAIT_TIMEOUT_MS);
			conn_free(v, c);
		}
	}
	if (v->await_cid_read && now - v->reset_ms > RESET_GRACE_MS) {
		log__info("virtio-vsock: the guest did not re-read its CID after the transport reset — connecting anyway");
		v->await_cid_read = false;
		flush_rx(v);
	}
	virtio_mmio__unlock(v->t);
}

/* ---- device ---- */

static uint64_t vsock_features(void *dev)
{
	(void)dev;
	return 0;
}

static void vsock_config_read(void *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_vsock *v = dev;
	uint64_t cid = v->guest_cid;		/* §5.10.4: le64 guest_cid */

	memcpy(data, (uint8_t *)&cid + off, len);
	if (v->await_cid_read) {		/* it handles the reset now */
		v->await_cid_read = false;
		flush_rx(v);
	}
}

/* Drops every guest connection (the guest forgot them); host clients still
 * choosing a port stay. */
static void drop_guest_conns(struct virtio_vsock *v)
{
	for (int i = 0; i < MAX_CONNS; i++)
		if (v->conns[i].state > C_AWAIT)
			conn_free(v, &v->conns[i]);
	v->rr = 0;
}

static void vsock_reset(void *dev)
{
	drop_guest_conns(dev);
}

static const struct virtio_dev_ops vsock_ops = {
	.name = "virtio-vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.nr_queues = NR_QUEUES,
	.queue_max = QUEUE_SIZE,
	.features = vsock_features,
	.config_size = sizeof(uint64_t),
	.config_read = vsock_config_read,
	.notify = vsock_notify,
	.reset = vsock_reset,
};

/* Bound now, listening only from virtio_vsock__listen: until then a client
 * is refused at once rather than held (a standby VM is set up long before
 * it runs, docs/vmm.md). */
static int bind_uds(struct virtio_vsock *v, const char *uds, char *msg, size_t msglen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	/* room for the "_<port>" suffix of guest-initiated connections */
	if (strlen(uds) + 11 >= sizeof(sa.sun_path)) {
		snprintf(msg, msglen, "--vsock-uds %s: path too long (max %zu bytes)", uds,
			 sizeof(sa.sun_path) - 12);
		return -1;
	}
	strcpy(sa.sun_path, uds);
	strcpy(v->uds, uds);
	unlink(uds);				/* a stale socket from a dead VMM */
	v->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (v->listen_fd < 0 || bind(v->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(uds, 0600) < 0) {
		snprintf(msg, msglen, "vsock socket %s: %s", uds, strerror(errno));
		return -1;
	}
	return 0;
}

int virtio_vsock__listen(struct virtio_vsock *v)
{
	if (v->listen_fd < 0)
		return 0;
	if (listen(v->listen_fd, 128) < 0)
		return -errno;
	return evloop__add(v->loop, v->listen_fd, EPOLLIN, LISTEN_TOKEN);
}

struct virtio_vsock *virtio_vsock__new(struct vm *vm, uint64_t guest_cid, const char *uds,
				       char *cmdline, size_t cmdlen, char *msg, size_t msglen)
{
	struct virtio_vsock *v = calloc(1, sizeof(*v));

	if (!v) {
		snprintf(msg, msglen, "vsock: out of memory");
		return NULL;
	}
	v->vm = vm;
	v->guest_cid = guest_cid;
	v->listen_fd = -1;
	v->loop = evloop__new(on_event, on_tick, v, 1000);
	if (!v->loop || (uds && bind_uds(v, uds, msg, msglen) < 0)) {
		if (!v->loop)
			snprintf(msg, msglen, "vsock: event loop: %s", strerror(errno));
		virtio_vsock__free(v);
		return NULL;
	}
	v->t = virtio_mmio__new(vm, &vsock_ops, v, cmdline, cmdlen);
	if (!v->t) {
		snprintf(msg, msglen, "vsock: no free virtio-mmio slot");
		virtio_vsock__free(v);
		return NULL;
	}
	return v;
}

int virtio_vsock__start(struct virtio_vsock *v)
{
	int r = virtio_vsock__listen(v);

	return r < 0 ? r : evloop__start(v->loop);
}

uint32_t virtio_vsock__next_port(struct virtio_vsock *v)
{
	uint32_t p;

	virtio_mmio__lock(v->t);
	p = v->next_port;
	virtio_mmio__unlock(v->t);
	return p;
}

void virtio_vsock__set_next_port(struct virtio_vsock *v, uint32_t port)
{
	virtio_mmio__lock(v->t);
	v->next_port = port;		/* any value works: alloc_host_port wraps into range */
	virtio_mmio__unlock(v->t);
}

void virtio_vsock__pause(struct virtio_vsock *v)
{
	evloop__pause(v->loop);
}

void virtio_vsock__resume(struct virtio_vsock *v)
{
	evloop__resume(v->loop);
}

int virtio_vsock__poll(struct virtio_vsock *v, int timeout_ms)
{
	return evloop__run_once(v->loop, timeout_ms);
}

int virtio_vsock__reset_transport(struct virtio_vsock *v)
{
	struct virtq_chain ch;
	uint32_t id = EVENT_TRANSPORT_RESET;	/* §5.10.6.7: le32 id */
	int r;

	virtio_mmio__lock(v->t);
	drop_guest_conns(v);
	r = virtio_mmio__pop(v->t, Q_EVENT, &ch);
	if (r > 0 && chain__in_len(&ch) >= sizeof(id)) {
		iov_put(ch.in, ch.nr_in, &id, sizeof(id));
		virtio_mmio__push(v->t, Q_EVENT, ch.head, sizeof(id));
		virtio_mmio__signal_used(v->t, Q_EVENT);
		v->await_cid_read = true;
		v->reset_ms = clock__ms();
		r = 0;
	} else {
		if (r > 0) {
			log__warn("virtio-vsock: event queue: buffer too small");
			virtio_mmio__push(v->t, Q_EVENT, ch.head, 0);
		}
		r = -EAGAIN;
	}
	virtio_mmio__unlock(v->t);
	return r;
}

int virtio_vsock__nr_conns(struct virtio_vsock *v)
{
	int n = 0;

	virtio_mmio__lock(v->t);
	for (int i = 0; i < MAX_CONNS; i++)
		n += v->conns[i].state != C_FREE;
	virtio_mmio__unlock(v->t);
	return n;
}

uint64_t virtio_vsock__guest_cid(struct virtio_vsock *v)
{
	return v->guest_cid;
}

void virtio_vsock__free(struct virtio_vsock *v)
{
	if (!v)
		return;
	evloop__free(v->loop);		/* stops the thread first */
	for (int i = 0; i < MAX_CONNS; i++)
		if (v->conns[i].state != C_FREE)
			conn_free(v, &v->conns[i]);
	if (v->listen_fd >= 0) {
		close(v->listen_fd);
		unlink(v->uds);
	}
	free(v);
}

/* virtio 1.1 §5.1: network device, backed by libslirp (docs/network.md). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <libslirp.h>

#include "devices/virtio-mmio.h"
#include "devices/virtio-net.h"
#include "net/egress-filter.h"
#include "net/egress-policy.h"
#include "net/evloop.h"
#include "util/clock.h"
#include "vmm/log.h"

#define VIRTIO_NET_F_GUEST_CSUM	(1ULL << 1)	/* §5.1.3 */
#define VIRTIO_NET_F_MTU	(1ULL << 3)
#define VIRTIO_NET_F_MAC	(1ULL << 5)
#define RXQ			0		/* §5.1.2: receiveq1, transmitq1 */
#define TXQ			1
#define QUEUE_SIZE		256
/* §5.1.6: with VIRTIO_F_VERSION_1 the header always has num_buffers */
#define NET_HDR_LEN		12
#define VIRTIO_NET_HDR_F_DATA_VALID 2		/* §5.1.6.4: checksums already checked */
#define ETH_HLEN		14
#define VLAN_HLEN		4
#define FRAME_MAX		(ETH_HLEN + VLAN_HLEN + NET_MTU_MAX)
/* frames slirp sends while the guest has no receive buffer posted: kept,
 * up to this many bytes, rather than dropped into TCP's slow retransmit */
#define BACKLOG_BYTES		(4u << 20)
#define BACKLOG_MAX		512
#define NET_FD_MAX		1024		/* slirp sockets with an fd below this are served */
#define NET_TIMERS		4
#define REPLY_MAX		EGRESS_REPLY_MIN	/* a RST for a denied SYN */
#define TICK_MS			1000
#define GUEST_ERR_EVERY_MS	1000

struct net_config {			/* §5.1.4, the fields we offer */
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
	uint16_t mtu;
} __attribute__((packed));

struct net_timer {
	bool used;
	SlirpTimerId id;
	void *cb_opaque;
	int64_t expire_ms;		/* -1: not armed */
};

struct frame {
	uint8_t *buf;
	size_t len;
};

struct virtio_net {
	struct virtio_mmio *t;
	const struct egress_policy *policy;
	char policy_name[128];
	struct net_config config;
	Slirp *slirp;
	struct evloop *loop;
	struct egress_ratelimit rl;	/* zero-initialised, fixed size */
	uint64_t denied, last_guest_err_ms;
	bool rx_pending;		/* pushed receive buffers the guest has not heard of */
	/* this round's slirp fds (index = slirp's poll index) and what epoll has */
	struct { int fd, events; } pfd[NET_FD_MAX];
	int npfd;
	uint32_t registered[NET_FD_MAX], revents[NET_FD_MAX];
	int reg[NET_FD_MAX], nreg;
	bool listed[NET_FD_MAX];	/* sync_epoll's scratch */
	struct net_timer timers[NET_TIMERS];
	struct frame backlog[BACKLOG_MAX];
	int bl_head, bl_n;
	size_t bl_bytes;
	uint8_t txbuf[NET_HDR_LEN + FRAME_MAX];
	uint8_t reply[REPLY_MAX];
};

/* A hostile guest must not flood the VMM's log: one line a second. */
static void guest_error(struct virtio_net *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void guest_error(struct virtio_net *n, const char *fmt, ...)
{
	uint64_t now = clock__ms();
	char line[256];
	va_list ap;

	if (n->last_guest_err_ms && now - n->last_guest_err_ms < GUEST_ERR_EVERY_MS)
		return;
	n->last_guest_err_ms = now;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log__warn("virtio-net: %s", line);
}

/* ---- receive: frames from slirp (or our own replies) to the guest ---- */

/* Writes len bytes at offset off of the chain's writable part. */
static void copy_to_chain(struct virtq_chain *c, size_t off, const uint8_t *src, size_t len)
{
	for (int i = 0; i < c->nr_in && len; i++) {
		size_t seg = c->in[i].iov_len, k;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		k = seg - off < len ? seg - off : len;
		memcpy((uint8_t *)c->in[i].iov_base + off, src, k);
		off = 0;
		src += k;
		len -= k;
	}
}

/* Into the next receive buffer: true if the frame was consumed (delivered,
 * or dropped because the guest posted a buffer too small for it), false
 * when the guest has no buffer posted. */
static bool rx_put(struct virtio_net *n, const uint8_t *frame, size_t len)
{
	uint8_t hdr[NET_HDR_LEN] = { [10] = 1 };	/* num_buffers = 1, little-endian */
	struct virtq_chain c;
	int r;

	/* a malformed chain is completed empty by the transport; try the next */
	for (int tries = 0; (r = virtio_mmio__pop(n->t, RXQ, &c)) < 0 && tries < QUEUE_SIZE; tries++)
		;
	if (r <= 0)
		return false;
	n->rx_pending = true;
	if (chain__in_len(&c) < NET_HDR_LEN + len) {
		guest_error(n, "receive buffer of %zu bytes for a %zu-byte frame", chain__in_len(&c), len);
		virtio_mmio__push(n->t, RXQ, c.head, 0);
		return true;
	}
	/* slirp's frames and the filter's replies carry correct checksums: a
	 * guest that took GUEST_CSUM need not verify them again (on an
	 * emulating host the guest kernel's checksum loop is the cost per byte) */
	if (virtio_mmio__driver_features(n->t) & VIRTIO_NET_F_GUEST_CSUM)
		hdr[0] = VIRTIO_NET_HDR_F_DATA_VALID;
	copy_to_chain(&c, 0, hdr, sizeof(hdr));
	copy_to_chain(&c, NET_HDR_LEN, frame, len);
	virtio_mmio__push(n->t, RXQ, c.head, (uint32_t)(NET_HDR_LEN + len));
	return true;
}

static void flush_backlog(struct virtio_net *n)
{
	while (n->bl_n) {
		struct frame *f = &n->backlog[n->bl_head];

		if (!rx_put(n, f->buf, f->len))
			return;
		n->bl_bytes -= f->len;
		free(f->buf);
		n->bl_head = (n->bl_head + 1) % BACKLOG_MAX;
		n->bl_n--;
	}
}

static void backlog_add(struct virtio_net *n, const uint8_t *frame, size_t len)
{
	struct frame *f;

	if (n->bl_n == BACKLOG_MAX || n->bl_bytes + len > BACKLOG_BYTES)
		return;			/* dropped: TCP retransmits, as on a full NIC ring */
	f = &n->backlog[(n->bl_head + n->bl_n) % BACKLOG_MAX];
	f->buf = malloc(len);
	if (!f->buf)
		return;
	memcpy(f->buf, frame, len);
	f->len = len;
	n->bl_bytes += len;
	n->bl_n++;
}

static void deliver(struct virtio_net *n, const uint8_t *frame, size_t len)
{
	if (!virtio_mmio__queue_ready(n->t, RXQ))
		return;			/* no driver: the wire is unplugged */
	flush_backlog(n);
	if (n->bl_n || !rx_put(n, frame, len))
		backlog_add(n, frame, len);
}

static void signal_rx(struct virtio_net *n)
{
	if (n->rx_pending) {
		n->rx_pending = false;
		virtio_mmio__signal_used(n->t, RXQ);
	}
}

static void drop_backlog(struct virtio_net *n)
{
	while (n->bl_n) {
		free(n->backlog[n->bl_head].buf);
		n->bl_head = (n->bl_head + 1) % BACKLOG_MAX;
		n->bl_n--;
	}
	n->bl_bytes = 0;
}

/* ---- the host's loopback, as the policy sees it ----
 * slirp maps the gateway 10.0.2.2 to the host's 127.0.0.1, so the policy
 * must judge a frame to 10.0.2.2 as one to 127.0.0.1 ("allowlist:
 * 127.0.0.1/32" lets it through, deny_private refuses it).  The filter
 * judges a copy with that address swapped (checksums kept valid, so the
 * filter's view is a frame it could have been sent); a reply it builds is
 * swapped back, so the guest sees it come from 10.0.2.2. */

#define ETHERTYPE_IPV4		0x0800
#define IP_PROTO_TCP		6
#define IP_PROTO_UDP		17

static void csum_replace(uint8_t *sum, const uint8_t old[4], const uint8_t new[4])
{
	uint32_t c = (uint16_t)~((sum[0] << 8) | sum[1]);	/* RFC 1624, eqn. 3 */

	for (int i = 0; i < 4; i += 2) {
		c += (uint16_t)~((old[i] << 8) | old[i + 1]);
		c += (uint32_t)((new[i] << 8) | new[i + 1]);
	}
	while (c >> 16)
		c = (c & 0xffff) + (c >> 16);
	c = (uint16_t)~c;
	sum[0] = (uint8_t)(c >> 8);
	sum[1] = (uint8_t)c;
}

/* In an IPv4 frame, the address at `at` (12 source, 16 destination) from
 * `from` to `to`, with the IP and TCP/UDP checksums.  false if it is not
 * there. */
static bool swap_v4(uint8_t *f, size_t len, size_t at, const uint8_t from[4], const uint8_t to[4])
{
	uint8_t *ip = f + ETH_HLEN, *l4;
	size_t ihl;

	if (len < ETH_HLEN + 20 || f[12] != ETHERTYPE_IPV4 >> 8 || f[13] != (ETHERTYPE_IPV4 & 0xff) ||
	    (ip[0] >> 4) != 4 || memcmp(ip + at, from, 4))
		return false;
	ihl = (size_t)(ip[0] & 0xf) * 4;
	if (ihl < 20 || len < ETH_HLEN + ihl)
		return false;
	csum_replace(ip + 10, from, to);
	l4 = ip + ihl;
	/* later fragments carry no L4 header */
	if (((ip[6] & 0x1f) | ip[7]) == 0) {
		if (ip[9] == IP_PROTO_TCP && len >= ETH_HLEN + ihl + 18)
			csum_replace(l4 + 16, from, to);
		else if (ip[9] == IP_PROTO_UDP && len >= ETH_HLEN + ihl + 8 && (l4[6] | l4[7]))
			csum_replace(l4 + 6, from, to);
	}
	memcpy(ip + at, to, 4);
	return true;
}

static const uint8_t gateway_v4[4] = { 10, 0, 2, 2 }, loopback_v4[4] = { 127, 0, 0, 1 };

/* ---- transmit: guest frames, judged, then to slirp ---- */

static const char *proto_name(uint8_t proto)
{
	return proto == 6 ? "TCP" : proto == 17 ? "UDP" : proto == 1 ? "ICMP" : "IP";
}

static void log_denied(struct virtio_net *n, const struct egress_decision *d, bool to_host)
{
	char addr[64];

	egress_addr__format(d->dst, addr, sizeof(addr));
	log__warn("egress: denied %s %s:%u%s%s%s by policy %s (%s)", proto_name(d->proto),
		 to_host ? NET_GATEWAY : addr, d->dport, to_host ? " (" : "", to_host ? addr : "",
		 to_host ? ")" : "", n->policy_name, d->why ? d->why : "denied");
}

/* frame is n->txbuf's: the filter judges it (as the host sees it, above),
 * slirp gets it as the guest sent it. */
static void judge_and_send(struct virtio_net *n, uint8_t *frame, size_t len)
{
	bool to_host = swap_v4(frame, len, 16, gateway_v4, loopback_v4);
	struct egress_decision d;

	egress_filter__judge(n->policy, frame, len, n->reply, sizeof(n->reply), &d);
	if (to_host)
		swap_v4(frame, len, 16, loopback_v4, gateway_v4);
	if (d.verdict == EGRESS_PASS) {
		slirp_input(n->slirp, frame, (int)len);
		return;
	}
	n->denied++;
	if (d.reply_len && d.reply_len <= sizeof(n->reply)) {
		if (to_host)
			swap_v4(n->reply, d.reply_len, 12, loopback_v4, gateway_v4);
		deliver(n, n->reply, d.reply_len);
	}
	if (egress_ratelimit__should_log(&n->rl, &d, clock__ms()))
		log_denied(n, &d, to_host);
}

/* One transmit chain: a header (no offloads were offered, so it must ask
 * for none) and one Ethernet frame no longer than the MTU allows. */
static uint32_t tx_one(void *dev, struct virtq_chain *c)
{
	struct virtio_net *n = dev;
	size_t len = chain__out_len(c);
	size_t max = NET_HDR_LEN + ETH_HLEN + VLAN_HLEN + n->config.mtu;

	if (len < NET_HDR_LEN + ETH_HLEN || len > max) {
		guest_error(n, "transmit chain of %zu bytes (want %d..%zu)", len,
			    NET_HDR_LEN + ETH_HLEN, max);
		return 0;
	}
	if (chain__pull(c, n->txbuf, len) < 0)
		return 0;
	if (n->txbuf[0] != 0 || n->txbuf[1] != 0) {	/* flags, gso_type: §5.1.6.2 */
		guest_error(n, "transmit header asks for an offload (flags %u, gso %u)", n->txbuf[0],
			    n->txbuf[1]);
		return 0;
	}
	judge_and_send(n, n->txbuf + NET_HDR_LEN, len - NET_HDR_LEN);
	return 0;
}

static void net_notify(void *dev, struct virtio_mmio *t, int q)
{
	struct virtio_net *n = dev;

	if (q == TXQ) {
		virtio_mmio__drain(t, q, tx_one, dev);
		/* slirp may have opened a socket: the loop must poll it */
		evloop__wake(n->loop);
	} else {
		flush_backlog(n);
	}
	signal_rx(n);
}

/* ---- the transport's ops ---- */

static uint64_t net_features(void *dev)
{
	(void)dev;
	return VIRTIO_NET_F_MAC | VIRTIO_NET_F_MTU | VIRTIO_NET_F_GUEST_CSUM;
}

static void net_config_read(void *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_net *n = dev;

	memcpy(data, (uint8_t *)&n->config + off, len);
}

static void net_reset(void *dev)
{
	drop_backlog(dev);
}

static const struct virtio_dev_ops net_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.nr_queues = 2,
	.queue_max = QUEUE_SIZE,
	.features = net_features,
	.config_size = sizeof(struct net_config),
	.config_read = net_config_read,
	.notify = net_notify,
	.reset = net_reset,
};

/* ---- slirp's callbacks (always with the transport locked) ---- */

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	if (len <= FRAME_MAX)
		deliver(opaque, buf, len);
	return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
	guest_error(opaque, "slirp: %s", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
	(void)opaque;
	return (int64_t)clock__ns();
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct virtio_net *n = opaque;

	for (int i = 0; i < NET_TIMERS; i++)
		if (!n->timers[i].used) {
			n->timers[i] = (struct net_timer){ true, id, cb_opaque, -1 };
			return &n->timers[i];
		}
	log__warn("virtio-net: slirp wants more than %d timers", NET_TIMERS);
	return NULL;
}

static void cb_timer_free(void *timer, void *opaque)
{
	(void)opaque;
	if (timer)
		((struct net_timer *)timer)->used = false;
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	(void)opaque;
	if (timer)
		((struct net_timer *)timer)->expire_ms = expire_ms;
}

static void cb_poll_fd(int fd, void *opaque)
{
	(void)fd;
	(void)opaque;			/* fds are (re)registered every round instead */
}

static void cb_notify(void *opaque)
{
	evloop__wake(((struct virtio_net *)opaque)->loop);
}

static const SlirpCb slirp_cb = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_get_ns,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_poll_fd,
	.unregister_poll_fd = cb_poll_fd,
	.notify = cb_notify,
	.timer_new_opaque = cb_timer_new_opaque,
};

/* ---- slirp's fds in the event loop: a poll() set rebuilt every round ---- */

static int cb_add_poll(int fd, int events, void *opaque)
{
	struct virtio_net *n = opaque;

	if (fd < 0 || fd >= NET_FD_MAX || n->npfd == NET_FD_MAX)
		return -1;
	n->pfd[n->npfd].fd = fd;
	n->pfd[n->npfd].events = events;
	return n->npfd++;
}

static uint32_t to_epoll(int ev)
{
	return (ev & SLIRP_POLL_IN ? EPOLLIN : 0) | (ev & SLIRP_POLL_OUT ? EPOLLOUT : 0) |
	       (ev & SLIRP_POLL_PRI ? EPOLLPRI : 0);
}

/* epoll follows the set slirp asked for: a closed fd left epoll by itself
 * (its number may be back as another socket), one slirp no longer lists
 * is removed. */
static void sync_epoll(struct virtio_net *n)
{
	bool *listed = n->listed;
	int nreg = 0;

	for (int i = 0; i < n->npfd; i++) {
		int fd = n->pfd[i].fd;
		uint32_t ev = to_epoll(n->pfd[i].events) | EPOLLERR | EPOLLHUP;

		if (n->registered[fd] != ev &&
		    evloop__mod(n->loop, fd, ev, (uint64_t)fd) < 0 &&
		    evloop__add(n->loop, fd, ev, (uint64_t)fd) < 0)
			continue;
		n->registered[fd] = ev;
		if (!listed[fd])
			n->reg[nreg++] = fd;
		listed[fd] = true;
	}
	for (int i = 0; i < n->nreg; i++)
		if (!listed[n->reg[i]]) {
			evloop__del(n->loop, n->reg[i]);
			n->registered[n->reg[i]] = 0;
		}
	for (int i = 0; i < nreg; i++)
		listed[n->reg[i]] = false;
	n->nreg = nreg;
}

static int64_t next_timer_ms(struct virtio_net *n)
{
	int64_t next = INT64_MAX;

	for (int i = 0; i < NET_TIMERS; i++)
		if (n->timers[i].used && n->timers[i].expire_ms >= 0 && n->timers[i].expire_ms < next)
			next = n->timers[i].expire_ms;
	return next;
}

static int round_before(void *ctx)
{
	struct virtio_net *n = ctx;
	uint32_t timeout = TICK_MS;
	int t;

	virtio_mmio__lock(n->t);
	n->npfd = 0;
	slirp_pollfds_fill(n->slirp, &timeout, cb_add_poll, n);
	sync_epoll(n);
	t = clock__left_ms(next_timer_ms(n));
	virtio_mmio__unlock(n->t);
	return t >= 0 && (uint32_t)t < timeout ? t : (int)timeout;
}

static void on_fd(void *ctx, uint64_t token, uint32_t events)
{
	struct virtio_net *n = ctx;

	if (token < NET_FD_MAX)
		n->revents[token] |= events;
}

static int cb_get_revents(int idx, void *opaque)
{
	struct virtio_net *n = opaque;
	uint32_t ev;

	if (idx < 0 || idx >= n->npfd)
		return 0;
	ev = n->revents[n->pfd[idx].fd];
	return (ev & EPOLLIN ? SLIRP_POLL_IN : 0) | (ev & EPOLLOUT ? SLIRP_POLL_OUT : 0) |
	       (ev & EPOLLPRI ? SLIRP_POLL_PRI : 0) | (ev & EPOLLERR ? SLIRP_POLL_ERR : 0) |
	       (ev & EPOLLHUP ? SLIRP_POLL_HUP : 0);
}

static void fire_timers(struct virtio_net *n)
{
	int64_t now = (int64_t)clock__ms();

	for (int i = 0; i < NET_TIMERS; i++) {
		struct net_timer *tm = &n->timers[i];

		if (tm->used && tm->expire_ms >= 0 && tm->expire_ms <= now) {
			tm->expire_ms = -1;
			slirp_handle_timer(n->slirp, tm->id, tm->cb_opaque);
		}
	}
}

static void round_after(void *ctx)
{
	struct virtio_net *n = ctx;

	virtio_mmio__lock(n->t);
	slirp_pollfds_poll(n->slirp, 0, cb_get_revents, n);
	for (int i = 0; i < n->npfd; i++)
		n->revents[n->pfd[i].fd] = 0;
	n->npfd = 0;			/* indices are this round's only */
	fire_timers(n);
	signal_rx(n);
	virtio_mmio__unlock(n->t);
}

/* ---- life cycle ---- */

static Slirp *new_slirp(struct virtio_net *n)
{
	SlirpConfig cfg = {
		.version = 4,
		.in_enabled = true,
		.if_mtu = n->config.mtu,
		.if_mru = n->config.mtu,
		/* 10.0.2.2 is the host's loopback (docs/network.md): the
		 * policy judges it as 127.0.0.1 */
		.disable_host_loopback = false,
		.disable_dhcp = true,		/* guest init configures eth0 itself */
	};

	inet_pton(AF_INET, "10.0.2.0", &cfg.vnetwork);
	inet_pton(AF_INET, "255.255.255.0", &cfg.vnetmask);
	inet_pton(AF_INET, NET_GATEWAY, &cfg.vhost);
	inet_pton(AF_INET, NET_GUEST_ADDR, &cfg.vdhcp_start);
	inet_pton(AF_INET, NET_DNS, &cfg.vnameserver);
	return slirp_new(&cfg, &slirp_cb, n);
}

struct virtio_net *virtio_net__new(struct vm *vm, const struct egress_policy *policy,
				   const char *policy_name, int mtu, char *cmdline, size_t cmdlen,
				   char *msg, size_t msglen)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };	/* QEMU's: slirp's peer */
	struct virtio_net *n = calloc(1, sizeof(*n));

	if (!n || mtu < NET_MTU_MIN || mtu > NET_MTU_MAX) {
		snprintf(msg, msglen, n ? "egress: MTU %d is not %d..%d" : "egress: out of memory", mtu,
			 NET_MTU_MIN, NET_MTU_MAX);
		free(n);
		return NULL;
	}
	n->policy = policy;
	snprintf(n->policy_name, sizeof(n->policy_name), "%s", policy_name);
	memcpy(n->config.mac, mac, sizeof(mac));
	n->config.mtu = (uint16_t)mtu;
	n->loop = evloop__new(on_fd, NULL, n, TICK_MS);
	n->slirp = n->loop ? new_slirp(n) : NULL;
	n->t = n->slirp ? virtio_mmio__new(vm, &net_ops, n, cmdline, cmdlen) : NULL;
	if (!n->t) {
		snprintf(msg, msglen, "egress: %s", n->slirp ? "no virtio-mmio slot for virtio-net" :
			 "slirp set-up failed");
		virtio_net__free(n);
		return NULL;
	}
	evloop__set_round(n->loop, round_before, round_after);
	return n;
}

void virtio_net__cmdline(const struct virtio_net *n, char *out, size_t len)
{
	snprintf(out, len, " sm.net=%s/%d,%s,%s,%u", NET_GUEST_ADDR, NET_PREFIX, NET_GATEWAY, NET_DNS,
		 n->config.mtu);
}

int virtio_net__start(struct virtio_net *n)
{
	return evloop__start(n->loop);
}

void virtio_net__pause(struct virtio_net *n)
{
	evloop__pause(n->loop);
}

void virtio_net__resume(struct virtio_net *n)
{
	evloop__resume(n->loop);
}

int virtio_net__poll(struct virtio_net *n, int timeout_ms)
{
	return evloop__run_once(n->loop, timeout_ms);
}

bool virtio_net__driver_bound(struct virtio_net *n)
{
	struct virtio_mmio_state s;

	virtio_mmio__save(n->t, &s);
	return s.status & 4;		/* §2.1 DRIVER_OK */
}

uint64_t virtio_net__denied(const struct virtio_net *n)
{
	return n->denied;
}

void virtio_net__save(const struct virtio_net *n, struct virtio_net_state *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->mac, n->config.mac, sizeof(out->mac));
	out->mtu = n->config.mtu;
}

/* The guest configured eth0 for this MAC and MTU; a snapshot claiming
 * others was not written by us. */
int virtio_net__restore(struct virtio_net *n, const struct virtio_net_state *in)
{
	if (memcmp(in->mac, n->config.mac, sizeof(in->mac)) || in->mtu != n->config.mtu)
		return -EINVAL;
	return 0;
}

void virtio_net__free(struct virtio_net *n)
{
	if (!n)
		return;
	evloop__free(n->loop);		/* the thread is gone before slirp is */
	if (n->slirp)
		slirp_cleanup(n->slirp);
	drop_backlog(n);
	free(n);
}

/*
 * The HTTP edge router (router.h, docs/router.md).  One struct conn per
 * client connection, in one of these states:
 *
 *   HEAD      reading the request head into cbuf (at most head_max bytes)
 *   QUEUED    head complete, waiting for a worker (client reads stopped)
 *   CONNECT   connecting to the worker's hybrid-vsock socket
 *   HANDSHAKE wrote "CONNECT 1024\n", the PROXY frame and the head in one go;
 *             reading "OK <hostport>\n" and the agent's OK frame
 *   RETRY     the worker's socket closed before OK (a restored guest that is
 *             not accepting yet: the VMM holds a request 2 s at most), or the
 *             connect failed: nothing reached the service, so try again soon
 *   PROXY     bytes both ways, one buffer per direction, with backpressure:
 *             a side is read only while the other side's write is done
 *   RESPOND   writing our own small response (Connection: close)
 *   LINGER    response sent and write side shut; reading and dropping what
 *             the client still sends for a moment, so our close does not
 *             reset the response away
 *
 * Every state has a deadline (one timer per connection), so no client hangs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/agent-proto.h"
#include "router/http-head.h"
#include "router/router.h"
#include "router/tls.h"

#define UBUF_SIZE	(64 * 1024)	/* upstream → client bytes in flight per connection */
#define HS_LINE_MAX	32		/* "OK 4294967295\n" fits (docs/vsock.md) */
#define LINGER_MS	1000
#define NEED_DELAY_MS	0		/* coalesce need checks to one per loop turn */
#define SNAPSHOT_MAX	256
#define RETRY_MS	50		/* first wait between upstream attempts, doubling */
#define RETRY_MAX_MS	1000
#define RETRY_MAX	50
#define SPARE_MAX	64		/* buffers kept per kind: no malloc/brk per connection */
#define TBUF_SIZE	(UBUF_SIZE + 1024)	/* TLS: one full ubuf's records, sealed, fit */
#define TLS_HANDSHAKE	0x16		/* the first byte of every TLS ClientHello record (RFC 8446 §5.1) */

enum state { S_HEAD, S_QUEUED, S_CONNECT, S_HANDSHAKE, S_RETRY, S_PROXY, S_RESPOND, S_LINGER, S_CLOSING };
enum { E400, E408, E431, E502, E503, E504 };

struct worker {
	unsigned id, port;
	char uds[108];			/* sizeof(sockaddr_un.sun_path) */
	bool ready, draining;
	enum router_health health;
	unsigned active;
	uint64_t served, last_ms;
	struct conn *conns;
};

struct conn {
	struct router *r;
	enum state st;
	uv_tcp_t client;
	uv_pipe_t up;
	uv_timer_t timer;
	uv_connect_t creq;
	uv_write_t wr_up, wr_cl;
	uv_shutdown_t sd_up, sd_cl;
	int handles;			/* open libuv handles; freed at 0 */
	bool up_init, pend_up, pend_cl, cl_eof, up_eof, shut_up, shut_cl, started;
	/* TLS (NULL: plain HTTP): the session, its ciphertext on the way out,
	 * whether a write of it is pending and what waits for it to finish */
	struct tls_conn *tls;
	char *tbuf;
	bool tw_pend, tls_seen;
	unsigned char tafter;
	uint64_t last_ms, up_deadline;
	unsigned retries;
	struct http_head head;
	char *cbuf;			/* client → upstream: the head, then pumped bytes */
	size_t clen;
	char *ubuf;			/* upstream → client */
	size_t ulen;
	char pre[32];			/* CONNECT line + PROXY frame */
	char resp[512];
	char *big;			/* a /_health answer longer than resp (many workers) */
	struct worker *w;
	struct conn *wnext, *wprev, *qnext, *qprev, *next, *prev;
};

struct router {
	uv_loop_t *loop;
	uv_tcp_t listener;
	uv_timer_t need_timer;
	struct router_limits lim;
	char snapshot[SNAPSHOT_MAX * 6 + 1];	/* JSON-escaped */
	struct worker **workers;
	unsigned nworkers, cap_workers;
	struct conn *conns, *qhead, *qtail;
	unsigned nconns, nqueued;
	router_need_fn need_fn;
	void *need_ctx;
	uint64_t start_ms;
	struct router_stats st;
	unsigned standby;
	bool closing;
	int open_handles;
	unsigned log_budget;
	uint64_t log_window;
	void *spare[3][SPARE_MAX];	/* freed cbufs, ubufs and tbufs, for the next connections */
	unsigned nspare[3];
	struct tls_server *tls;		/* NULL: plain HTTP */
	char tin[TBUF_SIZE];		/* TLS ciphertext just read: fed to the session at once */
};

static void conn_close(struct conn *c);
static void reply(struct conn *c, int code, const char *why);
static void connect_worker(struct conn *c, struct worker *w);
static void need_check(struct router *r);

void router_limits__default(struct router_limits *l)
{
	*l = (struct router_limits){
		.head_max = 16384, .max_conns = 1024, .max_workers = 1, .worker_conns = 48,
		.queue_max = 1024, .head_timeout_ms = 10000, .queue_timeout_ms = 30000,
		.upstream_timeout_ms = 30000, .idle_timeout_ms = 60000, .handshake_timeout_ms = 10000,
	};
}

/* At most 20 lines per 10 s: a flood of bad clients must not flood the log. */
__attribute__((format(printf, 2, 3)))
static void rlog(struct router *r, const char *fmt, ...)
{
	uint64_t now = uv_now(r->loop);
	va_list ap;

	if (now - r->log_window > 10000) {
		r->log_window = now;
		r->log_budget = 20;
	}
	if (!r->log_budget)
		return;
	r->log_budget--;
	fputs("sm daemon: router: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- workers ---- */

static struct worker *find_worker(struct router *r, unsigned id, unsigned *idx)
{
	for (unsigned i = 0; i < r->nworkers; i++)
		if (r->workers[i]->id == id) {
			if (idx)
				*idx = i;
			return r->workers[i];
		}
	return NULL;
}

static unsigned starting_workers(struct router *r)
{
	unsigned n = 0;

	for (unsigned i = 0; i < r->nworkers; i++)
		n += !r->workers[i]->ready && !r->workers[i]->draining;
	return n;
}

/* The workers that count towards max_workers: draining ones are on their way out. */
static unsigned pool_size(struct router *r)
{
	unsigned n = 0;

	for (unsigned i = 0; i < r->nworkers; i++)
		n += !r->workers[i]->draining;
	return n;
}

/* Where a client goes now: an idle worker; else, while the pool can still
 * grow (or is growing), nowhere yet (it waits for a new worker rather than
 * piling onto busy ones); else the least-loaded worker with room. */
static struct worker *pick(struct router *r)
{
	struct worker *best = NULL;

	for (unsigned i = 0; i < r->nworkers; i++) {
		struct worker *w = r->workers[i];

		if (w->ready && !w->draining && w->active < r->lim.worker_conns &&
		    (!best || w->active < best->active))
			best = w;
	}
	if (!best || best->active == 0)
		return best;
	if (pool_size(r) < r->lim.max_workers || starting_workers(r))
		return NULL;
	return best;
}

static void bind_worker(struct conn *c, struct worker *w)
{
	c->w = w;
	c->wprev = NULL;
	c->wnext = w->conns;
	if (w->conns)
		w->conns->wprev = c;
	w->conns = c;
	w->active++;
	w->served++;
}

static void unbind_worker(struct conn *c)
{
	struct worker *w = c->w;

	if (!w)
		return;
	if (c->wprev)
		c->wprev->wnext = c->wnext;
	else
		w->conns = c->wnext;
	if (c->wnext)
		c->wnext->wprev = c->wprev;
	w->active--;
	w->last_ms = uv_now(c->r->loop);
	c->w = NULL;
}

/* ---- the wait queue ---- */

static void queue_push(struct router *r, struct conn *c)
{
	c->qnext = NULL;
	c->qprev = r->qtail;
	if (r->qtail)
		r->qtail->qnext = c;
	else
		r->qhead = c;
	r->qtail = c;
	r->nqueued++;
}

static void queue_unlink(struct router *r, struct conn *c)
{
	if (c->st != S_QUEUED)
		return;
	if (c->qprev)
		c->qprev->qnext = c->qnext;
	else
		r->qhead = c->qnext;
	if (c->qnext)
		c->qnext->qprev = c->qprev;
	else
		r->qtail = c->qprev;
	r->nqueued--;
}

/* Hands waiting clients to workers with room, oldest first. */
static void drain_queue(struct router *r)
{
	struct worker *w;

	while (r->qhead && !r->closing && (w = pick(r))) {
		struct conn *c = r->qhead;

		queue_unlink(r, c);
		connect_worker(c, w);
	}
}

/* ---- asking the supervisor for workers ---- */

/* Clients wait beyond what the starting workers will take (one each at
 * first), and the pool may grow. */
static bool wants_worker(struct router *r)
{
	if (r->closing || !r->need_fn || pool_size(r) >= r->lim.max_workers)
		return false;
	return r->nqueued > starting_workers(r);
}

static void on_need_timer(uv_timer_t *t)
{
	struct router *r = t->data;

	if (wants_worker(r))
		r->need_fn(r->need_ctx, r->nqueued);
}

static void need_check(struct router *r)
{
	if (wants_worker(r) && !uv_is_active((uv_handle_t *)&r->need_timer))
		uv_timer_start(&r->need_timer, on_need_timer, NEED_DELAY_MS, 0);
}

/* ---- connection plumbing ---- */

static void on_conn_timer(uv_timer_t *t);

/* One timer per connection: (re)starting it replaces the last deadline. */
static void arm(struct conn *c, unsigned ms)
{
	uv_timer_start(&c->timer, on_conn_timer, ms, 0);
}

enum { B_C2U, B_U2C, B_TLS };

static void *buf_get(struct router *r, int kind)
{
	if (r->nspare[kind])
		return r->spare[kind][--r->nspare[kind]];
	return malloc(kind == B_C2U ? r->lim.head_max : kind == B_U2C ? UBUF_SIZE : TBUF_SIZE);
}

static void buf_put(struct router *r, int kind, void *b)
{
	if (b && r->nspare[kind] < SPARE_MAX && !r->closing)
		r->spare[kind][r->nspare[kind]++] = b;
	else
		free(b);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct router *r = c->r;

	if (--c->handles)
		return;
	buf_put(r, B_C2U, c->cbuf);
	buf_put(r, B_U2C, c->ubuf);
	buf_put(r, B_TLS, c->tbuf);
	tls_conn__free(c->tls);
	free(c->big);
	free(c);
	if (--r->nconns == 0 && r->closing && r->open_handles == 0)
		free(r);
}

static void on_up_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	c->up_init = false;		/* may be set up again (RETRY) */
	on_handle_closed(h);
}

static void close_upstream(struct conn *c)
{
	if (c->up_init && !uv_is_closing((uv_handle_t *)&c->up))
		uv_close((uv_handle_t *)&c->up, on_up_closed);
	unbind_worker(c);
}

static void conn_close(struct conn *c)
{
	struct router *r = c->r;

	if (c->st == S_CLOSING)
		return;
	queue_unlink(r, c);
	c->st = S_CLOSING;
	if (c->prev)
		c->prev->next = c->next;
	else
		r->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	close_upstream(c);
	uv_close((uv_handle_t *)&c->client, on_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
	drain_queue(r);			/* a worker slot may have come free */
}

/* A plain client waiting for a worker (queued, retrying, connecting) is
 * still read: a client that hangs up is dropped at once, as nginx does,
 * instead of costing the guest a connection (and a fork) for nobody. What
 * it sends meanwhile (a body) is kept after the head while there is room,
 * and goes out with it. */
static bool waiting(const struct conn *c)
{
	return c->st == S_QUEUED || c->st == S_RETRY || c->st == S_CONNECT;
}

/* Where the client's next plaintext bytes go: after the head read so far
 * (and while waiting), or (proxying, lingering) the whole buffer. */
static uv_buf_t plain_room(struct conn *c)
{
	if (c->st == S_HEAD || waiting(c))
		return uv_buf_init(c->cbuf + c->clen, c->r->lim.head_max - (unsigned)c->clen);
	return uv_buf_init(c->cbuf, c->r->lim.head_max);
}

static void on_cl_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct conn *c = h->data;

	(void)hint;
	if (c->tls)			/* ciphertext: into the session at once (on_cl_read) */
		*b = uv_buf_init(c->r->tin, sizeof(c->r->tin));
	else
		*b = plain_room(c);
}

static void on_up_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct conn *c = h->data;

	(void)hint;
	if (c->st == S_HANDSHAKE)	/* the handshake accumulates */
		*b = uv_buf_init(c->ubuf + c->ulen, UBUF_SIZE - (unsigned)c->ulen);
	else
		*b = uv_buf_init(c->ubuf, UBUF_SIZE);
}

static void on_cl_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);
static void tls_reply(struct conn *c, const char *p, size_t n);
static void on_up_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

static void maybe_shutdown(struct conn *c);
static int cl_read_start(struct conn *c);
static int cl_shutdown(struct conn *c);
static void tls_pump(struct conn *c, uv_stream_t *src, const char *base, size_t n);

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct conn *c = req->data;

	(void)status;
	if (c->st == S_CLOSING)
		return;
	if (c->st == S_RESPOND) {		/* our reply is out: drop what still comes */
		c->st = S_LINGER;
		arm(c, LINGER_MS);
		if (cl_read_start(c) < 0)
			conn_close(c);
		return;
	}
	maybe_shutdown(c);
}

/* Half-close passed on; the connection ends when both directions have. */
static void maybe_shutdown(struct conn *c)
{
	if (c->cl_eof && !c->pend_up && !c->shut_up) {
		c->shut_up = true;
		c->sd_up.data = c;
		if (uv_shutdown(&c->sd_up, (uv_stream_t *)&c->up, on_shutdown) < 0)
			return conn_close(c);
	}
	if (c->up_eof && !c->pend_cl && !c->shut_cl) {
		c->shut_cl = true;
		if (cl_shutdown(c) < 0)
			return conn_close(c);
	}
	if (c->cl_eof && c->up_eof && !c->pend_up && !c->pend_cl)
		conn_close(c);
}

static void on_pumped(uv_write_t *req, int status)
{
	struct conn *c = req->data;
	bool to_up = req == &c->wr_up;

	if (c->st == S_CLOSING)
		return;
	if (status < 0)
		return conn_close(c);
	if (to_up) {
		c->pend_up = false;
		if (!c->cl_eof && c->st == S_PROXY)
			cl_read_start(c);
		if (c->st == S_CLOSING)		/* TLS: what was buffered ended it */
			return;
	} else {
		c->pend_cl = false;
		if (!c->up_eof)
			uv_read_start((uv_stream_t *)&c->up, on_up_alloc, on_up_read);
	}
	maybe_shutdown(c);
}

/* Writes what src gave to dst; what dst cannot take now is queued and src is
 * not read again until it is written (the backpressure). */
static void pump(struct conn *c, uv_stream_t *src, uv_stream_t *dst, char *base, size_t n)
{
	uv_buf_t b = uv_buf_init(base, (unsigned)n);
	bool to_up = dst == (uv_stream_t *)&c->up;
	uv_write_t *wr = to_up ? &c->wr_up : &c->wr_cl;
	int w;

	if (!to_up && c->tls)
		return tls_pump(c, src, base, n);
	w = uv_try_write(dst, &b, 1);
	c->last_ms = uv_now(c->r->loop);
	if (w == (int)n)
		return;
	if (w < 0 && w != UV_EAGAIN)
		return conn_close(c);
	w = w < 0 ? 0 : w;
	b = uv_buf_init(base + w, (unsigned)(n - (size_t)w));
	uv_read_stop(src);
	*(to_up ? &c->pend_up : &c->pend_cl) = true;
	wr->data = c;
	if (uv_write(wr, dst, &b, 1, on_pumped) < 0)
		conn_close(c);
}

/* ---- our own responses ---- */

static const char *reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 408: return "Request Timeout";
	case 431: return "Request Header Fields Too Large";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return "Error";
}

static void count_error(struct router *r, int code)
{
	static const int codes[] = { 400, 408, 431, 502, 503, 504 };

	for (unsigned i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i] == code)
			r->st.errors[i]++;
}

static void on_replied(uv_write_t *req, int status)
{
	struct conn *c = req->data;

	if (c->st == S_CLOSING)
		return;
	if (status < 0 || cl_shutdown(c) < 0)
		conn_close(c);
}

/* The response in c->resp, or in c->big when it does not fit; its length (< 0: no memory). */
static int format_response(struct conn *c, int code, const char *type, const char *body, bool head_only)
{
	static const char fmt[] = "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
				  "Connection: close\r\n\r\n%s";
	const char *retry = code == 503 ? "Retry-After: 1\r\n" : "";
	size_t bl = strlen(body);
	int n = snprintf(c->resp, sizeof(c->resp), fmt, code, reason(code), type, bl, retry,
			 head_only ? "" : body);

	if (n < (int)sizeof(c->resp))
		return n;
	if (!(c->big = malloc((size_t)n + 1)))
		return -1;
	return snprintf(c->big, (size_t)n + 1, fmt, code, reason(code), type, bl, retry, head_only ? "" : body);
}

static void send_response(struct conn *c, int code, const char *type, const char *body, bool head_only)
{
	int n = format_response(c, code, type, body, head_only);
	uv_buf_t b = uv_buf_init(c->big ? c->big : c->resp, n > 0 ? (unsigned)n : 0);

	close_upstream(c);
	queue_unlink(c->r, c);
	uv_read_stop((uv_stream_t *)&c->client);
	c->st = S_RESPOND;
	c->started = true;
	arm(c, LINGER_MS * 5);
	c->wr_cl.data = c;
	if (n > 0 && c->tls)
		tls_reply(c, b.base, (size_t)n);
	else if (n <= 0 || uv_write(&c->wr_cl, (uv_stream_t *)&c->client, &b, 1, on_replied) < 0)
		conn_close(c);
	drain_queue(c->r);
}

/* An error a client can act on, or a plain close once its response began. */
static void reply(struct conn *c, int code, const char *why)
{
	char body[160];

	if (c->st == S_CLOSING)
		return;
	count_error(c->r, code);
	if (code >= 500 && why)
		rlog(c->r, "%d: %s", code, why);
	if (c->started || c->pend_cl || (c->tls && !tls_conn__ready(c->tls)))
		return conn_close(c);		/* (no TLS session yet: nothing to answer in) */
	snprintf(body, sizeof(body), "%d %s: %s\n", code, reason(code), why ? why : "");
	send_response(c, code, "text/plain", body, false);
}

static const char *health_name(enum router_health h)
{
	static const char *const names[] = { "none", "starting", "healthy", "unhealthy" };

	return (unsigned)h < 4 ? names[h] : "none";
}

/* ,"pool":[{"id":N,"health":"…","conns":N,"draining":bool},…] into out (cap ≥ 16). */
static void pool_json(struct router *r, char *out, size_t cap)
{
	size_t n = (size_t)snprintf(out, cap, ",\"pool\":[");

	for (unsigned i = 0; i < r->nworkers && n < cap; i++) {
		struct worker *w = r->workers[i];

		n += (size_t)snprintf(out + n, cap - n, "%s{\"id\":%u,\"health\":\"%s\",\"conns\":%u,\"draining\":%s}",
				      i ? "," : "", w->id, health_name(w->health), w->active,
				      w->draining ? "true" : "false");
	}
	if (n < cap)
		snprintf(out + n, cap - n, "]");
}

#define POOL_ENTRY_MAX	96		/* one pool entry's JSON, with room to spare */

static void reply_health(struct conn *c)
{
	struct router *r = c->r;
	struct router_stats st;
	size_t pcap = 16 + (size_t)r->nworkers * POOL_ENTRY_MAX, cap = SNAPSHOT_MAX * 6 + 300 + pcap;
	char *body = malloc(cap), *pool = malloc(pcap);

	if (!body || !pool) {
		free(body);
		free(pool);
		return conn_close(c);
	}
	router__stats(r, &st);
	pool_json(r, pool, pcap);
	snprintf(body, cap,
		 "{\"status\":\"ok\",\"snapshot\":\"%s\",\"workers\":{\"live\":%u,\"idle\":%u,"
		 "\"starting\":%u,\"standby\":%u},\"waiting\":%u,\"uptime_s\":%llu,"
		 "\"unhealthy\":%u,\"draining\":%u%s}\n", r->snapshot,
		 st.live, st.idle, st.starting, st.standby, st.waiting,
		 (unsigned long long)((uv_now(r->loop) - r->start_ms) / 1000), st.unhealthy, st.draining, pool);
	r->st.answered++;
	send_response(c, 200, "application/json", body, c->head.method_len == 4);
	free(pool);
	free(body);
}

/* ---- upstream: connect, handshake, proxy ---- */

/* "OK <digits>\n" then the agent's 8-byte frame header: 1 done, 0 more, -1 bad. */
static int handshake(struct conn *c, size_t *used, const char **why)
{
	char *nl = memchr(c->ubuf, '\n', c->ulen < HS_LINE_MAX ? c->ulen : HS_LINE_MAX);
	struct agent_hdr h;
	size_t at;

	if (!nl) {
		*why = "the worker's vsock socket sent no OK line";
		return c->ulen >= HS_LINE_MAX ? -1 : 0;
	}
	at = (size_t)(nl - c->ubuf) + 1;
	if (at < 5 || memcmp(c->ubuf, "OK ", 3)) {
		*why = "the worker's vsock socket did not say OK";
		return -1;
	}
	if (c->ulen - at < AGENT_HDR_LEN)
		return 0;
	if (agent_hdr__decode((uint8_t *)c->ubuf + at, &h, why) < 0)
		return -1;
	if (h.type != AGENT_OK || h.len != 0) {
		*why = h.type == AGENT_ERROR ? "the guest agent could not reach the service port"
					     : "the guest agent did not answer PROXY with OK";
		return -1;
	}
	*used = at + AGENT_HDR_LEN;
	return 1;
}

static void start_proxy(struct conn *c, size_t used)
{
	c->st = S_PROXY;
	c->r->st.proxied++;
	if (!c->pend_up)
		cl_read_start(c);
	if (c->st == S_CLOSING)
		return;
	if (c->ulen > used) {			/* the response began in the same read */
		c->started = true;
		arm(c, c->r->lim.idle_timeout_ms);
		pump(c, (uv_stream_t *)&c->up, (uv_stream_t *)&c->client, c->ubuf + used, c->ulen - used);
	}
}

/* Nothing reached the guest service yet: close and try again after 50,
 * 100, 200 ... 1000 ms (an overloaded guest is not hammered), while the
 * upstream deadline allows.  False when it does not. */
static bool retry(struct conn *c)
{
	uint64_t now = uv_now(c->r->loop);
	unsigned wait = c->retries >= 5 ? RETRY_MAX_MS : RETRY_MS << c->retries;

	if (wait > RETRY_MAX_MS)
		wait = RETRY_MAX_MS;
	if (c->retries >= RETRY_MAX || now + wait >= c->up_deadline)
		return false;
	c->retries++;
	close_upstream(c);
	c->st = S_RETRY;
	c->ulen = 0;
	c->pend_up = false;
	arm(c, wait);
	return true;
}

static void on_up_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = s->data;
	const char *why = NULL;
	size_t used = 0;
	int r;

	(void)b;
	if (n == 0 || c->st == S_CLOSING)
		return;
	if (n < 0 && c->st == S_HANDSHAKE && c->ulen == 0 && retry(c))
		return;
	if (n < 0 && !c->started)
		return reply(c, 502, c->st == S_HANDSHAKE ? "the worker closed the connection before its "
			     "guest accepted it (is the agent listening?)" : "the service closed before answering");
	if (n < 0 && n != UV_EOF)
		return conn_close(c);
	if (n < 0) {
		c->up_eof = true;
		uv_read_stop(s);
		return maybe_shutdown(c);
	}
	if (c->st == S_PROXY) {
		if (!c->started)
			arm(c, c->r->lim.idle_timeout_ms);
		c->started = true;
		return pump(c, s, (uv_stream_t *)&c->client, b->base, (size_t)n);
	}
	c->ulen += (size_t)n;
	r = handshake(c, &used, &why);
	if (r < 0)
		return reply(c, 502, why);
	if (r > 0)
		start_proxy(c, used);
}

static void on_hs_written(uv_write_t *req, int status)
{
	struct conn *c = req->data;

	if (c->st != S_HANDSHAKE && c->st != S_PROXY)
		return;				/* closed, or retrying: a cancelled write */
	c->pend_up = false;
	if (status < 0)
		return reply(c, 502, "cannot write to the worker's vsock socket");
	if (c->st == S_PROXY)
		cl_read_start(c);
}

static void on_up_connect(uv_connect_t *req, int status)
{
	struct conn *c = req->data;
	uv_buf_t b[2];
	uint8_t *f = (uint8_t *)c->pre + 13;

	if (c->st != S_CONNECT)
		return;
	if (status < 0 && retry(c))
		return;
	if (status < 0)
		return reply(c, 502, "cannot connect to the worker's vsock socket");
	/* pipelined: the VMM takes exactly the CONNECT line, the agent buffers
	 * what follows its PROXY frame (docs/vsock.md, docs/agent-protocol.md) */
	memcpy(c->pre, "CONNECT 1024\n", 13);
	agent_hdr__encode(f, AGENT_PROXY, 2);
	agent__put16(f + AGENT_HDR_LEN, (uint16_t)c->w->port);
	b[0] = uv_buf_init(c->pre, 13 + AGENT_HDR_LEN + 2);
	b[1] = uv_buf_init(c->cbuf, (unsigned)c->clen);
	uv_read_stop((uv_stream_t *)&c->client);	/* cbuf is out; PROXY reads on */
	c->st = S_HANDSHAKE;
	c->pend_up = true;
	c->wr_up.data = c;
	if (uv_write(&c->wr_up, (uv_stream_t *)&c->up, b, 2, on_hs_written) < 0 ||
	    uv_read_start((uv_stream_t *)&c->up, on_up_alloc, on_up_read) < 0)
		reply(c, 502, "cannot write to the worker's vsock socket");
}

static void connect_worker(struct conn *c, struct worker *w)
{
	uint64_t now = uv_now(c->r->loop);

	bind_worker(c, w);
	c->st = S_CONNECT;
	if (!c->up_deadline)
		c->up_deadline = now + c->r->lim.upstream_timeout_ms;
	arm(c, (unsigned)(c->up_deadline > now ? c->up_deadline - now : 1));
	if (!c->ubuf && !(c->ubuf = buf_get(c->r, B_U2C)))
		return reply(c, 503, "out of memory");
	uv_pipe_init(c->r->loop, &c->up, 0);
	c->up.data = c;
	c->up_init = true;
	c->handles++;
	c->creq.data = c;
	uv_pipe_connect(&c->creq, &c->up, w->uds, on_up_connect);
	need_check(c->r);
}

/* ---- clients ---- */

static void on_head(struct conn *c)
{
	struct router *r = c->r;
	struct worker *w;

	if (http_head__is(&c->head, c->cbuf, "/_health"))
		return reply_health(c);
	if (c->tls || c->clen == c->r->lim.head_max)	/* else read while waiting */
		uv_read_stop((uv_stream_t *)&c->client);
	if ((w = pick(r)) && !r->qhead)
		return connect_worker(c, w);
	if (r->nqueued >= r->lim.queue_max)
		return reply(c, 503, "too many clients waiting for a worker");
	c->st = S_QUEUED;
	queue_push(r, c);
	arm(c, r->lim.queue_timeout_ms);
	need_check(r);
}

/* n plaintext bytes from the client at base (for HEAD: at cbuf + clen), or
 * n < 0: EOF or an error. */
static void cl_data(struct conn *c, ssize_t n, char *base)
{
	uv_stream_t *s = (uv_stream_t *)&c->client;
	enum http_head_result hr;

	if (n == UV_ENOBUFS && waiting(c))
		return (void)uv_read_stop(s);	/* no room left: the kernel holds the rest */
	if (n < 0 && (c->st != S_PROXY || n != UV_EOF))
		return conn_close(c);		/* left (also while waiting), an error, or EOF while lingering */
	if (n < 0) {
		c->cl_eof = true;
		uv_read_stop(s);
		return maybe_shutdown(c);
	}
	if (c->st == S_PROXY)
		return pump(c, s, (uv_stream_t *)&c->up, base, (size_t)n);
	if (waiting(c)) {
		c->clen += (size_t)n;
		if (c->clen == c->r->lim.head_max)
			uv_read_stop(s);
		return;
	}
	if (c->st != S_HEAD)
		return;				/* lingering: dropped */
	c->clen += (size_t)n;
	hr = http_head__feed(&c->head, c->cbuf, c->clen, c->r->lim.head_max);
	if (hr == HTTP_HEAD_DONE)
		on_head(c);
	else if (hr == HTTP_HEAD_BAD)
		reply(c, 400, c->head.why);
	else if (hr == HTTP_HEAD_TOO_BIG)
		reply(c, 431, c->head.why);
}

static void tls_in(struct conn *c, ssize_t n, const char *raw);

static void on_cl_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = s->data;

	if (n == 0 || c->st == S_CLOSING)
		return;
	if (c->tls)
		return tls_in(c, n, b->base);
	cl_data(c, n, b->base);
}

/* ---- TLS on the client side (tls.h, docs/tls.md) ----
 *
 * The states above run unchanged over the session: ciphertext read from the
 * client is fed to it and the plaintext goes to cl_data; what the states
 * write to the client is sealed into tbuf and written out, and what waited
 * for the write (on_pumped, on_replied, the shutdown) runs once all of it
 * is out — so the backpressure is the plain path's.  A session may hold
 * plaintext the connection did not want yet (a pending upstream write): it
 * is read when reading resumes (cl_read_start). */

enum { T_NONE, T_PUMPED, T_REPLIED, T_SHUTDOWN };

static void on_tls_written(uv_write_t *req, int status);

/* Ciphertext out: 1 all written, 0 a write pending, -1 the connection
 * closed.  tbuf is held only while there is something to write: an idle
 * keep-alive connection holds none. */
static int tls_out(struct conn *c)
{
	uv_stream_t *s = (uv_stream_t *)&c->client;

	while (!c->tw_pend) {
		size_t n = 0;
		uv_buf_t b;
		int w;

		if (tls_conn__pending(c->tls) && !c->tbuf && !(c->tbuf = buf_get(c->r, B_TLS)))
			return conn_close(c), -1;
		if (c->tbuf)
			n = tls_conn__take(c->tls, c->tbuf, TBUF_SIZE);
		if (!n) {
			buf_put(c->r, B_TLS, c->tbuf);
			c->tbuf = NULL;
			return 1;
		}
		b = uv_buf_init(c->tbuf, (unsigned)n);
		w = uv_try_write(s, &b, 1);
		if (w == (int)n)
			continue;
		if (w < 0 && w != UV_EAGAIN)
			return conn_close(c), -1;
		w = w < 0 ? 0 : w;
		b = uv_buf_init(c->tbuf + w, (unsigned)(n - (size_t)w));
		c->tw_pend = true;
		c->wr_cl.data = c;
		if (uv_write(&c->wr_cl, s, &b, 1, on_tls_written) < 0)
			return conn_close(c), -1;
	}
	return 0;
}

/* Everything is out: what waited for it. */
static void tls_after(struct conn *c)
{
	int after = c->tafter;

	c->tafter = T_NONE;
	if (after == T_PUMPED)
		on_pumped(&c->wr_cl, 0);
	else if (after == T_REPLIED)
		on_replied(&c->wr_cl, 0);
	else if (after == T_SHUTDOWN) {
		c->sd_cl.data = c;
		if (uv_shutdown(&c->sd_cl, (uv_stream_t *)&c->client, on_shutdown) < 0)
			conn_close(c);
	}
}

static void on_tls_written(uv_write_t *req, int status)
{
	struct conn *c = req->data;

	if (c->st == S_CLOSING)
		return;
	c->tw_pend = false;
	if (status < 0)
		return conn_close(c);
	if (tls_out(c) == 1)
		tls_after(c);
}

/* Plaintext to the client, then `after` once its records are written. */
static void tls_send(struct conn *c, const char *p, size_t n, int after)
{
	if (tls_conn__write(c->tls, p, n) < 0) {
		rlog(c->r, "TLS: %s", tls_conn__why(c->tls));
		return conn_close(c);
	}
	c->tafter = (unsigned char)after;
	if (tls_out(c) == 1)
		tls_after(c);
}

static void tls_reply(struct conn *c, const char *p, size_t n)
{
	tls_send(c, p, n, T_REPLIED);
}

/* pump()'s guest → client direction: as there, src is read again only once
 * the client has taken everything (on_pumped). */
static void tls_pump(struct conn *c, uv_stream_t *src, const char *base, size_t n)
{
	c->last_ms = uv_now(c->r->loop);
	if (tls_conn__write(c->tls, base, n) < 0)
		return conn_close(c);
	if (tls_out(c) != 0)
		return;
	uv_read_stop(src);
	c->pend_cl = true;
	c->tafter = T_PUMPED;
}

static int cl_shutdown(struct conn *c)
{
	if (!c->tls) {
		c->sd_cl.data = c;
		return uv_shutdown(&c->sd_cl, (uv_stream_t *)&c->client, on_shutdown);
	}
	tls_conn__close_notify(c->tls);		/* then the TCP FIN, once it is out */
	tls_send(c, NULL, 0, T_SHUTDOWN);
	return 0;
}

/* Does the connection take client bytes now?  (The plain path reads the
 * socket in exactly these states.) */
static bool cl_wants(struct conn *c)
{
	return c->st == S_HEAD || c->st == S_LINGER || (c->st == S_PROXY && !c->pend_up && !c->cl_eof);
}

static void tls_failed(struct conn *c)
{
	c->r->st.tls_failed++;
	rlog(c->r, "TLS handshake failed: %s", tls_conn__why(c->tls));
	tls_out(c);				/* the alert, if it goes at once */
	conn_close(c);
}

/* Plaintext out of the session for as long as the connection wants it. */
static void tls_drain(struct conn *c)
{
	bool was_ready = tls_conn__ready(c->tls);

	while (cl_wants(c)) {
		uv_buf_t b = plain_room(c);
		int n = b.len ? tls_conn__read(c->tls, b.base, b.len) : TLS_MORE;

		if (!was_ready && tls_conn__ready(c->tls)) {
			was_ready = true;
			c->r->st.tls_ok++;
			arm(c, c->r->lim.head_timeout_ms);	/* the head's own deadline from now */
		}
		if (n > 0) {
			cl_data(c, n, b.base);
			continue;
		}
		if (n == TLS_EOF)
			cl_data(c, UV_EOF, NULL);
		else if (n == TLS_ERR)
			return was_ready ? conn_close(c) : tls_failed(c);
		break;
	}
	if (c->st != S_CLOSING && tls_out(c) == 1)
		tls_after(c);
}

/* Not a TLS record: most likely plain HTTP.  Answer it in plain text. */
static void not_tls(struct conn *c)
{
	c->r->st.tls_failed++;
	tls_conn__free(c->tls);
	c->tls = NULL;
	reply(c, 400, "this port speaks TLS — use https://");
}

static void tls_in(struct conn *c, ssize_t n, const char *raw)
{
	if (n < 0)
		return cl_data(c, n, NULL);	/* EOF or an error, as in plain HTTP */
	if (!c->tls_seen) {
		c->tls_seen = true;
		if ((unsigned char)raw[0] != TLS_HANDSHAKE)
			return not_tls(c);
	}
	if (tls_conn__feed(c->tls, raw, (size_t)n) < 0)
		return conn_close(c);
	tls_drain(c);
}

static int cl_read_start(struct conn *c)
{
	int e = uv_read_start((uv_stream_t *)&c->client, on_cl_alloc, on_cl_read);

	if (e == UV_EALREADY)
		e = 0;
	if (!e && c->tls && tls_conn__buffered(c->tls))
		tls_drain(c);
	return e;
}

/* RETRY's timer: once the old upstream handle is closed, to a worker again. */
static void again(struct conn *c)
{
	struct router *r = c->r;
	struct worker *w;

	if (c->up_init)
		return arm(c, 10);
	if ((w = pick(r)) && !r->qhead)
		return connect_worker(c, w);
	c->st = S_QUEUED;
	queue_push(r, c);
	arm(c, r->lim.queue_timeout_ms);
	need_check(r);
}

static void on_conn_timer(uv_timer_t *t)
{
	struct conn *c = t->data;
	uint64_t now = uv_now(c->r->loop), idle = c->r->lim.idle_timeout_ms;

	switch (c->st) {
	case S_HEAD:
		if (c->tls && !tls_conn__ready(c->tls))
			return count_error(c->r, 408), conn_close(c);	/* no handshake in time */
		return reply(c, 408, "no complete request head in time");
	case S_QUEUED:
		return reply(c, 503, "no worker became free in time");
	case S_RETRY:
		return again(c);
	case S_CONNECT:
	case S_HANDSHAKE:
		return reply(c, 504, "the worker did not answer in time");
	case S_PROXY:
		if (!c->started)
			return reply(c, 504, "the service sent no response in time");
		if (now - c->last_ms < idle)	/* activity since: sleep the rest */
			return uv_timer_start(t, on_conn_timer, idle - (now - c->last_ms), 0), (void)0;
		return conn_close(c);
	default:
		return conn_close(c);
	}
}

static void on_connection(uv_stream_t *server, int status)
{
	struct router *r = server->data;
	struct conn *c;

	if (status < 0 || !(c = calloc(1, sizeof(*c))))
		return;
	c->r = r;
	r->nconns++;
	uv_tcp_init(r->loop, &c->client);
	uv_timer_init(r->loop, &c->timer);
	c->client.data = c->timer.data = c;
	c->handles = 2;
	c->next = r->conns;
	if (r->conns)
		r->conns->prev = c;
	r->conns = c;
	c->st = S_HEAD;
	http_head__init(&c->head);
	if (uv_accept(server, (uv_stream_t *)&c->client) < 0)
		return conn_close(c);
	r->st.accepted++;
	c->cbuf = buf_get(r, B_C2U);
	c->wr_cl.data = c;
	if (r->tls && !(c->tls = tls_conn__new(r->tls)))
		return conn_close(c);
	if (!c->cbuf || r->nconns > r->lim.max_conns)
		return reply(c, 503, "too many connections");
	uv_tcp_nodelay(&c->client, 1);
	arm(c, c->tls ? r->lim.handshake_timeout_ms : r->lim.head_timeout_ms);
	if (cl_read_start(c) < 0)
		conn_close(c);
}

/* ---- the router object ---- */

static void json_escape(char *out, size_t cap, const char *s)
{
	size_t o = 0;

	for (; *s && o + 7 < cap; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch == '"' || ch == '\\')
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", ch);
		else
			out[o++] = (char)ch;
	}
	out[o] = '\0';
}

struct router *router__new(uv_loop_t *loop, const char *host, int port, const char *snapshot,
			   const struct router_limits *lim, int *err)
{
	struct router *r = calloc(1, sizeof(*r));
	struct sockaddr_in sa;
	int e;

	if (!r) {
		*err = -ENOMEM;
		return NULL;
	}
	r->loop = loop;
	r->lim = *lim;
	r->start_ms = uv_now(loop);
	json_escape(r->snapshot, sizeof(r->snapshot), snapshot);
	uv_tcp_init(loop, &r->listener);
	uv_timer_init(loop, &r->need_timer);
	r->listener.data = r->need_timer.data = r;
	r->open_handles = 2;
	e = uv_ip4_addr(host, port, &sa);
	if (!e)
		e = uv_tcp_bind(&r->listener, (struct sockaddr *)&sa, 0);
	if (!e)
		e = uv_listen((uv_stream_t *)&r->listener, 511, on_connection);
	if (e) {
		*err = e;
		router__close(r);
		return NULL;
	}
	return r;
}

void router__use_tls(struct router *r, struct tls_server *t)
{
	tls_server__free(r->tls);
	r->tls = t;
}

int router__port(struct router *r)
{
	struct sockaddr_in sa;
	int len = sizeof(sa);

	if (uv_tcp_getsockname(&r->listener, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	return ntohs(sa.sin_port);
}

void router__on_need(struct router *r, router_need_fn fn, void *ctx)
{
	r->need_fn = fn;
	r->need_ctx = ctx;
	need_check(r);
}

int router__add_worker(struct router *r, unsigned id, const char *uds, unsigned guest_port)
{
	struct worker *w;

	if (find_worker(r, id, NULL))
		return -EEXIST;
	if (strlen(uds) >= sizeof(w->uds))
		return -ENAMETOOLONG;
	if (guest_port == 0 || guest_port > 65535)
		return -EINVAL;
	if (r->nworkers == r->cap_workers) {
		unsigned cap = r->cap_workers ? r->cap_workers * 2 : 8;
		struct worker **nw = realloc(r->workers, cap * sizeof(*nw));

		if (!nw)
			return -ENOMEM;
		r->workers = nw;
		r->cap_workers = cap;
	}
	if (!(w = calloc(1, sizeof(*w))))
		return -ENOMEM;
	w->id = id;
	w->port = guest_port;
	strcpy(w->uds, uds);
	w->last_ms = uv_now(r->loop);
	r->workers[r->nworkers++] = w;
	need_check(r);			/* still short? the supervisor hears again */
	return 0;
}

int router__ready(struct router *r, unsigned id)
{
	struct worker *w = find_worker(r, id, NULL);

	if (!w)
		return -ENOENT;
	w->ready = true;
	w->last_ms = uv_now(r->loop);
	drain_queue(r);
	need_check(r);
	return 0;
}

int router__remove_worker(struct router *r, unsigned id)
{
	unsigned i;
	struct worker *w = find_worker(r, id, &i);

	if (!w)
		return -ENOENT;
	r->workers[i] = r->workers[--r->nworkers];	/* out first: nothing picks it again */
	while (w->conns) {
		struct conn *c = w->conns;

		unbind_worker(c);
		reply(c, 502, "the worker went away");
	}
	free(w);
	need_check(r);
	return 0;
}

int router__drain(struct router *r, unsigned id)
{
	struct worker *w = find_worker(r, id, NULL);

	if (!w)
		return -ENOENT;
	w->draining = true;
	need_check(r);			/* its place in the pool is free: waiting clients want one */
	return 0;
}

int router__set_health(struct router *r, unsigned id, enum router_health h)
{
	struct worker *w = find_worker(r, id, NULL);

	if (!w)
		return -ENOENT;
	if ((unsigned)h > ROUTER_HEALTH_UNHEALTHY)
		return -EINVAL;
	w->health = h;
	return 0;
}

int router__worker_stats(struct router *r, unsigned id, struct router_worker_stats *st)
{
	struct worker *w = find_worker(r, id, NULL);

	if (!w)
		return -ENOENT;
	st->ready = w->ready;
	st->draining = w->draining;
	st->health = w->health;
	st->active = w->active;
	st->served = w->served;
	st->idle_ms = w->active ? 0 : uv_now(r->loop) - w->last_ms;
	return 0;
}

void router__stats(struct router *r, struct router_stats *st)
{
	*st = r->st;
	st->live = st->idle = st->starting = st->draining = st->unhealthy = 0;
	for (unsigned i = 0; i < r->nworkers; i++) {
		struct worker *w = r->workers[i];
		bool live = w->ready && !w->draining;

		st->live += live;
		st->idle += live && !w->active;
		st->starting += !w->ready && !w->draining;
		st->draining += w->draining;
		st->unhealthy += w->health == ROUTER_HEALTH_UNHEALTHY;
	}
	st->standby = r->standby;
	st->waiting = r->nqueued;
	st->conns = r->nconns;
}

void router__set_standby(struct router *r, unsigned n)
{
	r->standby = n;
}

static void on_router_handle_closed(uv_handle_t *h)
{
	struct router *r = h->data;

	if (--r->open_handles == 0 && r->nconns == 0)
		free(r);
}

void router__close(struct router *r)
{
	if (r->closing)
		return;
	r->closing = true;
	while (r->conns)
		conn_close(r->conns);
	for (unsigned i = 0; i < r->nworkers; i++)
		free(r->workers[i]);
	free(r->workers);
	tls_server__free(r->tls);
	r->tls = NULL;
	for (int k = 0; k < 3; k++)
		while (r->nspare[k])
			free(r->spare[k][--r->nspare[k]]);
	r->workers = NULL;
	r->nworkers = 0;
	uv_close((uv_handle_t *)&r->listener, on_router_handle_closed);
	uv_close((uv_handle_t *)&r->need_timer, on_router_handle_closed);
}

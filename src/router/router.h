#ifndef SM_NET_ROUTER_H
#define SM_NET_ROUTER_H
/*
 * The daemon's HTTP edge (docs/router.md): accepts on 127.0.0.1:PORT, reads
 * each connection's first request head, answers GET /_health itself and
 * binds every other connection, for its life, to one upstream connection to
 * a worker VM: the worker's hybrid-vsock socket, `CONNECT 1024`, the agent's
 * PROXY frame, then the buffered head and raw bytes both ways.  Runs on the
 * daemon's one libuv loop; the supervisor (Lua) only adds, readies and
 * removes workers and hears when one is needed.  Nothing here calls Lua.
 */
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct router_limits {
	unsigned head_max;		/* bytes of a request head (431 beyond) */
	unsigned max_conns;		/* client connections at once (more: 503 and close) */
	unsigned max_workers;		/* pool size: the router asks for workers up to it */
	unsigned worker_conns;		/* connections per worker before new ones queue */
	unsigned queue_max;		/* clients waiting for a worker (more: 503) */
	unsigned head_timeout_ms;	/* a complete head within this (else 408) */
	unsigned queue_timeout_ms;	/* a worker within this (else 503 + Retry-After) */
	unsigned upstream_timeout_ms;	/* the first response byte within this (else 504) */
	unsigned idle_timeout_ms;	/* a proxied connection silent this long is closed */
	unsigned handshake_timeout_ms;	/* TLS: a complete handshake within this (else closed) */
};

struct router_stats {
	unsigned live, idle, starting, standby, waiting, conns;
	unsigned draining, unhealthy;
	uint64_t accepted, proxied, answered, errors[6];	/* errors: 400 408 431 502 503 504 */
	uint64_t tls_ok, tls_failed;	/* TLS handshakes done / failed (plain HTTP to the port included) */
};

/* What the supervisor's health checks last said (docs/policies.md); NONE: no checks. */
enum router_health { ROUTER_HEALTH_NONE, ROUTER_HEALTH_STARTING, ROUTER_HEALTH_HEALTHY, ROUTER_HEALTH_UNHEALTHY };

struct router_worker_stats {
	bool ready, draining;
	enum router_health health;
	unsigned active;
	uint64_t served;
	uint64_t idle_ms;		/* since its last connection ended (0 while active) */
};

struct router;
struct tls_server;
typedef void (*router_need_fn)(void *ctx, unsigned waiting);

void router_limits__default(struct router_limits *l);
/* Listening on host:port, or NULL with *err a negative errno (e.g. -EADDRINUSE). */
struct router *router__new(uv_loop_t *loop, const char *host, int port, const char *snapshot,
			   const struct router_limits *lim, int *err);
/* Speak TLS on the port from now on (docs/tls.md); the router owns t. */
void router__use_tls(struct router *r, struct tls_server *t);
/* The port it listens on (useful after asking for port 0). */
int router__port(struct router *r);
/* Called (from a loop callback, never re-entrantly) when a worker is wanted. */
void router__on_need(struct router *r, router_need_fn fn, void *ctx);
/* A worker that is starting: connections are not sent to it before router__ready. */
int router__add_worker(struct router *r, unsigned id, const char *uds, unsigned guest_port);
int router__ready(struct router *r, unsigned id);
/* No new clients; its connections finish.  It leaves the pool's count, so
 * the router may ask for a replacement at once. */
int router__drain(struct router *r, unsigned id);
int router__set_health(struct router *r, unsigned id, enum router_health h);
/* Its clients get 502 (or are closed once their response began). */
int router__remove_worker(struct router *r, unsigned id);
int router__worker_stats(struct router *r, unsigned id, struct router_worker_stats *st);
/* How many standby VMMs the supervisor keeps (not workers: shown by /_health only). */
void router__set_standby(struct router *r, unsigned n);
void router__stats(struct router *r, struct router_stats *st);
/* Stops listening and closes every connection; frees itself once libuv is done. */
void router__close(struct router *r);
#endif

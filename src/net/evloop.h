#ifndef SM_NET_EVLOOP_H
#define SM_NET_EVLOOP_H
/*
 * A small epoll loop for host-side sockets of one device (e.g. the vsock
 * Unix sockets).  Each fd is registered with a 64-bit token the owner
 * interprets (slot + generation), so an event for an fd closed meanwhile
 * is recognised as stale instead of touching freed state.  The loop runs in
 * its own thread (evloop__start) or, in unit tests, one round at a time.
 */
#include <stdint.h>

struct evloop;
/* Called for each ready fd; `token` as registered, `events` EPOLL* bits. */
typedef void (*evloop_fn)(void *ctx, uint64_t token, uint32_t events);
/* Called about every tick_ms, for time-outs. */
typedef void (*evloop_tick_fn)(void *ctx);

struct evloop *evloop__new(evloop_fn fn, evloop_tick_fn tick, void *ctx, int tick_ms);
int evloop__add(struct evloop *l, int fd, uint32_t events, uint64_t token);
/* For owners whose fd set changes every round (libslirp's): 0 or -errno. */
int evloop__mod(struct evloop *l, int fd, uint32_t events, uint64_t token);
int evloop__del(struct evloop *l, int fd);
/* Round hooks: `before` runs before each wait and may shorten it (returns
 * the wait in ms, or -1 for the tick); `after` runs once the round's events
 * are dispatched.  A poll()-style library fills and reads its fds there. */
typedef int (*evloop_before_fn)(void *ctx);
typedef void (*evloop_after_fn)(void *ctx);
void evloop__set_round(struct evloop *l, evloop_before_fn before, evloop_after_fn after);
/* Make the current or next wait return now (any thread). */
void evloop__wake(struct evloop *l);
/* One round: wait up to timeout_ms, dispatch.  Returns events handled or -errno. */
int evloop__run_once(struct evloop *l, int timeout_ms);
/* Run rounds in a new thread until evloop__free. */
int evloop__start(struct evloop *l);
/* Park the thread between rounds (no callback runs until evloop__resume):
 * a snapshot must not see a device thread write guest RAM.  Returns once
 * parked; no-op if the thread was never started. */
void evloop__pause(struct evloop *l);
void evloop__resume(struct evloop *l);
void evloop__free(struct evloop *l);
#endif

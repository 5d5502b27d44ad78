#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "net/evloop.h"
#include "util/clock.h"

#define MAX_EVENTS	64
#define WAKE_TOKEN	UINT64_MAX

struct evloop {
	int epfd, wakefd;
	evloop_fn fn;
	evloop_tick_fn tick;
	evloop_before_fn before;
	evloop_after_fn after;
	void *ctx;
	int tick_ms;
	uint64_t next_tick_ms;
	bool stop, running;
	pthread_t thread;
	pthread_mutex_t park_lock;	/* guards the two below */
	pthread_cond_t park_cond;
	bool pause_req, parked;
};

struct evloop *evloop__new(evloop_fn fn, evloop_tick_fn tick, void *ctx, int tick_ms)
{
	struct evloop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->fn = fn;
	l->tick = tick;
	l->ctx = ctx;
	l->tick_ms = tick_ms > 0 ? tick_ms : 1000;
	pthread_mutex_init(&l->park_lock, NULL);
	pthread_cond_init(&l->park_cond, NULL);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->epfd < 0 || l->wakefd < 0 || evloop__add(l, l->wakefd, EPOLLIN, WAKE_TOKEN) < 0) {
		evloop__free(l);
		return NULL;
	}
	return l;
}

int evloop__add(struct evloop *l, int fd, uint32_t events, uint64_t token)
{
	struct epoll_event ev = { .events = events, .data.u64 = token };

	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int evloop__mod(struct evloop *l, int fd, uint32_t events, uint64_t token)
{
	struct epoll_event ev = { .events = events, .data.u64 = token };

	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

int evloop__del(struct evloop *l, int fd)
{
	return epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0;
}

void evloop__set_round(struct evloop *l, evloop_before_fn before, evloop_after_fn after)
{
	l->before = before;
	l->after = after;
}

int evloop__run_once(struct evloop *l, int timeout_ms)
{
	struct epoll_event ev[MAX_EVENTS];
	int want = l->before ? l->before(l->ctx) : -1;
	int n;

	if (want >= 0 && (timeout_ms < 0 || want < timeout_ms))
		timeout_ms = want;
	n = epoll_wait(l->epfd, ev, MAX_EVENTS, timeout_ms);
	if (n < 0) {
		int e = errno;

		if (l->after)
			l->after(l->ctx);
		return e == EINTR ? 0 : -e;
	}
	for (int i = 0; i < n; i++) {
		uint64_t count;

		if (ev[i].data.u64 != WAKE_TOKEN)
			l->fn(l->ctx, ev[i].data.u64, ev[i].events);
		else if (read(l->wakefd, &count, sizeof(count)) < 0) {
			/* already drained: nothing to do */
		}
	}
	if (l->after)
		l->after(l->ctx);
	if (l->tick && clock__ms() >= l->next_tick_ms) {
		l->next_tick_ms = clock__ms() + (uint64_t)l->tick_ms;
		l->tick(l->ctx);
	}
	return n;
}

void evloop__wake(struct evloop *l)
{
	uint64_t one = 1;

	if (write(l->wakefd, &one, sizeof(one)) < 0) {
		/* the counter is full: the loop is being woken anyway */
	}
}

/* Between rounds, so no callback is running while parked. */
static void park_if_asked(struct evloop *l)
{
	pthread_mutex_lock(&l->park_lock);
	if (l->pause_req) {
		l->parked = true;
		pthread_cond_broadcast(&l->park_cond);
		while (l->pause_req && !__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE))
			pthread_cond_wait(&l->park_cond, &l->park_lock);
		l->parked = false;
	}
	pthread_mutex_unlock(&l->park_lock);
}

static void *loop_thread(void *arg)
{
	struct evloop *l = arg;

	while (!__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE)) {
		park_if_asked(l);
		if (evloop__run_once(l, l->tick_ms) < 0)
			break;
	}
	pthread_mutex_lock(&l->park_lock);
	l->parked = true;		/* gone for good: pausers must not wait */
	pthread_cond_broadcast(&l->park_cond);
	pthread_mutex_unlock(&l->park_lock);
	return NULL;
}

void evloop__pause(struct evloop *l)
{
	if (!l->running)
		return;
	pthread_mutex_lock(&l->park_lock);
	l->pause_req = true;
	evloop__wake(l);
	while (!l->parked)
		pthread_cond_wait(&l->park_cond, &l->park_lock);
	pthread_mutex_unlock(&l->park_lock);
}

void evloop__resume(struct evloop *l)
{
	pthread_mutex_lock(&l->park_lock);
	l->pause_req = false;
	pthread_cond_broadcast(&l->park_cond);
	pthread_mutex_unlock(&l->park_lock);
}

int evloop__start(struct evloop *l)
{
	int r = pthread_create(&l->thread, NULL, loop_thread, l);

	if (r)
		return -r;
	pthread_setname_np(l->thread, "sm-evloop");	/* for top -H and bench/agent.lua */
	l->running = true;
	return 0;
}

void evloop__free(struct evloop *l)
{
	if (!l)
		return;
	if (l->running) {
		__atomic_store_n(&l->stop, true, __ATOMIC_RELEASE);
		evloop__wake(l);
		evloop__resume(l);
		pthread_join(l->thread, NULL);
	}
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->wakefd >= 0)
		close(l->wakefd);
	pthread_mutex_destroy(&l->park_lock);
	pthread_cond_destroy(&l->park_cond);
	free(l);
}

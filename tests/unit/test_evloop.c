/* The host-socket event loop: callbacks, and pause/resume around a
 * snapshot (no callback may run while paused; nothing is lost). */
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "net/evloop.h"
#include "tap.h"

static int calls;
static int efd;

static void on_event(void *ctx, uint64_t token, uint32_t events)
{
	uint64_t v;

	(void)ctx;
	(void)token;
	(void)events;
	if (read(efd, &v, sizeof(v)) == sizeof(v))
		__atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST);
}

static void kick(void)
{
	uint64_t one = 1;

	if (write(efd, &one, sizeof(one)) != sizeof(one))
		perror("eventfd write");
}

static int calls_now(void)
{
	return __atomic_load_n(&calls, __ATOMIC_SEQ_CST);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Up to 5 s for the count to reach `want`. */
static bool wait_calls(int want)
{
	for (int i = 0; i < 500 && calls_now() < want; i++)
		sleep_ms(10);
	return calls_now() >= want;
}

int main(void)
{
	struct evloop *l;

	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	l = evloop__new(on_event, NULL, NULL, 50);
	ok(l && evloop__add(l, efd, EPOLLIN, 7) == 0, "a loop with one fd");

	evloop__pause(l);
	ok(1, "pause before the thread started returns at once");
	evloop__resume(l);
	kick();
	ok(evloop__run_once(l, 1000) == 1 && calls_now() == 1, "run_once dispatches one event");

	ok(evloop__start(l) == 0, "thread starts");
	kick();
	ok(wait_calls(2), "the thread dispatches");

	for (int round = 0; round < 3; round++) {
		int before;

		evloop__pause(l);
		before = calls_now();
		kick();
		sleep_ms(150);
		is(calls_now(), before, "paused: no callback runs");
		evloop__resume(l);
		ok(wait_calls(before + 1), "resumed: the event that came while paused is handled");
	}

	evloop__pause(l);
	evloop__free(l);		/* must not hang on a parked thread */
	ok(1, "free while paused returns");
	close(efd);
	return done_testing();
}

/*
 * sm-counter [INTERVAL_MS [FIRST]]: print FIRST, FIRST+1, ... one per line,
 * every INTERVAL_MS (default 100), forever.  A guest program whose progress
 * is visible from outside, for snapshot tests: a shell loop would fork+exec
 * per step, which costs about a second on emulating hosts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	long ms = argc > 1 ? atol(argv[1]) : 100;
	unsigned long n = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
	struct timespec next;

	if (ms <= 0)
		ms = 100;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;; n++) {
		printf("%lu\n", n);
		fflush(stdout);
		next.tv_nsec += ms * 1000000L;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
}

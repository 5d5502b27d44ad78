#ifndef SM_UTIL_CLOCK_H
#define SM_UTIL_CLOCK_H
/* Monotonic time for timeouts and measurements (never the wall clock). */
#include <stdint.h>
#include <time.h>

static inline uint64_t clock__ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline uint64_t clock__ms(void)
{
	return clock__ns() / 1000000;
}
#endif

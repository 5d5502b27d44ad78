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

/* poll()'s timeout until a clock__ms() deadline: -1 for INT64_MAX (none) */
static inline int clock__left_ms(int64_t deadline)
{
	int64_t d;

	if (deadline == INT64_MAX)
		return -1;
	d = deadline - (int64_t)clock__ms();
	return d < 0 ? 0 : d > INT32_MAX ? INT32_MAX : (int)d;
}
#endif

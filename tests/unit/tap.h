/* A tiny TAP producer for the C unit tests: ok()/is() print "ok N - name"
 * or "not ok N - name"; done_testing() prints the plan and returns the exit
 * status.  tests/run-all.sh counts these lines across all suites. */
#ifndef SM_TAP_H
#define SM_TAP_H
#include <stdio.h>
#include <stdarg.h>
#include <string.h>

static int tap_n, tap_failed;

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is(a, b, ...) tap_is((long long)(a), (long long)(b), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(a, b, ...) tap_is_str((a), (b), __FILE__, __LINE__, __VA_ARGS__)

__attribute__((format(printf, 4, 5)))
static inline int tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", pass ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!pass) {
		tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return pass;
}


static inline int tap_is(long long got, long long want, const char *file, int line, const char *name)
{
	int pass = got == want;

	tap_ok(pass, file, line, "%s", name);
	if (!pass)
		printf("#   got %lld, want %lld\n", got, want);
	return pass;
}

static inline int tap_is_str(const char *got, const char *want, const char *file, int line, const char *name)
{
	int pass = got && want && strcmp(got, want) == 0;

	tap_ok(pass, file, line, "%s", name);
	if (!pass)
		printf("#   got '%s', want '%s'\n", got ? got : "(null)", want ? want : "(null)");
	return pass;
}

static inline int done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
#endif

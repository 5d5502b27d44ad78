/* Per-thread error detail for src/oci (see err.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "oci/err.h"

static __thread char msg[1024];

/* Sets the message and returns code, so `return oci_err__set(-EINVAL, ...)`. */
int oci_err__set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return code;
}

/* Prefixes context to the current message: "pull x: " + "layer y: bad". */
int oci_err__wrap(int code, const char *fmt, ...)
{
	char prefix[512], old[sizeof(msg)];
	va_list ap;

	memcpy(old, msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	if (!old[0] && code < 0)
		snprintf(old, sizeof(old), "%s", strerror(-code));
	if (snprintf(msg, sizeof(msg), "%s: %s", prefix, old) >= (int)sizeof(msg))
		memcpy(msg + sizeof(msg) - 4, "...", 4);   /* keep the head, mark the cut */
	return code;
}

const char *oci_err__msg(void)
{
	return msg;
}

void oci_err__clear(void)
{
	msg[0] = '\0';
}

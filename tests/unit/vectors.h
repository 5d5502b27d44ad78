/* Wire vectors shared between suites (the files in tests/vectors/: "NAME HEX" lines,
 * '#' comments), so both ends of a codec are checked against the same bytes. */
#ifndef SM_TEST_VECTORS_H
#define SM_TEST_VECTORS_H
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The hex of vector `name` in file (a path from the repository root), or "". */
static inline const char *vector_hex(const char *file, const char *name)
{
	static char line[4096];
	FILE *f = fopen(file, "r");
	size_t n = strlen(name);

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n) && line[n] == ' ') {
			fclose(f);
			line[strcspn(line, "\n")] = '\0';
			return line + n + 1;
		}
	if (f)
		fclose(f);
	return "";
}

/* b[0..n) written as lower-case hex is hex. */
static inline int vector_same(const uint8_t *b, int n, const char *hex)
{
	char buf[4096];

	for (int i = 0; i < n && 2 * i + 2 < (int)sizeof(buf); i++)
		sprintf(buf + 2 * i, "%02x", b[i]);
	return (int)strlen(hex) == 2 * n && !memcmp(buf, hex, (size_t)(2 * n));
}

/* The bytes of a hex string into out (at most max); how many. */
static inline int vector_bytes(const char *hex, uint8_t *out, int max)
{
	int n = 0;
	unsigned v;

	while (n < max && sscanf(hex + 2 * n, "%2x", &v) == 1)
		out[n++] = (uint8_t)v;
	return n;
}
#endif

/*
 * metadata.json (docs/snapshot-format.md): snapshot__parse_meta takes what
 * sm writes and refuses numbers outside the format's limits, including
 * ones whose low 32 bits alone would pass (found by tests/fuzz/fuzz_meta).
 */
#include <stdio.h>
#include <string.h>

#include "snapshot/snapshot.h"
#include "tap.h"

static const char *fmt =
	"{\"format\": %s, \"vcpus\": %s, \"mem_bytes\": %s, \"state_bytes\": 4096,"
	" \"state_sha256\": \"00\", \"kernel\": {\"path\": \"/k\", \"sha256\": \"11\"},"
	" \"cpu\": {\"fingerprint\": \"hw:0.0.0.0.0.0.0\"}, \"devices\": {\"disk_slots\": %s}}";

static int parse(const char *format, const char *vcpus, const char *mem, const char *slots,
		 struct snapshot_meta *m)
{
	char buf[512], why[256] = "";

	snprintf(buf, sizeof(buf), fmt, format, vcpus, mem, slots);
	memset(m, 0, sizeof(*m));
	return snapshot__parse_meta((const uint8_t *)buf, strlen(buf), m, why, sizeof(why));
}

int main(void)
{
	struct snapshot_meta m;

	ok(parse("3", "2", "268435456", "8", &m) == 0 && m.vcpus == 2 && m.mem_bytes == 256 << 20 &&
	   m.disk_slots == 8 && !strcmp(m.kernel, "/k"), "a snapshot sm wrote is read back");
	ok(parse("2", "2", "268435456", "8", &m) < 0, "another format version is refused");
	ok(parse("4294967299", "2", "268435456", "8", &m) < 0, "format 2^32 + 3 is not format 3");
	ok(parse("3", "4294967297", "268435456", "8", &m) < 0, "vcpus 2^32 + 1 is not 1 vCPU");
	ok(parse("3", "0", "268435456", "8", &m) < 0, "0 vCPUs are refused");
	ok(parse("3", "2", "-1048576", "8", &m) < 0, "negative memory is refused");
	ok(parse("3", "2", "268435457", "8", &m) < 0, "memory not in whole MiB is refused");
	ok(parse("3", "2", "268435456", "4294967304", &m) < 0, "disk_slots 2^32 + 8 is not 8");
	ok(parse("3", "2", "268435456", "-1", &m) < 0, "negative disk_slots are refused");
	return done_testing();
}

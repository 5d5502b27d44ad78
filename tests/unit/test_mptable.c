/* MP tables: checksums, entry counts, limits (MP spec 1.4 §4). */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "vmm/mptable.h"

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static void check(int cpus)
{
	uint8_t buf[1024];
	int n = mptable__write(buf, 0x9fc00, sizeof(buf), cpus);
	uint16_t len, count;
	uint32_t physptr;
	int procs = 0;

	ok(n > 0, "%d CPUs: table written", cpus);
	ok(!memcmp(buf, "_MP_", 4) && sum(buf, 16) == 0, "%d CPUs: floating pointer valid", cpus);
	memcpy(&physptr, buf + 4, 4);
	is(physptr, 0x9fc00 + 16, "floating pointer points at the table");
	memcpy(&len, buf + 16 + 4, 2);
	memcpy(&count, buf + 16 + 34, 2);
	ok(!memcmp(buf + 16, "PCMP", 4) && sum(buf + 16, len) == 0, "%d CPUs: table checksum", cpus);
	is(16 + len, n, "length covers every entry");
	for (uint8_t *p = buf + 16 + 44; p < buf + 16 + len; p += p[0] == 0 ? 20 : 8)
		procs += p[0] == 0 && (p[3] & 1);
	is(procs, cpus, "one enabled processor entry per vCPU");
	is(count, cpus + 2 + 24 + 2, "entry count: cpus, bus, ioapic, 24 pins, 2 local");
}

int main(void)
{
	uint8_t small[64], buf[1024];

	check(1);
	check(4);
	check(16);
	is(mptable__write(buf, 0, sizeof(buf), 0), -EINVAL, "0 CPUs refused");
	is(mptable__write(buf, 0, sizeof(buf), 17), -EINVAL, "17 CPUs refused");
	is(mptable__write(small, 0, sizeof(small), 1), -ENOSPC, "too small a buffer refused");
	return done_testing();
}

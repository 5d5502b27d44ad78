/* Guest console sink: panic detection and tail. */
#include <string.h>

#include "tap.h"
#include "vmm/console.h"

static void feed(struct console *c, const char *s)
{
	while (*s)
		console__byte(c, (uint8_t)*s++);
}

int main(void)
{
	static struct console c;

	console__init(&c, -1);
	feed(&c, "[    1.0] booting\r\n[    2.0] all good\r\n");
	ok(!console__panicked(&c), "no panic in ordinary output");
	feed(&c, "[   40.1] Kernel panic - not syncing: No working init found.\r\n");
	ok(console__panicked(&c), "panic line detected");
	is_str(console__panic_line(&c), "Kernel panic - not syncing: No working init found.",
	       "panic line kept without timestamp or CR");
	for (int i = 0; i < 1000; i++)
		feed(&c, "filler line to wrap the ring\n");
	is_str(console__panic_line(&c), "Kernel panic - not syncing: No working init found.",
	       "first panic line survives later output");
	return done_testing();
}

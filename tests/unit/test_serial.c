/* 16550A model: what the Linux 8250 driver's autoconfig and tx path rely on. */
#include <string.h>

#include "devices/serial.h"
#include "tap.h"

static char sunk[64];
static int nsunk;

static void sink(void *ctx, uint8_t b) { (void)ctx; sunk[nsunk++] = (char)b; }
static void w(struct serial *s, int reg, uint8_t v) { serial__io(s, reg, &v, 1, true); }
static uint8_t r(struct serial *s, int reg)
{
	uint8_t v;

	serial__io(s, reg, &v, 1, false);
	return v;
}

int main(void)
{
	struct serial *s = serial__new(NULL, 0x3f8, 4, sink, NULL);

	w(s, 7, 0xa5);
	is(r(s, 7), 0xa5, "scratch register holds a value");
	w(s, 1, 0);
	is(r(s, 1), 0, "IER reads back 0");
	w(s, 1, 0x0f);
	is(r(s, 1), 0x0f, "IER reads back 0x0f");
	w(s, 1, 0);
	w(s, 4, 0x10 | 0x0a);			/* loopback, OUT2, RTS */
	is(r(s, 6) & 0xf0, 0x90, "loopback: MSR mirrors MCR (DCD|CTS)");
	w(s, 4, 0x08);
	w(s, 2, 0x01);				/* enable FIFOs */
	is(r(s, 2) >> 6, 3, "IIR reports FIFOs: a 16550A");
	w(s, 3, 0x80);
	w(s, 0, 0x01);
	w(s, 1, 0x00);
	ok(r(s, 0) == 0x01 && r(s, 1) == 0, "DLAB selects the divisor latch");
	w(s, 3, 0x03);
	is(r(s, 5) & 0x60, 0x60, "LSR: transmitter empty");
	is(r(s, 2) & 0x0f, 0x01, "no interrupt pending with IER 0");
	w(s, 1, 0x02);
	is(r(s, 2) & 0x0f, 0x02, "enabling THRI raises a THRE interrupt");
	is(r(s, 2) & 0x0f, 0x01, "reading IIR acknowledged it");
	w(s, 0, 'h');
	w(s, 0, 'i');
	ok(nsunk == 2 && !memcmp(sunk, "hi", 2), "transmitted bytes reach the sink");
	is(r(s, 2) & 0x0f, 0x02, "THRE pending again after a transmit");
	uint16_t wide = 0x4141;
	serial__io(s, 0, (uint8_t *)&wide, 2, true);
	is(nsunk, 2, "a 2-byte access is ignored");
	serial__free(s);
	return done_testing();
}

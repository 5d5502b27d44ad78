/*
 * 16550A UART.  Enough of the register file for the Linux 8250 driver's
 * autoconfig to find a 16550A with FIFOs, THRE interrupts so the tty layer
 * can write interrupt driven, and a receive queue the host fills
 * (serial__receive) with RDA interrupts.  Bytes leave the instant they are
 * written, so THR is always empty.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "devices/serial.h"
#include "vmm/bus.h"

enum {				/* register offsets (DLAB=0 / DLAB=1) */
	UART_RX_TX = 0,		/* RBR/THR, DLL */
	UART_IER = 1,		/* IER, DLM */
	UART_IIR_FCR = 2,
	UART_LCR = 3,
	UART_MCR = 4,
	UART_LSR = 5,
	UART_MSR = 6,
	UART_SCR = 7,
};
#define LCR_DLAB	0x80
#define IER_RDI		0x01
#define IER_THRI	0x02
#define IIR_NO_INT	0x01
#define IIR_THRI	0x02
#define IIR_RDI		0x04
#define LSR_DR		0x01
#define IIR_FIFO_ON	0xc0
#define FCR_FIFO_ENABLE	0x01
#define LSR_THRE	0x20
#define LSR_TEMT	0x40
#define MCR_LOOP	0x10
#define MSR_LOOP_BITS(mcr) (((mcr) & 0x0c) << 4 | ((mcr) & 0x01) << 5 | ((mcr) & 0x02) << 3)

struct serial {
	struct vm *vm;
	int irq;
	serial_sink sink;
	void *ctx;
	pthread_mutex_t lock;
	struct serial_regs r;		/* everything a snapshot needs */
	uint8_t rx[SERIAL_RX_MAX];	/* ring: r.rx_head .. +r.rx_len */
};

static uint8_t iir(struct serial *s)
{
	uint8_t fifo = (s->r.fcr & FCR_FIFO_ENABLE) ? IIR_FIFO_ON : 0;

	if ((s->r.ier & IER_RDI) && s->r.rx_len)
		return fifo | IIR_RDI;
	if ((s->r.ier & IER_THRI) && s->r.thri_pending)
		return fifo | IIR_THRI;
	return fifo | IIR_NO_INT;
}

static void update_irq(struct serial *s)
{
	int level = !(iir(s) & IIR_NO_INT);

	if (level != s->r.irq_level && s->vm) {
		s->r.irq_level = level;
		vm__irq_line(s->vm, s->irq, level);
	}
}

static void transmit(struct serial *s, uint8_t byte)
{
	s->r.thri_pending = 0;
	update_irq(s);				/* falling edge ... */
	if (!(s->r.mcr & MCR_LOOP) && s->sink)
		s->sink(s->ctx, byte);
	s->r.thri_pending = 1;
	update_irq(s);				/* ... and a new rising one */
}

static void write_reg(struct serial *s, uint64_t off, uint8_t v)
{
	bool dlab = s->r.lcr & LCR_DLAB;

	switch (off) {
	case UART_RX_TX:
		if (dlab)
			s->r.dll = v;
		else
			transmit(s, v);
		break;
	case UART_IER:
		if (dlab) {
			s->r.dlm = v;
			break;
		}
		if ((v & IER_THRI) && !(s->r.ier & IER_THRI))
			s->r.thri_pending = 1;	/* enabling THRI with THR empty interrupts */
		s->r.ier = v & 0x0f;
		break;
	case UART_IIR_FCR:
		s->r.fcr = v & 0xc9;
		break;
	case UART_LCR:
		s->r.lcr = v;
		break;
	case UART_MCR:
		s->r.mcr = v & 0x1f;
		break;
	case UART_SCR:
		s->r.scr = v;
		break;
	}
	update_irq(s);
}

static uint8_t read_reg(struct serial *s, uint64_t off)
{
	bool dlab = s->r.lcr & LCR_DLAB;
	uint8_t v = 0;

	switch (off) {
	case UART_RX_TX:
		if (dlab)
			return s->r.dll;
		if (s->r.rx_len) {
			v = s->rx[s->r.rx_head];
			s->r.rx_head = (s->r.rx_head + 1) % SERIAL_RX_MAX;
			s->r.rx_len--;
			update_irq(s);
		}
		return v;
	case UART_IER:
		return dlab ? s->r.dlm : s->r.ier;
	case UART_IIR_FCR:
		v = iir(s);
		if ((v & 0x0f) == IIR_THRI)
			s->r.thri_pending = 0;	/* reading IIR acknowledges THRE */
		update_irq(s);
		return v;
	case UART_LCR:
		return s->r.lcr;
	case UART_MCR:
		return s->r.mcr;
	case UART_LSR:
		return LSR_THRE | LSR_TEMT | (s->r.rx_len ? LSR_DR : 0);
	case UART_MSR:
		/* loopback wires MCR outputs back to the modem inputs (8250 autoconfig checks it) */
		return (s->r.mcr & MCR_LOOP) ? MSR_LOOP_BITS(s->r.mcr) : 0xb0;	/* DCD, DSR, CTS */
	case UART_SCR:
		return s->r.scr;
	}
	return v;
}

void serial__io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct serial *s = dev;

	if (len != 1) {				/* the UART has byte registers only */
		if (!is_write)
			for (uint32_t i = 0; i < len; i++)
				data[i] = 0xff;
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (is_write)
		write_reg(s, offset, data[0]);
	else
		data[0] = read_reg(s, offset);
	pthread_mutex_unlock(&s->lock);
}

struct serial *serial__new(struct vm *vm, uint16_t port, int irq, serial_sink sink, void *ctx)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	*s = (struct serial){ .vm = vm, .irq = irq, .sink = sink, .ctx = ctx, .r.mcr = 0x08 };
	pthread_mutex_init(&s->lock, NULL);
	if (vm && bus__register(vm->pio, port, 8, serial__io, s) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

size_t serial__receive(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	for (; n < len && s->r.rx_len < SERIAL_RX_MAX; n++, s->r.rx_len++)
		s->rx[(s->r.rx_head + s->r.rx_len) % SERIAL_RX_MAX] = buf[n];
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

void serial__save(struct serial *s, struct serial_regs *out, uint8_t *rx)
{
	pthread_mutex_lock(&s->lock);
	*out = s->r;
	for (uint32_t i = 0; i < s->r.rx_len; i++)
		rx[i] = s->rx[(s->r.rx_head + i) % SERIAL_RX_MAX];
	out->rx_head = 0;
	pthread_mutex_unlock(&s->lock);
}

int serial__restore(struct serial *s, const struct serial_regs *in, const uint8_t *rx)
{
	if (in->rx_len > SERIAL_RX_MAX)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	s->r = *in;
	s->r.rx_head = 0;
	memcpy(s->rx, rx, in->rx_len);
	/* the irqchip state was restored with the line as it was */
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void serial__free(struct serial *s)
{
	free(s);
}

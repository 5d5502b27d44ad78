#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio-mmio.h"
#include "vmm/bus.h"
#include "vmm/log.h"

/* virtio 1.1 §4.2.2: register offsets */
enum {
	REG_MAGIC = 0x000, REG_VERSION = 0x004, REG_DEVICE_ID = 0x008, REG_VENDOR_ID = 0x00c,
	REG_DEV_FEATURES = 0x010, REG_DEV_FEATURES_SEL = 0x014,
	REG_DRV_FEATURES = 0x020, REG_DRV_FEATURES_SEL = 0x024,
	REG_QUEUE_SEL = 0x030, REG_QUEUE_NUM_MAX = 0x034, REG_QUEUE_NUM = 0x038,
	REG_QUEUE_READY = 0x044, REG_QUEUE_NOTIFY = 0x050,
	REG_INTERRUPT_STATUS = 0x060, REG_INTERRUPT_ACK = 0x064, REG_STATUS = 0x070,
	REG_QUEUE_DESC_LOW = 0x080, REG_QUEUE_DESC_HIGH = 0x084,
	REG_QUEUE_DRIVER_LOW = 0x090, REG_QUEUE_DRIVER_HIGH = 0x094,
	REG_QUEUE_DEVICE_LOW = 0x0a0, REG_QUEUE_DEVICE_HIGH = 0x0a4,
	REG_CONFIG_GENERATION = 0x0fc, REG_CONFIG = 0x100,
};
#define VIRTIO_MMIO_MAGIC	0x74726976	/* "virt" */
#define VIRTIO_VENDOR_SM	0x4d53		/* "SM" */
#define STATUS_FEATURES_OK	8
#define STATUS_NEEDS_RESET	64
#define ISR_USED_BUFFER		1
#define ISR_CONFIG_CHANGE	2
#define MMIO_SLOT_SIZE		0x1000
#define FIRST_IRQ		5
/* IOAPIC pins 5..23 (the MP table routes 24 pins): slots share them round
 * robin, as virtio_mmio requests IRQF_SHARED and reads each device's
 * INTERRUPT_STATUS, so an image with many layers needs no more pins. */
#define NR_IRQ_LINES		(24 - FIRST_IRQ)

/* Opaque to devices: they use the calls in virtio-mmio.h. */
struct virtio_mmio {
	struct vm *vm;
	const struct virtio_dev_ops *ops;
	void *dev;
	uint64_t gpa;
	int irq;
	pthread_mutex_t lock;
	uint32_t status, isr, dev_feat_sel, drv_feat_sel, queue_sel, config_gen;
	uint64_t driver_features;
	bool failed;			/* DEVICE_NEEDS_RESET: guest broke a queue */
	struct virtq vq[VIRTIO_MMIO_MAX_QUEUES];
};

static struct virtq *cur_queue(struct virtio_mmio *t)
{
	return t->queue_sel < (uint32_t)t->ops->nr_queues ? &t->vq[t->queue_sel] : NULL;
}

static void reset(struct virtio_mmio *t)
{
	t->status = t->isr = t->dev_feat_sel = t->drv_feat_sel = t->queue_sel = 0;
	t->driver_features = 0;
	t->failed = false;
	for (int i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		virtq__reset(&t->vq[i]);
	if (t->ops->reset)
		t->ops->reset(t->dev);
}

static uint32_t read_reg(struct virtio_mmio *t, uint64_t off)
{
	struct virtq *q = cur_queue(t);
	uint64_t f;

	switch (off) {
	case REG_MAGIC: return VIRTIO_MMIO_MAGIC;
	case REG_VERSION: return 2;
	case REG_DEVICE_ID: return t->ops->device_id;
	case REG_VENDOR_ID: return VIRTIO_VENDOR_SM;
	case REG_DEV_FEATURES:
		f = t->ops->features(t->dev) | VIRTIO_F_VERSION_1;
		return t->dev_feat_sel == 0 ? (uint32_t)f : t->dev_feat_sel == 1 ? (uint32_t)(f >> 32) : 0;
	case REG_QUEUE_NUM_MAX: return q ? t->ops->queue_max : 0;
	case REG_QUEUE_READY: return q ? q->ready : 0;
	case REG_INTERRUPT_STATUS: return t->isr;
	case REG_STATUS: return t->status | (t->failed ? STATUS_NEEDS_RESET : 0);
	case REG_CONFIG_GENERATION: return t->config_gen;
	}
	return 0;
}

static void set_half(uint64_t *v, bool high, uint32_t val)
{
	*v = high ? ((*v & 0xffffffffULL) | (uint64_t)val << 32) : ((*v & ~0xffffffffULL) | val);
}

static void write_status(struct virtio_mmio *t, uint32_t v)
{
	uint64_t offered = t->ops->features(t->dev) | VIRTIO_F_VERSION_1;

	if (v == 0) {
		reset(t);
		return;
	}
	/* FEATURES_OK only sticks if the driver asked for nothing we lack (§3.1.1) */
	if ((v & STATUS_FEATURES_OK) && (t->driver_features & ~offered))
		v &= ~STATUS_FEATURES_OK;
	t->status = v & 0xff;
}

static void queue_ready(struct virtio_mmio *t, struct virtq *q, uint32_t v)
{
	if (!v) {
		q->ready = false;
		return;
	}
	if (virtq__enable(q) < 0)
		log__warn("%s: queue %u: rings outside guest RAM or bad size %u — queue left disabled",
			 t->ops->name, t->queue_sel, q->num);
}

static void write_queue_reg(struct virtio_mmio *t, struct virtq *q, uint64_t off, uint32_t v)
{
	if (q->ready && off != REG_QUEUE_READY)	/* §4.2.2.3: only while not ready */
		return;
	switch (off) {
	case REG_QUEUE_NUM: q->num = v <= t->ops->queue_max ? (uint16_t)v : 0; break;
	case REG_QUEUE_READY: queue_ready(t, q, v); break;
	case REG_QUEUE_DESC_LOW: case REG_QUEUE_DESC_HIGH:
		set_half(&q->desc_gpa, off == REG_QUEUE_DESC_HIGH, v); break;
	case REG_QUEUE_DRIVER_LOW: case REG_QUEUE_DRIVER_HIGH:
		set_half(&q->avail_gpa, off == REG_QUEUE_DRIVER_HIGH, v); break;
	case REG_QUEUE_DEVICE_LOW: case REG_QUEUE_DEVICE_HIGH:
		set_half(&q->used_gpa, off == REG_QUEUE_DEVICE_HIGH, v); break;
	}
}

static void write_reg(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	struct virtq *q = cur_queue(t);

	switch (off) {
	case REG_DEV_FEATURES_SEL: t->dev_feat_sel = v; break;
	case REG_DRV_FEATURES_SEL: t->drv_feat_sel = v; break;
	case REG_DRV_FEATURES:
		if (t->drv_feat_sel < 2)
			set_half(&t->driver_features, t->drv_feat_sel == 1, v);
		break;
	case REG_QUEUE_SEL: t->queue_sel = v; break;
	case REG_QUEUE_NOTIFY:
		if (v < (uint32_t)t->ops->nr_queues && t->vq[v].ready && !t->failed)
			t->ops->notify(t->dev, t, (int)v);
		break;
	case REG_INTERRUPT_ACK: t->isr &= ~v; break;
	case REG_STATUS: write_status(t, v); break;
	default:
		if (q)
			write_queue_reg(t, q, off, v);
	}
}

static void config_access(struct virtio_mmio *t, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	if (is_write)			/* no device has writable config yet */
		return;
	if (off > t->ops->config_size || len > t->ops->config_size - off) {
		memset(data, 0, len);
		return;
	}
	t->ops->config_read(t->dev, (uint32_t)off, data, len);
}

void virtio_mmio__io(void *dev, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct virtio_mmio *t = dev;
	uint32_t v = 0;

	pthread_mutex_lock(&t->lock);
	if (off >= REG_CONFIG) {
		config_access(t, off - REG_CONFIG, data, len, is_write);
	} else if (len != 4 || (off & 3)) {
		if (!is_write)			/* §4.2.2.2: registers are 32-bit only */
			memset(data, 0, len);
	} else if (is_write) {
		memcpy(&v, data, 4);
		write_reg(t, off, v);
	} else {
		v = read_reg(t, off);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&t->lock);
}

void virtio_mmio__signal_used(struct virtio_mmio *t, int q)
{
	if (!virtq__should_notify(&t->vq[q]))
		return;
	t->isr |= ISR_USED_BUFFER;
	vm__irq_pulse(t->vm, t->irq);
}

void virtio_mmio__lock(struct virtio_mmio *t)
{
	pthread_mutex_lock(&t->lock);
}

void virtio_mmio__unlock(struct virtio_mmio *t)
{
	pthread_mutex_unlock(&t->lock);
}

bool virtio_mmio__queue_ready(struct virtio_mmio *t, int q)
{
	return q >= 0 && q < t->ops->nr_queues && t->vq[q].ready && !t->failed;
}

int virtio_mmio__pop(struct virtio_mmio *t, int qi, struct virtq_chain *c)
{
	char why[160];
	int r;

	if (!virtio_mmio__queue_ready(t, qi))
		return 0;
	r = virtq__pop(&t->vq[qi], c, why, sizeof(why));
	if (r == -EIO) {
		virtio_mmio__fail(t, why);
		return 0;
	}
	if (r < 0) {
		log__warn("%s: bad request: %s — request failed", t->ops->name, why);
		virtq__push(&t->vq[qi], c->head, 0);
		return -1;
	}
	return r;
}

void virtio_mmio__push(struct virtio_mmio *t, int q, uint16_t head, uint32_t len)
{
	virtq__push(&t->vq[q], head, len);
}

void virtio_mmio__drain(struct virtio_mmio *t, int qi, virtq_handler fn, void *dev)
{
	struct virtq_chain c;
	bool pushed = false;
	int r;

	/* At most a ring's worth per notify: a guest that lays its used ring
	 * over its available index makes every push look like a new request,
	 * and would keep this thread here for ever.  A real driver notifies
	 * again for what it adds meanwhile. */
	for (uint32_t n = 0; n < t->vq[qi].num && (r = virtio_mmio__pop(t, qi, &c)) != 0; n++) {
		if (r > 0)
			virtio_mmio__push(t, qi, c.head, fn(dev, &c));
		pushed = true;
	}
	if (pushed)
		virtio_mmio__signal_used(t, qi);
}

void virtio_mmio__fail(struct virtio_mmio *t, const char *why)
{
	log__warn("%s: %s — device stopped until the guest resets it", t->ops->name, why);
	t->failed = true;
}

/* Appends a slot's declaration (~36 bytes: 48 of them fit in the kernel's
 * 2 KiB command line; its parser takes the base with sscanf %lli, so no
 * K/M suffix); -ENOSPC if it does not fit. */
static int declare(char *cmdline, size_t cmdlen, uint64_t gpa, int irq)
{
	size_t used = strlen(cmdline);
	int n = snprintf(cmdline + used, cmdlen - used, " virtio_mmio.device=4K@%#llx:%d",
			 (unsigned long long)gpa, irq);

	if (n < 0 || (size_t)n >= cmdlen - used) {
		cmdline[used] = '\0';
		return -ENOSPC;
	}
	return 0;
}

struct virtio_mmio *virtio_mmio__new(struct vm *vm, const struct virtio_dev_ops *ops, void *dev,
				     char *cmdline, size_t cmdlen)
{
	uint64_t gpa = GPA_VIRTIO_BASE + (uint64_t)vm->nr_virtio * MMIO_SLOT_SIZE;
	int irq = FIRST_IRQ + vm->nr_virtio % NR_IRQ_LINES;
	struct virtio_mmio *t;

	if (vm->nr_virtio == VM_MAX_VIRTIO || ops->nr_queues > VIRTIO_MMIO_MAX_QUEUES)
		return NULL;
	if (cmdline && declare(cmdline, cmdlen, gpa, irq) < 0)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->vm = vm;
	t->ops = ops;
	t->dev = dev;
	t->gpa = gpa;
	t->irq = irq;
	pthread_mutex_init(&t->lock, NULL);
	for (int i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		t->vq[i].vm = vm;
	if (bus__register(vm->mmio, t->gpa, MMIO_SLOT_SIZE, virtio_mmio__io, t) < 0) {
		free(t);
		return NULL;
	}
	vm->virtio[vm->nr_virtio++] = t;
	return t;
}

void virtio_mmio__free(struct virtio_mmio *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t);
}

uint64_t virtio_mmio__driver_features(struct virtio_mmio *t)
{
	return t->driver_features;
}

void virtio_mmio__save(struct virtio_mmio *t, struct virtio_mmio_state *o)
{
	pthread_mutex_lock(&t->lock);
	memset(o, 0, sizeof(*o));
	*o = (struct virtio_mmio_state){ t->status, t->isr, t->dev_feat_sel, t->drv_feat_sel, t->queue_sel,
					 t->config_gen, t->driver_features, t->failed,
					 (uint32_t)t->ops->nr_queues, { { 0 } } };
	for (int i = 0; i < t->ops->nr_queues; i++) {
		struct virtq *q = &t->vq[i];

		o->q[i].num = q->num;
		o->q[i].ready = q->ready;
		o->q[i].desc = q->desc_gpa;
		o->q[i].avail = q->avail_gpa;
		o->q[i].used = q->used_gpa;
		o->q[i].last_avail = q->last_avail;
		o->q[i].used_idx = q->used_idx;
	}
	pthread_mutex_unlock(&t->lock);
}

int virtio_mmio__restore(struct virtio_mmio *t, const struct virtio_mmio_state *in)
{
	int r = 0;

	if (in->nr_queues != (uint32_t)t->ops->nr_queues)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	t->status = in->status;
	t->isr = in->isr;
	t->dev_feat_sel = in->dev_feat_sel;
	t->drv_feat_sel = in->drv_feat_sel;
	t->queue_sel = in->queue_sel;
	t->config_gen = in->config_gen;
	t->driver_features = in->driver_features;
	t->failed = in->failed;
	for (int i = 0; i < t->ops->nr_queues && r == 0; i++) {
		struct virtq *q = &t->vq[i];

		virtq__reset(q);
		q->num = in->q[i].num > t->ops->queue_max ? 0 : (uint16_t)in->q[i].num;
		q->desc_gpa = in->q[i].desc;
		q->avail_gpa = in->q[i].avail;
		q->used_gpa = in->q[i].used;
		q->last_avail = in->q[i].last_avail;
		q->used_idx = in->q[i].used_idx;
		if (in->q[i].ready)
			r = virtq__enable(q);
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

void virtio_mmio__config_changed(struct virtio_mmio *t)
{
	pthread_mutex_lock(&t->lock);
	t->config_gen++;
	t->isr |= ISR_CONFIG_CHANGE;
	pthread_mutex_unlock(&t->lock);
	vm__irq_pulse(t->vm, t->irq);
}

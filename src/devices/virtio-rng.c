/* virtio 1.1 §5.4: entropy device. */
#include <stdlib.h>
#include <sys/random.h>

#include "devices/virtio-mmio.h"
#include "devices/virtio-rng.h"
#include "vmm/log.h"

#define QUEUE_SIZE	64
#define MAX_PER_REQUEST	65536

static uint64_t rng_features(void *dev)
{
	(void)dev;
	return 0;
}

static uint32_t fill(void *dev, struct virtq_chain *c)
{
	uint32_t total = 0;

	(void)dev;

	for (int i = 0; i < c->nr_in && total < MAX_PER_REQUEST; i++) {
		size_t want = c->in[i].iov_len;
		ssize_t n;

		if (want > MAX_PER_REQUEST - total)
			want = MAX_PER_REQUEST - total;
		n = getrandom(c->in[i].iov_base, want, GRND_NONBLOCK);
		if (n <= 0)
			break;
		total += (uint32_t)n;
		if ((size_t)n < want)
			break;
	}
	return total;
}

static void rng_notify(void *dev, struct virtio_mmio *t, int qi)
{
	virtio_mmio__drain(t, qi, fill, dev);
}

static const struct virtio_dev_ops rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.nr_queues = 1,
	.queue_max = QUEUE_SIZE,
	.features = rng_features,
	.notify = rng_notify,
};

struct virtio_rng {
	struct virtio_mmio *t;		/* owned by the VM's slot (vm__destroy) */
};

struct virtio_rng *virtio_rng__new(struct vm *vm, char *cmdline, size_t cmdlen)
{
	struct virtio_rng *r = calloc(1, sizeof(*r));

	if (r && !(r->t = virtio_mmio__new(vm, &rng_ops, r, cmdline, cmdlen))) {
		free(r);
		r = NULL;
	}
	return r;
}

void virtio_rng__free(struct virtio_rng *r)
{
	free(r);
}

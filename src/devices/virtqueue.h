#ifndef SM_DEVICES_VIRTQUEUE_H
#define SM_DEVICES_VIRTQUEUE_H
/*
 * Split virtqueues (virtio 1.1, §2.6).  This is where guest descriptors
 * become host iovecs: every index, address and length is checked here, so
 * devices never see a raw guest address.
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include "vmm/vm.h"

#define VIRTQ_MAX_SIZE	1024
#define CHAIN_MAX_SEGS	64

struct virtq {
	struct vm *vm;
	uint16_t num;			/* queue size set by the driver */
	bool ready;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct vring_desc_raw *desc;	/* host pointers, valid while ready */
	struct vring_avail_raw *avail;
	struct vring_used_raw *used;
	uint16_t last_avail;
	uint16_t used_idx;
};

/* A validated descriptor chain: device-readable then device-writable segments. */
struct virtq_chain {
	uint16_t head;
	int nr_out, nr_in;
	struct iovec out[CHAIN_MAX_SEGS];
	struct iovec in[CHAIN_MAX_SEGS];
};

/* Validates the rings and makes the queue live: 0 or -EINVAL. */
int virtq__enable(struct virtq *q);
void virtq__reset(struct virtq *q);
/*
 * Next available chain: 1 and *c filled; 0 when none; -EINVAL when the
 * chain is bad (c->head is set when known, so the caller can complete it
 * as failed with virtq__push(q, head, 0)); -EIO when the queue itself is
 * broken (the device must stop using it).
 */
int virtq__pop(struct virtq *q, struct virtq_chain *c, char *why, size_t whylen);
void virtq__push(struct virtq *q, uint16_t head, uint32_t len);
/* Does the driver want an interrupt for what was pushed? */
bool virtq__should_notify(struct virtq *q);

/* Chain helpers: copy/consume the first len readable bytes; 0 or -1 if short. */
int chain__pull(struct virtq_chain *c, void *buf, size_t len);
/* Detach the last len writable bytes (e.g. a status byte): pointer or NULL. */
uint8_t *chain__take_tail(struct virtq_chain *c, size_t len);
size_t chain__in_len(const struct virtq_chain *c);
size_t chain__out_len(const struct virtq_chain *c);
#endif

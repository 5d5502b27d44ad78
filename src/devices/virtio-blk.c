/* virtio 1.1 §5.2: block device. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio-blk.h"
#include "devices/virtio-mmio.h"
#include "vmm/log.h"

#define VIRTIO_BLK_F_SEG_MAX	(1ULL << 2)
#define VIRTIO_BLK_F_RO		(1ULL << 5)
#define VIRTIO_BLK_F_FLUSH	(1ULL << 9)
#define VIRTIO_BLK_T_IN		0
#define VIRTIO_BLK_T_OUT	1
#define VIRTIO_BLK_T_FLUSH	4
#define VIRTIO_BLK_T_GET_ID	8
#define VIRTIO_BLK_S_OK		0
#define VIRTIO_BLK_S_IOERR	1
#define VIRTIO_BLK_S_UNSUPP	2
#define VIRTIO_BLK_ID_BYTES	20
#define SECTOR_SHIFT		9
#define QUEUE_SIZE		256

struct blk_config {			/* §5.2.4, the fields we offer */
	uint64_t capacity;
	uint32_t size_max;
	uint32_t seg_max;
} __attribute__((packed));

struct blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct virtio_blk {
	struct virtio_mmio *t;
	int fd;
	bool ro;
	char id[VIRTIO_BLK_ID_BYTES];
	struct blk_config config;
};

static uint64_t blk_features(void *dev)
{
	struct virtio_blk *b = dev;

	return VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_FLUSH | (b->ro ? VIRTIO_BLK_F_RO : 0);
}

static void blk_config_read(void *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_blk *b = dev;

	memcpy(data, (uint8_t *)&b->config + off, len);
}

/* Does [sector, sector + bytes) lie inside the disk? */
static bool in_range(struct virtio_blk *b, uint64_t sector, size_t bytes)
{
	uint64_t cap = b->config.capacity;

	return sector <= cap && (bytes >> SECTOR_SHIFT) <= cap - sector &&
	       (bytes & ((1 << SECTOR_SHIFT) - 1)) == 0;
}

static uint8_t do_rw(struct virtio_blk *b, struct virtq_chain *c, const struct blk_req_hdr *h,
		     uint32_t *written)
{
	bool is_read = h->type == VIRTIO_BLK_T_IN;
	struct iovec *iov = is_read ? c->in : c->out;
	int n = is_read ? c->nr_in : c->nr_out;
	size_t bytes = is_read ? chain__in_len(c) : chain__out_len(c);
	ssize_t r;

	if (!in_range(b, h->sector, bytes))
		return VIRTIO_BLK_S_IOERR;
	if (!is_read && b->ro)
		return VIRTIO_BLK_S_IOERR;
	if (is_read)
		r = preadv(b->fd, iov, n, (off_t)(h->sector << SECTOR_SHIFT));
	else
		r = pwritev(b->fd, iov, n, (off_t)(h->sector << SECTOR_SHIFT));
	if (r != (ssize_t)bytes)
		return VIRTIO_BLK_S_IOERR;
	if (is_read)
		*written += (uint32_t)bytes;
	return VIRTIO_BLK_S_OK;
}

static uint8_t do_get_id(struct virtio_blk *b, struct virtq_chain *c, uint32_t *written)
{
	size_t left = VIRTIO_BLK_ID_BYTES;
	const char *src = b->id;

	for (int i = 0; i < c->nr_in && left; i++) {
		size_t n = c->in[i].iov_len < left ? c->in[i].iov_len : left;

		memcpy(c->in[i].iov_base, src, n);
		src += n;
		left -= n;
		*written += (uint32_t)n;
	}
	return VIRTIO_BLK_S_OK;
}

static uint32_t handle_request(void *dev, struct virtq_chain *c)
{
	struct virtio_blk *b = dev;
	struct blk_req_hdr h;
	uint8_t *status = chain__take_tail(c, 1);
	uint32_t written = 0;

	if (!status)
		return 0;			/* nowhere to say anything: complete it empty */
	if (chain__pull(c, &h, sizeof(h)) < 0) {
		*status = VIRTIO_BLK_S_IOERR;
		return 1;
	}
	switch (h.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		*status = do_rw(b, c, &h, &written);
		break;
	case VIRTIO_BLK_T_FLUSH:
		*status = (b->ro || fdatasync(b->fd) == 0) ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_GET_ID:
		*status = do_get_id(b, c, &written);
		break;
	default:
		*status = VIRTIO_BLK_S_UNSUPP;
	}
	return written + 1;
}

static void blk_notify(void *dev, struct virtio_mmio *t, int qi)
{
	virtio_mmio__drain(t, qi, handle_request, dev);
}

static const struct virtio_dev_ops blk_ops = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.nr_queues = 1,
	.queue_max = QUEUE_SIZE,
	.features = blk_features,
	.config_size = sizeof(struct blk_config),
	.config_read = blk_config_read,
	.notify = blk_notify,
};

struct virtio_blk *virtio_blk__new(struct vm *vm, char *cmdline, size_t cmdlen)
{
	struct virtio_blk *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->fd = -1;
	b->config.seg_max = CHAIN_MAX_SEGS - 2;		/* minus header and status */
	b->t = virtio_mmio__new(vm, &blk_ops, b, cmdline, cmdlen);
	if (!b->t) {
		free(b);
		return NULL;
	}
	return b;
}

void virtio_blk__free(struct virtio_blk *b)
{
	if (!b)
		return;
	if (b->fd >= 0)
		close(b->fd);
	free(b);
}

int virtio_blk__attach(struct virtio_blk *b, const char *path, bool ro, char *msg, size_t msglen)
{
	const char *base = strrchr(path, '/');
	int fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC), err;
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0) {
		err = errno;
		snprintf(msg, msglen, "disk %s: %s%s", path, strerror(err),
			 err == EACCES && !ro ? " — add :ro to attach it read-only" : "");
		if (fd >= 0)
			close(fd);
		return -err;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(msg, msglen, "disk %s: not a regular file or block device", path);
		close(fd);
		return -EINVAL;
	}
	/* One writer at a time: two guests mounting one ext4 image read-write
	 * would corrupt it.  The lock lives as long as this fd (the VMM). */
	if (!ro && flock(fd, LOCK_EX | LOCK_NB) < 0) {
		err = errno;
		snprintf(msg, msglen, "disk %s: %s", path, err == EWOULDBLOCK ?
			 "in use read-write by another VM — stop that VM first (a volume is attached to one VM at a time)" :
			 strerror(err));
		close(fd);
		return -err;
	}
	virtio_mmio__lock(b->t);
	if (b->fd >= 0)
		close(b->fd);
	b->fd = fd;
	b->ro = ro;
	b->config.capacity = (uint64_t)st.st_size >> SECTOR_SHIFT;
	base = base ? base + 1 : path;
	memset(b->id, 0, sizeof(b->id));
	memcpy(b->id, base, strnlen(base, sizeof(b->id)));	/* §5.2.6: not NUL-terminated */
	virtio_mmio__unlock(b->t);
	return 0;
}

uint64_t virtio_blk__sectors(struct virtio_blk *b)
{
	return b->config.capacity;
}

void virtio_blk__announce(struct virtio_blk *b)
{
	virtio_mmio__config_changed(b->t);
}

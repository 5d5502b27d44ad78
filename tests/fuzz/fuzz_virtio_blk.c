/*
 * libFuzzer: virtio-blk requests (src/devices/virtio-blk.c) through the
 * device's notify path, as the guest driver makes them (virtio 1.1 §5.2.6):
 * header, data segments, status byte, on two small disks in /dev/shm (one
 * read-write, one read-only).  Well-formed chains are checked against a
 * model disk (status, used length, the bytes read and written); hostile
 * ones (odd header and status lengths, flipped directions) must complete
 * without touching anything outside their buffers or breaking the queue.
 */
#include <fcntl.h>
#include <unistd.h>

#include "devices/virtio-blk.h"
#include "fuzzvm.h"

#define RAM		0x40000
#define QSIZE		16
#define HDR		0x8000
#define STATUS		0x8100
#define SEG(i)		(0x10000 + (uint64_t)(i) * 0x1000)
#define MAX_SEGS	8
#define DISK_BYTES	32768
#define SECTORS		(DISK_BYTES / 512)
#define MAX_REQUESTS	32
enum { T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8 };
enum { S_OK = 0, S_IOERR = 1, S_UNSUPP = 2 };

static struct vm *vm;
static struct fz_dev disks[2];		/* [0] read-write, [1] read-only */
static int rw_fd = -1;
static uint8_t shadow[DISK_BYTES];	/* what the read-write disk holds */
static uint16_t used_seen;
static char ids[2][64];			/* the disks' file names: their GET_ID answer */

/* One request as built: header, segments, status. */
struct req {
	uint32_t type;
	uint64_t sector;
	int nseg;
	uint32_t seg_len[MAX_SEGS];
	bool seg_w[MAX_SEGS];
	uint32_t hdr_len, status_len;
	bool hostile;
};

static int disk_new(const char *name, bool ro)
{
	char cmdline[128] = "", path[64], msg[256];
	struct virtio_blk *b = virtio_blk__new(vm, cmdline, sizeof(cmdline));
	int fd;

	snprintf(ids[ro], sizeof(ids[ro]), "%s.%d", name, (int)getpid());
	snprintf(path, sizeof(path), "/dev/shm/%s", ids[ro]);
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_CHECK(b && fd >= 0 && ftruncate(fd, DISK_BYTES) == 0);
	FUZZ_CHECK(virtio_blk__attach(b, path, ro, msg, sizeof(msg)) == 0);
	unlink(path);				/* the device keeps its fd */
	disks[ro] = (struct fz_dev){ vm, fz_slot(cmdline) };
	return fd;
}

static void setup(void)
{
	vm = fakevm_new(RAM);
	rw_fd = disk_new("sm-fuzz-rw.img", false);
	close(disk_new("sm-fuzz-ro.img", true));
}

static void read_req(struct fuzz_in *in, struct req *r)
{
	static const uint32_t types[] = { T_IN, T_OUT, T_FLUSH, T_GET_ID };
	uint8_t t = fuzz_u8(in), s = fuzz_u8(in), h = fuzz_u8(in);

	*r = (struct req){ .hdr_len = 16, .status_len = 1 };
	r->type = t < 0xf0 ? types[t % 4] : t;		/* some unknown types too */
	r->sector = s & 0x80 ? fuzz_u64(in) : (uint64_t)(s & 0x7f);
	r->nseg = fuzz_u8(in) % (MAX_SEGS + 1);
	for (int i = 0; i < r->nseg; i++) {
		r->seg_len[i] = fuzz_u16(in) % 4097;
		r->seg_w[i] = r->type == T_IN || r->type == T_GET_ID;
	}
	r->hostile = h & 1;
	if (!r->hostile)
		return;
	r->hdr_len = fuzz_u8(in) % 33;
	r->status_len = fuzz_u8(in) % 3;
	for (int i = 0; i < r->nseg; i++)
		r->seg_w[i] ^= (h >> (1 + i % 7)) & 1;
}

/* Descriptors 0 (header), 1..nseg, nseg+1 (status, if any), one chain. */
static void build(struct fz_dev *d, const struct req *r, struct fuzz_in *in)
{
	uint32_t hdr[4] = { r->type, 0, (uint32_t)r->sector, (uint32_t)(r->sector >> 32) };
	int last = r->nseg + (r->status_len ? 1 : 0);

	memcpy(fz_ram(d, HDR), hdr, sizeof(hdr));
	memset(fz_ram(d, STATUS), 0xee, 2);
	fz_set_desc(d, 0, 0, (struct fz_desc){ HDR, r->hdr_len, last ? FZ_F_NEXT : 0, 1 });
	for (int i = 0; i < r->nseg; i++) {
		uint16_t fl = (uint16_t)((r->seg_w[i] ? FZ_F_WRITE : 0) | (i + 1 < last ? FZ_F_NEXT : 0));

		fz_set_desc(d, 0, i + 1, (struct fz_desc){ SEG(i), r->seg_len[i], fl, (uint16_t)(i + 2) });
		memset(fz_ram(d, SEG(i)), 0x5a, r->seg_len[i]);
		fuzz_take(in, fz_ram(d, SEG(i)), r->seg_len[i] < in->n ? r->seg_len[i] : in->n);
	}
	if (r->status_len)
		fz_set_desc(d, 0, r->nseg + 1, (struct fz_desc){ STATUS, r->status_len, FZ_F_WRITE, 0 });
}

/* Readable descriptors after a writable one make the chain invalid (§2.6.4.2). */
static bool chain_valid(const struct req *r)
{
	bool w = false;

	for (int i = 0; i < r->nseg; i++) {
		if (!r->seg_w[i] && w)
			return false;
		w |= r->seg_w[i];
	}
	return true;
}

static uint32_t seg_bytes(const struct req *r, bool writable)
{
	uint32_t n = 0;

	for (int i = 0; i < r->nseg; i++)
		if (r->seg_w[i] == writable)
			n += r->seg_len[i];
	return n;
}

static bool in_disk(uint64_t sector, uint32_t bytes)
{
	return sector <= SECTORS && bytes / 512 <= SECTORS - sector && bytes % 512 == 0;
}

/* The data of a read, or what a write put on the model disk. */
static void data_io(struct fz_dev *d, const struct req *r, bool is_read)
{
	uint64_t at = r->sector * 512;

	for (int i = 0; i < r->nseg; i++) {
		if (r->seg_w[i] != is_read)
			continue;
		if (is_read)
			FUZZ_CHECK(!memcmp(fz_ram(d, SEG(i)), shadow + at, r->seg_len[i]));
		else
			memcpy(shadow + at, fz_ram(d, SEG(i)), r->seg_len[i]);
		at += r->seg_len[i];
	}
}

/* Expected status and used length of a well-formed request. */
static void model(struct fz_dev *d, const struct req *r, bool ro, uint8_t status, uint32_t len)
{
	const char *id = ids[ro];
	uint32_t rd = seg_bytes(r, true), wr = seg_bytes(r, false);

	switch (r->type) {
	case T_IN:
		FUZZ_CHECK(status == (in_disk(r->sector, rd) ? S_OK : S_IOERR));
		FUZZ_CHECK(len == (status == S_OK ? rd + 1 : 1));
		if (status == S_OK)
			data_io(d, r, true);	/* the read-only disk is all zeros, as is shadow then */
		break;
	case T_OUT:
		FUZZ_CHECK(status == (!ro && in_disk(r->sector, wr) ? S_OK : S_IOERR) && len == 1);
		if (status == S_OK)
			data_io(d, r, false);
		break;
	case T_FLUSH:
		FUZZ_CHECK(status == S_OK && len == 1);
		break;
	case T_GET_ID:
		FUZZ_CHECK(status == S_OK && len == (rd < 20 ? rd : 20) + 1);
		if (r->nseg)		/* §5.2.6: up to 20 bytes, NUL-padded, not terminated */
			FUZZ_CHECK(!strncmp((char *)fz_ram(d, SEG(0)), id, r->seg_len[0] < 20 ? r->seg_len[0] : 20));
		break;
	default:
		FUZZ_CHECK(status == S_UNSUPP && len == 1);
	}
}

static void submit(struct fz_dev *d, const struct req *r, bool ro)
{
	uint32_t id, len;
	uint8_t status;

	fz_offer(d, 0, QSIZE, 0);
	fz_w32(d, FZ_QUEUE_NOTIFY, 0);
	FUZZ_CHECK(!(fz_r32(d, FZ_STATUS) & FZ_STATUS_NEEDS_RESET));
	FUZZ_CHECK(fz_used_idx(d, 0) == (uint16_t)(used_seen + 1));
	fz_used_elem(d, 0, QSIZE, used_seen++, &id, &len);
	/* the status byte is the chain's last writable byte (§5.2.6) */
	status = r->status_len ? *fz_ram(d, STATUS + r->status_len - 1) : 0xee;
	FUZZ_CHECK(id == 0 && len <= seg_bytes(r, true) + r->status_len);
	if (!chain_valid(r)) {
		FUZZ_CHECK(len == 0 && status == 0xee);
		return;
	}
	if (r->hostile) {
		FUZZ_CHECK(status == 0xee || status <= S_UNSUPP);
		return;
	}
	model(d, r, ro, status, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	bool ro;
	struct fz_dev *d;
	struct req r;

	if (!vm)
		setup();
	ro = fuzz_u8(&in) & 1;
	d = &disks[ro];
	memset(shadow, 0, sizeof(shadow));	/* each input starts from a zeroed disk */
	FUZZ_CHECK(ftruncate(rw_fd, 0) == 0 && ftruncate(rw_fd, DISK_BYTES) == 0);
	fz_driver_init(d, 1, QSIZE);
	used_seen = 0;
	for (int n = 0; n < MAX_REQUESTS && in.n; n++) {
		read_req(&in, &r);
		build(d, &r, &in);
		submit(d, &r, ro);
	}
	return 0;
}

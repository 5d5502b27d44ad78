/*
 * virtio-blk through the virtio-mmio registers, as a guest driver would
 * drive it (virtio 1.1 §4.2.3, §5.2.6), including hostile rings.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio-blk.h"
#include "devices/virtio-mmio.h"
#include "fakevm.h"
#include "tap.h"

#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define HDR 0x4000
#define DATA 0x5000
#define STATUS 0x6000
#define QSIZE 8

static struct vm *vm;
static uint64_t base;
static struct virtio_blk *first;	/* the read-write disk of attach() */
static struct virtio_blk *readonly;	/* the read-only one */

static void w32(uint64_t off, uint32_t v) { bus__access(vm->mmio, base + off, (uint8_t *)&v, 4, true); }
static uint32_t r32(uint64_t off)
{
	uint32_t v = 0;

	bus__access(vm->mmio, base + off, (uint8_t *)&v, 4, false);
	return v;
}
static uint8_t *ram(uint64_t gpa) { return vm->regions[0].hva + gpa; }

struct desc { uint64_t addr; uint32_t len; uint16_t flags, next; };

static void set_desc(int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct desc d = { addr, len, flags, next };

	memcpy(ram(DESC + 16 * i), &d, sizeof(d));
}

static uint16_t avail_idx, used_seen;

/* Offer chain `head`, notify, return the used length (or -1 if not used). */
static long submit(uint16_t head)
{
	uint16_t used_idx;
	uint32_t len;

	memcpy(ram(AVAIL + 4 + 2 * (avail_idx % QSIZE)), &head, 2);
	avail_idx++;
	memcpy(ram(AVAIL + 2), &avail_idx, 2);
	w32(0x50, 0);
	memcpy(&used_idx, ram(USED + 2), 2);
	if (used_idx == used_seen)
		return -1;
	memcpy(&len, ram(USED + 4 + 8 * (used_seen % QSIZE) + 4), 4);
	used_seen++;
	return len;
}

static long request(uint32_t type, uint64_t sector, uint32_t len, int data_writable)
{
	uint32_t hdr[4] = { type, 0, (uint32_t)sector, (uint32_t)(sector >> 32) };

	memcpy(ram(HDR), hdr, 16);
	*ram(STATUS) = 0xee;
	set_desc(0, HDR, 16, 1, 1);
	if (len) {
		set_desc(1, DATA, len, 1 | (data_writable ? 2 : 0), 2);
		set_desc(2, STATUS, 1, 2, 0);
	} else {
		set_desc(0, HDR, 16, 1, 2);
		set_desc(2, STATUS, 1, 2, 0);
	}
	return submit(0);
}

static uint64_t attach(const char *path, bool ro)
{
	char cmdline[256] = "", msg[256];
	const char *at;

	struct virtio_blk *b = virtio_blk__new(vm, cmdline, sizeof(cmdline));

	if (!first)
		first = b;
	else
		readonly = b;
	ok(b && virtio_blk__attach(b, path, ro, msg, sizeof(msg)) == 0, "attach %s%s", path,
	   ro ? " read-only" : "");
	at = strstr(cmdline, "virtio_mmio.device=4K@");
	ok(at != NULL, "declared on the kernel command line: %s", cmdline);
	return at ? strtoull(at + 22, NULL, 16) : 0;
}

static void driver_init(void)
{
	avail_idx = used_seen = 0;
	memset(ram(AVAIL), 0, 0x3000);
	w32(0x70, 0);				/* reset */
	w32(0x70, 1 | 2);			/* ACKNOWLEDGE | DRIVER */
	w32(0x24, 1);
	w32(0x20, 1);				/* VIRTIO_F_VERSION_1 */
	w32(0x70, 1 | 2 | 8);
	w32(0x30, 0);
	w32(0x38, QSIZE);
	w32(0x80, DESC); w32(0x84, 0);
	w32(0x90, AVAIL); w32(0x94, 0);
	w32(0xa0, USED); w32(0xa4, 0);
	w32(0x44, 1);
	w32(0x70, 1 | 2 | 4 | 8);		/* DRIVER_OK */
}

static void test_identity(void)
{
	uint64_t cap = 0;

	is(r32(0x000), 0x74726976, "magic 'virt'");
	is(r32(0x004), 2, "virtio-mmio version 2");
	is(r32(0x008), 2, "device id: block");
	bus__access(vm->mmio, base + 0x100, (uint8_t *)&cap, 8, false);
	is(cap, 64, "capacity: 32 KiB = 64 sectors");
}

static void test_negotiation(void)
{
	w32(0x70, 0);
	w32(0x70, 3);
	w32(0x24, 0);
	w32(0x20, 1u << 30);			/* a feature we never offered */
	w32(0x70, 3 | 8);
	ok(!(r32(0x70) & 8), "FEATURES_OK refused for unoffered features");
	w32(0x70, 0);
	w32(0x30, 0);
	w32(0x38, QSIZE);
	w32(0x80, 0x7ffff000); w32(0x84, 0x10);	/* far outside guest RAM */
	w32(0x90, AVAIL); w32(0xa0, USED);
	w32(0x44, 1);
	is(r32(0x44), 0, "queue with rings outside RAM is not made ready");
}

static void test_io(const char *path)
{
	char buf[512];
	int fd;

	driver_init();
	ok(r32(0x44) == 1 && (r32(0x70) & 8), "driver set-up accepted");
	memset(ram(DATA), 'A', 512);
	is(request(1, 1, 512, 0), 1, "write: used length is the status byte");
	is(*ram(STATUS), 0, "write: status OK");
	fd = open(path, O_RDONLY);
	ok(pread(fd, buf, 512, 512) == 512 && buf[0] == 'A' && buf[511] == 'A', "write reached the file");
	close(fd);
	memset(ram(DATA), 0, 512);
	is(request(0, 1, 512, 1), 513, "read: used length is data + status");
	ok(*ram(STATUS) == 0 && ram(DATA)[0] == 'A', "read returns the data");
	request(0, 64, 512, 1);
	is(*ram(STATUS), 1, "read past the end: IOERR");
	request(1, 0xffffffffffffffffULL, 512, 0);
	is(*ram(STATUS), 1, "huge sector: IOERR, no overflow");
	request(4, 0, 0, 0);
	is(*ram(STATUS), 0, "flush: OK");
	request(8, 0, 20, 1);
	ok(*ram(STATUS) == 0 && !memcmp(ram(DATA), "rw.img", 6), "get-id returns the file name");
	request(99, 0, 0, 0);
	is(*ram(STATUS), 2, "unknown request type: UNSUPP");
}

static void test_hostile(void)
{
	driver_init();
	set_desc(0, HDR, 16, 1, 1);
	set_desc(1, 0xfffffff000ULL, 4096, 1 | 2, 2);	/* outside RAM */
	set_desc(2, STATUS, 1, 2, 0);
	*ram(STATUS) = 0xee;
	is(submit(0), 0, "descriptor outside RAM: request completed empty");
	is(*ram(STATUS), 0xee, "... and nothing was written");
	set_desc(0, HDR, 16, 1, 1);
	set_desc(1, DATA, 16, 1, 0);			/* loop 0 -> 1 -> 0 */
	is(submit(0), 0, "looping chain: completed empty");
	set_desc(0, HDR, 16, 1, 200);
	is(submit(0), 0, "next index out of range: completed empty");
	set_desc(0, HDR, 16, 4, 0);
	is(submit(0), 0, "indirect descriptor (not negotiated): completed empty");
	set_desc(0, STATUS, 1, 2 | 1, 1);
	set_desc(1, HDR, 16, 1, 0);
	is(submit(0), 0, "readable after writable: completed empty");
	is(request(0, 1, 512, 1), 513, "device still works after bad requests");
	avail_idx += 100;				/* claims 100 new buffers in an 8-entry ring */
	memcpy(ram(AVAIL + 2), &avail_idx, 2);
	w32(0x50, 0);
	ok(r32(0x70) & 64, "impossible available index: DEVICE_NEEDS_RESET");
	driver_init();
	ok(!(r32(0x70) & 64), "reset clears it");
	is(request(0, 1, 512, 1), 513, "and the device works again");
}

static void test_readonly(const char *path)
{
	base = attach(path, true);
	driver_init();
	memset(ram(DATA), 'B', 512);
	request(1, 1, 512, 0);
	is(*ram(STATUS), 1, "write to a read-only disk: IOERR");
	is(request(0, 1, 512, 1), 513, "read from a read-only disk works");
}

/* The read-write lock is the image fd's: a second writer is refused while
 * the first disk lives, and gets the image once virtio_blk__free closed it. */
static void test_free_releases_lock(const char *path)
{
	char cmdline[256] = "", msg[256];
	struct virtio_blk *b = virtio_blk__new(vm, cmdline, sizeof(cmdline));

	ok(b && virtio_blk__attach(b, path, false, msg, sizeof(msg)) < 0 && strstr(msg, "in use read-write"),
	   "a second writer is refused: %s", msg);
	virtio_blk__free(first);
	first = NULL;
	ok(b && virtio_blk__attach(b, path, false, msg, sizeof(msg)) == 0,
	   "after virtio_blk__free the image can be attached read-write again");
	virtio_blk__free(b);
}

/* A restored queue whose used ring lies over its available index, with
 * one more used than available: every completion then looks like a new
 * request.  The transport must give up after a ring's worth, not spin. */
static void test_overlapping_rings(void)
{
	struct virtio_mmio *t = vm->virtio[vm->nr_virtio - 1];
	struct virtio_mmio_state st;
	uint16_t idx;

	driver_init();
	virtio_mmio__save(t, &st);
	st.q[0].used = AVAIL;				/* used->idx is avail->idx */
	st.q[0].last_avail = 0;
	st.q[0].used_idx = 1;
	ok(virtio_mmio__restore(t, &st) == 0, "a restore with overlapping rings is accepted (they are in RAM)");
	set_desc(0, HDR, 16, 1, 0);
	idx = 1;
	memcpy(ram(AVAIL + 2), &idx, 2);
	w32(0x50, 0);					/* returns: at most QSIZE chains */
	memcpy(&idx, ram(AVAIL + 2), 2);
	ok(idx <= 1 + QSIZE, "the notify ended after at most a ring's worth (index %u)", idx);
	driver_init();
	is(request(0, 1, 512, 1), 513, "after a reset the device works again");
}

int main(void)
{
	char dir[] = "/tmp/sm-test-blk.XXXXXX", path[64];
	int fd;

	vm = fakevm_new(1 << 20);
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/rw.img", dir);
	fd = open(path, O_CREAT | O_RDWR, 0600);
	if (fd < 0 || ftruncate(fd, 32768) < 0)
		return 1;
	close(fd);
	base = attach(path, false);
	test_identity();
	test_negotiation();
	test_io(path);
	test_hostile();
	test_readonly(path);
	test_overlapping_rings();
	test_free_releases_lock(path);
	virtio_blk__free(readonly);
	fakevm_free(vm);
	unlink(path);
	rmdir(dir);
	return done_testing();
}

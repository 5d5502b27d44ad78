#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chan.h"
#include "seed.h"

/* linux/random.h (musl ships no kernel headers) */
#define RNDADDENTROPY	_IOW('R', 0x03, int[2])
#define RNDRESEEDCRNG	_IO('R', 0x07)

#define SEED_BYTES	INITCHAN_SEED_BYTES
#define WORKER_ID_BYTES	INITCHAN_WORKER_ID_BYTES

static char worker_id[2 * WORKER_ID_BYTES + 1];

static void add_entropy(const uint8_t *seed)
{
	struct {
		int entropy_count;		/* bits credited */
		int buf_size;
		uint8_t buf[SEED_BYTES];
	} info = { SEED_BYTES * 8, SEED_BYTES, { 0 } };
	int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);

	memcpy(info.buf, seed, SEED_BYTES);
	/* the reseed makes the next read use the new pool state at once; without
	 * it a clone keeps the snapshot's key until the next timed reseed */
	if (fd < 0 || ioctl(fd, RNDADDENTROPY, &info) < 0 || ioctl(fd, RNDRESEEDCRNG) < 0)
		dprintf(2, "sm init: seeding the RNG: %s\n", strerror(errno));
	if (fd >= 0)
		close(fd);
	memset(&info, 0, sizeof(info));
}

void seed__write_worker_id(void)
{
	int fd;

	if (!worker_id[0])
		return;
	mkdir("/run", 0755);
	mkdir("/run/sm", 0755);
	fd = open("/run/sm/worker-id.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
	if (fd < 0)
		return;
	dprintf(fd, "%s\n", worker_id);
	close(fd);
	rename("/run/sm/worker-id.tmp", "/run/sm/worker-id");
}

void seed__apply(const void *buf, size_t len)
{
	const uint8_t *seed, *id;

	if (initchan__decode_entropy(buf, len, &seed, &id) < 0)
		return;
	add_entropy(seed);
	for (int i = 0; i < WORKER_ID_BYTES; i++)
		snprintf(worker_id + 2 * i, 3, "%02x", id[i]);
	seed__write_worker_id();
}

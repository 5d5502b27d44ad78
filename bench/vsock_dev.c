/*
 * bench/vsock_dev.c: the host-side cost of the virtio-vsock device alone —
 * what transfers to hardware KVM.  No guest and no KVM: a simulated guest
 * driver (tests/unit/vsockdrv.h, over fakevm) moves MIB through the device
 * each way between its rings and a host Unix socket, returning credit as
 * Linux does; we report CPU time per MiB for the whole process (device +
 * the trivial simulated guest) beside a plain Unix-socket copy of the same
 * bytes.  Built and run by bench/agent.sh.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "vsockdrv.h"

#define CHUNK 60000

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Takes every rx packet the device has posted; returns RW payload bytes. */
static size_t take_rx(uint32_t *host_fwd)
{
	static char sink[4096];
	size_t got = 0;
	uint32_t len;
	int id;

	while ((id = used(RX, &len)) >= 0) {
		struct hdr h;

		memcpy(&h, ram(RXBUF(id)), sizeof(h));
		if (h.op == RW)
			memcpy(sink, ram(RXBUF(id) + sizeof(h)), h.len);	/* the guest's copy */
		got += h.op == RW ? h.len : 0;
		*host_fwd = h.fwd_cnt;
		offer(RX, (uint16_t)id);
	}
	w32(0x50, RX);
	return got;
}

static double host_to_guest(int fd, uint32_t hport, size_t total)
{
	static char buf[65536];
	size_t sent = 0, got = 0, told = 0;
	uint32_t host_fwd;
	double c0 = cpu_s();

	while (got < total) {
		ssize_t n = sent < total ? write(fd, buf, total - sent < sizeof(buf) ? total - sent : sizeof(buf)) : 0;

		sent += n > 0 ? (size_t)n : 0;
		virtio_vsock__poll(dev, 0);
		got += take_rx(&host_fwd);
		if (got - told >= 32768 || got == total) {	/* give the credit back */
			struct hdr h = guest_hdr(CREDIT_UPDATE, 1024, hport, 0);

			h.fwd_cnt = (uint32_t)got;
			tx(&h, NULL, 0);
			told = got;
		}
	}
	return cpu_s() - c0;
}

static double guest_to_host(int fd, uint32_t hport, size_t total)
{
	static char payload[CHUNK], buf[65536];
	size_t sent = 0, got = 0;
	uint32_t host_fwd = 0;
	double c0 = cpu_s();

	memset(payload, 'g', sizeof(payload));
	while (got < total) {
		size_t n = total - sent < CHUNK ? total - sent : CHUNK;
		ssize_t r;

		if (sent < total && (uint32_t)sent + n - host_fwd <= 256 * 1024) {
			struct hdr h = guest_hdr(RW, 1024, hport, (uint32_t)n);

			tx(&h, payload, (uint32_t)n);
			sent += n;
		}
		while ((r = read(fd, buf, sizeof(buf))) > 0)
			got += (size_t)r;
		virtio_vsock__poll(dev, 0);
		take_rx(&host_fwd);
	}
	return cpu_s() - c0;
}

static double native_copy(size_t total)
{
	static char buf[65536];
	int sv[2];
	size_t moved = 0;
	double c0 = cpu_s();

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	while (moved < total) {
		ssize_t n = write(sv[0], buf, sizeof(buf));

		moved += n > 0 ? (size_t)read(sv[1], buf, (size_t)n) : 0;
	}
	close(sv[0]);
	close(sv[1]);
	return cpu_s() - c0;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? (size_t)atoi(argv[1]) : 64, total = mib << 20;
	char dir[] = "/tmp/sm-vsock-bench.XXXXXX", path[96];
	uint32_t hport;
	double in, out, native;
	int fd;

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/v.sock", dir);
	if (vsockdrv_setup(path) < 0)
		return 1;
	driver_init();
	fd = open_stream(1024, &hport);
	if (fd < 0)
		return 1;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	in = host_to_guest(fd, hport, total);
	out = guest_to_host(fd, hport, total);
	native = native_copy(total);
	printf("vsock device, host side only (no guest), %zu MiB each way: host→guest %.0f µs/MiB, guest→host %.0f µs/MiB"
	       "   native Unix-socket copy: %.0f µs/MiB   ratio %.1fx / %.1fx\n",
	       mib, in * 1e6 / (double)mib, out * 1e6 / (double)mib, native * 1e6 / (double)mib,
	       in / native, out / native);
	close(fd);
	unlink(path);
	rmdir(dir);
	return 0;
}

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "chan.h"

static int chan_fd = -1;

int chan_open(const char *tty)
{
	struct termios t;

	chan_fd = open(tty, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (chan_fd < 0)
		return -1;
	if (tcgetattr(chan_fd, &t) == 0) {
		cfmakeraw(&t);			/* frames are binary: no \n -> \r\n */
		tcsetattr(chan_fd, TCSANOW, &t);
	}
	return 0;
}

void chan_send(int type, const void *buf, size_t len)
{
	uint8_t frame[4 + CHAN_MAX_PAYLOAD];
	size_t off = 0, total;

	if (len > CHAN_MAX_PAYLOAD)
		len = CHAN_MAX_PAYLOAD;
	frame[0] = (uint8_t)type;
	frame[1] = 0;
	frame[2] = (uint8_t)len;
	frame[3] = (uint8_t)(len >> 8);
	memcpy(frame + 4, buf, len);
	total = 4 + len;
	while (off < total) {
		ssize_t n = write(chan_fd, frame + off, total - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

void chan_hello(void)
{
	uint8_t v = CHAN_VERSION;

	chan_send(CHAN_HELLO, &v, 1);
}

void chan_log(const char *msg)
{
	chan_send(CHAN_LOG, msg, strlen(msg));
}

void chan_exit(int signaled, int value)
{
	uint8_t p[8] = { (uint8_t)signaled, 0, 0, 0 };
	int32_t v = value;

	memcpy(p + 4, &v, 4);
	chan_send(CHAN_EXIT, p, sizeof(p));
	tcdrain(chan_fd);
}

static int read_full(uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = read(chan_fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int chan_fd_get(void)
{
	return chan_fd;
}

void chan_apply_time(const void *buf, size_t len)
{
	struct timespec ts;
	int64_t sec;
	uint32_t nsec;

	if (len != 12)
		return;
	memcpy(&sec, buf, 8);
	memcpy(&nsec, (const uint8_t *)buf + 8, 4);
	if (nsec >= 1000000000u)
		return;
	ts.tv_sec = (time_t)sec;
	ts.tv_nsec = (long)nsec;
	clock_settime(CLOCK_REALTIME, &ts);
}

int chan_recv(void *buf, size_t *len)
{
	uint8_t h[4];
	size_t n;

	if (read_full(h, 4) < 0)
		return -1;
	n = h[2] | (size_t)h[3] << 8;
	if (h[1] != 0 || n > CHAN_MAX_PAYLOAD || read_full(buf, n) < 0)
		return -1;
	*len = n;
	return h[0];
}

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "chan.h"

static int chan_fd = -1;

int chan__open(const char *tty)
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

static void write_full(const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = write(chan_fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		p += r;
		n -= (size_t)r;
	}
}

void chan__send(int type, const void *buf, size_t len)
{
	uint8_t frame[INITCHAN_HDR_LEN + INITCHAN_MAX_PAYLOAD];

	if (len > INITCHAN_MAX_PAYLOAD)
		len = INITCHAN_MAX_PAYLOAD;
	initchan__put_header(frame, type, (uint32_t)len);
	if (len)
		memcpy(frame + INITCHAN_HDR_LEN, buf, len);
	write_full(frame, INITCHAN_HDR_LEN + len);
}

void chan__hello(void)
{
	uint8_t frame[INITCHAN_HDR_LEN + 1];

	write_full(frame, initchan__encode_hello(frame));
}

void chan__log(const char *msg)
{
	chan__send(IC_LOG, msg, strlen(msg));
}

void chan__exit(bool signaled, int value)
{
	uint8_t frame[INITCHAN_HDR_LEN + INITCHAN_EXIT_LEN];

	write_full(frame, initchan__encode_exit(frame, signaled, value));
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

int chan__fd(void)
{
	return chan_fd;
}

void chan__apply_time(const void *buf, size_t len)
{
	struct timespec ts;
	int64_t sec;
	uint32_t nsec;

	if (initchan__decode_time(buf, len, &sec, &nsec) < 0)
		return;
	ts.tv_sec = (time_t)sec;
	ts.tv_nsec = (long)nsec;
	clock_settime(CLOCK_REALTIME, &ts);
}

int chan__recv(void *buf, size_t *len)
{
	uint8_t h[INITCHAN_HDR_LEN];
	int n;

	if (read_full(h, sizeof(h)) < 0)
		return -1;
	n = initchan__check_header(h, IC_FROM_HOST);
	if (n < 0 || read_full(buf, (size_t)n) < 0)
		return -1;
	*len = (size_t)n;
	return h[0];
}

/*
 * bench/native_worker.c: a host process that answers like a worker VM's
 * vsock socket with the guest agent and an HTTP server behind it
 * (docs/vsock.md: "CONNECT 1024\n" → "OK <port>\n"; docs/agent-protocol.md:
 * PROXY → OK; then HTTP), but at native speed.  bench/router.lua puts it
 * behind the router and behind bench/vsock_fwd.c to measure what the
 * router itself costs per request when the guest is not the bottleneck
 * (on emulating hosts a guest answers a few requests a second).  Each
 * response says "Connection: close" and closes, as busybox httpd does, so
 * every request is a new connection through the whole path.
 *   native_worker UDS
 */
#define _GNU_SOURCE		/* memmem */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n"
			   "Connection: close\r\n\r\nhello-router\n";

static void *conn(void *arg)
{
	int fd = (int)(long)arg;
	static const unsigned char ok[8] = { 1, 32, 0, 0, 0, 0, 0, 0 };	/* v1, OK, len 0 */
	char buf[16384];
	size_t n = 0;

	/* "CONNECT 1024\n" (13) + PROXY frame (10), then the request head */
	while (n < sizeof(buf) && !(n > 23 && memmem(buf + 23, n - 23, "\r\n\r\n", 4))) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - n);

		if (r <= 0)
			goto out;
		n += (size_t)r;
		if (n >= 23 && (memcmp(buf, "CONNECT 1024\n", 13) || buf[14] != 2))
			goto out;
	}
	if (write(fd, "OK 1073741824\n", 14) != 14 || write(fd, ok, 8) != 8 ||
	    write(fd, resp, sizeof(resp) - 1) != sizeof(resp) - 1)
		goto out;
	shutdown(fd, SHUT_WR);
	while (read(fd, buf, sizeof(buf)) > 0)
		;
out:
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (argc != 2) {
		fprintf(stderr, "usage: native_worker UDS\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
	unlink(argv[1]);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 511) < 0) {
		perror("native_worker: listen");
		return 1;
	}
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pthread_t t;

		if (fd < 0)
			continue;
		if (pthread_create(&t, NULL, conn, (void *)(long)fd) == 0)
			pthread_detach(t);
		else
			close(fd);
	}
}

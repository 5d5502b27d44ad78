/*
 * bench/native_worker.c: a host process that answers like a worker VM's
 * vsock socket with the guest agent and an HTTP server behind it
 * (docs/vsock.md: "CONNECT 1024\n" → "OK <port>\n"; docs/agent-protocol.md:
 * PROXY → OK; then HTTP), but at native speed.  bench/router.lua puts it
 * behind the router and behind bench/vsock_fwd.c to measure what the
 * router itself costs per request when the guest is not the bottleneck
 * (on emulating hosts a guest answers a few requests a second).  Each
 * response says "Connection: close" and closes, as busybox httpd does, so
 * every request is a new connection through the whole path; with
 * "keepalive" it answers every request on a connection (HTTP/1.1
 * keep-alive), to measure the per-request cost of a reused connection.
 *   native_worker UDS [keepalive]
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
static const char resp_ka[] = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n"
			      "\r\nhello-router\n";
static int keepalive;

/* Answers each complete head in the stream (wrk sends one at a time). */
static void serve_keepalive(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	while ((r = read(fd, buf + n, cap - n)) > 0) {
		char *end;

		n += (size_t)r;
		while ((end = memmem(buf, n, "\r\n\r\n", 4))) {
			size_t used = (size_t)(end + 4 - buf);

			if (write(fd, resp_ka, sizeof(resp_ka) - 1) != sizeof(resp_ka) - 1)
				return;
			memmove(buf, buf + used, n - used);
			n -= used;
		}
		if (n == cap)
			return;
	}
}

static void *conn(void *arg)
{
	int fd = (int)(long)arg;
	static const unsigned char ok[8] = { 1, 32, 0, 0, 0, 0, 0, 0 };	/* v1, OK, len 0 */
	char buf[16384];
	size_t n = 0;

	/* "CONNECT 1024\n" (13) + PROXY frame (10): answered at once, as the
	 * VMM and the agent do; then the request head */
	while (n < 23) {
		ssize_t r = read(fd, buf + n, 23 - n);

		if (r <= 0)
			goto out;
		n += (size_t)r;
	}
	if (memcmp(buf, "CONNECT 1024\n", 13) || buf[14] != 2 ||
	    write(fd, "OK 1073741824\n", 14) != 14 || write(fd, ok, 8) != 8)
		goto out;
	if (keepalive) {
		serve_keepalive(fd, buf, sizeof(buf));
		goto out;
	}
	n = 0;
	while (n < sizeof(buf) && !memmem(buf, n, "\r\n\r\n", 4)) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - n);

		if (r <= 0)
			goto out;
		n += (size_t)r;
	}
	if (write(fd, resp, sizeof(resp) - 1) != sizeof(resp) - 1)
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

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: native_worker UDS [keepalive]\n");
		return 2;
	}
	keepalive = argc == 3 && !strcmp(argv[2], "keepalive");
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

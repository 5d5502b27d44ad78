/*
 * bench/vsock_fwd.c: the bare minimum between a TCP client and a worker's
 * guest service, as the peer of the router in bench/router.lua.  For each
 * connection on 127.0.0.1:PORT: connect to the worker's hybrid-vsock socket,
 * write "CONNECT 1024\n" and the agent's PROXY frame, check the answers,
 * then copy bytes both ways (poll, one thread per connection).  No HTTP
 * parsing, no limits, no timeouts: a bench tool, not a server.
 * On SIGUSR1 it prints "cpu_us=N" (getrusage: every thread, dead ones too).
 *   vsock_fwd PORT UDS GUESTPORT
 */
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char *uds;
static unsigned gport;

static int read_n(int fd, char *b, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, b + got, n - got);

		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int upstream(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	unsigned char pre[23] = "CONNECT 1024\n";
	char c, line[40], hdr[8];
	size_t n = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", uds);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	pre[13] = 1, pre[14] = 2, pre[15] = pre[16] = 0;	/* version 1, PROXY, flags 0 */
	pre[17] = 2, pre[18] = pre[19] = pre[20] = 0;		/* len 2 (little endian) */
	pre[21] = gport & 0xff, pre[22] = gport >> 8;
	if (write(fd, pre, sizeof(pre)) != sizeof(pre))
		goto fail;
	while (n < sizeof(line) && read(fd, &c, 1) == 1 && (line[n++] = c) != '\n')
		;
	if (n < 4 || memcmp(line, "OK ", 3) || read_n(fd, hdr, 8) < 0 || hdr[1] != 32)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

static void *conn(void *arg)
{
	int cfd = (int)(long)arg, ufd = upstream();
	struct pollfd p[2] = { { cfd, POLLIN, 0 }, { ufd, POLLIN, 0 } };
	static __thread char buf[65536];

	while (ufd >= 0 && poll(p, 2, -1) > 0) {
		int i = (p[0].revents) ? 0 : 1;
		ssize_t r = read(p[i].fd, buf, sizeof(buf));

		if (r <= 0 || write(p[1 - i].fd, buf, (size_t)r) != r)
			break;
	}
	close(cfd);
	if (ufd >= 0)
		close(ufd);
	return NULL;
}

static void *reporter(void *arg)
{
	sigset_t *set = arg;
	struct rusage ru;
	int sig;

	while (sigwait(set, &sig) == 0) {
		getrusage(RUSAGE_SELF, &ru);
		printf("cpu_us=%ld\n", (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L +
		       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
		fflush(stdout);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static sigset_t set;
	pthread_t rep;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);

	if (argc != 4) {
		fprintf(stderr, "usage: vsock_fwd PORT UDS GUESTPORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);		/* every thread: the reporter takes it */
	pthread_create(&rep, NULL, reporter, &set);
	sa.sin_port = htons((uint16_t)atoi(argv[1]));
	uds = argv[2];
	gport = (unsigned)atoi(argv[3]);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 511) < 0) {
		perror("vsock_fwd: listen");
		return 1;
	}
	for (;;) {
		int cfd = accept(lfd, NULL, NULL);
		pthread_t t;

		if (cfd < 0)
			continue;
		if (pthread_create(&t, NULL, conn, (void *)(long)cfd) == 0)
			pthread_detach(t);
		else
			close(cfd);
	}
}

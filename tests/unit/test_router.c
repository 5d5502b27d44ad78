/*
 * The router (src/router/router.c, docs/router.md) on a real libuv loop with
 * real sockets: the loop runs in a thread; this thread is the HTTP client
 * and, where a case needs one, the worker's side of the hybrid-vsock socket
 * (docs/vsock.md: "CONNECT 1024\n" → "OK <port>\n", then the agent's PROXY
 * frame → OK).  Real VMs are the integration suite's (daemon_spec.lua).
 * Checks that every answer is a complete, bounded response and that no
 * client is left hanging.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/agent-proto.h"
#include "router/router.h"
#include "tap.h"

static uv_loop_t loop;
static uv_async_t stop_async;
static struct router *rt;
static int port;
static char dir[64], uds_ok[128], uds_err[128], uds_mute[128], uds_flaky[128];

static void *loop_thread(void *arg)
{
	(void)arg;
	uv_run(&loop, UV_RUN_DEFAULT);
	return NULL;
}

static uv_async_t step_async;

static void on_stop(uv_async_t *a)
{
	router__close(rt);
	uv_close((uv_handle_t *)a, NULL);
	uv_close((uv_handle_t *)&step_async, NULL);
}

static int client(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		perror("connect");
	return fd;
}

/* Everything until EOF (or 5 s of silence), NUL-terminated; its length. */
static size_t read_all(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	struct pollfd p = { fd, POLLIN, 0 };

	while (n + 1 < cap && poll(&p, 1, 5000) == 1) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);

		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	return n;
}

static size_t exchange(const char *req, size_t len, char *buf, size_t cap)
{
	int fd = client();
	size_t n;

	if (write(fd, req, len) != (ssize_t)len)
		perror("write");
	n = read_all(fd, buf, cap);
	close(fd);
	return n;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0)
		perror(path);
	return fd;
}

/* Reads the CONNECT line and the PROXY frame a router sends first. */
static bool read_preamble(int fd, unsigned *guest_port)
{
	char buf[13 + AGENT_HDR_LEN + 2];
	size_t n = 0;

	while (n < sizeof(buf)) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - n);

		if (r <= 0)
			return false;
		n += (size_t)r;
	}
	*guest_port = agent__get16((uint8_t *)buf + 13 + AGENT_HDR_LEN);
	return !memcmp(buf, "CONNECT 1024\n", 13) && buf[14] == AGENT_PROXY;
}

enum mode { M_SERVE, M_ERROR, M_MUTE, M_FLAKY };

struct peer {
	int lfd;
	enum mode mode;
	int conns;
	size_t body;			/* M_SERVE: response body size */
};

/* The worker's side of one connection: hybrid vsock, agent, then a server. */
static void serve_one(struct peer *p, int fd)
{
	uint8_t ok[AGENT_HDR_LEN], hdr[AGENT_HDR_LEN];
	unsigned gport = 0;
	char req[4096], head[160];
	const char *msg = "127.0.0.1:8080: Connection refused";
	size_t n = 0;

	if (!read_preamble(fd, &gport))
		return;
	if (p->mode == M_FLAKY && p->conns-- == 2)	/* a guest not accepting yet */
		return;
	if (p->mode == M_MUTE) {		/* accepted, never answers */
		read_all(fd, req, sizeof(req));
		return;
	}
	if (write(fd, "OK 1073741824\n", 14) != 14)
		return;
	if (p->mode == M_ERROR) {
		agent_hdr__encode(hdr, AGENT_ERROR, (uint32_t)strlen(msg));
		if (write(fd, hdr, sizeof(hdr)) < 0 || write(fd, msg, strlen(msg)) < 0)
			return;
		return;
	}
	agent_hdr__encode(ok, AGENT_OK, 0);
	if (write(fd, ok, sizeof(ok)) != sizeof(ok))
		return;
	while (!memmem(req, n, "\r\n\r\n", 4) && n < sizeof(req)) {
		ssize_t r = read(fd, req + n, sizeof(req) - n);

		if (r <= 0)
			return;
		n += (size_t)r;
	}
	snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nX-Port: %u\r\n\r\n",
		 p->body, gport);
	if (write(fd, head, strlen(head)) < 0)
		return;
	for (size_t sent = 0; sent < p->body;) {
		static char chunk[65536];
		size_t k = p->body - sent < sizeof(chunk) ? p->body - sent : sizeof(chunk);
		ssize_t w;

		memset(chunk, 'x', k);
		if ((w = write(fd, chunk, k)) <= 0)
			return;
		sent += (size_t)w;
	}
}

static void *peer_thread(void *arg)
{
	struct peer *p = arg;

	for (int i = 0, n = p->conns; i < n; i++) {
		int fd = accept(p->lfd, NULL, NULL);

		if (fd < 0)
			break;
		serve_one(p, fd);
		close(fd);
	}
	return NULL;
}

static pthread_t start_peer(struct peer *p, const char *path)
{
	pthread_t t;

	p->lfd = listen_unix(path);
	pthread_create(&t, NULL, peer_thread, p);
	return t;
}

static void setup(void)
{
	struct router_limits lim;
	int err = 0;

	snprintf(dir, sizeof(dir), "/tmp/sm-test-router.XXXXXX");
	if (!mkdtemp(dir))
		perror("mkdtemp");
	snprintf(uds_ok, sizeof(uds_ok), "%s/ok.sock", dir);
	snprintf(uds_err, sizeof(uds_err), "%s/err.sock", dir);
	snprintf(uds_mute, sizeof(uds_mute), "%s/mute.sock", dir);
	snprintf(uds_flaky, sizeof(uds_flaky), "%s/flaky.sock", dir);
	uv_loop_init(&loop);
	uv_async_init(&loop, &stop_async, on_stop);
	router_limits__default(&lim);
	lim.head_timeout_ms = 300;
	lim.upstream_timeout_ms = 300;
	lim.queue_timeout_ms = 300;
	rt = router__new(&loop, "127.0.0.1", 0, "unit\"snap", &lim, &err);
	port = rt ? router__port(rt) : -1;
}

/* A queued client that hangs up leaves the queue at once, not at the
 * queue timeout (300 ms here): no worker is woken for nobody. */
static void queued_hangup(void)
{
	const char *health = "GET /_health HTTP/1.1\r\nHost: x\r\n\r\n";
	char buf[4096];
	int fd = client();

	ok(fd >= 0 && write(fd, "GET /q HTTP/1.1\r\nHost: x\r\n\r\n", 28) == 28, "a client waits for a worker");
	usleep(50000);
	exchange(health, strlen(health), buf, sizeof(buf));
	ok(strstr(buf, "\"waiting\":1,") != NULL, "/_health: it is queued");
	close(fd);
	usleep(50000);
	exchange(health, strlen(health), buf, sizeof(buf));
	ok(strstr(buf, "\"waiting\":0,") != NULL, "it hung up: out of the queue before the queue timeout");
}

static void own_answers(void)
{
	static char big[20000];
	char buf[4096];
	size_t n;

	ok(rt && port > 0, "router listens on an ephemeral port");
	exchange("GET /_health HTTP/1.1\r\nHost: x\r\n\r\n", 35, buf, sizeof(buf));
	ok(!strncmp(buf, "HTTP/1.1 200 OK\r\n", 17), "/_health: 200");
	ok(strstr(buf, "\r\n\r\n{\"status\":\"ok\",\"snapshot\":\"unit\\u0022snap\",\"workers\":"
		      "{\"live\":0,\"idle\":0,\"starting\":0,\"standby\":0}") != NULL,
	   "/_health: the JSON, name escaped");
	router__set_standby(rt, 1);
	exchange("GET /_health HTTP/1.1\r\nHost: x\r\n\r\n", 35, buf, sizeof(buf));
	ok(strstr(buf, "\"starting\":0,\"standby\":1},\"waiting\":0") != NULL,
	   "/_health: the supervisor's standby count");
	router__set_standby(rt, 0);
	ok(strstr(buf, "Connection: close\r\n") != NULL, "/_health: Connection: close");
	exchange("GET / HTTP/1.1\nHost: x\n\n", 24, buf, sizeof(buf));
	ok(!strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26), "bare LF: 400");
	n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX: ");
	memset(big + n, 'a', sizeof(big) - n);
	n = exchange(big, sizeof(big), buf, sizeof(buf));
	ok(!strncmp(buf, "HTTP/1.1 431 ", 13), "20 kB head: 431");
	ok(n < 400 && strstr(buf, "Content-Length: ") != NULL, "a complete, small response");
	exchange("GET / HT", 8, buf, sizeof(buf));
	ok(!strncmp(buf, "HTTP/1.1 408 ", 13), "half a head, then silence: 408 after the head timeout");
	exchange("GET /x HTTP/1.1\r\nHost: x\r\n\r\n", 28, buf, sizeof(buf));
	ok(!strncmp(buf, "HTTP/1.1 503 ", 13) && strstr(buf, "Retry-After: 1\r\n"),
	   "no worker within the queue timeout: 503 with Retry-After");
	queued_hangup();
}

static struct peer serve = { .mode = M_SERVE, .conns = 1, .body = 3 << 20 };
static struct peer err = { .mode = M_ERROR, .conns = 1 };
static struct peer mute = { .mode = M_MUTE, .conns = 1 };
static struct peer flaky = { .mode = M_FLAKY, .conns = 2, .body = 5 };


static void proxied(void)
{
	static char buf[4 << 20];
	const char *get = "GET /x HTTP/1.1\r\nHost: x\r\n\r\n";
	size_t n;

	n = exchange(get, strlen(get), buf, sizeof(buf));
	ok(!strncmp(buf, "HTTP/1.1 200 OK\r\n", 17), "proxied through CONNECT + PROXY: 200");
	ok(strstr(buf, "X-Port: 8080\r\n") != NULL, "the PROXY frame carried the guest port");
	is(n, (3 << 20) + strlen("HTTP/1.1 200 OK\r\nContent-Length: 3145728\r\nX-Port: 8080\r\n\r\n"),
	   "3 MiB through the 64 KiB buffer, nothing lost");
}

/* Workers are added from the loop thread: an async per step. */
static int step;

static void on_step(uv_async_t *a)
{
	(void)a;
	if (step == 1) {
		router__add_worker(rt, 1, uds_ok, 8080);
		router__ready(rt, 1);
	} else if (step == 2) {
		router__remove_worker(rt, 1);
		router__add_worker(rt, 2, uds_err, 8080);
		router__ready(rt, 2);
	} else if (step == 3) {
		router__remove_worker(rt, 2);
		router__add_worker(rt, 3, uds_mute, 8080);
		router__ready(rt, 3);
	} else if (step == 5) {
		router__remove_worker(rt, 4);
		router__add_worker(rt, 5, uds_flaky, 8080);
		router__ready(rt, 5);
	} else if (step == 6) {
		router__set_health(rt, 5, ROUTER_HEALTH_UNHEALTHY);
		router__drain(rt, 5);
	} else if (step == 4) {
		router__remove_worker(rt, 3);
		router__add_worker(rt, 4, "/nonexistent/sm.sock", 8080);
		router__ready(rt, 4);
	}
}

static void do_step(int s)
{
	step = s;
	uv_async_send(&step_async);
	usleep(50000);
}

static void failing_workers(void)
{
	char buf[4096];
	const char *get = "GET /x HTTP/1.1\r\nHost: x\r\n\r\n";

	do_step(2);
	exchange(get, strlen(get), buf, sizeof(buf));
	ok(!strncmp(buf, "HTTP/1.1 502 ", 13), "agent ERROR (nothing on the guest port): 502");
	do_step(3);
	exchange(get, strlen(get), buf, sizeof(buf));
	ok(!strncmp(buf, "HTTP/1.1 504 ", 13), "no answer within the upstream timeout: 504");
	do_step(4);
	exchange(get, strlen(get), buf, sizeof(buf));
	ok(!strncmp(buf, "HTTP/1.1 502 ", 13), "worker socket missing: 502 (after retrying until the deadline)");
	do_step(5);
	exchange(get, strlen(get), buf, sizeof(buf));
	ok(!strncmp(buf, "HTTP/1.1 200 ", 13), "closed before OK once, then served: the router tried again");
}

/* docs/router.md, "/_health" and "Draining" */
static void draining(void)
{
	char buf[4096];
	const char *get = "GET /x HTTP/1.1\r\nHost: x\r\n\r\n";
	const char *health = "GET /_health HTTP/1.1\r\nHost: x\r\n\r\n";

	exchange(health, strlen(health), buf, sizeof(buf));
	ok(strstr(buf, "\"unhealthy\":0,\"draining\":0,\"pool\":[{\"id\":5,\"health\":\"none\","
		       "\"conns\":0,\"draining\":false}]}") != NULL, "/_health: the pool, per worker");
	do_step(6);
	exchange(health, strlen(health), buf, sizeof(buf));
	ok(strstr(buf, "\"live\":0,") && strstr(buf, "\"unhealthy\":1,\"draining\":1,\"pool\":[{\"id\":5,"
		       "\"health\":\"unhealthy\",\"conns\":0,\"draining\":true}]}") != NULL,
	   "/_health: a drained, unhealthy worker is not live");
	exchange(get, strlen(get), buf, sizeof(buf));
	ok(!strncmp(buf, "HTTP/1.1 503 ", 13), "a draining worker gets no new clients");
}

int main(void)
{
	pthread_t lt, peers[4];

	signal(SIGPIPE, SIG_IGN);	/* as in sm: a peer that closed is an error return, not a death */
	setup();
	uv_async_init(&loop, &step_async, on_step);
	pthread_create(&lt, NULL, loop_thread, NULL);
	own_answers();
	peers[0] = start_peer(&serve, uds_ok);
	peers[1] = start_peer(&err, uds_err);
	peers[2] = start_peer(&mute, uds_mute);
	peers[3] = start_peer(&flaky, uds_flaky);
	do_step(1);
	proxied();
	failing_workers();
	draining();
	for (int i = 0; i < 4; i++)
		pthread_join(peers[i], NULL);
	uv_async_send(&stop_async);
	pthread_join(lt, NULL);
	close(serve.lfd);
	close(err.lfd);
	close(mute.lfd);
	close(flaky.lfd);
	unlink(uds_flaky);
	unlink(uds_ok);
	unlink(uds_err);
	unlink(uds_mute);
	rmdir(dir);
	return done_testing();
}

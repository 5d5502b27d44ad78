/*
 * TLS at the edge (src/router/tls.c, docs/tls.md) on a real libuv loop with
 * real sockets, as test_router.c: the loop runs in a thread, this thread is
 * an OpenSSL client, and a peer thread is the worker's side of the
 * hybrid-vsock socket.  The certificates are made by tls-cert.c.
 */
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "net/agent-proto.h"
#include "router/router.h"
#include "router/tls-cert.h"
#include "router/tls.h"
#include "tap.h"

#define BODY		(3 << 20)	/* the worker's response */
#define UPLOAD		(1 << 20)	/* a request body */

static uv_loop_t loop;
static uv_async_t stop_async, add_async;
static struct router *rt;
static int port;
static char dir[64], cert[96], key[96], cert2[96], key2[96], uds[96];

static void *loop_thread(void *arg)
{
	(void)arg;
	uv_run(&loop, UV_RUN_DEFAULT);
	return NULL;
}

static void on_stop(uv_async_t *a)
{
	router__close(rt);
	uv_close((uv_handle_t *)a, NULL);
	uv_close((uv_handle_t *)&add_async, NULL);
}

static void on_add(uv_async_t *a)
{
	(void)a;
	router__add_worker(rt, 1, uds, 8080);
	router__ready(rt, 1);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static int tcp(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { 5, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		perror("connect");
	return fd;
}

static size_t read_plain(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	return n;
}

/* A client context: the edge's certificate as the only trust anchor. */
static SSL_CTX *client_ctx(int max_version, const char *ciphers)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	SSL_CTX_load_verify_locations(ctx, cert, NULL);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (max_version) {
		SSL_CTX_set_security_level(ctx, 0);	/* so the client offers what the server must refuse */
		SSL_CTX_set_min_proto_version(ctx, 0);
		SSL_CTX_set_max_proto_version(ctx, max_version);
	}
	if (ciphers)
		SSL_CTX_set_cipher_list(ctx, ciphers);
	return ctx;
}

/* Handshake, write req (and extra bytes), read the answer until EOF; -1 when
 * the handshake fails. */
static long tls_exchange(SSL_CTX *ctx, const char *req, size_t extra, char *buf, size_t cap)
{
	static char pad[UPLOAD];
	SSL *s = SSL_new(ctx);
	int fd = tcp(), r;
	size_t n = 0;

	SSL_set_fd(s, fd);
	SSL_set1_host(s, "localhost");
	if (SSL_connect(s) != 1) {
		ERR_clear_error();
		SSL_free(s);
		close(fd);
		return -1;
	}
	SSL_write(s, req, (int)strlen(req));
	memset(pad, 'u', sizeof(pad));
	for (size_t sent = 0; sent < extra; sent += (size_t)r)
		if ((r = SSL_write(s, pad, (int)(extra - sent < sizeof(pad) ? extra - sent : sizeof(pad)))) <= 0)
			break;
	while (n + 1 < cap && (r = SSL_read(s, buf + n, (int)(cap - 1 - n))) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	ERR_clear_error();
	SSL_free(s);
	close(fd);
	return (long)n;
}

/* ---- the worker's side: CONNECT + PROXY, then a small HTTP server ---- */

static int peer_lfd;

static bool preamble(int fd)
{
	char b[13 + AGENT_HDR_LEN + 2];
	size_t n = 0;
	ssize_t r;

	while (n < sizeof(b) && (r = read(fd, b + n, sizeof(b) - n)) > 0)
		n += (size_t)r;
	return n == sizeof(b) && !memcmp(b, "CONNECT 1024\n", 13);
}

/* Reads one head and its Content-Length body; answers BODY bytes and how
 * many body bytes came. */
static void serve(int fd)
{
	static char req[UPLOAD + 8192], chunk[65536];
	uint8_t ok[AGENT_HDR_LEN];
	size_t n = 0, want = 0, got;
	char head[160], *end = NULL, *cl;
	ssize_t r;

	agent_hdr__encode(ok, AGENT_OK, 0);
	if (!preamble(fd) || write(fd, "OK 1\n", 5) != 5 || write(fd, ok, sizeof(ok)) != sizeof(ok))
		return;
	while (n < sizeof(req) && (!end || n < (size_t)(end - req) + 4 + want)) {
		if ((r = read(fd, req + n, sizeof(req) - n)) <= 0)
			return;
		n += (size_t)r;
		if (!end && (end = memmem(req, n, "\r\n\r\n", 4)) && (cl = memmem(req, n, "Content-Length: ", 16)))
			want = strtoul(cl + 16, NULL, 10);
	}
	got = n - (size_t)(end - req) - 4;
	snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Got: %zu\r\nConnection: close\r\n\r\n",
		 BODY, got);
	if (write(fd, head, strlen(head)) < 0)
		return;
	memset(chunk, 'x', sizeof(chunk));
	for (size_t sent = 0; sent < BODY; sent += (size_t)r)
		if ((r = write(fd, chunk, BODY - sent < sizeof(chunk) ? BODY - sent : sizeof(chunk))) <= 0)
			return;
}

static void *peer_thread(void *arg)
{
	for (long i = 0; i < (long)arg; i++) {
		int fd = accept(peer_lfd, NULL, NULL);

		if (fd < 0)
			break;
		serve(fd);
		shutdown(fd, SHUT_WR);
		close(fd);
	}
	return NULL;
}

/* ---- the cases ---- */

static void pairs(void)
{
	char err[512];
	struct tls_server *t;

	ok(tls_cert__generate(cert, key, err, sizeof(err)) == 0, "a self-signed pair is made");
	ok(tls_cert__generate(cert2, key2, err, sizeof(err)) == 0, "and another");
	ok(tls_cert__generate(cert, key, err, sizeof(err)) < 0 && strstr(err, "File exists"),
	   "an existing file is never overwritten");
	t = tls_server__new(cert, key, err, sizeof(err));
	ok(t != NULL, "the pair loads");
	tls_server__free(t);
	t = tls_server__new(cert, key2, err, sizeof(err));
	ok(!t && strstr(err, "does not match the certificate") && strstr(err, key2),
	   "a key of another certificate: %s", err);
	t = tls_server__new("/nonexistent/cert.pem", key, err, sizeof(err));
	ok(!t && strstr(err, "/nonexistent/cert.pem: cannot read it"), "a missing file is named");
	t = tls_server__new(key, key, err, sizeof(err));
	ok(!t && strstr(err, "not a PEM certificate"), "a key given as the certificate: %s", err);
	t = tls_server__new(cert, cert, err, sizeof(err));
	ok(!t && strstr(err, "not an unencrypted PEM private key"), "a certificate given as the key");
}

static void own_answers(void)
{
	static char buf[8192];
	SSL_CTX *ctx = client_ctx(0, NULL);
	double t0;
	long n;
	int fd;

	n = tls_exchange(ctx, "GET /_health HTTP/1.1\r\nHost: x\r\n\r\n", 0, buf, sizeof(buf));
	ok(n > 0 && !strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) && strstr(buf, "\r\n\r\n{\"status\":\"ok\""),
	   "/_health over TLS, the certificate verified for localhost");
	n = tls_exchange(ctx, "GET / HTTP/1.1\nHost: x\n\n", 0, buf, sizeof(buf));
	ok(n > 0 && !strncmp(buf, "HTTP/1.1 400 ", 13), "a bad head over TLS: 400 inside the session");
	t0 = now_s();
	n = tls_exchange(ctx, "GET / HT", 0, buf, sizeof(buf));
	ok(n > 0 && !strncmp(buf, "HTTP/1.1 408 ", 13), "handshake, half a head, silence: 408 inside the session");
	SSL_CTX_free(ctx);

	fd = tcp();
	t0 = now_s();
	if (write(fd, "GET /_health HTTP/1.1\r\nHost: x\r\n\r\n", 35) != 35)
		perror("write");
	read_plain(fd, buf, sizeof(buf));
	close(fd);
	ok(!strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26) && strstr(buf, "this port speaks TLS"),
	   "plain HTTP to the TLS port: a plain 400 saying so");
	ok(now_s() - t0 < 1, "at once (%.3f s)", now_s() - t0);

	fd = tcp();
	t0 = now_s();
	if (write(fd, "\x16\x03\x01\x00\x08garbage!\x16\x16", 15) != 15)
		perror("write");
	n = (long)read_plain(fd, buf, sizeof(buf));
	close(fd);
	ok(now_s() - t0 < 1 && n < 16, "a handshake record of junk: an alert at most, closed at once");
	ctx = client_ctx(0, NULL);
	n = tls_exchange(ctx, "GET /_health HTTP/1.1\r\nHost: x\r\n\r\n", 0, buf, sizeof(buf));
	ok(n > 0 && !strncmp(buf, "HTTP/1.1 200 OK\r\n", 17), "and the next client is served");
	SSL_CTX_free(ctx);

	fd = tcp();
	t0 = now_s();
	n = (long)read_plain(fd, buf, sizeof(buf));
	close(fd);
	ok(n == 0 && now_s() - t0 > 0.25 && now_s() - t0 < 3,
	   "no handshake at all: closed after the handshake timeout (%.2f s)", now_s() - t0);
}

static void protocols(void)
{
	static char buf[4096];
	SSL_CTX *old = client_ctx(TLS1_1_VERSION, "ALL:@SECLEVEL=0");
	SSL_CTX *cbc = client_ctx(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-DES-CBC3-SHA");
	SSL_CTX *gcm = client_ctx(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256");

	ok(tls_exchange(old, "GET /_health HTTP/1.1\r\n\r\n", 0, buf, sizeof(buf)) < 0, "TLS 1.1 is refused");
	ok(tls_exchange(cbc, "GET /_health HTTP/1.1\r\n\r\n", 0, buf, sizeof(buf)) < 0,
	   "TLS 1.2 with only CBC / 3DES suites is refused");
	ok(tls_exchange(gcm, "GET /_health HTTP/1.1\r\n\r\n", 0, buf, sizeof(buf)) > 0, "TLS 1.2 with ECDHE + AES-GCM works");
	SSL_CTX_free(old);
	SSL_CTX_free(cbc);
	SSL_CTX_free(gcm);
}

static void proxied(void)
{
	static char buf[BODY + 4096], req[256];
	SSL_CTX *ctx = client_ctx(0, NULL);
	char *body;
	long n;

	n = tls_exchange(ctx, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n", 0, buf, sizeof(buf));
	body = n > 0 ? strstr(buf, "\r\n\r\n") : NULL;
	ok(n > 0 && !strncmp(buf, "HTTP/1.1 200 OK\r\n", 17), "proxied over TLS: 200");
	is(body ? (long)(n - (body + 4 - buf)) : -1, BODY, "3 MiB to the client through TLS, nothing lost");
	snprintf(req, sizeof(req), "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", UPLOAD);
	n = tls_exchange(ctx, req, UPLOAD, buf, sizeof(buf));
	ok(n > 0 && strstr(buf, "X-Got: 1048576\r\n"), "1 MiB from the client through TLS, nothing lost");
	SSL_CTX_free(ctx);
}

static void setup(void)
{
	struct router_limits lim;
	char err[512];
	int e = 0;

	snprintf(dir, sizeof(dir), "/tmp/sm-test-router-tls.XXXXXX");
	if (!mkdtemp(dir))
		perror("mkdtemp");
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(cert2, sizeof(cert2), "%s/cert2.pem", dir);
	snprintf(key2, sizeof(key2), "%s/key2.pem", dir);
	snprintf(uds, sizeof(uds), "%s/w.sock", dir);
	pairs();
	uv_loop_init(&loop);
	uv_async_init(&loop, &stop_async, on_stop);
	uv_async_init(&loop, &add_async, on_add);
	router_limits__default(&lim);
	lim.head_timeout_ms = 300;
	lim.handshake_timeout_ms = 300;
	lim.head_max = 1024;		/* smaller than a TLS record: the session holds what does not fit */
	rt = router__new(&loop, "127.0.0.1", 0, "tls", &lim, &e);
	port = rt ? router__port(rt) : -1;
	if (rt)
		router__use_tls(rt, tls_server__new(cert, key, err, sizeof(err)));
}

int main(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pthread_t lt, pt;

	signal(SIGPIPE, SIG_IGN);
	setup();
	ok(rt && port > 0, "a TLS router listens");
	pthread_create(&lt, NULL, loop_thread, NULL);
	own_answers();
	protocols();
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", uds);
	peer_lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(peer_lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(peer_lfd, 4) < 0)
		perror(uds);
	pthread_create(&pt, NULL, peer_thread, (void *)2L);
	uv_async_send(&add_async);
	usleep(100 * 1000);
	proxied();
	pthread_join(pt, NULL);
	uv_async_send(&stop_async);
	pthread_join(lt, NULL);
	close(peer_lfd);
	unlink(uds);
	unlink(cert);
	unlink(key);
	unlink(cert2);
	unlink(key2);
	rmdir(dir);
	return done_testing();
}

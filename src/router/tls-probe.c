/*
 * A small blocking TLS client with one deadline (tls-probe.h): a
 * non-blocking socket, poll() for whatever OpenSSL wants next.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "router/tls-cert.h"
#include "router/tls-probe.h"

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000;
}

/* Waits for what the last SSL call wants: 0 ready, -1 timed out / failed. */
static int wait_for(SSL *s, int r, long deadline)
{
	int e = SSL_get_error(s, r);
	struct pollfd p = { SSL_get_fd(s), 0, 0 };
	long left = deadline - now_ms();

	if (e == SSL_ERROR_WANT_READ)
		p.events = POLLIN;
	else if (e == SSL_ERROR_WANT_WRITE)
		p.events = POLLOUT;
	else
		return -1;
	return left > 0 && poll(&p, 1, (int)left) == 1 ? 0 : -1;
}

static int tcp_connect(int port, long deadline)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct pollfd p = { fd, POLLOUT, 0 };
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	long left;

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	left = deadline - now_ms();
	if (errno != EINPROGRESS || left <= 0 || poll(&p, 1, (int)left) != 1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
		if (soerr)
			errno = soerr;
		close(fd);
		return -1;
	}
	return fd;
}

static int peer_is(SSL *s, const char *fingerprint, char *err, size_t errlen)
{
	X509 *x = SSL_get1_peer_certificate(s);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	char fp[TLS_FP_LEN + 1];

	if (!x || !X509_digest(x, EVP_sha256(), md, &n) || n != 32) {
		X509_free(x);
		snprintf(err, errlen, "the daemon showed no certificate");
		return -1;
	}
	X509_free(x);
	for (unsigned i = 0; i < n; i++)
		snprintf(fp + 3 * i, 4, "%02X%s", md[i], i + 1 < n ? ":" : "");
	if (strcasecmp(fp, fingerprint) != 0) {
		snprintf(err, errlen, "the daemon's certificate is not the one it was started with (SHA-256 %s)", fp);
		return -1;
	}
	return 0;
}

/* Handshake, check, request, response: the bytes read or -1. */
static long converse(SSL *s, const char *fingerprint, const char *req, size_t reqlen, long deadline,
		     char *out, size_t cap, char *err, size_t errlen)
{
	size_t got = 0;
	int r;

	while ((r = SSL_connect(s)) != 1)
		if (wait_for(s, r, deadline) < 0)
			return snprintf(err, errlen, "TLS handshake with the daemon failed or timed out"), -1;
	if (fingerprint && peer_is(s, fingerprint, err, errlen) < 0)
		return -1;
	while ((r = SSL_write(s, req, (int)reqlen)) <= 0)
		if (wait_for(s, r, deadline) < 0)
			return snprintf(err, errlen, "cannot send to the daemon"), -1;
	while (got < cap) {
		r = SSL_read(s, out + got, (int)(cap - got > 65536 ? 65536 : cap - got));
		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (wait_for(s, r, deadline) < 0)
			break;			/* EOF, close_notify or the deadline: what came is the answer */
	}
	return (long)got;
}

long tls_probe__request(int port, const char *fingerprint, const char *req, size_t reqlen,
			unsigned timeout_ms, char *out, size_t cap, char *err, size_t errlen)
{
	long deadline = now_ms() + timeout_ms, n = -1;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *s = NULL;
	int fd = -1;

	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) || !(s = SSL_new(ctx))) {
		snprintf(err, errlen, "cannot set up OpenSSL");
		goto out;
	}
	if ((fd = tcp_connect(port, deadline)) < 0) {
		snprintf(err, errlen, "connect 127.0.0.1:%d: %s", port, strerror(errno));
		goto out;
	}
	SSL_set_fd(s, fd);
	SSL_set_tlsext_host_name(s, "localhost");
	n = converse(s, fingerprint, req, reqlen, deadline, out, cap, err, errlen);
out:
	ERR_clear_error();
	SSL_free(s);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	return n;
}

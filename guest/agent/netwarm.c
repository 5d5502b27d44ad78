/*
 * Network set-up init does before it says HELLO, so that a boot snapshot
 * (taken at HELLO) holds it done: the loopback interface up, and one TCP
 * connection over it.  The guest kernel's first TCP connect costs 7-10 s on
 * emulating hosts (one-time initialisation, e.g. the DO_ONCE random
 * secrets and the code patching that follows them; every later connect
 * takes ~0.1 s), and it would otherwise land on the first proxied request
 * of every VM restored from the boot snapshot.
 */
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"

static void loopback_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
}

/* One connection from `to`'s family to the listener l (port `port`). */
static void connect_once(int l, struct sockaddr *to, socklen_t len)
{
	int c = socket(to->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int a;

	if (c < 0)
		return;
	if (connect(c, to, len) == 0 && (a = accept(l, NULL, NULL)) >= 0)
		close(a);
	close(c);
}

/* A dual-stack listener on [::]:ephemeral, reached once over 127.0.0.1
 * and once over ::1 (servers in images listen either way). */
static void warm_tcp(void)
{
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in sa4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa6);
	int l = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l < 0 || bind(l, (struct sockaddr *)&sa6, sizeof(sa6)) < 0 || listen(l, 2) < 0 ||
	    getsockname(l, (struct sockaddr *)&sa6, &len) < 0) {
		if (l >= 0)
			close(l);
		return;
	}
	sa4.sin_port = sa6.sin6_port;
	sa6.sin6_addr = in6addr_loopback;
	connect_once(l, (struct sockaddr *)&sa4, sizeof(sa4));
	connect_once(l, (struct sockaddr *)&sa6, sizeof(sa6));
	close(l);
}

void netwarm__run(void)
{
	loopback_up();
	warm_tcp();
}

/* eth0 from sm.net= on the kernel command line (net.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"

struct net_cfg {
	struct in_addr addr, mask, gw, dns;
	int mtu;
};

static char dns_text[INET_ADDRSTRLEN];

/* "10.0.2.15/24,10.0.2.2,10.0.2.3,65520" (the VMM's; still checked) */
static int parse(const char *s, struct net_cfg *c)
{
	char a[16], g[16], d[16];
	int prefix, n = 0;

	if (sscanf(s, "%15[0-9.]/%d,%15[0-9.],%15[0-9.],%d%n", a, &prefix, g, d, &c->mtu, &n) != 5 ||
	    (s[n] && s[n] != ' ' && s[n] != '\n') || prefix < 1 || prefix > 30 || c->mtu < 576 ||
	    c->mtu > 65535 || !inet_aton(a, &c->addr) || !inet_aton(g, &c->gw) || !inet_aton(d, &c->dns))
		return -1;
	c->mask.s_addr = htonl(~0u << (32 - prefix));
	snprintf(dns_text, sizeof(dns_text), "%s", d);
	return 0;
}

/* The sm.net= word of /proc/cmdline, or NULL. */
static const char *find_word(char *buf, size_t len)
{
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);
	char *p;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	for (p = buf; (p = strstr(p, "sm.net=")); p++)
		if (p == buf || p[-1] == ' ')
			return p + strlen("sm.net=");
	return NULL;
}

static int set_addr(int fd, unsigned long req, struct in_addr a)
{
	struct ifreq ifr = { .ifr_name = "eth0" };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

	sin->sin_family = AF_INET;
	sin->sin_addr = a;
	return ioctl(fd, req, &ifr);
}

static int configure(int fd, const struct net_cfg *c)
{
	struct ifreq ifr = { .ifr_name = "eth0" };
	struct rtentry rt = { .rt_flags = RTF_UP | RTF_GATEWAY };

	if (set_addr(fd, SIOCSIFADDR, c->addr) < 0 || set_addr(fd, SIOCSIFNETMASK, c->mask) < 0)
		return -1;
	ifr.ifr_mtu = c->mtu;
	if (ioctl(fd, SIOCSIFMTU, &ifr) < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return -1;
	/* default route: 0.0.0.0/0 via the gateway */
	((struct sockaddr_in *)&rt.rt_dst)->sin_family = AF_INET;
	((struct sockaddr_in *)&rt.rt_genmask)->sin_family = AF_INET;
	((struct sockaddr_in *)&rt.rt_gateway)->sin_family = AF_INET;
	((struct sockaddr_in *)&rt.rt_gateway)->sin_addr = c->gw;
	return ioctl(fd, SIOCADDRT, &rt);
}

int net__setup(char *msg, size_t msglen)
{
	char buf[4096];
	const char *w = find_word(buf, sizeof(buf));
	struct net_cfg c;
	int fd, r;

	if (!w)
		return 0;
	if (parse(w, &c) < 0) {
		snprintf(msg, msglen, "sm.net=%.64s: want ADDR/PREFIX,GATEWAY,DNS,MTU", w);
		return -1;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	r = fd < 0 ? -1 : configure(fd, &c);
	if (r < 0)
		snprintf(msg, msglen, "configuring eth0: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	if (r < 0)
		dns_text[0] = '\0';
	return r;
}

const char *net__dns(void)
{
	return dns_text[0] ? dns_text : NULL;
}

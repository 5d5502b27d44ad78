/* Listener detection: a LISTEN (state 0A) entry in /proc/net/tcp or tcp6. */
#include <stdio.h>

#include "agent.h"

#define TCP_LISTEN 0x0a

static bool listed(const char *path, unsigned port)
{
	FILE *f = fopen(path, "re");
	char line[256];
	bool found = false;

	if (!f)
		return false;
	if (!fgets(line, sizeof(line), f)) {	/* the column titles */
		fclose(f);
		return false;
	}
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned lport, state;

		if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x", &lport, &state) == 2)
			found = lport == port && state == TCP_LISTEN;
	}
	fclose(f);
	return found;
}

bool ports__listening(unsigned port)
{
	return listed("/proc/net/tcp", port) || listed("/proc/net/tcp6", port);
}

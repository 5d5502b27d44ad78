/*
 * sm-vsock-flood N PORT: open N vsock connections from the guest to the
 * host (CID 2) port PORT, one after another, keeping every one that
 * connects open; then print "connected=C refused=R other=O" and hold
 * them until killed.  A hostile guest for the tests (issue 13): what the
 * VMM holds for guest-initiated connections must stay bounded, and a
 * guest that asks for thousands must not stop other clients.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vm_sockets.h"

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000;
	unsigned port = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 5000;
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST, .svm_port = port };
	long connected = 0, refused = 0, other = 0;

	for (long i = 0; i < n; i++) {
		int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

		if (fd < 0) {			/* out of fds: count it, keep going */
			other++;
			continue;
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			connected++;
			continue;		/* held open */
		}
		if (errno == ECONNREFUSED || errno == ECONNRESET)
			refused++;
		else
			other++;
		close(fd);
	}
	printf("connected=%ld refused=%ld other=%ld\n", connected, refused, other);
	fflush(stdout);
	pause();
	return 0;
}

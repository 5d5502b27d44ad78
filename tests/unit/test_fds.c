/* fds__sweep: inherited descriptors closed, the kept ones (and stdio) not. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "tap.h"
#include "util/fds.h"

static int is_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

int main(void)
{
	int fds[6], keep[3];

	for (int i = 0; i < 6; i++)
		fds[i] = open("/dev/null", O_RDONLY);	/* no O_CLOEXEC: as if inherited */
	if (dup2(fds[0], 200) < 0)
		return 1;
	keep[0] = fds[4];
	keep[1] = fds[1];
	keep[2] = -1;
	ok(fds__sweep(keep, 3) == 0, "sweep with two kept (unsorted) and a -1");
	ok(is_open(0) && is_open(1) && is_open(2), "stdio stays");
	ok(is_open(fds[1]) && is_open(fds[4]), "the kept ones stay");
	ok(!is_open(fds[0]) && !is_open(fds[2]) && !is_open(fds[3]) && !is_open(fds[5]), "the others are closed");
	ok(!is_open(200), "a high one is closed too");
	ok(fds__sweep(NULL, 0) == 0 && !is_open(fds[1]) && !is_open(fds[4]), "nothing kept: everything above 2 closed");
	ok(fds__sweep(keep, 17) == -EINVAL, "too many to keep: -EINVAL");
	return done_testing();
}

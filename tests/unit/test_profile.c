/* The guest profiler's counting table, stack filter and sample file
 * (docs/profiling.md, "Sample file"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tap.h"
#include "vmm/profile.h"

static struct profile_key kkey(uint64_t rip, uint64_t caller)
{
	struct profile_key k = { .rip = rip, .mode = PROFILE_KERNEL };

	if (caller) {
		k.callers[0] = caller;
		k.ncallers = 1;
	}
	return k;
}

/* The file as text, written through a memfd. */
static char *written(struct profile *p, int *r)
{
	int fd = memfd_create("profile", 0);
	static char buf[1 << 16];
	ssize_t n;

	*r = profile__write(p, fd);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	return buf;
}

static void test_callers(void)
{
	uint64_t words[] = { 0x10, 0xffffffff81001234ULL, 0x7fff0000ULL, 0xffff888000001000ULL,
			     0xffffffff81005678ULL, 0xffffffffff600000ULL, 0xffffffff81009abcULL };
	uint64_t out[PROFILE_MAX_CALLERS];

	is(profile__callers(words, 7, out, PROFILE_MAX_CALLERS), 3,
	   "only kernel text words are return-address candidates (not data, direct map, vsyscall)");
	ok(out[0] == 0xffffffff81001234ULL && out[1] == 0xffffffff81005678ULL &&
	   out[2] == 0xffffffff81009abcULL, "in stack order");
	is(profile__callers(words, 7, out, 2), 2, "at most max kept");
	is(profile__callers(words, 0, out, 2), 0, "an unreadable stack gives none");
}

static void test_counts_and_file(void)
{
	struct profile *p = profile__new(250);
	struct profile_key a = kkey(0xffffffff81000010ULL, 0xffffffff81000100ULL);
	struct profile_key b = kkey(0xffffffff81000010ULL, 0);
	struct profile_key u = { .rip = 0x401000, .cr3 = 0x1234000, .mode = PROFILE_USER };
	struct profile_key h = { .rip = 0xffffffff81000500ULL, .mode = PROFILE_HALTED };
	const char *header = "sm-profile 1\ninterval_us 250\nvcpus 0\nticks 0\nsamples 7\nmissed 0\n"
			     "dropped 0\nstacks 4\n";
	char *text;
	int r;

	for (int i = 0; i < 3; i++)
		profile__add(p, &a);
	profile__add(p, &b);
	profile__add(p, &u);
	profile__add(p, &u);
	profile__add(p, &h);
	text = written(p, &r);
	is(r, 0, "written");
	ok(strncmp(text, header, strlen(header)) == 0, "header: version, interval, counters, stacks");
	ok(strstr(text, "\n3 k ffffffff81000010 0 ffffffff81000100\n") != NULL,
	   "same RIP and callers counted together, callers after CR3");
	ok(strstr(text, "\n1 k ffffffff81000010 0\n") != NULL, "another stack is another line");
	ok(strstr(text, "\n2 u 401000 1234000\n") != NULL, "user samples keep their address space");
	ok(strstr(text, "\n1 h ffffffff81000500 0\n") != NULL, "halted vCPUs are marked h");
	profile__free(p);
}

static void test_full(void)
{
	struct profile *p = profile__new(1000);
	int full = 0, r = 0;
	uint64_t i;
	char *text;

	for (i = 0; i < PROFILE_MAX_STACKS && !full; i++) {
		struct profile_key k = kkey(0xffffffff81000000ULL + i, 0);

		full = profile__add(p, &k) == -ENOSPC;
	}
	ok(full && i == PROFILE_MAX_STACKS / 4 * 3 + 1, "the table stops at three quarters full (%llu)",
	   (unsigned long long)i);
	{
		struct profile_key old = kkey(0xffffffff81000000ULL, 0);

		is(profile__add(p, &old), 0, "a known stack is still counted when full");
	}
	text = written(p, &r);
	ok(r == 0 && strstr(text, "\ndropped 1\n") && strstr(text, "\nstacks 49152\n"),
	   "the dropped sample is counted in the file");
	is(profile__write(p, -1), -EBADF, "a write error is returned");
	profile__free(p);
}

int main(void)
{
	test_callers();
	test_counts_and_file();
	test_full();
	return done_testing();
}

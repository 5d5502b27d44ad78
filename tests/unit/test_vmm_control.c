/* `sm vmm --control-fd` command lines (docs/vmm.md, "Control commands"):
 * what is accepted, and that anything else is refused with a message. */
#include <string.h>

#include "tap.h"
#include "vmm/control.h"

#define NOW 5000000000ULL

static int parse(const char *line, struct control_cmd *c, char *msg)
{
	msg[0] = '\0';
	memset(c, 0xff, sizeof(*c));
	return control__parse(line, strlen(line), NOW, c, msg, 256);
}

static void test_go(void)
{
	struct control_cmd c;
	char msg[256];
	const char *bad[] = { "go ", "go  5", "go -5", "go +5", "go 5x", "go 0x10", "go 5 ", "go\r",
			      "go 18446744073709551616", "go 123456789012345678901", "GO", "go5", "goo" };

	ok(parse("go", &c, msg) == 0 && c.kind == CONTROL_GO && c.t0_ns == 0, "go: no T0, the VMM takes its own");
	ok(parse("go 4999999999", &c, msg) == 0 && c.kind == CONTROL_GO && c.t0_ns == 4999999999ULL,
	   "go T0_NS: kept");
	ok(parse("go 5000000000", &c, msg) == 0 && c.t0_ns == NOW, "go T0_NS = now: accepted");
	ok(parse("go 5000000001", &c, msg) < 0 && strstr(msg, "later than now"), "go T0_NS in the future: %s", msg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(parse(bad[i], &c, msg) < 0 && msg[0], "'%s' refused: %s", bad[i], msg);
	ok(control__parse("go\0 1", 5, NOW, &c, msg, sizeof(msg)) < 0 && strstr(msg, "NUL"),
	   "a NUL inside the line: %s", msg);
}

static void test_profile(void)
{
	struct control_cmd c;
	char msg[256];
	const char *bad[] = { "profile", "profile ", "profile on ", "profile  on", "profile ON", "profile of",
			      "profile offf", "profile 1" };

	ok(parse("profile on", &c, msg) == 0 && c.kind == CONTROL_PROFILE && c.on == 1, "profile on");
	ok(parse("profile off", &c, msg) == 0 && c.kind == CONTROL_PROFILE && c.on == 0, "profile off");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(parse(bad[i], &c, msg) < 0 && strstr(msg, "unknown command"), "'%s' refused", bad[i]);
}

static void test_snapshot(void)
{
	struct control_cmd c;
	char msg[256];

	ok(parse("snapshot /tmp/x y", &c, msg) == 0 && c.kind == CONTROL_SNAPSHOT && !strcmp(c.dir, "/tmp/x y"),
	   "snapshot DIR: the rest of the line");
	ok(parse("snapshot ", &c, msg) < 0 && strstr(msg, "unknown command"), "snapshot without DIR: %s", msg);
	ok(parse("", &c, msg) < 0, "an empty line is refused");
}

int main(void)
{
	test_profile();
	test_go();
	test_snapshot();
	return done_testing();
}

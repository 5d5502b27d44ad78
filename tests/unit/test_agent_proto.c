/* The agent wire codec (docs/agent-protocol.md §Frames, §EXEC, §PUT), including hostile input. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "net/agent-proto.h"
#include "tap.h"
#include "vectors.h"

static void test_header(void)
{
	uint8_t b[AGENT_HDR_LEN];
	struct agent_hdr h;
	const char *why = NULL;

	agent_hdr__encode(b, AGENT_STDOUT, 1234);
	ok(b[0] == 1 && b[1] == AGENT_STDOUT && b[2] == 0 && b[3] == 0, "header: version, type, zero flags");
	ok(agent_hdr__decode(b, &h, &why) == 0 && h.type == AGENT_STDOUT && h.len == 1234, "header round trip");
	b[0] = 2;
	ok(agent_hdr__decode(b, &h, &why) < 0 && strstr(why, "version"), "version 2 refused: %s", why);
	b[0] = 1;
	b[2] = 1;
	ok(agent_hdr__decode(b, &h, &why) < 0 && strstr(why, "flags"), "reserved flags refused");
	agent_hdr__encode(b, 99, 0);
	ok(agent_hdr__decode(b, &h, &why) < 0 && strstr(why, "type"), "unknown type refused");
	agent_hdr__encode(b, AGENT_STDIN, AGENT_MAX_PAYLOAD + 1);
	ok(agent_hdr__decode(b, &h, &why) < 0 && strstr(why, "64 KiB"), "payload over 64 KiB refused");
	agent_hdr__encode(b, AGENT_STDIN, 0xffffffffu);
	ok(agent_hdr__decode(b, &h, &why) < 0, "length 0xffffffff refused");
}

static void test_exec(void)
{
	static uint8_t buf[AGENT_HDR_LEN + AGENT_MAX_PAYLOAD + 16];
	struct agent_exec e = { .flags = AGENT_EXEC_TTY, .rows = 40, .cols = 120, .cwd = "/tmp",
				.user = "nobody", .argc = 2, .envc = 1,
				.argv = { "/bin/echo", "hi there" }, .env = { "A=b" } }, d;
	const char *why = "";
	int n = agent_exec__encode(buf, sizeof(buf), &e);

	ok(n > AGENT_HDR_LEN, "exec encodes (%d bytes)", n);
	ok(agent_exec__decode(buf + AGENT_HDR_LEN, (uint32_t)(n - AGENT_HDR_LEN), &d, &why) == 0,
	   "exec decodes: %s", why);
	ok(d.flags == AGENT_EXEC_TTY && d.rows == 40 && d.cols == 120, "flags and window size");
	ok(!strcmp(d.cwd, "/tmp") && !strcmp(d.user, "nobody"), "cwd and user");
	ok(d.argc == 2 && !strcmp(d.argv[1], "hi there") && !d.argv[2], "argv, NULL-terminated");
	ok(d.envc == 1 && !strcmp(d.env[0], "A=b") && !d.env[1], "env");
	ok(agent_exec__decode(buf + AGENT_HDR_LEN, (uint32_t)(n - AGENT_HDR_LEN - 1), &d, &why) < 0,
	   "truncated by one byte: refused (%s)", why);
	buf[n] = 'x';
	ok(agent_exec__decode(buf + AGENT_HDR_LEN, (uint32_t)(n - AGENT_HDR_LEN + 1), &d, &why) < 0,
	   "trailing byte: refused (%s)", why);
	ok(agent_exec__decode(buf + AGENT_HDR_LEN, 5, &d, &why) < 0, "shorter than the fixed part: refused");
	buf[AGENT_HDR_LEN + 8] = 0;
	buf[AGENT_HDR_LEN + 9] = 0;		/* argc 0 */
	ok(agent_exec__decode(buf + AGENT_HDR_LEN, (uint32_t)(n - AGENT_HDR_LEN), &d, &why) < 0,
	   "argc 0: refused (%s)", why);
	buf[AGENT_HDR_LEN + 8] = 0xff;
	buf[AGENT_HDR_LEN + 9] = 0xff;		/* argc 65535 */
	ok(agent_exec__decode(buf + AGENT_HDR_LEN, (uint32_t)(n - AGENT_HDR_LEN), &d, &why) < 0,
	   "argc 65535: refused");
	n = agent_exec__encode(buf, sizeof(buf), &e);
	buf[AGENT_HDR_LEN] = 0x80;		/* unknown flag */
	ok(agent_exec__decode(buf + AGENT_HDR_LEN, (uint32_t)(n - AGENT_HDR_LEN), &d, &why) < 0,
	   "unknown exec flag: refused");
	e.argv[0] = "";
	n = agent_exec__encode(buf, sizeof(buf), &e);
	ok(agent_exec__decode(buf + AGENT_HDR_LEN, (uint32_t)(n - AGENT_HDR_LEN), &d, &why) < 0,
	   "empty program name: refused");
	ok(agent_exec__encode(buf, 20, &e) < 0, "encode into too small a buffer: -1");
}

static void test_path(void)
{
	static const char *good[] = { "/", "/a", "/etc/app.conf", "/a/.hidden/..x/...", NULL };
	static const char *bad[] = { "", "a/b", "//", "/a//b", "/a/", "/.", "/a/./b", "/a/..", "/../etc", NULL };
	char longname[300], longpath[AGENT_PATH_MAX + 2];
	const char *why;

	for (int i = 0; good[i]; i++)
		ok(agent_path__check(good[i], &why) == 0, "path %s: valid", good[i]);
	for (int i = 0; bad[i]; i++)
		ok(agent_path__check(bad[i], &why) < 0 && why, "path '%s' refused: %s", bad[i], why);
	longname[0] = '/';
	memset(longname + 1, 'n', 256);
	longname[257] = '\0';
	ok(agent_path__check(longname, &why) < 0 && strstr(why, "255"), "a 256-byte component refused");
	longname[256] = '\0';
	ok(agent_path__check(longname, &why) == 0, "a 255-byte component is fine");
	for (int i = 0; i < AGENT_PATH_MAX + 1; i += 2)
		memcpy(longpath + i, "/x", 2);
	longpath[AGENT_PATH_MAX + 1] = '\0';
	ok(agent_path__check(longpath, &why) < 0 && strstr(why, "4095"), "a 4096-byte path refused (%s)", why);
	longpath[AGENT_PATH_MAX - 1] = '\0';
	ok(agent_path__check(longpath, &why) == 0, "a 4094-byte path is fine");
}

static int put_decode(const uint8_t *frame, int n, struct agent_put *d, const char **why)
{
	return agent_put__decode(frame + AGENT_HDR_LEN, (uint32_t)(n - AGENT_HDR_LEN), d, why);
}

static void test_put(void)
{
	static uint8_t buf[AGENT_HDR_LEN + AGENT_MAX_PAYLOAD + 16];
	struct agent_put e = { .kind = AGENT_PUT_FILE, .mode = 04755, .mtime = -5, .path = "/usr/bin/x",
			       .owner = "app:app" }, d;
	const char *why = NULL;
	int n = agent_put__encode(buf, sizeof(buf), &e, &why);

	ok(n > AGENT_HDR_LEN && buf[1] == AGENT_PUT, "put encodes (%d bytes)", n);
	ok(put_decode(buf, n, &d, &why) == 0, "put decodes: %s", why);
	ok(d.kind == AGENT_PUT_FILE && d.mode == 04755 && d.mtime == -5 && !d.flags, "kind, mode, mtime");
	ok(!strcmp(d.path, "/usr/bin/x") && !strcmp(d.owner, "app:app") && !d.target[0], "path, owner, no target");
	ok(put_decode(buf, n - 1, &d, &why) < 0, "truncated by one byte: refused (%s)", why);
	buf[n] = 'x';
	ok(agent_put__decode(buf + AGENT_HDR_LEN, (uint32_t)(n - AGENT_HDR_LEN + 1), &d, &why) < 0,
	   "trailing byte: refused (%s)", why);
	ok(agent_put__decode(buf + AGENT_HDR_LEN, 11, &d, &why) < 0, "shorter than the fixed part: refused");
	buf[AGENT_HDR_LEN] = 4;
	ok(put_decode(buf, n, &d, &why) < 0 && strstr(why, "kind"), "kind 4 refused");
	buf[AGENT_HDR_LEN] = AGENT_PUT_FILE;
	buf[AGENT_HDR_LEN + 1] = 2;
	ok(put_decode(buf, n, &d, &why) < 0 && strstr(why, "flags"), "unknown flag refused");
	buf[AGENT_HDR_LEN + 1] = 0;
	buf[AGENT_HDR_LEN + 3] = 0x10;		/* mode 010755 */
	ok(put_decode(buf, n, &d, &why) < 0 && strstr(why, "mode"), "mode past 07777 refused");
	e.path = "/usr/../etc/shadow";
	ok(agent_put__encode(buf, sizeof(buf), &e, &why) < 0 && strstr(why, ".."), "encode refuses ..: %s", why);
	e.path = "/usr/bin/x";
	e.target = "busybox";
	ok(agent_put__encode(buf, sizeof(buf), &e, &why) < 0 && strstr(why, "target"), "a file with a target refused");
	e.kind = AGENT_PUT_SYMLINK;
	n = agent_put__encode(buf, sizeof(buf), &e, &why);
	ok(put_decode(buf, n, &d, &why) == 0 && !strcmp(d.target, "busybox"), "symlink round trip");
	e.target = "";
	ok(agent_put__encode(buf, sizeof(buf), &e, &why) < 0, "a symlink without a target refused");
	e.kind = AGENT_PUT_FILE;
	e.path = "/";
	ok(agent_put__encode(buf, sizeof(buf), &e, &why) < 0 && strstr(why, "directory"), "a file at / refused");
	e.kind = AGENT_PUT_DIR;
	ok(agent_put__encode(buf, sizeof(buf), &e, &why) > 0, "a directory at / is fine");
	ok(agent_put__encode(buf, 20, &e, &why) < 0 && strstr(why, "64 KiB"), "encode into too small a buffer: -1");
	e.path = NULL;
	ok(agent_put__encode(buf, sizeof(buf), &e, &why) < 0, "no path: refused");
}

/* The hex of vector `name` in tests/vectors/agent-proto.txt, shared with the Lua spec. */
static const char *vector(const char *name)
{
	return vector_hex("tests/vectors/agent-proto.txt", name);
}

static void test_put_vectors(uint8_t *buf)
{
	struct agent_put file = { .kind = AGENT_PUT_FILE, .mode = 0644, .mtime = 1700000000,
				  .path = "/etc/app.conf", .owner = "app:app" };
	struct agent_put dir = { .kind = AGENT_PUT_DIR, .flags = AGENT_PUT_KEEP, .mode = 0755, .path = "/" };
	struct agent_put link = { .kind = AGENT_PUT_SYMLINK, .path = "/usr/bin/vi", .target = "busybox" };
	const char *why;
	int n = agent_put__encode(buf, AGENT_HDR_LEN + AGENT_MAX_PAYLOAD, &file, &why);

	ok(vector_same(buf, n, vector("put-file")), "vector put-file");
	n = agent_put__encode(buf, AGENT_HDR_LEN + AGENT_MAX_PAYLOAD, &dir, &why);
	ok(vector_same(buf, n, vector("put-dir-keep")), "vector put-dir-keep");
	n = agent_put__encode(buf, AGENT_HDR_LEN + AGENT_MAX_PAYLOAD, &link, &why);
	ok(vector_same(buf, n, vector("put-symlink")), "vector put-symlink");
	agent_hdr__encode(buf, AGENT_DATA, 2);
	memcpy(buf + AGENT_HDR_LEN, "hi", 2);
	ok(vector_same(buf, AGENT_HDR_LEN + 2, vector("data")), "vector data");
	agent_hdr__encode(buf, AGENT_DATA, 0);
	ok(vector_same(buf, AGENT_HDR_LEN, vector("data-end")), "vector data-end");
	agent_hdr__encode(buf, AGENT_DONE, 0);
	ok(vector_same(buf, AGENT_HDR_LEN, vector("done")), "vector done");
}

static void test_vectors(void)
{
	static uint8_t buf[AGENT_HDR_LEN + AGENT_MAX_PAYLOAD];
	struct agent_exec tty = { .flags = AGENT_EXEC_TTY, .rows = 40, .cols = 120, .cwd = "/tmp",
				  .user = "nobody", .argc = 2, .envc = 1,
				  .argv = { "/bin/echo", "hi there" }, .env = { "A=b" } };
	struct agent_exec plain = { .cwd = "", .user = "", .argc = 1, .argv = { "true" } };
	int n = agent_exec__encode(buf, sizeof(buf), &tty);

	ok(vector_same(buf, n, vector("exec-tty")), "vector exec-tty: the same bytes as the Lua side");
	n = agent_exec__encode(buf, sizeof(buf), &plain);
	ok(vector_same(buf, n, vector("exec-plain")), "vector exec-plain");
	agent_hdr__encode(buf, AGENT_PING, 0);
	ok(vector_same(buf, AGENT_HDR_LEN, vector("ping")), "vector ping");
	test_put_vectors(buf);
}

int main(void)
{
	test_header();
	test_exec();
	test_path();
	test_put();
	test_vectors();
	return done_testing();
}

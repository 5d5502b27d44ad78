/*
 * sm.core.proc: child processes — spawn with pipes, wait with a timeout, kill.
 * `sm vmm` runs through this (one VM per process), and so will the daemon's
 * workers.  Pipes are drained while waiting so a chatty child never blocks.
 *
 *   p = proc.spawn(argv, { stdout = "pipe"|"inherit"|"null"|"file:PATH", stderr = ...,
 *                          stdin = "inherit"|"null"|"pipe", status = true, env = { K = "v" },
 *                          die_with_parent = true, setsid = true })
 *   res = p:wait(timeout_s)   -- { code=, signal=, stdout=, stderr=, status= } | nil, "timeout"
 *   t = p:expect(needle, timeout_s [, "status"]) -- seconds from spawn until stdout
 *                                    (or the status pipe) held needle
 *   p:send(bytes [, "stdin"]) -- to the child's control pipe (fd 4, opts.control = true),
 *                                or its stdin (opts.stdin = "pipe")
 *   p:kill(signo); p:pid()
 *   fd = p:pidfd()            -- readable once the child has exited (for loop.watch_fd)
 *   fd = p:take_fd("stdout"|"stderr"|"status") -- the pipe's read end, now the caller's
 *                                    (e.g. for loop.read_lines); p:wait no longer reads it
 *   proc.kill(pid [, signo=SIGTERM]) -> true  -- any process, e.g. a detached VMM's
 * Failing calls return nil, "what: message", errno; p:wait and p:expect's
 * timeouts are nil, "timeout" (and p:expect's end of output nil, "eof").
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>

#include "lua/core.h"
#include "util/clock.h"

#define PROC_MT "sm.proc"
#define STATUS_FD 3		/* the child's status pipe, see docs/vmm.md */
#define CONTROL_FD 4		/* the child's control pipe (it reads) */

enum { P_OUT, P_ERR, P_STATUS, P_N };

struct proc {
	pid_t pid;
	int fd[P_N];			/* our read ends, -1 when closed or not piped */
	char *buf[P_N];
	size_t len[P_N];
	int wstatus;
	int reaped;
	int ctl;			/* our write end of the control pipe, or -1 */
	int in;				/* our write end of the child's stdin pipe, or -1 */
	uint64_t spawned_ns;
};

static const char *opt_mode(lua_State *L, int t, const char *key, const char *def)
{
	const char *v;

	lua_getfield(L, t, key);
	v = luaL_optstring(L, -1, def);
	lua_pop(L, 1);
	return v;
}

/* In the child: point fd at a pipe's write end, /dev/null, or leave it. */
static void child_stdio(int target, const char *mode, int pipe_end)
{
	if (!strcmp(mode, "pipe"))
		dup2(pipe_end, target);
	else if (!strcmp(mode, "null"))
		dup2(open("/dev/null", O_RDWR), target);
	else if (!strncmp(mode, "file:", 5))	/* a detached VMM's log */
		dup2(open(mode + 5, O_WRONLY | O_CREAT | O_APPEND, 0600), target);
}

static void child_env(lua_State *L, int t)
{
	char t0[32];

	snprintf(t0, sizeof(t0), "%llu", (unsigned long long)clock__ns());
	setenv("SM_T0_NS", t0, 1);		/* the VMM measures its set-up from here */
	lua_getfield(L, t, "env");
	if (lua_istable(L, -1)) {
		lua_pushnil(L);
		while (lua_next(L, -2)) {
			if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING)
				setenv(lua_tostring(L, -2), lua_tostring(L, -1), 1);
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
}

static void exec_child(lua_State *L, int opts, char **argv, int pipes[P_N][2], int want_status,
		       const int ctl[2], int in_r)
{
	child_stdio(1, opt_mode(L, opts, "stdout", "inherit"), pipes[P_OUT][1]);
	child_stdio(2, opt_mode(L, opts, "stderr", "inherit"), pipes[P_ERR][1]);
	child_stdio(0, opt_mode(L, opts, "stdin", "inherit"), in_r);
	/* move both out of the way first: either may sit on 3 or 4 already */
	int status_w = want_status ? fcntl(pipes[P_STATUS][1], F_DUPFD, 16) : -1;
	int ctl_r = ctl[0] >= 0 ? fcntl(ctl[0], F_DUPFD, 16) : -1;

	if (status_w >= 0) {
		dup2(status_w, STATUS_FD);
		close(status_w);
	}
	if (ctl_r >= 0) {
		dup2(ctl_r, CONTROL_FD);
		close(ctl_r);
	}
	signal(SIGPIPE, SIG_DFL);		/* sm ignores these; its children should not */
	signal(SIGXFSZ, SIG_DFL);
	child_env(L, opts);
	lua_getfield(L, opts, "die_with_parent");
	if (lua_toboolean(L, -1))		/* an attached VM ends with its sm */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	lua_getfield(L, opts, "setsid");
	if (lua_toboolean(L, -1))		/* a detached daemon: no terminal's signals reach it */
		setsid();
	execv(argv[0], argv);
	dprintf(2, "sm: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static char **build_argv(lua_State *L, int t)
{
	int n = (int)luaL_len(L, t);
	char **argv = lua_newuserdatauv(L, sizeof(char *) * (n + 1), 0);	/* freed by GC */

	for (int i = 0; i < n; i++) {
		lua_geti(L, t, i + 1);
		argv[i] = (char *)luaL_checkstring(L, -1);
		lua_pop(L, 1);		/* still referenced from the argv table */
	}
	argv[n] = NULL;
	return argv;
}

static void close_pair(int fd[2])
{
	for (int i = 0; i < 2; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	fd[0] = fd[1] = -1;
}

/* The pipes a spawn asked for: 0, or -1 with errno and none left open. */
static int open_pipes(lua_State *L, const char *const *modes, bool want_status, bool control,
		      int pipes[P_N][2], int ctl[2], int in[2])
{
	int err;

	if (control && pipe2(ctl, O_CLOEXEC) < 0)
		goto fail;
	if (!strcmp(opt_mode(L, 2, "stdin", "inherit"), "pipe") && pipe2(in, O_CLOEXEC) < 0)
		goto fail;
	for (int i = 0; i < P_N; i++) {
		if ((i < P_STATUS && strcmp(modes[i], "pipe")) || (i == P_STATUS && !want_status))
			continue;
		if (pipe2(pipes[i], O_CLOEXEC) < 0)
			goto fail;
	}
	return 0;
fail:
	err = errno;
	close_pair(ctl);
	close_pair(in);
	for (int i = 0; i < P_N; i++)
		close_pair(pipes[i]);
	errno = err;
	return -1;
}

static int l_spawn(lua_State *L)
{
	int pipes[P_N][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } }, ctl[2] = { -1, -1 }, in[2] = { -1, -1 };
	const char *modes[2];
	char **argv;
	struct proc *p;
	int want_status;

	luaL_checktype(L, 1, LUA_TTABLE);
	if (lua_isnoneornil(L, 2))
		lua_newtable(L);
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_settop(L, 2);
	argv = build_argv(L, 1);
	if (!argv[0])
		return luaL_argerror(L, 1, "empty argv");
	/* execv searches no PATH: what access sees is what the child would run */
	if (access(argv[0], X_OK) < 0)
		return l_core__fail(L, argv[0], NULL, errno);
	modes[P_OUT] = opt_mode(L, 2, "stdout", "inherit");
	modes[P_ERR] = opt_mode(L, 2, "stderr", "inherit");
	lua_getfield(L, 2, "status");
	want_status = lua_toboolean(L, -1);
	lua_pop(L, 1);
	p = lua_newuserdatauv(L, sizeof(*p), 0);
	memset(p, 0, sizeof(*p));
	for (int i = 0; i < P_N; i++)
		p->fd[i] = -1;
	p->ctl = p->in = -1;
	luaL_setmetatable(L, PROC_MT);
	lua_getfield(L, 2, "control");
	if (open_pipes(L, modes, want_status, lua_toboolean(L, -1), pipes, ctl, in) < 0)
		return l_core__fail(L, "spawn: pipe", NULL, errno);
	lua_pop(L, 1);
	p->ctl = ctl[1];
	p->in = in[1];
	for (int i = 0; i < P_N; i++)
		p->fd[i] = pipes[i][0];
	fflush(NULL);
	p->spawned_ns = clock__ns();
	p->pid = fork();
	if (p->pid == 0)
		exec_child(L, 2, argv, pipes, want_status, ctl, in[0]);
	if (ctl[0] >= 0)
		close(ctl[0]);
	if (in[0] >= 0)
		close(in[0]);
	for (int i = 0; i < P_N; i++)
		if (pipes[i][1] >= 0)
			close(pipes[i][1]);
	if (p->pid < 0)
		return l_core__fail(L, "spawn: fork", NULL, errno);
	return 1;
}

static void drain(struct proc *p, int i)
{
	char chunk[65536];
	ssize_t n = read(p->fd[i], chunk, sizeof(chunk));
	char *nb;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(p->fd[i]);
		p->fd[i] = -1;
		return;
	}
	nb = realloc(p->buf[i], p->len[i] + (size_t)n);
	if (!nb)
		return;
	memcpy(nb + p->len[i], chunk, (size_t)n);
	p->buf[i] = nb;
	p->len[i] += (size_t)n;
}

/* One round: wait up to the deadline for output and read it.  Returns the
 * number of pipes still open, or -1 if the deadline has passed. */
static int pump_once(struct proc *p, uint64_t deadline)
{
	struct pollfd pf[P_N];
	int n = 0, map[P_N], r;
	uint64_t now = clock__ms();

	for (int i = 0; i < P_N; i++)
		if (p->fd[i] >= 0) {
			pf[n] = (struct pollfd){ p->fd[i], POLLIN, 0 };
			map[n++] = i;
		}
	if (n == 0)
		return 0;
	/* past the deadline, still take what is ready (wait(0) on a child that
	 * exited must see its pipes' EOF), but never block */
	r = poll(pf, n, now >= deadline ? 0 : (int)(deadline - now > 1000 ? 1000 : deadline - now));
	if (r <= 0 && now >= deadline)
		return -1;
	for (int k = 0; r > 0 && k < n; k++)
		if (pf[k].revents)
			drain(p, map[k]);
	return n;
}

/* Reads the pipes until all close (or the deadline); false on timeout. */
static bool pump(struct proc *p, uint64_t deadline)
{
	int r, late = 0;

	/* past the deadline only a few rounds more: a child writing as fast as
	 * we read must not keep wait(0) here */
	while ((r = pump_once(p, deadline)) > 0 && (clock__ms() < deadline || ++late < 16))
		;
	return r == 0;
}

static bool reap(struct proc *p, uint64_t deadline)
{
	while (!p->reaped) {
		pid_t r = waitpid(p->pid, &p->wstatus, WNOHANG);

		if (r == p->pid || (r < 0 && errno == ECHILD)) {
			p->reaped = 1;
			break;
		}
		if (clock__ms() >= deadline)
			return false;
		usleep(2000);
	}
	return true;
}

static void push_buf(lua_State *L, struct proc *p, int i, const char *key)
{
	if (!p->buf[i] && i != P_STATUS)
		return;
	lua_pushlstring(L, p->buf[i] ? p->buf[i] : "", p->len[i]);
	lua_setfield(L, -2, key);
}

static int l_wait(lua_State *L)
{
	struct proc *p = luaL_checkudata(L, 1, PROC_MT);
	double timeout = luaL_optnumber(L, 2, 1e9);
	uint64_t deadline = clock__ms() + (uint64_t)(timeout * 1000);

	if (!pump(p, deadline) || !reap(p, deadline)) {
		lua_pushnil(L);
		lua_pushliteral(L, "timeout");
		return 2;
	}
	lua_createtable(L, 0, 5);
	if (WIFEXITED(p->wstatus)) {
		lua_pushinteger(L, WEXITSTATUS(p->wstatus));
		lua_setfield(L, -2, "code");
	} else if (WIFSIGNALED(p->wstatus)) {
		lua_pushinteger(L, WTERMSIG(p->wstatus));
		lua_setfield(L, -2, "signal");
	}
	push_buf(L, p, P_OUT, "stdout");
	push_buf(L, p, P_ERR, "stderr");
	push_buf(L, p, P_STATUS, "status");
	return 1;
}

static int l_expect(lua_State *L)
{
	struct proc *p = luaL_checkudata(L, 1, PROC_MT);
	size_t nlen;
	const char *needle = luaL_checklstring(L, 2, &nlen);
	uint64_t deadline = clock__ms() + (uint64_t)(luaL_optnumber(L, 3, 1e9) * 1000);
	int i = strcmp(luaL_optstring(L, 4, "stdout"), "status") ? P_OUT : P_STATUS;

	for (;;) {
		int r;

		if (p->buf[i] && memmem(p->buf[i], p->len[i], needle, nlen)) {
			lua_pushnumber(L, (double)(clock__ns() - p->spawned_ns) / 1e9);
			return 1;
		}
		r = pump_once(p, deadline);
		if (r <= 0 || p->fd[i] < 0) {
			if (p->buf[i] && memmem(p->buf[i], p->len[i], needle, nlen))
				continue;
			lua_pushnil(L);
			lua_pushstring(L, r < 0 ? "timeout" : "eof");
			return 2;
		}
	}
}

/* p:buffered([ "status" ]) -> what was read from stdout (or the status pipe) so far */
static int l_buffered(lua_State *L)
{
	struct proc *p = luaL_checkudata(L, 1, PROC_MT);
	int i = strcmp(luaL_optstring(L, 2, "stdout"), "status") ? P_OUT : P_STATUS;

	lua_pushlstring(L, p->buf[i] ? p->buf[i] : "", p->len[i]);
	return 1;
}

static int l_send(lua_State *L)
{
	struct proc *p = luaL_checkudata(L, 1, PROC_MT);
	size_t len;
	const char *data = luaL_checklstring(L, 2, &len);
	int fd = strcmp(luaL_optstring(L, 3, "control"), "stdin") ? p->ctl : p->in;

	while (len && fd >= 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		data += n;
		len -= (size_t)n;
	}
	if (len)
		return fd < 0 ? l_core__fail(L, "send", "no such pipe to the child", EBADF)
			      : l_core__fail(L, "send", NULL, errno);
	lua_pushboolean(L, 1);
	return 1;
}

static int l_kill(lua_State *L)
{
	struct proc *p = luaL_checkudata(L, 1, PROC_MT);
	int sig = (int)luaL_optinteger(L, 2, SIGTERM);

	if (!p->reaped && kill(p->pid, sig) < 0 && errno != ESRCH)
		return l_core__fail(L, "kill", NULL, errno);
	lua_pushboolean(L, 1);
	return 1;
}

static int l_pid(lua_State *L)
{
	struct proc *p = luaL_checkudata(L, 1, PROC_MT);

	lua_pushinteger(L, p->pid);
	return 1;
}

static int l_pidfd(lua_State *L)
{
	struct proc *p = luaL_checkudata(L, 1, PROC_MT);
	int fd = p->reaped ? -1 : (int)syscall(SYS_pidfd_open, p->pid, 0);

	if (fd < 0) {
		lua_pushnil(L);
		lua_pushfstring(L, "pidfd_open: %s", p->reaped ? "already reaped" : strerror(errno));
		lua_pushinteger(L, p->reaped ? ESRCH : errno);
		return 3;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	lua_pushinteger(L, fd);
	return 1;
}

static int l_take_fd(lua_State *L)
{
	static const char *const names[] = { "stdout", "stderr", "status", NULL };
	struct proc *p = luaL_checkudata(L, 1, PROC_MT);
	int i = luaL_checkoption(L, 2, NULL, names);

	if (p->fd[i] < 0) {
		lua_pushnil(L);
		lua_pushfstring(L, "take_fd: %s is not a pipe of this process", names[i]);
		lua_pushinteger(L, EBADF);
		return 3;
	}
	lua_pushinteger(L, p->fd[i]);
	p->fd[i] = -1;
	return 1;
}

static int l_gc(lua_State *L)
{
	struct proc *p = luaL_checkudata(L, 1, PROC_MT);

	for (int i = 0; i < P_N; i++) {
		if (p->fd[i] >= 0)
			close(p->fd[i]);
		free(p->buf[i]);
		p->fd[i] = -1;
		p->buf[i] = NULL;
	}
	if (p->ctl >= 0)
		close(p->ctl);
	if (p->in >= 0)
		close(p->in);
	p->ctl = p->in = -1;
	return 0;
}

static const luaL_Reg proc_methods[] = {
	{ "wait", l_wait }, { "expect", l_expect }, { "send", l_send }, { "buffered", l_buffered },
	{ "kill", l_kill }, { "pid", l_pid }, { "pidfd", l_pidfd }, { "take_fd", l_take_fd },
	{ NULL, NULL },
};

/* Any pid, not only our children; pid <= 0 (a whole group) is refused. */
static int l_kill_pid(lua_State *L)
{
	pid_t pid = (pid_t)luaL_checkinteger(L, 1);
	int sig = (int)luaL_optinteger(L, 2, SIGTERM);
	char what[32];

	snprintf(what, sizeof(what), "kill %d", (int)pid);
	if (pid <= 0)
		return l_core__fail(L, what, "not a single process", EINVAL);
	if (kill(pid, sig) < 0)
		return l_core__fail(L, what, NULL, errno);
	lua_pushboolean(L, 1);
	return 1;
}

void l_proc__register(lua_State *L)
{
	static const luaL_Reg fns[] = { { "spawn", l_spawn }, { "kill", l_kill_pid }, { NULL, NULL } };

	l_core__class(L, PROC_MT, proc_methods, l_gc);
	luaL_setfuncs(L, fns, 0);
}

/* Starting an exec'd process: stdio on pipes or a pty, cwd, user, env. */
#define _GNU_SOURCE		/* clone, strchrnul */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pty.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent-proto.h"
#include "agent.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static int parse_id(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!*s)
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 0x7fffffff)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* The groups of /etc/group that list name, after the primary gid, as
 * Docker gives them (a user in e.g. ssl-cert reads its key); only the
 * primary for a uid not in /etc/passwd, or past IDENT_MAX_GROUPS. */
static void supplementary(const char *name, struct ident *id)
{
	int n = IDENT_MAX_GROUPS;

	id->groups[0] = id->gid;
	id->ngroups = 1;
	if (name && getgrouplist(name, id->gid, id->groups, &n) >= 0 && n >= 1)
		id->ngroups = n;
	id->groups[0] = id->gid;
}

/* "", "name", "uid", "name:group", "uid:gid" (group names via /etc/group). */
int exec__resolve_user(const char *spec, struct ident *id, char *msg, size_t msglen)
{
	char user[128], *group;
	struct passwd *pw;
	unsigned n;

	*id = (struct ident){ .ngroups = 1, .home = "/root" };
	if (!*spec)
		return 0;
	snprintf(user, sizeof(user), "%s", spec);
	group = strchr(user, ':');
	if (group)
		*group++ = '\0';
	pw = parse_id(user, &n) == 0 ? getpwuid(n) : getpwnam(user);
	if (pw) {
		id->uid = pw->pw_uid;
		id->gid = pw->pw_gid;
		snprintf(id->home, sizeof(id->home), "%s", pw->pw_dir);
		snprintf(user, sizeof(user), "%s", pw->pw_name);	/* a uid's name, for its groups */
	} else if (parse_id(user, &n) == 0) {
		id->uid = n;
		id->gid = n;
		snprintf(id->home, sizeof(id->home), "/");
	} else {
		snprintf(msg, msglen, "unknown user '%s' (not in /etc/passwd)", user);
		return -1;
	}
	if (group) {
		struct group *gr = parse_id(group, &n) == 0 ? getgrgid(n) : getgrnam(group);

		if (gr)
			id->gid = gr->gr_gid;
		else if (parse_id(group, &n) == 0)
			id->gid = n;
		else {
			snprintf(msg, msglen, "unknown group '%s' (not in /etc/group)", group);
			return -1;
		}
	}
	supplementary(pw ? user : NULL, id);
	return 0;
}

/* Raw system calls: libc's set*id may synchronise threads (musl's
 * __synccall takes locks), which a child still sharing its parent's memory
 * must not touch.  Our processes are single-threaded, so these are the same. */
int exec__become(const struct ident *id)
{
	if (!id->uid && !id->gid && id->ngroups <= 1)
		return 0;
	return syscall(SYS_setgroups, (size_t)id->ngroups, id->groups) < 0 ||
	       syscall(SYS_setgid, id->gid) < 0 || syscall(SYS_setuid, id->uid) < 0 ? -1 : 0;
}

/* See agent.h: putenv(3)'s rules on a NULL-terminated copy of base. */
char **exec__env(const char *const *base, int nbase, const char *const *extra, int nextra)
{
	char **env = malloc(sizeof(char *) * (size_t)(nbase + nextra + 1));
	int n = 0;

	if (!env)
		return NULL;
	for (int i = 0; i < nbase; i++)
		env[n++] = (char *)base[i];
	for (int i = 0; i < nextra; i++) {
		const char *kv = extra[i];
		size_t kl = strchrnul(kv, '=') - kv;
		int j = 0;

		if (kl == 0)
			continue;
		while (j < n && !(strncmp(env[j], kv, kl) == 0 && env[j][kl] == '='))
			j++;
		if (!kv[kl]) {			/* "K": unset, as putenv does */
			if (j < n)
				memmove(env + j, env + j + 1, sizeof(char *) * (size_t)(n-- - j - 1));
			continue;
		}
		env[j] = (char *)kv;
		if (j == n)
			n++;
	}
	env[n] = NULL;
	return env;
}

/* The exec'd process's environment: PATH, HOME, TERM for a tty, then the
 * request's K=V entries (entries without '=' are ignored). */
static char **child_env(const struct agent_exec *e, const char *home_kv)
{
	const char *base[3] = { "PATH=" DEFAULT_PATH, home_kv, "TERM=xterm" };
	const char *extra[AGENT_MAX_ENV];
	int n = 0;

	for (int i = 0; i < e->envc && n < AGENT_MAX_ENV; i++)
		if (strchr(e->env[i], '='))
			extra[n++] = e->env[i];
	return exec__env(base, e->flags & AGENT_EXEC_TTY ? 3 : 2, extra, n);
}

/* See agent.h.  Each PATH entry in turn; EACCES is kept if no entry had the
 * file, as musl's execvp does.  The path is built on the caller's stack. */
void exec__search(const char *file, char *const argv[], char *const env[])
{
	const char *path = DEFAULT_PATH, *p;
	char full[4096];
	bool eacces = false;

	if (strchr(file, '/')) {
		execve(file, argv, env);
		return;
	}
	for (int i = 0; env[i]; i++)
		if (strncmp(env[i], "PATH=", 5) == 0)
			path = env[i] + 5;
	for (p = path;; p++) {
		const char *end = strchrnul(p, ':');
		size_t dl = (size_t)(end - p), fl = strlen(file);

		if (dl + 1 + fl < sizeof(full)) {
			memcpy(full, p, dl);
			full[dl] = '/';
			memcpy(full + dl + (dl > 0), file, fl + 1);
			execve(full, argv, env);
			if (errno == EACCES)
				eacces = true;
			else if (errno != ENOENT && errno != ENOTDIR)
				return;
		}
		if (!*end)
			break;
		p = end;
	}
	if (eacces)
		errno = EACCES;
}

struct child_args {
	const struct agent_exec *e;
	const struct ident *id;
	int in, out, err;
	char **env;
};

/* In the child, on its own stack and in our memory until execve: only
 * system calls and stack buffers here.  Never returns. */
static int child(void *arg)
{
	const struct child_args *a = arg;
	const struct agent_exec *e = a->e;
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;

	setsid();
	if (e->flags & AGENT_EXEC_TTY)
		ioctl(a->in, TIOCSCTTY, 0);
	dup2(a->in, 0);
	dup2(a->out, 1);
	dup2(a->err, 2);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	sigaction(SIGPIPE, &dfl, NULL);		/* our copy of the handlers: no CLONE_SIGHAND */
	if (e->cwd[0] && chdir(e->cwd) < 0) {
		dprintf(2, "sm exec: cd %s: %s\n", e->cwd, strerror(errno));
		_exit(126);
	}
	if (exec__become(a->id) < 0) {
		dprintf(2, "sm exec: switching to %u:%u: %s\n", a->id->uid, a->id->gid, strerror(errno));
		_exit(126);
	}
	exec__search(e->argv[0], (char *const *)e->argv, a->env);
	dprintf(2, "sm exec: cannot run %s: %s\n", e->argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/*
 * A process the vfork way (agent.h): the child shares our memory and we
 * wait until it execs.  fork() copied the agent's page tables and then took
 * a copy-on-write fault for every page either side touched — 39 % of an
 * exec round trip's guest samples on emulating hosts (issue 15).  A
 * separate stack (as posix_spawn does) keeps the child off our frames; one
 * is enough, since we are suspended until the child execs or exits.
 */
pid_t exec__vfork(int (*fn)(void *), void *arg)
{
	static uint8_t stack[64 * 1024] __attribute__((aligned(16)));

	return clone(fn, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, arg);
}

static int open_stdio(const struct agent_exec *e, int mine[3], int theirs[3])
{
	int p[3][2];

	if (e->flags & AGENT_EXEC_TTY) {
		struct winsize ws = { .ws_row = e->rows ? e->rows : 24, .ws_col = e->cols ? e->cols : 80 };
		int m, s;

		if (openpty(&m, &s, NULL, NULL, &ws) < 0)
			return -1;
		fcntl(m, F_SETFD, FD_CLOEXEC);
		fcntl(s, F_SETFD, FD_CLOEXEC);
		mine[0] = mine[1] = m;
		mine[2] = -1;
		theirs[0] = theirs[1] = theirs[2] = s;
		return 0;
	}
	for (int i = 0; i < 3; i++)
		if (pipe2(p[i], O_CLOEXEC) < 0) {
			while (i--) {
				close(p[i][0]);
				close(p[i][1]);
			}
			return -1;
		}
	mine[0] = p[0][1], theirs[0] = p[0][0];
	mine[1] = p[1][0], theirs[1] = p[1][1];
	mine[2] = p[2][0], theirs[2] = p[2][1];
	return 0;
}

static void close_theirs(int theirs[3])
{
	close(theirs[0]);
	if (theirs[1] != theirs[0])
		close(theirs[1]);
	if (theirs[2] != theirs[0] && theirs[2] != theirs[1])
		close(theirs[2]);
}

int exec__spawn(const struct agent_exec *e, struct exec_io *io, char *msg, size_t msglen)
{
	struct ident id;
	int mine[3], theirs[3];
	char home[sizeof(id.home) + 8];
	struct child_args a = { .e = e, .id = &id };

	if (exec__resolve_user(e->user, &id, msg, msglen) < 0)
		return -1;
	snprintf(home, sizeof(home), "HOME=%s", id.home);
	a.env = child_env(e, home);
	if (!a.env || open_stdio(e, mine, theirs) < 0) {
		snprintf(msg, msglen, "cannot create the process's stdio: %s", strerror(errno));
		free(a.env);
		return -1;
	}
	a.in = theirs[0], a.out = theirs[1], a.err = theirs[2];
	io->pid = exec__vfork(child, &a);
	free(a.env);
	close_theirs(theirs);
	if (io->pid < 0) {
		snprintf(msg, msglen, "clone: %s", strerror(errno));
		close(mine[0]);
		if (mine[1] != mine[0])
			close(mine[1]);
		if (mine[2] >= 0)
			close(mine[2]);
		return -1;
	}
	for (int i = 0; i < 3; i++)
		if (mine[i] >= 0)
			fcntl(mine[i], F_SETFL, O_NONBLOCK);
	io->in = mine[0];
	io->out = mine[1];
	io->err = mine[2];
	return 0;
}

/* Starting an exec'd process: stdio on pipes or a pty, cwd, user, env. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pty.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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

int exec__become(const struct ident *id)
{
	if (!id->uid && !id->gid && id->ngroups <= 1)
		return 0;
	return setgroups((size_t)id->ngroups, id->groups) < 0 || setgid(id->gid) < 0 || setuid(id->uid) < 0 ? -1 : 0;
}

static void child_env(const struct agent_exec *e, const struct ident *id)
{
	clearenv();
	setenv("PATH", DEFAULT_PATH, 1);
	setenv("HOME", id->home, 1);
	if (e->flags & AGENT_EXEC_TTY)
		setenv("TERM", "xterm", 1);
	for (int i = 0; i < e->envc; i++)
		if (strchr(e->env[i], '='))
			putenv((char *)e->env[i]);
}

/* In the child: never returns. */
static void child(const struct agent_exec *e, const struct ident *id, int in, int out, int err)
{
	sigset_t none;

	setsid();
	if (e->flags & AGENT_EXEC_TTY)
		ioctl(in, TIOCSCTTY, 0);
	dup2(in, 0);
	dup2(out, 1);
	dup2(err, 2);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (e->cwd[0] && chdir(e->cwd) < 0) {
		dprintf(2, "sm exec: cd %s: %s\n", e->cwd, strerror(errno));
		_exit(126);
	}
	if (exec__become(id) < 0) {
		dprintf(2, "sm exec: switching to %u:%u: %s\n", id->uid, id->gid, strerror(errno));
		_exit(126);
	}
	child_env(e, id);
	execvp(e->argv[0], (char *const *)e->argv);
	dprintf(2, "sm exec: cannot run %s: %s\n", e->argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
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

	if (exec__resolve_user(e->user, &id, msg, msglen) < 0)
		return -1;
	if (open_stdio(e, mine, theirs) < 0) {
		snprintf(msg, msglen, "cannot create the process's stdio: %s", strerror(errno));
		return -1;
	}
	io->pid = fork();
	if (io->pid == 0)
		child(e, &id, theirs[0], theirs[1], theirs[2]);
	close_theirs(theirs);
	if (io->pid < 0) {
		snprintf(msg, msglen, "fork: %s", strerror(errno));
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

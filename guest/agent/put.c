/*
 * Writing the entries of a PUT connection (docs/agent-protocol.md §PUT):
 * files, directories and symlinks, each owned and moded as the host asked.
 * A file is written to a temporary name in its directory and renamed into
 * place once its last DATA frame arrived, so its final path never holds a
 * half-written file; a symlink is renamed into place the same way.
 * Missing parent directories are made 0755, owned like the entry (root
 * unless an owner is given), as Docker's COPY does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent-proto.h"
#include "agent.h"

static int failed(char *msg, size_t msglen, const char *path, const char *what)
{
	snprintf(msg, msglen, "%s: %s: %s", path, what, strerror(errno));
	return -1;
}

/* The owner's uid:gid, looked up once per distinct owner string. */
static int owner_of(struct put *p, const char *owner, char *msg, size_t msglen)
{
	struct ident id;

	if (p->owner_known && !strcmp(p->owner, owner))
		return 0;
	if (strlen(owner) >= sizeof(p->owner)) {
		snprintf(msg, msglen, "owner '%.40s...' is too long", owner);
		return -1;
	}
	if (exec__resolve_user(owner, &id, msg, msglen) < 0)
		return -1;
	strcpy(p->owner, owner);
	p->uid = id.uid;
	p->gid = id.gid;
	p->owner_known = true;
	return 0;
}

/* mkdir -p of path's parents; the ones made here get 0755 and the owner.
 * A tree's entries mostly share their parent: the last one is remembered,
 * as each mkdir costs a guest syscall per component (slow under emulation). */
static int make_parents(struct put *p, const char *path, char *msg, size_t msglen)
{
	char dir[AGENT_PATH_MAX + 1];
	size_t n = (size_t)(strrchr(path, '/') - path);

	if (n == strlen(p->parent) && !strncmp(path, p->parent, n))
		return 0;
	snprintf(dir, sizeof(dir), "%s", path);
	for (char *c = dir + 1; (c = strchr(c, '/')); c++) {
		*c = '\0';
		if (mkdir(dir, 0755) == 0) {
			if (chown(dir, p->uid, p->gid) < 0 || chmod(dir, 0755) < 0)
				return failed(msg, msglen, dir, "chown/chmod");
		} else if (errno != EEXIST) {
			return failed(msg, msglen, dir, "mkdir");
		}
		*c = '/';
	}
	snprintf(p->parent, sizeof(p->parent), "%.*s", (int)n, path);
	return 0;
}

/* A free name beside path: "<dir>/.sm-put-<pid>-<n>", n counted over all
 * sessions (two connections may write into one directory at once). */
static void temp_name(struct put *p, const char *path)
{
	static unsigned serial;
	const char *slash = strrchr(path, '/');

	snprintf(p->tmp, sizeof(p->tmp), "%.*s/.sm-put-%d-%u", (int)(slash - path), path, (int)getpid(), ++serial);
}

static int set_mtime(const char *path, int64_t mtime)
{
	struct timespec ts[2] = { { (time_t)mtime, 0 }, { (time_t)mtime, 0 } };

	return mtime ? utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) : 0;
}

static int put_dir(struct put *p, const struct agent_put *e, char *msg, size_t msglen)
{
	struct stat st;

	if (mkdir(e->path, 0700) < 0) {
		if (errno != EEXIST || stat(e->path, &st) < 0)
			return failed(msg, msglen, e->path, "mkdir");
		if (!S_ISDIR(st.st_mode)) {
			snprintf(msg, msglen, "%s: exists and is not a directory", e->path);
			return -1;
		}
		if (e->flags & AGENT_PUT_KEEP)
			return 0;
	}
	if (chown(e->path, p->uid, p->gid) < 0 || chmod(e->path, e->mode) < 0)
		return failed(msg, msglen, e->path, "chown/chmod");
	return 0;
}

static int put_symlink(struct put *p, const struct agent_put *e, char *msg, size_t msglen)
{
	temp_name(p, e->path);
	if (symlink(e->target, p->tmp) < 0)
		return failed(msg, msglen, e->path, "symlink");
	if (lchown(p->tmp, p->uid, p->gid) < 0 || set_mtime(p->tmp, e->mtime) < 0 || rename(p->tmp, e->path) < 0) {
		failed(msg, msglen, e->path, "lchown/rename");
		unlink(p->tmp);
		return -1;
	}
	return 0;
}

int put__entry(struct put *p, const struct agent_put *e, char *msg, size_t msglen)
{
	if (owner_of(p, e->owner, msg, msglen) < 0 || make_parents(p, e->path, msg, msglen) < 0)
		return -1;
	p->entries++;
	if (e->kind == AGENT_PUT_DIR)
		return put_dir(p, e, msg, msglen);
	if (e->kind == AGENT_PUT_SYMLINK)
		return put_symlink(p, e, msg, msglen);
	temp_name(p, e->path);
	p->fd = open(p->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (p->fd < 0)
		return failed(msg, msglen, e->path, "create");
	p->open = true;
	snprintf(p->final, sizeof(p->final), "%s", e->path);
	p->mode = e->mode;
	p->mtime = e->mtime;
	return 0;
}

/* chown before chmod: chown clears the set-id bits. */
static int finish(struct put *p, char *msg, size_t msglen)
{
	struct timespec ts[2] = { { (time_t)p->mtime, 0 }, { (time_t)p->mtime, 0 } };

	if (fchown(p->fd, p->uid, p->gid) < 0 || fchmod(p->fd, p->mode) < 0)
		return failed(msg, msglen, p->final, "chown/chmod");
	if (p->mtime && futimens(p->fd, ts) < 0)
		return failed(msg, msglen, p->final, "set mtime");
	if (close(p->fd) < 0) {
		p->open = false;
		failed(msg, msglen, p->final, "close");
		unlink(p->tmp);
		return -1;
	}
	p->open = false;
	if (rename(p->tmp, p->final) < 0) {
		failed(msg, msglen, p->final, "rename");
		unlink(p->tmp);
		return -1;
	}
	return 0;
}

int put__data(struct put *p, const uint8_t *b, uint32_t n, char *msg, size_t msglen)
{
	if (!n)
		return finish(p, msg, msglen);
	while (n) {
		ssize_t w = write(p->fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return failed(msg, msglen, p->final, "write");
		b += w;
		n -= (uint32_t)w;
	}
	return 0;
}

void put__abort(struct put *p)
{
	if (!p->open)
		return;
	close(p->fd);
	unlink(p->tmp);
	p->open = false;
}

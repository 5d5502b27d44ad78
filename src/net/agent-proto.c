/* docs/agent-protocol.md, version 2: frame header, the exec request and PUT entries. */
#include <string.h>

#include "agent-proto.h"

void agent__put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void agent__put32(uint8_t *p, uint32_t v)
{
	agent__put16(p, (uint16_t)v);
	agent__put16(p + 2, (uint16_t)(v >> 16));
}

uint16_t agent__get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

uint32_t agent__get32(const uint8_t *p)
{
	return agent__get16(p) | (uint32_t)agent__get16(p + 2) << 16;
}

void agent_hdr__encode(uint8_t out[AGENT_HDR_LEN], int type, uint32_t len)
{
	out[0] = AGENT_FRAME_VERSION;
	out[1] = (uint8_t)type;
	agent__put16(out + 2, 0);
	agent__put32(out + 4, len);
}

static int known_type(int t)
{
	return (t >= AGENT_EXEC && t <= AGENT_PUT) || (t >= AGENT_STDIN && t <= AGENT_DONE) ||
	       (t >= AGENT_OK && t <= AGENT_EXIT);
}

int agent_hdr__decode(const uint8_t in[AGENT_HDR_LEN], struct agent_hdr *h, const char **why)
{
	h->version = in[0];
	h->type = in[1];
	h->flags = agent__get16(in + 2);
	h->len = agent__get32(in + 4);
	if (h->version != AGENT_FRAME_VERSION)
		*why = "unsupported protocol version";
	else if (h->flags)
		*why = "reserved flags set";
	else if (!known_type(h->type))
		*why = "unknown message type";
	else if (h->len > AGENT_MAX_PAYLOAD)
		*why = "payload longer than 64 KiB";
	else
		return 0;
	return -1;
}

/* EXEC payload: u32 flags, u16 rows, u16 cols, u16 argc, u16 envc, then
 * cwd, user, argv[argc], env[envc], each NUL-terminated, nothing after. */
#define EXEC_FIXED 12

int agent_exec__decode(const uint8_t *payload, uint32_t len, struct agent_exec *e, const char **why)
{
	const char *p = (const char *)payload + EXEC_FIXED, *end = (const char *)payload + len;
	int nstr;

	memset(e, 0, sizeof(*e));
	if (len < EXEC_FIXED) {
		*why = "exec request shorter than its fixed part";
		return -1;
	}
	e->flags = agent__get32(payload);
	e->rows = agent__get16(payload + 4);
	e->cols = agent__get16(payload + 6);
	e->argc = agent__get16(payload + 8);
	e->envc = agent__get16(payload + 10);
	if (e->flags & ~(uint32_t)AGENT_EXEC_TTY) {
		*why = "unknown exec flags";
		return -1;
	}
	if (e->argc < 1 || e->argc > AGENT_MAX_ARGS || e->envc > AGENT_MAX_ENV) {
		*why = "argc must be 1..256 and envc 0..256";
		return -1;
	}
	nstr = 2 + e->argc + e->envc;
	for (int i = 0; i < nstr; i++) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));

		if (!nul) {
			*why = "exec request: fewer strings than argc and envc say";
			return -1;
		}
		if (i == 0)
			e->cwd = p;
		else if (i == 1)
			e->user = p;
		else if (i < 2 + e->argc)
			e->argv[i - 2] = p;
		else
			e->env[i - 2 - e->argc] = p;
		p = nul + 1;
	}
	if (p != end) {
		*why = "exec request: bytes after the last string";
		return -1;
	}
	if (!e->argv[0][0]) {
		*why = "exec request: empty program name";
		return -1;
	}
	return 0;
}

static int put_str(uint8_t *out, size_t cap, size_t *at, const char *s)
{
	size_t n = strlen(s ? s : "") + 1;

	if (*at + n > cap)
		return -1;
	memcpy(out + *at, s ? s : "", n);
	*at += n;
	return 0;
}

int agent_exec__encode(uint8_t *out, size_t cap, const struct agent_exec *e)
{
	size_t at = AGENT_HDR_LEN + EXEC_FIXED;
	int r = 0;

	if (cap > AGENT_HDR_LEN + AGENT_MAX_PAYLOAD)
		cap = AGENT_HDR_LEN + AGENT_MAX_PAYLOAD;
	if (cap < at)
		return -1;
	agent__put32(out + 8, e->flags);
	agent__put16(out + 12, e->rows);
	agent__put16(out + 14, e->cols);
	agent__put16(out + 16, (uint16_t)e->argc);
	agent__put16(out + 18, (uint16_t)e->envc);
	r |= put_str(out, cap, &at, e->cwd);
	r |= put_str(out, cap, &at, e->user);
	for (int i = 0; i < e->argc; i++)
		r |= put_str(out, cap, &at, e->argv[i]);
	for (int i = 0; i < e->envc; i++)
		r |= put_str(out, cap, &at, e->env[i]);
	if (r)
		return -1;
	agent_hdr__encode(out, AGENT_EXEC, (uint32_t)(at - AGENT_HDR_LEN));
	return (int)at;
}

int agent_path__check(const char *path, const char **why)
{
	const char *p = path;
	size_t n = strlen(path);

	*why = NULL;
	if (path[0] != '/')
		*why = "guest path must be absolute";
	else if (n > AGENT_PATH_MAX)
		*why = "guest path longer than 4095 bytes";
	if (*why || n == 1)
		return *why ? -1 : 0;
	while (*p == '/') {
		size_t c = strcspn(p + 1, "/");

		if (c == 0)
			*why = "guest path has an empty component (// or a trailing /)";
		else if ((c == 1 && p[1] == '.') || (c == 2 && p[1] == '.' && p[2] == '.'))
			*why = "guest path has a . or .. component";
		else if (c > AGENT_NAME_MAX)
			*why = "guest path has a component longer than 255 bytes";
		if (*why)
			return -1;
		p += 1 + c;
	}
	return 0;
}

/* PUT payload: u8 kind, u8 flags, u16 mode, i64 mtime, then path, owner,
 * target, each NUL-terminated, nothing after. */
#define PUT_FIXED 12

static const char *put_check(const struct agent_put *p)
{
	const char *why;

	if (p->kind < AGENT_PUT_FILE || p->kind > AGENT_PUT_SYMLINK)
		return "put: unknown entry kind";
	if (p->flags & ~AGENT_PUT_KEEP)
		return "put: unknown flags";
	if (p->mode > 07777)
		return "put: mode has bits beyond 07777";
	if (agent_path__check(p->path, &why) < 0)
		return why;
	if (p->kind != AGENT_PUT_DIR && !strcmp(p->path, "/"))
		return "put: / can only be a directory";
	if ((p->kind == AGENT_PUT_SYMLINK) != (p->target[0] != '\0'))
		return "put: a symlink needs a target, and only a symlink has one";
	if (strlen(p->target) > AGENT_PATH_MAX)
		return "put: symlink target longer than 4095 bytes";
	return NULL;
}

int agent_put__decode(const uint8_t *payload, uint32_t len, struct agent_put *p, const char **why)
{
	const char *s[3], *at = (const char *)payload + PUT_FIXED, *end = (const char *)payload + len;

	memset(p, 0, sizeof(*p));
	if (len < PUT_FIXED) {
		*why = "put: entry shorter than its fixed part";
		return -1;
	}
	for (int i = 0; i < 3; i++) {
		const char *nul = memchr(at, '\0', (size_t)(end - at));

		if (!nul) {
			*why = "put: entry needs path, owner and target strings";
			return -1;
		}
		s[i] = at;
		at = nul + 1;
	}
	if (at != end) {
		*why = "put: bytes after the last string";
		return -1;
	}
	p->kind = payload[0];
	p->flags = payload[1];
	p->mode = agent__get16(payload + 2);
	p->mtime = (int64_t)((uint64_t)agent__get32(payload + 4) | (uint64_t)agent__get32(payload + 8) << 32);
	p->path = s[0];
	p->owner = s[1];
	p->target = s[2];
	*why = put_check(p);
	return *why ? -1 : 0;
}

int agent_put__encode(uint8_t *out, size_t cap, const struct agent_put *p, const char **why)
{
	size_t at = AGENT_HDR_LEN + PUT_FIXED;
	struct agent_put c = *p;
	int r = 0;

	c.owner = c.owner ? c.owner : "";
	c.target = c.target ? c.target : "";
	*why = c.path ? put_check(&c) : "put: no path";
	if (*why)
		return -1;
	if (cap > AGENT_HDR_LEN + AGENT_MAX_PAYLOAD)
		cap = AGENT_HDR_LEN + AGENT_MAX_PAYLOAD;
	*why = "put: entry over 64 KiB";
	if (cap < at)
		return -1;
	out[8] = c.kind;
	out[9] = c.flags;
	agent__put16(out + 10, c.mode);
	agent__put32(out + 12, (uint32_t)(uint64_t)c.mtime);
	agent__put32(out + 16, (uint32_t)((uint64_t)c.mtime >> 32));
	r |= put_str(out, cap, &at, c.path);
	r |= put_str(out, cap, &at, c.owner);
	r |= put_str(out, cap, &at, c.target);
	if (r)
		return -1;
	*why = NULL;
	agent_hdr__encode(out, AGENT_PUT, (uint32_t)(at - AGENT_HDR_LEN));
	return (int)at;
}

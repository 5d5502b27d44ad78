#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmm/console.h"

#define PANIC_MARK "Kernel panic - not syncing"
#define DUMP_LINES 15

void console__init(struct console *c, int echo_fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = echo_fd;
}

static void end_line(struct console *c)
{
	c->line[c->line_len] = '\0';
	if (!c->panicked && strstr(c->line, PANIC_MARK)) {
		c->panicked = true;
		snprintf(c->panic_line, sizeof(c->panic_line), "%s", strstr(c->line, PANIC_MARK));
	}
	c->line_len = 0;
}

void console__byte(struct console *c, uint8_t b)
{
	if (c->fd >= 0 && write(c->fd, &b, 1) < 0)
		c->fd = -1;
	c->tail[c->head++] = (char)b;
	if (c->head == CONSOLE_TAIL) {
		c->head = 0;
		c->wrapped = true;
	}
	if (b == '\n' || c->line_len == CONSOLE_LINE - 1)
		end_line(c);
	else if (b != '\r')
		c->line[c->line_len++] = (char)b;
}

bool console__panicked(const struct console *c)
{
	return c->panicked;
}

const char *console__panic_line(const struct console *c)
{
	return c->panic_line;
}

void console__dump_tail(const struct console *c, int fd)
{
	char buf[CONSOLE_TAIL + 1];
	uint32_t n = 0, start;
	int lines = 0;
	char *p, *line;

	if (c->wrapped) {
		memcpy(buf, c->tail + c->head, CONSOLE_TAIL - c->head);
		n = CONSOLE_TAIL - c->head;
	}
	memcpy(buf + n, c->tail, c->head);
	n += c->head;
	buf[n] = '\0';
	/* find where the last DUMP_LINES lines start */
	for (start = n; start > 0 && lines <= DUMP_LINES; start--)
		if (buf[start - 1] == '\n')
			lines++;
	for (line = strtok_r(buf + start, "\n", &p); line; line = strtok_r(NULL, "\n", &p))
		dprintf(fd, "guest console: %s\n", line);
}

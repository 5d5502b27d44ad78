#ifndef SM_VMM_CONSOLE_H
#define SM_VMM_CONSOLE_H
/* The guest kernel console (first UART): shown with --verbose, otherwise
 * kept as a tail for error reports; watched for kernel panics. */
#include <stdbool.h>
#include <stdint.h>

#define CONSOLE_TAIL	4096
#define CONSOLE_LINE	256

struct console {
	int fd;				/* where to echo it, or -1 */
	char tail[CONSOLE_TAIL];	/* ring of the last bytes */
	uint32_t head;
	bool wrapped;
	char line[CONSOLE_LINE];
	uint32_t line_len;
	bool panicked;
	char panic_line[CONSOLE_LINE];
};

void console__init(struct console *c, int echo_fd);
void console__byte(struct console *c, uint8_t b);
bool console__panicked(const struct console *c);
const char *console__panic_line(const struct console *c);
/* Write the last lines of the console to fd, prefixed "guest console: ". */
void console__dump_tail(const struct console *c, int fd);
#endif

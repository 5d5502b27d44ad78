#ifndef SM_NET_FRAMEBUF_H
#define SM_NET_FRAMEBUF_H
/*
 * A growable byte queue for a stream of agent frames (agent-proto.h) or raw
 * bytes: appended at the end, consumed from the front.  Used on both sides
 * of the agent protocol (the guest agent, libsm's exec pump), so it uses
 * nothing but libc.  Its memory is kept until framebuf__free: a buffer
 * freed whenever it drains is allocated again by the next read, and in a
 * guest every fresh page costs an emulated fault and clear.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct framebuf {
	uint8_t *p;
	size_t len, cap;
};

/* Appends n bytes unless that would hold more than max bytes or memory runs out. */
bool framebuf__add(struct framebuf *b, const void *data, size_t n, size_t max);
/* Appends one whole agent frame (header + payload), or nothing, as framebuf__add. */
bool framebuf__add_frame(struct framebuf *b, int type, const void *payload, uint32_t len, size_t max);
/* Room to append in place, up to max bytes in all (the whole room is
 * reserved at once: untouched pages cost nothing): where, and *room bytes;
 * NULL with *room 0 when full or out of memory.  Then framebuf__commit. */
uint8_t *framebuf__space(struct framebuf *b, size_t max, size_t *room);
/* The first n <= room bytes written at framebuf__space are now queued. */
void framebuf__commit(struct framebuf *b, size_t n);
/* Consumes n <= len bytes from the front. */
void framebuf__drop(struct framebuf *b, size_t n);
void framebuf__free(struct framebuf *b);
#endif

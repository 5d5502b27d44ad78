#ifndef SM_GUEST_CHAN_H
#define SM_GUEST_CHAN_H
/* Guest side of the init channel; its frames are initchan-proto.h's,
 * shared with the VMM (docs/init-channel.md). */
#include <stdbool.h>
#include <stddef.h>

#include "initchan-proto.h"

int chan__open(const char *tty);
void chan__send(int type, const void *buf, size_t len);
void chan__hello(void);
void chan__log(const char *msg);
void chan__exit(bool signaled, int value);
/* Blocks for the next host frame; returns its type and fills buf/len, or -1
 * (the channel is gone, or the host sent a malformed frame). */
int chan__recv(void *buf, size_t *len);
/* The channel's fd, to poll for host frames. */
int chan__fd(void);
/* A TIME frame's payload: set the wall clock from it. */
void chan__apply_time(const void *buf, size_t len);
#endif

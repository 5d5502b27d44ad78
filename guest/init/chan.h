#ifndef SM_GUEST_CHAN_H
#define SM_GUEST_CHAN_H
/* Guest side of the init channel (docs/init-channel.md). */
#include <stdbool.h>
#include <stddef.h>

#define CHAN_VERSION	2
#define CHAN_MAX_PAYLOAD 4096
enum { CHAN_HELLO = 1, CHAN_STDOUT = 2, CHAN_STDERR = 3, CHAN_EXIT = 4, CHAN_LOG = 5, CHAN_CONFIG = 6,
       CHAN_TIME = 7, CHAN_PREPARED = 8, CHAN_ENTROPY = 9 };

int chan_open(const char *tty);
void chan_send(int type, const void *buf, size_t len);
void chan_hello(void);
void chan_log(const char *msg);
void chan_exit(int signaled, int value);
/* Blocks for the next host frame; returns its type and fills buf/len, or -1. */
int chan_recv(void *buf, size_t *len);
/* The channel's fd, to poll for host frames. */
int chan_fd_get(void);
/* A TIME frame's payload: set the wall clock from it. */
void chan_apply_time(const void *buf, size_t len);
#endif

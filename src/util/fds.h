#ifndef SM_UTIL_FDS_H
#define SM_UTIL_FDS_H
/* A process's inherited file descriptors. */

/* Close every descriptor >= 3 except the n in keep (any order; negative
 * entries are ignored): a child must not hold what its parent leaked to it
 * (a listening socket, another VM's disk lock).  0 or -errno. */
int fds__sweep(const int *keep, int n);
#endif

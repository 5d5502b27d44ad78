#ifndef SM_GUEST_SEED_H
#define SM_GUEST_SEED_H
/* ENTROPY frames (docs/init-channel.md, docs/clone-safety.md): fresh
 * randomness into the kernel RNG and this worker's identity. */
#include <stddef.h>

/* Adds the seed to the input pool, forces a reseed, remembers the worker id
 * and writes /run/sm/worker-id. */
void seed__apply(const void *buf, size_t len);
/* (Re)writes /run/sm/worker-id under the current root (after a root move). */
void seed__write_worker_id(void);
#endif

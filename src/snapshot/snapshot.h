#ifndef SM_SNAPSHOT_SNAPSHOT_H
#define SM_SNAPSHOT_SNAPSHOT_H
/*
 * Snapshot directories (docs/snapshot-format.md): metadata.json, vm.state
 * and mem, written under a temporary name and renamed into place only when
 * complete; read back with every check done before anything is used.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "snapshot/state.h"
#include "vmm/vm.h"

#define SNAPSHOT_FORMAT 4
/* format 3 is format 4 without a network device: still read */
#define SNAPSHOT_FORMAT_OLDEST 3
#define SNAPSHOT_FP_WORDS 7

struct snapshot_meta {
	int format;
	int vcpus;
	uint64_t mem_bytes;
	uint64_t state_bytes;
	char state_sha256[80];
	char kernel[4096];
	char kernel_sha256[80];
	char cpu[128];		/* fingerprint: "pvm:" or "hw:" + 7 words of CPUID feature bits */
	int disk_slots;
	int net_mtu;		/* devices.net_mtu: 0, or the virtio-net device's MTU (egress) */
	char egress_policy[1024];	/* devices.egress_policy: what it ran with (sm restores with it) */
};

/* This host's CPU fingerprint for a VM like vm (kind + supported features). */
int snapshot__fingerprint(struct vm *vm, char *out, size_t len);
/* 0 if a snapshot taken with fingerprint `snap` can run here, else -ENOTSUP
 * with why saying what the host lacks. */
int snapshot__check_cpu(const char *snap, const char *host, char *why, size_t whylen);

/* Write dir atomically: guest RAM (sparse), the state buffer, metadata. */
int snapshot__write(struct vm *vm, const char *dir, const struct state_buf *state,
		    struct snapshot_meta *meta, char *msg, size_t msglen);

struct snapshot {
	struct snapshot_meta meta;
	int mem_fd;
	uint8_t *state;		/* whole vm.state, checksum verified */
	size_t state_len;
};

/* metadata.json's bytes (untrusted) into *m: 0, or -EINVAL with why set.
 * Exported for the fuzzer (tests/fuzz/fuzz_meta.c); snapshot__open uses it. */
int snapshot__parse_meta(const uint8_t *buf, size_t len, struct snapshot_meta *m, char *why, size_t whylen);

/* Open and verify dir (format, sizes, checksum, CPU); 0 or -errno with msg. */
int snapshot__open(struct snapshot *s, struct vm *vm, const char *dir, char *msg, size_t msglen);
void snapshot__close(struct snapshot *s);
#endif

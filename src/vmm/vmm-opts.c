#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio-net.h"
#include "net/initchan-proto.h"
#include "vmm/profile.h"
#include "vmm/vm.h"
#include "vmm/vmm-opts.h"

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

/* PATH or PATH:ro or PATH:rw */
static int parse_disk(struct vmm_opts *o, const char *arg, char *msg, size_t msglen)
{
	char *path = o->disk_paths[o->nr_disks];
	size_t n = strlen(arg);
	bool ro = false;

	if (o->nr_disks == VMM_MAX_DISKS) {
		snprintf(msg, msglen, "at most %d disks", VMM_MAX_DISKS);
		return -1;
	}
	if (n > 3 && (!strcmp(arg + n - 3, ":ro") || !strcmp(arg + n - 3, ":rw"))) {
		ro = arg[n - 2] == 'r' && arg[n - 1] == 'o';
		n -= 3;
	}
	if (n == 0 || n >= sizeof(o->disk_paths[0])) {
		snprintf(msg, msglen, "bad --disk '%s'", arg);
		return -1;
	}
	memcpy(path, arg, n);
	path[n] = '\0';
	o->disks[o->nr_disks++] = (struct vmm_disk){ path, ro };
	return 0;
}

/* K:VALUE, K one of the CONFIG kinds the host may pass (docs/init-channel.md) */
static int parse_init(struct vmm_opts *o, const char *arg, char *msg, size_t msglen)
{
	if (o->nr_init == VMM_MAX_INIT) {
		snprintf(msg, msglen, "at most %d --init entries", VMM_MAX_INIT);
		return -1;
	}
	if (!arg[0] || arg[1] != ':' || !strchr(IC_CFG_PASS_KINDS, arg[0])) {
		snprintf(msg, msglen, "bad --init '%s': want K:VALUE with K one of %s (docs/init-channel.md)",
			 arg, IC_CFG_PASS_KINDS);
		return -1;
	}
	o->init[o->nr_init++] = arg;
	return 0;
}

/* virtio 1.1 §5.10.4: CIDs 0-2 and 0xffffffff are reserved */
static int parse_cid(struct vmm_opts *o, const char *val, char *msg, size_t msglen)
{
	char *end;

	errno = 0;
	o->cid = strtoull(val, &end, 10);
	if (errno || end == val || *end || o->cid < 3 || o->cid >= 0xffffffffULL) {
		snprintf(msg, msglen, "--cid %s: must be 3..4294967294", val);
		return -1;
	}
	return 0;
}

static int parse_one(struct vmm_opts *o, const char *opt, const char *val, char *msg, size_t msglen)
{
	if (!strcmp(opt, "--kernel"))
		o->kernel = val;
	else if (!strcmp(opt, "--initrd"))
		o->initrd = val;
	else if (!strcmp(opt, "--cmdline"))
		o->cmdline = val;
	else if (!strcmp(opt, "--kvm"))
		o->kvm_path = val;
	else if (!strcmp(opt, "--restore"))
		o->restore = val;
	else if (!strcmp(opt, "--snapshot-on-ready"))
		o->snapshot_on_ready = val;
	else if (!strcmp(opt, "--snapshot-to"))
		o->snapshot_to = val;
	else if (!strcmp(opt, "--snapshot-after-ms")) {
		if (parse_int(val, 0, 24 * 3600 * 1000, &o->snapshot_after_ms) < 0) {
			snprintf(msg, msglen, "bad --snapshot-after-ms %s", val);
			return -1;
		}
	}
	else if (!strcmp(opt, "--profile"))
		o->profile = val;
	else if (!strcmp(opt, "--profile-us")) {
		if (parse_int(val, PROFILE_MIN_US, PROFILE_MAX_US, &o->profile_us) < 0) {
			snprintf(msg, msglen, "--profile-us %s: must be %d..%d", val, PROFILE_MIN_US,
				 PROFILE_MAX_US);
			return -1;
		}
	}
	else if (!strcmp(opt, "--disk"))
		return parse_disk(o, val, msg, msglen);
	else if (!strcmp(opt, "--init"))
		return parse_init(o, val, msg, msglen);
	else if (!strcmp(opt, "--vsock-uds"))
		o->vsock_uds = val;
	else if (!strcmp(opt, "--egress"))
		o->egress = strcmp(val, "off") ? val : NULL;
	else if (!strcmp(opt, "--egress-mtu")) {
		if (parse_int(val, NET_MTU_MIN, NET_MTU_MAX, &o->egress_mtu) < 0) {
			snprintf(msg, msglen, "--egress-mtu %s: must be %d..%d", val, NET_MTU_MIN, NET_MTU_MAX);
			return -1;
		}
	}
	else if (!strcmp(opt, "--cid"))
		return parse_cid(o, val, msg, msglen);
	else if (!strcmp(opt, "--memory")) {
		if (parse_int(val, VM_MIN_MEM_MIB, VM_MAX_MEM_MIB, &o->memory_mib) < 0) {
			snprintf(msg, msglen, "--memory %s: must be %d..%d MiB", val, VM_MIN_MEM_MIB,
				 VM_MAX_MEM_MIB);
			return -1;
		}
	} else if (!strcmp(opt, "--vcpus")) {
		if (parse_int(val, 1, VM_MAX_VCPUS, &o->vcpus) < 0) {
			snprintf(msg, msglen, "--vcpus %s: must be 1..%d", val, VM_MAX_VCPUS);
			return -1;
		}
	} else if (!strcmp(opt, "--control-fd")) {
		if (parse_int(val, 0, 1 << 20, &o->control_fd) < 0) {
			snprintf(msg, msglen, "bad --control-fd %s", val);
			return -1;
		}
	} else if (!strcmp(opt, "--status-fd")) {
		if (parse_int(val, 0, 1 << 20, &o->status_fd) < 0) {
			snprintf(msg, msglen, "bad --status-fd %s", val);
			return -1;
		}
	} else {
		snprintf(msg, msglen, "unknown option %s", opt);
		return -1;
	}
	return 0;
}

int vmm_opts__parse(struct vmm_opts *o, int argc, char **argv, char *msg, size_t msglen)
{
	memset(o, 0, sizeof(*o));
	o->kvm_path = getenv("SM_KVM_DEVICE") ? getenv("SM_KVM_DEVICE") : "/dev/kvm";
	o->cmdline = "console=ttyS0";
	o->memory_mib = 128;
	o->vcpus = 1;
	o->status_fd = -1;
	o->control_fd = -1;
	o->cid = 3;
	o->egress_mtu = NET_MTU_DEFAULT;
	o->profile_us = PROFILE_DEFAULT_US;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			o->argc = argc - i - 1;
			o->argv = argv + i + 1;
			break;
		}
		if (!strcmp(argv[i], "--verbose")) {
			o->verbose = true;
			continue;
		}
		if (!strcmp(argv[i], "--standby")) {
			o->standby = true;
			continue;
		}
		if (!strcmp(argv[i], "--no-snapshots")) {
			o->no_snapshots = true;
			continue;
		}
		if (!strcmp(argv[i], "--profile-paused")) {
			o->profile_paused = true;
			continue;
		}
		if (i + 1 >= argc) {
			snprintf(msg, msglen, "%s needs a value", argv[i]);
			return -1;
		}
		if (parse_one(o, argv[i], argv[i + 1], msg, msglen) < 0)
			return -1;
		i++;
	}
	if (!o->kernel && !o->restore) {
		snprintf(msg, msglen, "--kernel or --restore is required");
		return -1;
	}
	/* a standby waits for `go` on its control fd, and only a restore can wait set up */
	if (o->standby && (!o->restore || o->control_fd < 0)) {
		snprintf(msg, msglen, "--standby needs --restore and --control-fd");
		return -1;
	}
	if (o->profile && !o->profile[0]) {
		snprintf(msg, msglen, "--profile needs a file name");
		return -1;
	}
	if (o->profile_paused && (!o->profile || o->control_fd < 0)) {
		snprintf(msg, msglen, "--profile-paused needs --profile and --control-fd (for `profile on`)");
		return -1;
	}
	if (!!o->snapshot_to != !!o->snapshot_after_ms) {
		snprintf(msg, msglen, "--snapshot-to and --snapshot-after-ms go together");
		return -1;
	}
	if (o->no_snapshots && (o->snapshot_to || o->snapshot_on_ready)) {
		snprintf(msg, msglen, "--no-snapshots cannot go with --snapshot-to or --snapshot-on-ready");
		return -1;
	}
	return 0;
}

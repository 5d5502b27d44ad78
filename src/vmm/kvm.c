#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/kvm.h"
#include "vmm/log.h"

/* What to tell a person whose /dev/kvm open failed with err. */
static void describe(const char *path, int err, char *msg, size_t msglen)
{
	if (err == ENOENT)
		snprintf(msg, msglen, "%s: no such device — this host has no KVM "
			 "(enable virtualization, load kvm_intel/kvm_amd or kvm_pvm)", path);
	else if (err == EACCES || err == EPERM)
		snprintf(msg, msglen, "%s: permission denied — add yourself to the kvm group "
			 "(sudo usermod -aG kvm $USER, then log in again)", path);
	else
		snprintf(msg, msglen, "%s: %s", path, strerror(err));
}

int kvm__check_access(const char *path, char *msg, size_t msglen)
{
	int err;

	if (access(path, R_OK | W_OK) == 0)
		return 0;
	err = errno;
	describe(path, err, msg, msglen);
	return -err;
}

int kvm__open(const char *path, char *msg, size_t msglen)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	int err = errno, version;

	if (fd < 0) {
		describe(path, err, msg, msglen);
		return -err;
	}
	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		snprintf(msg, msglen, "%s: KVM API version %d, need %d", path, version, KVM_API_VERSION);
		close(fd);
		return -ENOTSUP;
	}
	return fd;
}

static bool cpuinfo_has_vmx_or_svm(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[4096];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) == 0)
			found = strstr(line, " vmx") || strstr(line, " svm");
	}
	fclose(f);
	return found;
}

bool kvm__emulating_host(void)
{
	const char *kind = getenv("SM_HOST_KIND");

	if (kind && strcmp(kind, "pvm") == 0)
		return true;
	if (kind && strcmp(kind, "hw") == 0)
		return false;
	return access("/sys/module/kvm_pvm", F_OK) == 0 && !cpuinfo_has_vmx_or_svm();
}

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/sha256.h"
#include "snapshot/snapshot.h"
#include "vmm/cpuid.h"

#define PAGE 4096
#define META_MAX (64 * 1024)

/* ---- CPU fingerprint ---- */

static const struct { uint32_t fn, idx; int reg; } fp_words[SNAPSHOT_FP_WORDS] = {
	{ 1, 0, 2 }, { 1, 0, 3 },			/* leaf 1 ecx, edx */
	{ 7, 0, 1 }, { 7, 0, 2 }, { 7, 0, 3 },		/* leaf 7.0 ebx, ecx, edx */
	{ 0x80000001, 0, 2 }, { 0x80000001, 0, 3 },	/* extended ecx, edx */
};

int snapshot__fingerprint(struct vm *vm, char *out, size_t len)
{
	struct kvm_cpuid2 *c = cpuid__supported(vm->kvm_fd);
	uint32_t w[SNAPSHOT_FP_WORDS] = { 0 };

	if (!c)
		return -errno;
	cpuid__adjust(c, 0, 1, vm->emulating_host);
	for (uint32_t i = 0; i < c->nent; i++)
		for (int k = 0; k < SNAPSHOT_FP_WORDS; k++) {
			struct kvm_cpuid_entry2 *e = &c->entries[i];
			uint32_t regs[4] = { e->eax, e->ebx, e->ecx, e->edx };

			if (e->function == fp_words[k].fn && e->index == fp_words[k].idx)
				w[k] = regs[fp_words[k].reg];
		}
	free(c);
	snprintf(out, len, "%s:%08x.%08x.%08x.%08x.%08x.%08x.%08x", vm->emulating_host ? "pvm" : "hw",
		 w[0], w[1], w[2], w[3], w[4], w[5], w[6]);
	return 0;
}

static int parse_fp(const char *s, char kind[8], uint32_t w[SNAPSHOT_FP_WORDS])
{
	return sscanf(s, "%7[a-z]:%8x.%8x.%8x.%8x.%8x.%8x.%8x", kind, &w[0], &w[1], &w[2], &w[3], &w[4],
		      &w[5], &w[6]) == 1 + SNAPSHOT_FP_WORDS ? 0 : -EINVAL;
}

int snapshot__check_cpu(const char *snap, const char *host, char *why, size_t whylen)
{
	static const char *names[SNAPSHOT_FP_WORDS] = { "1.ecx", "1.edx", "7.ebx", "7.ecx", "7.edx",
							"80000001.ecx", "80000001.edx" };
	uint32_t a[SNAPSHOT_FP_WORDS], b[SNAPSHOT_FP_WORDS];
	char ka[8], kb[8];

	if (parse_fp(snap, ka, a) < 0 || parse_fp(host, kb, b) < 0) {
		snprintf(why, whylen, "unreadable CPU fingerprint '%s'", snap);
		return -EINVAL;
	}
	if (strcmp(ka, kb)) {
		snprintf(why, whylen, "taken on a %s host, this is a %s host", ka, kb);
		return -ENOTSUP;
	}
	for (int k = 0; k < SNAPSHOT_FP_WORDS; k++)
		if (a[k] & ~b[k]) {
			snprintf(why, whylen, "this host lacks CPU features it needs (CPUID %s bits %#x)",
				 names[k], a[k] & ~b[k]);
			return -ENOTSUP;
		}
	return 0;
}

/* ---- writing ---- */

static bool zero_page(const uint8_t *p)
{
	static const uint8_t zero[PAGE];

	return memcmp(p, zero, PAGE) == 0;
}

/* Guest RAM, regions back to back; all-zero pages stay holes. */
static int write_mem(struct vm *vm, int fd)
{
	uint64_t off = 0;

	for (int r = 0; r < vm->nr_regions; r++) {
		const uint8_t *p = vm->regions[r].hva;
		uint64_t size = vm->regions[r].size;

		for (uint64_t i = 0; i < size;) {
			uint64_t run = 0;

			while (i + run < size && !zero_page(p + i + run))
				run += PAGE;
			for (uint64_t done = 0; done < run;) {
				ssize_t n = pwrite(fd, p + i + done, run - done, (off_t)(off + i + done));

				if (n <= 0)
					return n < 0 ? -errno : -EIO;
				done += (uint64_t)n;
			}
			i += run ? run : PAGE;
		}
		off += size;
	}
	return ftruncate(fd, (off_t)off) < 0 ? -errno : 0;
}

static int write_file(const char *dir, const char *name, const void *buf, size_t len)
{
	char path[4200];
	const uint8_t *p = buf;
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (len && r == 0) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			r = n < 0 ? -errno : -EIO;
		else
			p += n, len -= (size_t)n;
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

static char *meta_json(const struct snapshot_meta *m)
{
	json_t *j = json_pack("{s:i, s:I, s:i, s:I, s:I, s:s, s:{s:s, s:s}, s:{s:s}, s:{s:i, s:i, s:s}}",
			      "format", m->format, "created_at", (json_int_t)time(NULL),
			      "vcpus", m->vcpus, "mem_bytes", (json_int_t)m->mem_bytes,
			      "state_bytes", (json_int_t)m->state_bytes, "state_sha256", m->state_sha256,
			      "kernel", "path", m->kernel, "sha256", m->kernel_sha256,
			      "cpu", "fingerprint", m->cpu, "devices", "disk_slots", m->disk_slots,
			      "net_mtu", m->net_mtu, "egress_policy", m->egress_policy);
	char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;

	json_decref(j);
	return s;
}

static int rm_tree(const char *dir)
{
	const char *names[] = { "mem", "vm.state", "metadata.json" };
	char path[4200];

	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	return rmdir(dir) < 0 ? -errno : 0;
}

/* rename(tmp, dir), replacing an existing snapshot there */
static int publish(const char *tmp, const char *dir)
{
	char old[4200];

	if (rename(tmp, dir) == 0)
		return 0;
	if (errno != ENOTEMPTY && errno != EEXIST)
		return -errno;
	snprintf(old, sizeof(old), "%s.old.%d", dir, getpid());
	if (rename(dir, old) < 0 || rename(tmp, dir) < 0)
		return -errno;
	rm_tree(old);
	return 0;
}

/* A writer that died mid-write (kill -9, a crash, a power cut) leaves
 * DIR.tmp.PID, or DIR.old.PID between publish()'s two renames.  Nothing
 * ever reads those names; the next write to DIR removes the ones whose
 * writer is gone (no /proc/PID), so they cannot pile up. */
static void sweep_stale(const char *dir)
{
	const char *slash = strrchr(dir, '/');
	const char *base = slash ? slash + 1 : dir;
	char parent[4200], path[4200 + 2 + 256], proc[64];
	size_t blen = strlen(base);
	struct dirent *e;
	struct stat st;
	DIR *d;

	if (!blen)
		return;
	if (slash == dir)
		snprintf(parent, sizeof(parent), "/");
	else
		snprintf(parent, sizeof(parent), "%.*s", slash ? (int)(slash - dir) : 1, slash ? dir : ".");
	if (!(d = opendir(parent)))
		return;
	while ((e = readdir(d))) {
		const char *tail = e->d_name + blen, *digits;
		char *end;
		long pid;

		if (strncmp(e->d_name, base, blen) != 0 ||
		    (strncmp(tail, ".tmp.", 5) != 0 && strncmp(tail, ".old.", 5) != 0))
			continue;
		digits = tail + 5;
		pid = strtol(digits, &end, 10);
		if (end == digits || *end || pid <= 0 || pid == getpid())
			continue;
		snprintf(proc, sizeof(proc), "/proc/%ld", pid);
		if (stat(proc, &st) == 0 || errno != ENOENT)
			continue;			/* its writer may still be at work */
		snprintf(path, sizeof(path), "%s/%s", parent, e->d_name);
		rm_tree(path);
	}
	closedir(d);
}

/* SM_VMM_FAULT=kill-mid-snapshot: a test hook (tests/README.md) that kills
 * the writer by SIGKILL after mem is written and before vm.state, the
 * moment a kill -9 from outside can only hit by luck. */
static void fault_point(const char *name)
{
	const char *f = getenv("SM_VMM_FAULT");

	if (f && strcmp(f, name) == 0)
		raise(SIGKILL);
}

int snapshot__write(struct vm *vm, const char *dir, const struct state_buf *state,
		    struct snapshot_meta *meta, char *msg, size_t msglen)
{
	char tmp[4200], path[4300];
	char *json = NULL, d[72];
	int fd, r;

	sweep_stale(dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", dir, getpid());
	if (state->err || mkdir(tmp, 0700) < 0) {
		snprintf(msg, msglen, "snapshot %s: %s", dir, strerror(state->err ? -state->err : errno));
		return -EIO;
	}
	snprintf(path, sizeof(path), "%s/mem", tmp);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	r = fd < 0 ? -errno : write_mem(vm, fd);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	if (r == 0)
		fault_point("kill-mid-snapshot");
	if (r == 0)
		r = write_file(tmp, "vm.state", state->p, state->len);
	if (r == 0) {
		sha256__digest(state->p, state->len, d);
		snprintf(meta->state_sha256, sizeof(meta->state_sha256), "%s", d);
		meta->state_bytes = state->len;
		json = meta_json(meta);
		r = json ? write_file(tmp, "metadata.json", json, strlen(json)) : -ENOMEM;
	}
	free(json);
	if (r == 0)
		r = publish(tmp, dir);
	if (r < 0) {
		snprintf(msg, msglen, "snapshot %s: %s%s", dir, strerror(-r),
			 r == -ENOSPC || r == -EFBIG || r == -EDQUOT ? " (its file system is full, or a file-size "
			 "limit such as ulimit -f is reached: free space or raise the limit, then retry)" : "");
		rm_tree(tmp);
	}
	return r;
}

/* ---- reading ---- */

static int read_file(const char *dir, const char *name, size_t max, uint8_t **out, size_t *len)
{
	char path[4200];
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		return -err;
	}
	if ((uint64_t)st.st_size > max || !(buf = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return -EFBIG;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

static int meta_str(json_t *j, const char *key, const char *sub, char *out, size_t len)
{
	json_t *v = json_object_get(j, key);

	if (sub)
		v = json_object_get(v, sub);
	if (!json_is_string(v) || strlen(json_string_value(v)) >= len)
		return -EINVAL;
	strcpy(out, json_string_value(v));
	return 0;
}

/* An integer field within [lo, hi]: checked before any cast, so a value
 * like 2^32 + 1 is not taken for the 1 its low bits are. */
static bool meta_int(json_t *v, json_int_t lo, json_int_t hi)
{
	return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

int snapshot__parse_meta(const uint8_t *buf, size_t len, struct snapshot_meta *m, char *why, size_t whylen)
{
	json_error_t e;
	json_t *j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &e);
	json_t *f, *v, *mb, *sb, *ds, *nm;
	int r = -EINVAL;

	if (!j) {
		snprintf(why, whylen, "metadata.json is not valid JSON (line %d: %s)", e.line, e.text);
		return -EINVAL;
	}
	f = json_object_get(j, "format");
	v = json_object_get(j, "vcpus");
	mb = json_object_get(j, "mem_bytes");
	sb = json_object_get(j, "state_bytes");
	ds = json_object_get(json_object_get(j, "devices"), "disk_slots");
	nm = json_object_get(json_object_get(j, "devices"), "net_mtu");	/* format 4 */
	if (!json_is_integer(f)) {
		snprintf(why, whylen, "metadata.json has no format version");
	} else if (json_integer_value(f) < SNAPSHOT_FORMAT_OLDEST || json_integer_value(f) > SNAPSHOT_FORMAT) {
		snprintf(why, whylen, "snapshot format version %lld, this sm reads version %d — re-create the snapshot",
			 (long long)json_integer_value(f), SNAPSHOT_FORMAT);
	} else if (!json_is_integer(v) || !json_is_integer(mb) || !meta_int(sb, 0, LLONG_MAX) ||
		   !meta_int(ds, 0, INT_MAX) || (nm && !meta_int(nm, 0, 65535)) || meta_str(j, "state_sha256", NULL, m->state_sha256, sizeof(m->state_sha256)) ||
		   meta_str(j, "cpu", "fingerprint", m->cpu, sizeof(m->cpu)) ||
		   meta_str(j, "kernel", "path", m->kernel, sizeof(m->kernel)) ||
		   meta_str(j, "kernel", "sha256", m->kernel_sha256, sizeof(m->kernel_sha256))) {
		snprintf(why, whylen, "metadata.json lacks a field or has one of the wrong type");
	} else if (!meta_int(v, 1, VM_MAX_VCPUS) || !meta_int(mb, (json_int_t)VM_MIN_MEM_MIB << 20,
							      (json_int_t)VM_MAX_MEM_MIB << 20) ||
		   json_integer_value(mb) % (1 << 20)) {
		snprintf(why, whylen, "metadata.json: impossible vCPU count or memory size");
	} else {
		m->format = SNAPSHOT_FORMAT;
		m->vcpus = (int)json_integer_value(v);
		m->mem_bytes = (uint64_t)json_integer_value(mb);
		m->state_bytes = (uint64_t)json_integer_value(sb);
		m->disk_slots = (int)json_integer_value(ds);
		m->net_mtu = nm ? (int)json_integer_value(nm) : 0;
		/* optional (format 3 has none); the VMM itself does not use it */
		if (meta_str(json_object_get(j, "devices"), "egress_policy", NULL, m->egress_policy,
			     sizeof(m->egress_policy)) < 0)
			m->egress_policy[0] = '\0';
		r = 0;
	}
	json_decref(j);
	return r;
}

static int check_files(struct snapshot *s, const char *dir, char *why, size_t whylen)
{
	struct state_view sv;
	char d[72];
	struct stat st;
	char path[4200];
	int r;

	snprintf(path, sizeof(path), "%s/mem", dir);
	s->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->mem_fd < 0 || fstat(s->mem_fd, &st) < 0) {
		snprintf(why, whylen, "mem: %s", strerror(errno));
		return -errno;
	}
	if ((uint64_t)st.st_size != s->meta.mem_bytes) {
		snprintf(why, whylen, "mem is %lld bytes, metadata says %llu (truncated or replaced?)",
			 (long long)st.st_size, (unsigned long long)s->meta.mem_bytes);
		return -EINVAL;
	}
	r = read_file(dir, "vm.state", 64 << 20, &s->state, &s->state_len);
	if (r < 0) {
		snprintf(why, whylen, "vm.state: %s", strerror(-r));
		return r;
	}
	if (s->state_len == s->meta.state_bytes)
		sha256__digest(s->state, s->state_len, d);
	if (s->state_len != s->meta.state_bytes || strcmp(d, s->meta.state_sha256)) {
		snprintf(why, whylen, "vm.state does not match its checksum in metadata.json (corrupted or truncated)");
		return -EINVAL;
	}
	sv = (struct state_view){ s->state, s->state_len };
	return state__check(&sv, why, whylen);
}

int snapshot__open(struct snapshot *s, struct vm *vm, const char *dir, char *msg, size_t msglen)
{
	char why[400] = "", host[128];
	uint8_t *buf = NULL;
	size_t len;
	int r;

	memset(s, 0, sizeof(*s));
	s->mem_fd = -1;
	r = read_file(dir, "metadata.json", META_MAX, &buf, &len);
	if (r < 0)
		snprintf(why, sizeof(why), "metadata.json: %s", strerror(-r));
	if (r == 0)
		r = snapshot__parse_meta(buf, len, &s->meta, why, sizeof(why));
	free(buf);
	if (r == 0 && (r = snapshot__fingerprint(vm, host, sizeof(host))) == 0)
		r = snapshot__check_cpu(s->meta.cpu, host, why, sizeof(why));
	if (r == 0)
		r = check_files(s, dir, why, sizeof(why));
	if (r < 0) {
		snprintf(msg, msglen, "snapshot %s: %s", dir, why);
		snapshot__close(s);
	}
	return r;
}

void snapshot__close(struct snapshot *s)
{
	if (s->mem_fd >= 0)
		close(s->mem_fd);
	free(s->state);
	s->mem_fd = -1;
	s->state = NULL;
}

/*
 * The guest profiler (docs/profiling.md).  KVM has no sampling interface a
 * VMM may use without privilege, so we make our own ticks: a sampler thread
 * sets a vCPU's sample request and kicks it (immediate_exit + SIGUSR1, as
 * the pause does); KVM_RUN returns EINTR, and the vCPU thread reads RIP,
 * RSP, CPL and CR3, scans a few kernel stack words for return addresses,
 * and counts the sample in one table.  Works the same on hardware KVM and
 * on kvm_pvm; the sandbox already allows every call used here.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "vmm/profile.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

struct profile_entry {
	struct profile_key key;
	uint64_t count;			/* 0: a free slot */
};

struct profile {
	unsigned interval_us;
	int fd;
	const char *path;
	struct vm *vm;
	pthread_t sampler;
	int started, stop, closed, paused;
	pthread_mutex_t lock;		/* the table and the counters below */
	uint64_t ticks, samples, missed, dropped;
	size_t used;
	struct profile_entry *table;	/* PROFILE_MAX_STACKS slots, open addressing */
};

struct profile *profile__new(unsigned interval_us)
{
	struct profile *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->table = calloc(PROFILE_MAX_STACKS, sizeof(*p->table));	/* lazily zero pages */
	if (!p->table) {
		free(p);
		return NULL;
	}
	p->interval_us = interval_us;
	p->fd = -1;
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

void profile__free(struct profile *p)
{
	if (!p)
		return;
	if (p->fd >= 0)
		close(p->fd);
	free(p->table);
	free(p);
}

static uint64_t key_hash(const struct profile_key *k)
{
	const uint64_t *w = (const uint64_t *)k;
	uint64_t h = 0x9e3779b97f4a7c15ULL;

	for (size_t i = 0; i < sizeof(*k) / 8; i++) {
		h ^= w[i];
		h *= 0xff51afd7ed558ccdULL;
		h ^= h >> 33;
	}
	return h;
}

int profile__add(struct profile *p, const struct profile_key *k)
{
	size_t mask = PROFILE_MAX_STACKS - 1, i = key_hash(k) & mask;

	p->samples++;
	for (size_t probes = 0; probes < PROFILE_MAX_STACKS; probes++, i = (i + 1) & mask) {
		struct profile_entry *e = &p->table[i];

		if (e->count && memcmp(&e->key, k, sizeof(*k)) == 0) {
			e->count++;
			return 0;
		}
		if (e->count)
			continue;
		/* keep a quarter free: probe chains stay short */
		if (p->used >= PROFILE_MAX_STACKS / 4 * 3)
			break;
		e->key = *k;
		e->count = 1;
		p->used++;
		return 0;
	}
	p->dropped++;
	return -ENOSPC;
}

int profile__callers(const uint64_t *words, size_t n, uint64_t *out, int max)
{
	int got = 0;

	for (size_t i = 0; i < n && got < max; i++)
		if (words[i] >= PROFILE_KTEXT_START && words[i] < PROFILE_KTEXT_END)
			out[got++] = words[i];
	return got;
}

/* ---- the file ---- */

/* The file is written with write(2) from a buffer: inside the sandbox there
 * is no dup(2) for stdio's fdopen. */
struct out {
	int fd, err;
	size_t len;
	char buf[65536];
};

static void flush(struct out *o)
{
	size_t done = 0;

	while (done < o->len && !o->err) {
		ssize_t n = write(o->fd, o->buf + done, o->len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			o->err = n < 0 ? errno : EIO;
		else
			done += (size_t)n;
	}
	o->len = 0;
}

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (sizeof(o->buf) - o->len < 512)
		flush(o);
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, sizeof(o->buf) - o->len, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(o->buf) - o->len)
		o->len += (size_t)n;
}

static void write_entry(struct out *o, const struct profile_entry *e)
{
	static const char mode[] = { 'k', 'u', 'h' };

	put(o, "%" PRIu64 " %c %" PRIx64 " %" PRIx64, e->count,
	    e->key.mode < sizeof(mode) ? mode[e->key.mode] : '?', e->key.rip, e->key.cr3);
	for (uint32_t i = 0; i < e->key.ncallers && i < PROFILE_MAX_CALLERS; i++)
		put(o, " %" PRIx64, e->key.callers[i]);
	put(o, "\n");
}

int profile__write(struct profile *p, int fd)
{
	struct out *o = malloc(sizeof(*o));
	int r;

	if (!o)
		return -ENOMEM;
	o->fd = fd;
	o->err = 0;
	o->len = 0;
	put(o, "sm-profile %d\ninterval_us %u\nvcpus %d\nticks %" PRIu64 "\nsamples %" PRIu64
	    "\nmissed %" PRIu64 "\ndropped %" PRIu64 "\nstacks %zu\n", PROFILE_FORMAT_VERSION,
	    p->interval_us, p->vm ? p->vm->nr_vcpus : 0, p->ticks, p->samples, p->missed,
	    p->dropped, p->used);
	/* in table order: the report sorts (qsort would need sysinfo(2), which
	 * the sandbox does not allow) */
	for (size_t i = 0; i < PROFILE_MAX_STACKS; i++)
		if (p->table[i].count)
			write_entry(o, &p->table[i]);
	flush(o);
	r = -o->err;
	free(o);
	return r;
}

/* ---- the running VM ---- */

int profile__open(struct vm *vm, const char *path, unsigned interval_us, char *msg, size_t msglen)
{
	struct profile *p = profile__new(interval_us);

	if (!p) {
		snprintf(msg, msglen, "--profile: out of memory");
		return -1;
	}
	p->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (p->fd < 0) {
		snprintf(msg, msglen, "--profile %s: %s", path, strerror(errno));
		profile__free(p);
		return -1;
	}
	p->path = path;
	p->vm = vm;
	vm->profile = p;
	return 0;
}

static void tick(struct profile *p)
{
	struct vm *vm = p->vm;

	__atomic_add_fetch(&p->ticks, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = vm->vcpus[i];

		/* the last request not taken yet: the vCPU is busy outside the guest */
		if (__atomic_exchange_n(&v->sample_req, 1, __ATOMIC_SEQ_CST)) {
			__atomic_add_fetch(&p->missed, 1, __ATOMIC_RELAXED);
			continue;
		}
		vcpu__kick(v);
	}
}

static void *sampler(void *arg)
{
	struct profile *p = arg;
	uint64_t step = (uint64_t)p->interval_us * 1000;
	struct timespec next, now;

	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
		uint64_t ns = (uint64_t)next.tv_nsec + step;

		next.tv_sec += (time_t)(ns / 1000000000);
		next.tv_nsec = (long)(ns % 1000000000);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next.tv_sec + 1)	/* fell far behind (host stalled): no burst */
			next = now;
		if (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE) && !vm__ended(p->vm) &&
		    !__atomic_load_n(&p->paused, __ATOMIC_ACQUIRE))
			tick(p);
	}
	return NULL;
}

int profile__start(struct vm *vm)
{
	struct profile *p = vm->profile;
	int r;

	if (!p)
		return 0;
	r = pthread_create(&p->sampler, NULL, sampler, p);
	p->started = r == 0;
	return -r;
}

int profile__set_sampling(struct vm *vm, int on)
{
	if (!vm->profile)
		return -ENOENT;
	__atomic_store_n(&vm->profile->paused, !on, __ATOMIC_RELEASE);
	return 0;
}

/* Guest virtual memory, page by page through the guest's page tables: the
 * bytes read (a page not mapped ends it). */
static size_t read_gva(struct vcpu *v, uint64_t gva, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		struct kvm_translation tr = { .linear_address = gva + done };
		size_t chunk = 4096 - ((gva + done) & 4095);
		void *src;

		if (chunk > len - done)
			chunk = len - done;
		if (ioctl(v->fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
			break;
		src = vm__gpa(v->vm, tr.physical_address, chunk);
		if (!src)
			break;
		memcpy((uint8_t *)buf + done, src, chunk);
		done += chunk;
	}
	return done;
}

static int read_sample(struct vcpu *v, struct profile_key *k)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_mp_state mp = { 0 };
	uint64_t words[PROFILE_SCAN_WORDS];
	size_t got;

	if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0 || ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		return -1;
	memset(k, 0, sizeof(*k));
	k->rip = regs.rip;
	if ((sregs.cs.selector & 3) == 3) {
		k->mode = PROFILE_USER;
		k->cr3 = sregs.cr3;
		return 0;
	}
	if (ioctl(v->fd, KVM_GET_MP_STATE, &mp) == 0 && mp.mp_state == KVM_MP_STATE_HALTED)
		k->mode = PROFILE_HALTED;
	got = read_gva(v, regs.rsp, words, sizeof(words)) / 8;
	k->ncallers = (uint32_t)profile__callers(words, got, k->callers, PROFILE_MAX_CALLERS);
	return 0;
}

void profile__sample(struct vcpu *v)
{
	struct profile *p = v->vm->profile;
	struct profile_key k;

	/* immediate_exit first, then the request: a tick landing in between
	 * leaves both set, so the next KVM_RUN exits at once and takes it */
	__atomic_exchange_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	if (!__atomic_exchange_n(&v->sample_req, 0, __ATOMIC_SEQ_CST))
		return;
	if (read_sample(v, &k) < 0)
		return;
	pthread_mutex_lock(&p->lock);
	if (!p->closed)
		profile__add(p, &k);
	pthread_mutex_unlock(&p->lock);
}

int profile__finish(struct vm *vm, char *msg, size_t msglen)
{
	struct profile *p = vm->profile;
	int r;

	if (!p)
		return 0;
	__atomic_store_n(&p->stop, 1, __ATOMIC_RELEASE);
	if (p->started)
		pthread_join(p->sampler, NULL);
	pthread_mutex_lock(&p->lock);
	p->closed = 1;
	r = profile__write(p, p->fd);
	pthread_mutex_unlock(&p->lock);
	if (r < 0)
		snprintf(msg, msglen, "--profile %s: %s", p->path, strerror(-r));
	return r;
}

/*
 * libFuzzer: a snapshot's metadata.json (snapshot__parse_meta in
 * src/snapshot/snapshot.c, docs/snapshot-format.md), then its CPU
 * fingerprint through snapshot__check_cpu.  What the parser accepts must
 * be what the JSON says, read again here with jansson: format 3, every
 * number equal to its JSON value and inside the format's limits (no value
 * taken for its low 32 bits), every string equal to its JSON string and
 * terminated inside its field.
 */
#include <errno.h>
#include <jansson.h>

#include "fuzz.h"
#include "snapshot/snapshot.h"

static json_int_t int_at(json_t *j, const char *key, const char *sub)
{
	json_t *v = json_object_get(j, key);

	if (sub)
		v = json_object_get(v, sub);
	FUZZ_CHECK(json_is_integer(v));
	return json_integer_value(v);
}

static void same_str(json_t *j, const char *key, const char *sub, const char *field, size_t size)
{
	json_t *v = json_object_get(j, key);

	if (sub)
		v = json_object_get(v, sub);
	FUZZ_CHECK(json_is_string(v) && strnlen(field, size) < size && !strcmp(json_string_value(v), field));
}

static void check_accepted(const uint8_t *data, size_t size, const struct snapshot_meta *m)
{
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	char why[256];

	FUZZ_CHECK(j && m->format == SNAPSHOT_FORMAT && int_at(j, "format", NULL) == SNAPSHOT_FORMAT);
	FUZZ_CHECK(m->vcpus >= 1 && m->vcpus <= VM_MAX_VCPUS && int_at(j, "vcpus", NULL) == m->vcpus);
	FUZZ_CHECK(m->mem_bytes % (1 << 20) == 0 && m->mem_bytes >= (uint64_t)VM_MIN_MEM_MIB << 20 &&
		   m->mem_bytes <= (uint64_t)VM_MAX_MEM_MIB << 20);
	FUZZ_CHECK(int_at(j, "mem_bytes", NULL) == (json_int_t)m->mem_bytes);
	FUZZ_CHECK(int_at(j, "state_bytes", NULL) == (json_int_t)m->state_bytes &&
		   int_at(j, "state_bytes", NULL) >= 0);
	FUZZ_CHECK(m->disk_slots >= 0 && int_at(j, "devices", "disk_slots") == m->disk_slots);
	same_str(j, "state_sha256", NULL, m->state_sha256, sizeof(m->state_sha256));
	same_str(j, "cpu", "fingerprint", m->cpu, sizeof(m->cpu));
	same_str(j, "kernel", "path", m->kernel, sizeof(m->kernel));
	same_str(j, "kernel", "sha256", m->kernel_sha256, sizeof(m->kernel_sha256));
	json_decref(j);
	/* a fingerprint that reads at all runs on a host with the same one */
	if (snapshot__check_cpu(m->cpu, m->cpu, why, sizeof(why)) != -EINVAL)
		FUZZ_CHECK(snapshot__check_cpu(m->cpu, m->cpu, why, sizeof(why)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char host[] = "hw:ffffffff.ffffffff.ffffffff.ffffffff.ffffffff.ffffffff.ffffffff";
	static struct snapshot_meta m;
	char why[400] = "";

	memset(&m, 0, sizeof(m));
	if (snapshot__parse_meta(data, size, &m, why, sizeof(why)) < 0) {
		FUZZ_CHECK(why[0]);
		return 0;
	}
	check_accepted(data, size, &m);
	snapshot__check_cpu(m.cpu, host, why, sizeof(why));
	return 0;
}

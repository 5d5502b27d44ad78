/* Manifest, index, config, auth challenge and tar path parsing — the
 * untrusted-input edges of src/oci (docs/images.md §2, §6). */
#include <errno.h>
#include <stdlib.h>

#include "tap.h"
#include "oci/auth.h"
#include "oci/config.h"
#include "oci/digest.h"
#include "oci/err.h"
#include "oci/manifest.h"
#include "oci/path.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

static int parse(const char *s, struct oci_manifest *m)
{
	return oci_manifest__parse(s, strlen(s), m);
}

static void manifests(void)
{
	struct oci_manifest m;
	const struct oci_desc *d;
	char *big;

	ok(parse("{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_MANIFEST "\",\"config\":{\"mediaType\":\"c\",\"digest\":\"" D1
		 "\",\"size\":10},\"layers\":[{\"mediaType\":\"l\",\"digest\":\"" D2 "\",\"size\":20}]}", &m) == 0 &&
	   m.kind == OCI_MANIFEST_IMAGE && m.n == 1 && m.descs[0].size == 20 && strcmp(m.config.digest, D1) == 0,
	   "OCI image manifest");
	oci_manifest__free(&m);
	ok(parse("{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"" D1 "\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}},"
		 "{\"digest\":\"" D2 "\",\"size\":2,\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}", &m) == 0 &&
	   m.kind == OCI_MANIFEST_INDEX, "index");
	d = oci_manifest__select(&m, "linux", "amd64");
	ok(d && strcmp(d->digest, D2) == 0, "index: linux/amd64 selected");
	ok(oci_manifest__select(&m, "linux", "s390x") == NULL, "index: missing platform is an error");
	oci_manifest__free(&m);
	ok(parse("{\"schemaVersion\":2,\"layers\":[", &m) == -EBADMSG && strstr(oci_err__msg(), "malformed JSON"),
	   "malformed JSON: %s", oci_err__msg());
	is(parse("[1,2]", &m), -EBADMSG, "not an object");
	ok(parse("{\"schemaVersion\":1,\"fsLayers\":[]}", &m) == -EBADMSG && strstr(oci_err__msg(), "schema1"),
	   "schema1 refused: %s", oci_err__msg());
	ok(parse("{\"schemaVersion\":2,\"config\":{\"digest\":\"sha512:ab\",\"size\":1},\"layers\":[]}", &m) == -EBADMSG,
	   "non-sha256 digest refused");
	ok(parse("{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":-1},\"layers\":[]}", &m) == -EBADMSG,
	   "negative size refused");
	ok(parse("{\"schemaVersion\":2,\"schemaVersion\":2,\"layers\":[]}", &m) == -EBADMSG, "duplicate keys refused");
	big = calloc(1, OCI_MANIFEST_MAX + 2);
	memset(big, ' ', OCI_MANIFEST_MAX + 1);
	big[0] = '{';
	ok(oci_manifest__parse(big, OCI_MANIFEST_MAX + 1, &m) == -EFBIG, "manifest over 4 MiB refused");
	free(big);
}

static void configs(void)
{
	const char *s = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Entrypoint\":[\"/bin/sh\",\"-c\"],"
			"\"Cmd\":[\"echo hi\"],\"Env\":[\"A=1\"],\"WorkingDir\":\"/w\",\"User\":\"1000:1000\","
			"\"ExposedPorts\":{\"8080/tcp\":{}}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\"]}}";
	struct oci_runcfg c;

	ok(oci_config__parse(s, strlen(s), &c) == 0, "config parses");
	is_str(c.entrypoint[1], "-c", "Entrypoint");
	is_str(c.cmd[0], "echo hi", "Cmd");
	is_str(c.env[0], "A=1", "Env");
	is_str(c.workdir, "/w", "WorkingDir");
	is_str(c.user, "1000:1000", "User");
	is_str(c.ports[0], "8080/tcp", "ExposedPorts");
	is_str(c.diff_ids[0], D1, "diff_ids");
	oci_config__free(&c);
	s = "{\"config\":{\"Cmd\":\"not an array\"}}";
	ok(oci_config__parse(s, strlen(s), &c) == -EBADMSG, "Cmd must be an array: %s", oci_err__msg());
	s = "{\"config\":{\"Env\":[1]}}";
	ok(oci_config__parse(s, strlen(s), &c) == -EBADMSG, "Env entries must be strings");
	s = "{\"config\":null}";
	ok(oci_config__parse(s, strlen(s), &c) == 0 && !c.cmd, "null config is empty");
	oci_config__free(&c);
}

static void challenges(void)
{
	struct oci_challenge c;

	ok(oci_auth__parse_challenge("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
				     "scope=\"repository:library/nginx:pull\"", &c) == 0, "bearer challenge");
	is_str(c.scheme, "Bearer", "scheme");
	is_str(c.realm, "https://auth.docker.io/token", "realm");
	is_str(c.service, "registry.docker.io", "service");
	is_str(c.scope, "repository:library/nginx:pull", "scope");
	ok(oci_auth__parse_challenge("Basic realm=\"x\"", &c) == 0 && strcmp(c.scheme, "Basic") == 0, "basic challenge");
	ok(oci_auth__parse_challenge("Bearer service=x", &c) < 0, "bearer without realm refused");
	ok(oci_auth__parse_challenge("Bearer realm=\"a\\\"b\"", &c) == 0 && strcmp(c.realm, "a\"b") == 0, "quoted escape");
}

static void paths(void)
{
	char out[OCI_PATH_MAX];

	ok(oci_path__clean("./a//b/", out, sizeof(out)) == 0 && strcmp(out, "a/b") == 0, "./a//b/ -> a/b");
	ok(oci_path__clean(".", out, sizeof(out)) == 0 && out[0] == '\0', ". -> root");
	ok(oci_path__clean("a/./b", out, sizeof(out)) == 0 && strcmp(out, "a/b") == 0, "a/./b -> a/b");
	ok(oci_path__clean("..a/b..", out, sizeof(out)) == 0, "names with dots are fine");
	ok(oci_path__clean("../x", out, sizeof(out)) == -EBADMSG && strstr(oci_err__msg(), "'..'"), "../x refused");
	ok(oci_path__clean("a/../../x", out, sizeof(out)) == -EBADMSG, "a/../../x refused");
	ok(oci_path__clean("a/..", out, sizeof(out)) == -EBADMSG, "a/.. refused");
	ok(oci_path__clean("/etc/passwd", out, sizeof(out)) == -EBADMSG && strstr(oci_err__msg(), "absolute"),
	   "absolute refused");
}

static void digests(void)
{
	oci_digest_t d;

	ok(oci_digest__valid(D1), "valid digest");
	ok(!oci_digest__valid("sha256:ABC"), "short digest");
	ok(!oci_digest__valid("sha256:111111111111111111111111111111111111111111111111111111111111111G"), "bad hex");
	ok(oci_digest__buf("", 0, d) == 0 &&
	   strcmp(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0, "sha256 of nothing");
}

int main(void)
{
	manifests();
	configs();
	challenges();
	paths();
	digests();
	return done_testing();
}

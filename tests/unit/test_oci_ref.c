/* Image reference normalisation (docs/images.md §2). */
#include <errno.h>

#include "tap.h"
#include "oci/ref.h"

static void norm(const char *in, const char *want)
{
	struct oci_ref r;
	char buf[1200] = "";
	int rc = oci_ref__parse(in, &r);

	if (rc == 0)
		oci_ref__format(&r, buf, sizeof(buf));
	is_str(buf, want, in);
}

static void bad(const char *in)
{
	struct oci_ref r;

	is(oci_ref__parse(in, &r), -EINVAL, in);
}

#define D "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

int main(void)
{
	struct oci_ref r;

	norm("nginx", "docker.io/library/nginx:latest");
	norm("nginx:1.27-alpine", "docker.io/library/nginx:1.27-alpine");
	norm("user/app", "docker.io/user/app:latest");
	norm("docker.io/nginx", "docker.io/library/nginx:latest");
	norm("index.docker.io/library/nginx:1", "docker.io/library/nginx:1");
	norm("ghcr.io/a/b/c:v1.0", "ghcr.io/a/b/c:v1.0");
	norm("localhost/app", "localhost/app:latest");
	norm("localhost:5000/test/busybox:1", "localhost:5000/test/busybox:1");
	norm("127.0.0.1:5000/x", "127.0.0.1:5000/x:latest");
	norm("[::1]:5000/x:2", "[::1]:5000/x:2");
	norm("nginx@" D, "docker.io/library/nginx@" D);
	norm("nginx:1@" D, "docker.io/library/nginx:1@" D);
	norm("my-registry.local:443/a__b/c.d-e", "my-registry.local:443/a__b/c.d-e:latest");
	bad("");
	bad("Nginx");
	bad("nginx:");
	bad("nginx:-bad");
	bad("a//b");
	bad("a/b/");
	bad("nginx@sha256:abc");
	bad("nginx@md5:0123456789abcdef0123456789abcdef");
	bad("host:99999999/x");
	bad("bad host/x");
	bad("x/../y");

	ok(oci_ref__parse("localhost:5000/a", &r) == 0 && strcmp(r.host, "localhost:5000") == 0 &&
	   strcmp(r.repo, "a") == 0, "host and repo split");
	ok(oci_ref__parse("nginx", &r) == 0 && strcmp(oci_ref__api_host(&r), "registry-1.docker.io") == 0,
	   "docker.io is served by registry-1.docker.io");
	ok(oci_ref__host_is_loopback("localhost:5000"), "localhost:5000 is loopback");
	ok(oci_ref__host_is_loopback("127.0.0.1"), "127.0.0.1 is loopback");
	ok(oci_ref__host_is_loopback("[::1]:80"), "[::1]:80 is loopback");
	ok(!oci_ref__host_is_loopback("localhost.evil.com"), "localhost.evil.com is not loopback");
	ok(!oci_ref__host_is_loopback("127.0.0.10:5000"), "127.0.0.10 is not loopback");
	return done_testing();
}

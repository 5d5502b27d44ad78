/* libFuzzer: the JSON edges (manifest/index, image config, docker config
 * auth challenge) must take any bytes without crashing or leaking. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oci/auth.h"
#include "oci/config.h"
#include "oci/manifest.h"
#include "oci/path.h"
#include "oci/ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oci_manifest m;
	struct oci_runcfg c;
	struct oci_challenge ch;
	struct oci_ref ref;
	char *s = malloc(size + 1), out[OCI_PATH_MAX];

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (oci_manifest__parse(s, size, &m) == 0) {
		if (m.kind == OCI_MANIFEST_INDEX)
			oci_manifest__select(&m, "linux", "amd64");
		oci_manifest__free(&m);
	}
	if (oci_config__parse(s, size, &c) == 0)
		oci_config__free(&c);
	oci_auth__parse_challenge(s, &ch);
	oci_ref__parse(s, &ref);
	oci_path__clean(s, out, sizeof(out));
	free(s);
	return 0;
}

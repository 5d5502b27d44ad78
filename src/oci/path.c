/* Canonical tar entry paths (see path.h). */
#include <errno.h>
#include <string.h>

#include "oci/err.h"
#include "oci/path.h"

int oci_path__clean(const char *in, char *out, size_t n)
{
	size_t len = 0;
	const char *s = in;

	if (!in)
		return oci_err__set(-EBADMSG, "tar entry without a path");
	if (in[0] == '/')
		return oci_err__set(-EBADMSG, "tar entry '%.200s' has an absolute path", in);
	if (strlen(in) >= OCI_PATH_MAX || n == 0)
		return oci_err__set(-EBADMSG, "tar entry path longer than %d bytes", OCI_PATH_MAX);
	while (*s) {
		const char *slash = strchr(s, '/');
		size_t k = slash ? (size_t)(slash - s) : strlen(s);

		if (k == 2 && s[0] == '.' && s[1] == '.')
			return oci_err__set(-EBADMSG, "tar entry '%.200s' has a '..' component", in);
		if (k > OCI_NAME_MAX)
			return oci_err__set(-EBADMSG, "tar entry '%.200s' has a name longer than %d bytes", in, OCI_NAME_MAX);
		if (k > 0 && !(k == 1 && s[0] == '.')) {
			if (len + k + 2 > n)
				return oci_err__set(-EBADMSG, "tar entry path longer than %zu bytes", n);
			if (len)
				out[len++] = '/';
			memcpy(out + len, s, k);
			len += k;
		}
		s += k + (slash ? 1 : 0);
	}
	out[len] = '\0';
	return 0;
}

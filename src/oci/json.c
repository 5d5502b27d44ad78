/* Small helpers over jansson for untrusted documents. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "oci/err.h"
#include "oci/json.h"

#define STRV_MAX 65536

json_t *oci_json__load(const char *buf, size_t len, const char *what)
{
	json_error_t e;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e);

	if (!j) {
		oci_err__set(-EBADMSG, "%s: malformed JSON at line %d column %d: %s",
			     what, e.line, e.column, e.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		oci_err__set(-EBADMSG, "%s: expected a JSON object", what);
		return NULL;
	}
	return j;
}

/* 0 and out filled; 0 and out = "" when absent and optional; -EBADMSG otherwise. */
int oci_json__str(json_t *obj, const char *key, char *out, size_t n, int required, const char *what)
{
	json_t *v = json_object_get(obj, key);

	out[0] = '\0';
	if (!v || json_is_null(v)) {
		if (required)
			return oci_err__set(-EBADMSG, "%s: missing \"%s\"", what, key);
		return 0;
	}
	if (!json_is_string(v))
		return oci_err__set(-EBADMSG, "%s: \"%s\" must be a string", what, key);
	if (json_string_length(v) >= n || strlen(json_string_value(v)) != json_string_length(v))
		return oci_err__set(-EBADMSG, "%s: \"%s\" is too long or holds a NUL", what, key);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/* An array of strings into a NULL-terminated vector; absent/null -> NULL. */
int oci_json__strv(json_t *obj, const char *key, char ***out, const char *what)
{
	json_t *v = json_object_get(obj, key), *it;
	size_t i;
	char **sv;

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) > STRV_MAX)
		return oci_err__set(-EBADMSG, "%s: \"%s\" must be an array of strings", what, key);
	sv = calloc(json_array_size(v) + 1, sizeof(*sv));
	if (!sv)
		return -ENOMEM;
	json_array_foreach(v, i, it) {
		if (!json_is_string(it) || strlen(json_string_value(it)) != json_string_length(it)) {
			oci_json__strv_free(sv);
			return oci_err__set(-EBADMSG, "%s: \"%s\"[%zu] must be a string without NUL", what, key, i);
		}
		sv[i] = strdup(json_string_value(it));
		if (!sv[i]) {
			oci_json__strv_free(sv);
			return -ENOMEM;
		}
	}
	*out = sv;
	return 0;
}

void oci_json__strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

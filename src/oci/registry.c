/* Registry API v2 client over libcurl (see registry.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "oci/auth.h"
#include "oci/blobw.h"
#include "oci/cache.h"
#include "oci/err.h"
#include "oci/json.h"
#include "oci/registry.h"

#define ATTEMPTS 4                  /* per request, transient failures only */
#define BACKOFF_MS 250              /* doubled after each failed attempt */
#define WORKERS 3                   /* concurrent blob downloads */
#define TOKEN_MAX (64 << 10)
#define CONNECT_TIMEOUT_S 15L
#define STALL_TIMEOUT_S 60L         /* abort when nothing arrives this long */
#define PROGRESS_TICK_MS 100

struct oci_registry {
	char base[320];                 /* "https://host/v2/repo" */
	char host[256], repo[256];
	bool plain_http;
	char authz[8192];               /* "Authorization: ..." or "" */
	char user[256], pass[1024];
	bool have_creds;
	pthread_mutex_t lock;
};

struct resp {
	long status;
	char *body;
	size_t len, max;
	bool too_big;
	struct oci_blobw *w;
	int w_err;
	int64_t *progress;              /* shared with the progress reporter */
	volatile int *abort;
	char challenge[2048], content_type[128], digest[80];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct oci_registry *oci_registry__new(const struct oci_ref *ref, bool insecure)
{
	struct oci_registry *r = calloc(1, sizeof(*r));
	const char *host = oci_ref__api_host(ref);

	if (!r)
		return NULL;
	pthread_once(&curl_once, curl_init);
	pthread_mutex_init(&r->lock, NULL);
	r->plain_http = insecure || oci_ref__host_is_loopback(host);
	snprintf(r->host, sizeof(r->host), "%s", host);
	snprintf(r->repo, sizeof(r->repo), "%s", ref->repo);
	snprintf(r->base, sizeof(r->base), "%s://%s/v2/%s", r->plain_http ? "http" : "https", host, ref->repo);
	r->have_creds = oci_auth__docker_creds(ref->host, r->user, sizeof(r->user),
					       r->pass, sizeof(r->pass)) == 0;
	return r;
}

void oci_registry__free(struct oci_registry *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	explicit_bzero(r->pass, sizeof(r->pass));
	explicit_bzero(r->authz, sizeof(r->authz));
	free(r);
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
	struct resp *rs = ud;
	size_t len = size * n, k;
	char *v;

	if (len > 5 && strncmp(buf, "HTTP/", 5) == 0) {   /* a new response (redirect) */
		rs->challenge[0] = rs->content_type[0] = rs->digest[0] = '\0';
		return len;
	}
	v = memchr(buf, ':', len);
	if (!v)
		return len;
	k = (size_t)(v - buf);
	for (v++; v < buf + len && (*v == ' ' || *v == '\t'); v++)
		;
#define HDR(name, field) \
	if (k == strlen(name) && strncasecmp(buf, name, k) == 0) \
		snprintf(rs->field, sizeof(rs->field), "%.*s", (int)strcspn(v, "\r\n"), v)
	HDR("www-authenticate", challenge);
	HDR("content-type", content_type);
	HDR("docker-content-digest", digest);
#undef HDR
	return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
	struct resp *rs = ud;
	size_t len = size * n;

	if (rs->w) {
		rs->w_err = oci_blobw__write(rs->w, buf, len);
		if (rs->progress)
			__atomic_store_n(rs->progress, oci_blobw__size(rs->w), __ATOMIC_RELAXED);
		return rs->w_err < 0 ? 0 : len;
	}
	if (rs->len + len > rs->max) {
		rs->too_big = true;
		return 0;
	}
	char *nb = realloc(rs->body, rs->len + len + 1);
	if (!nb)
		return 0;
	rs->body = nb;
	memcpy(rs->body + rs->len, buf, len);
	rs->len += len;
	rs->body[rs->len] = '\0';
	return len;
}

static int on_xfer(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct resp *rs = ud;

	(void)dt, (void)dn, (void)ut, (void)un;
	return rs->abort && *rs->abort;
}

static void reset(struct resp *rs)
{
	free(rs->body);
	rs->body = NULL;
	rs->len = 0;
	rs->too_big = false;
	rs->status = 0;
	rs->w_err = 0;
	if (rs->w)
		oci_blobw__reset(rs->w);
}

static size_t on_body_first(char *buf, size_t size, size_t n, void *ud);

static CURLcode perform(struct oci_registry *r, const char *url, const char *accept,
			const char *authz, bool basic, struct resp *rs)
{
	struct curl_slist *h = NULL;
	char hdr[256];
	CURLcode c;
	CURL *e = curl_easy_init();
	const char *protos = r->plain_http ? "http,https" : "https";

	if (!e)
		return CURLE_OUT_OF_MEMORY;
	if (accept) {
		snprintf(hdr, sizeof(hdr), "Accept: %s", accept);
		h = curl_slist_append(h, hdr);
	}
	if (authz && authz[0])
		h = curl_slist_append(h, authz);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, protos);
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, protos);
	/* blobs redirect to storage; custom headers (our token) are not sent
	 * to another host (libcurl >= 7.58 without CURLOPT_UNRESTRICTED_AUTH) */
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, STALL_TIMEOUT_S);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "supermachine/0.1");
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, rs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body_first);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, e);
	curl_easy_setopt(e, CURLOPT_PRIVATE, rs);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_xfer);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, rs);
	if (basic) {
		curl_easy_setopt(e, CURLOPT_USERNAME, r->user);
		curl_easy_setopt(e, CURLOPT_PASSWORD, r->pass);
	}
	c = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &rs->status);
	curl_easy_cleanup(e);
	curl_slist_free_all(h);
	return c;
}

/* Error pages and redirect bodies are drained, never stored or hashed. */
static size_t on_body_first(char *buf, size_t size, size_t n, void *ud)
{
	CURL *e = ud;
	struct resp *rs;
	long status = 0;

	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&rs);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200)
		return size * n;
	return on_body(buf, size, n, rs);
}

static bool transient(CURLcode c, long status)
{
	switch (c) {
	case CURLE_OK:
		return status >= 500 || status == 429;
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* One GET with retries on transient failures. */
static int get(struct oci_registry *r, const char *url, const char *accept,
	       const char *authz, bool basic, struct resp *rs)
{
	CURLcode c = CURLE_OK;

	for (int i = 0; i < ATTEMPTS; i++) {
		if (i)
			sleep_ms(BACKOFF_MS << (i - 1));
		reset(rs);
		c = perform(r, url, accept, authz, basic, rs);
		if (rs->abort && *rs->abort)
			return oci_err__set(-ECANCELED, "cancelled");
		if (rs->too_big)
			return oci_err__set(-EFBIG, "%s: response larger than %zu bytes", url, rs->max);
		if (rs->w_err < 0)
			return rs->w_err;
		if (!transient(c, rs->status))
			break;
	}
	if (c != CURLE_OK)
		return oci_err__set(-ENETUNREACH, "GET %s: %s", url, curl_easy_strerror(c));
	return 0;
}

static int token_from(struct oci_registry *r, const char *body, size_t len)
{
	char tok[TOKEN_MAX];
	json_t *j = oci_json__load(body, len, "token response");
	int ret;

	if (!j)
		return -EBADMSG;
	ret = oci_json__str(j, "token", tok, sizeof(tok), 0, "token response");
	if (ret == 0 && !tok[0])
		ret = oci_json__str(j, "access_token", tok, sizeof(tok), 1, "token response");
	json_decref(j);
	if (ret < 0)
		return ret;
	for (const char *p = tok; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return oci_err__set(-EBADMSG, "token response: token has control characters");
	snprintf(r->authz, sizeof(r->authz), "Authorization: Bearer %.*s", (int)(sizeof(r->authz) - 32), tok);
	return 0;
}

static int bearer(struct oci_registry *r, const struct oci_challenge *ch)
{
	struct resp rs = { .max = TOKEN_MAX * 2 };
	char url[4096], scope[600];
	CURL *esc = curl_easy_init();
	char *s1, *s2;
	int ret;

	if (!esc)
		return -ENOMEM;
	if (strncmp(ch->realm, "https://", 8) != 0 && !r->plain_http) {
		curl_easy_cleanup(esc);
		return oci_err__set(-EPERM, "registry %s sends credentials to a non-https token realm %s", r->host, ch->realm);
	}
	snprintf(scope, sizeof(scope), "repository:%s:pull", r->repo);
	s1 = curl_easy_escape(esc, ch->service, 0);
	s2 = curl_easy_escape(esc, scope, 0);
	snprintf(url, sizeof(url), "%s%sservice=%s&scope=%s", ch->realm,
		 strchr(ch->realm, '?') ? "&" : "?", s1 ? s1 : "", s2 ? s2 : "");
	curl_free(s1);
	curl_free(s2);
	curl_easy_cleanup(esc);
	ret = get(r, url, NULL, NULL, r->have_creds, &rs);
	if (ret == 0 && (rs.status == 401 || rs.status == 403) && !r->have_creds)
		ret = oci_err__set(-EACCES, "registry %s requires a login — add credentials for %s to ~/.docker/config.json (docker login %s)",
				   r->host, r->host, r->host);
	else if (ret == 0 && (rs.status == 401 || rs.status == 403))
		ret = oci_err__set(-EACCES, "registry %s refused the credentials for %s in the docker config — log in again",
				   r->host, r->host);
	else if (ret == 0 && rs.status != 200)
		ret = oci_err__set(-EIO, "token server %s answered HTTP %ld", ch->realm, rs.status);
	if (ret == 0)
		ret = token_from(r, rs.body, rs.len);
	free(rs.body);
	return ret;
}

static int basic(struct oci_registry *r)
{
	char raw[1400], b64[2000];

	if (!r->have_creds)
		return oci_err__set(-EACCES, "registry %s requires a login — add credentials for it to ~/.docker/config.json (docker login)", r->host);
	snprintf(raw, sizeof(raw), "%s:%s", r->user, r->pass);
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)raw, (int)strlen(raw));
	explicit_bzero(raw, sizeof(raw));
	snprintf(r->authz, sizeof(r->authz), "Authorization: Basic %s", b64);
	return 0;
}

/* Answers a 401 challenge; the new Authorization is used from then on. */
static int authenticate(struct oci_registry *r, const char *header, const char *used)
{
	struct oci_challenge ch;
	int ret;

	pthread_mutex_lock(&r->lock);
	if (strcmp(r->authz, used) != 0) {      /* another worker already did */
		pthread_mutex_unlock(&r->lock);
		return 0;
	}
	ret = oci_auth__parse_challenge(header, &ch);
	if (ret == 0 && strcasecmp(ch.scheme, "Bearer") == 0)
		ret = bearer(r, &ch);
	else if (ret == 0 && strcasecmp(ch.scheme, "Basic") == 0)
		ret = used[0] ? oci_err__set(-EACCES, "registry %s refused the credentials in ~/.docker/config.json", r->host)
			      : basic(r);
	else if (ret == 0)
		ret = oci_err__set(-ENOTSUP, "registry %s wants %s authentication, which sm does not speak", r->host, ch.scheme);
	pthread_mutex_unlock(&r->lock);
	return ret;
}

/* GET with auth: on 401 authenticate and try again (once). */
static int request(struct oci_registry *r, const char *url, const char *accept, struct resp *rs)
{
	char authz[sizeof(r->authz)];
	int ret;

	for (int round = 0; round < 2; round++) {
		pthread_mutex_lock(&r->lock);
		memcpy(authz, r->authz, sizeof(authz));
		pthread_mutex_unlock(&r->lock);
		ret = get(r, url, accept, authz, false, rs);
		if (ret < 0 || rs->status != 401 || round == 1)
			break;
		if (!rs->challenge[0])
			return oci_err__set(-EACCES, "registry %s answered 401 without a challenge", r->host);
		ret = authenticate(r, rs->challenge, authz);
		if (ret < 0)
			return ret;
	}
	if (ret == 0 && rs->status == 401)
		return oci_err__set(-EACCES, "registry %s refused access to %s — check your credentials", r->host, r->repo);
	return ret;
}

static int status_error(struct oci_registry *r, const char *what, long status)
{
	if (status == 404)
		return oci_err__set(-ENOENT, "%s not found in %s/%s", what, r->host, r->repo);
	if (status == 403)
		return oci_err__set(-EACCES, "registry %s denied access to %s", r->host, what);
	return oci_err__set(-EIO, "registry %s answered HTTP %ld for %s", r->host, status, what);
}

static int store_manifest(const char *buf, size_t len, const char *digest)
{
	oci_digest_t got;
	struct oci_blobw *w = oci_blobw__new((int64_t)len);
	int ret;

	if (!w)
		return -errno;
	ret = oci_blobw__write(w, buf, len);
	if (ret == 0)
		ret = oci_blobw__commit(w, digest, got);
	oci_blobw__free(w);
	return ret;
}

/* The digest is what we compute; a pinned reference or the registry's
 * Docker-Content-Digest header must agree with it. */
static int check_manifest(struct oci_registry *r, const char *reference, struct resp *rs, oci_digest_t digest)
{
	int ret = oci_digest__buf(rs->body, rs->len, digest);

	if (ret < 0)
		return ret;
	if (oci_digest__valid(reference) && strcmp(reference, digest) != 0)
		return oci_err__set(-EBADMSG, "manifest digest mismatch: asked for %s, got %s", reference, digest);
	if (oci_digest__valid(rs->digest) && strcmp(rs->digest, digest) != 0)
		return oci_err__set(-EBADMSG, "manifest digest mismatch: registry says %s, content is %s", rs->digest, digest);
	(void)r;
	return store_manifest(rs->body, rs->len, digest);
}

int oci_registry__manifest(struct oci_registry *r, const char *reference,
			   char **buf, size_t *len, oci_digest_t digest)
{
	struct resp rs = { .max = OCI_MANIFEST_MAX };
	char url[1024];
	int ret;

	snprintf(url, sizeof(url), "%s/manifests/%s", r->base, reference);
	ret = request(r, url, OCI_ACCEPT_ALL, &rs);
	if (ret == -EFBIG)
		ret = oci_err__set(-EFBIG, "manifest %s is larger than 4 MiB — refusing it", reference);
	if (ret == 0 && rs.status != 200)
		ret = status_error(r, reference, rs.status);
	if (ret == 0)
		ret = check_manifest(r, reference, &rs, digest);
	if (ret < 0) {
		free(rs.body);
		return ret;
	}
	*buf = rs.body;
	*len = rs.len;
	return 0;
}

struct pool {
	struct oci_registry *r;
	const struct oci_desc *descs;
	size_t n, next;
	int64_t *done;
	volatile int abort;
	int err;
	char msg[1024];
	pthread_mutex_t lock;
};

static int fetch_blob(struct pool *p, size_t i)
{
	const struct oci_desc *d = &p->descs[i];
	struct resp rs = { .progress = &p->done[i], .abort = &p->abort };
	char url[1024];
	oci_digest_t got;
	int ret;

	rs.w = oci_blobw__new(d->size);
	if (!rs.w)
		return oci_err__set(-errno, "blob %s: %s", d->digest, strerror(errno));
	snprintf(url, sizeof(url), "%s/blobs/%s", p->r->base, d->digest);
	ret = request(p->r, url, NULL, &rs);
	if (ret == 0 && rs.status != 200)
		ret = status_error(p->r, d->digest, rs.status);
	if (ret == 0)
		ret = oci_blobw__commit(rs.w, d->digest, got);
	if (ret < 0)
		oci_err__wrap(ret, "blob %s", d->digest);
	oci_blobw__free(rs.w);
	free(rs.body);
	return ret;
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	char path[4096];

	for (;;) {
		size_t i;
		int ret;

		pthread_mutex_lock(&p->lock);
		i = p->next++;
		pthread_mutex_unlock(&p->lock);
		if (i >= p->n || p->abort)
			return NULL;
		if (oci_cache__blob_path(p->descs[i].digest, path, sizeof(path)) == 0 && oci_cache__exists(path)) {
			__atomic_store_n(&p->done[i], p->descs[i].size, __ATOMIC_RELAXED);
			continue;
		}
		ret = fetch_blob(p, i);
		if (ret < 0) {
			pthread_mutex_lock(&p->lock);
			if (!p->err) {
				p->err = ret;
				snprintf(p->msg, sizeof(p->msg), "%s", oci_err__msg());
			}
			p->abort = 1;
			pthread_mutex_unlock(&p->lock);
		}
	}
}

static void report(struct pool *p, int64_t *seen, oci_progress_fn fn, void *ud)
{
	for (size_t i = 0; fn && i < p->n; i++) {
		int64_t d = __atomic_load_n(&p->done[i], __ATOMIC_RELAXED);

		if (d != seen[i]) {
			seen[i] = d;
			fn(ud, p->descs[i].digest, d, p->descs[i].size);
		}
	}
}

/* Workers download; this (the caller's) thread reports progress, so the
 * callback may call into Lua. */
int oci_registry__blobs(struct oci_registry *r, const struct oci_desc *descs, size_t n,
			oci_progress_fn progress, void *ud)
{
	struct pool p = { .r = r, .descs = descs, .n = n };
	pthread_t th[WORKERS];
	size_t nth = 0;
	int64_t *seen;

	p.done = calloc(n + 1, sizeof(*p.done));
	seen = calloc(n + 1, sizeof(*seen));
	if (!p.done || !seen) {
		free(p.done);
		free(seen);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		seen[i] = -1;
	pthread_mutex_init(&p.lock, NULL);
	for (; nth < WORKERS && nth < n; nth++)
		if (pthread_create(&th[nth], NULL, worker, &p) != 0)
			break;
	if (nth == 0 && n > 0)
		worker(&p);
	for (;;) {
		size_t running;

		pthread_mutex_lock(&p.lock);
		running = p.next < n + nth ? 1 : 0;
		pthread_mutex_unlock(&p.lock);
		report(&p, seen, progress, ud);
		if (!running)
			break;
		sleep_ms(PROGRESS_TICK_MS);
	}
	for (size_t i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	report(&p, seen, progress, ud);
	pthread_mutex_destroy(&p.lock);
	free(p.done);
	free(seen);
	if (p.err)
		oci_err__set(p.err, "%s", p.msg);
	return p.err;
}

#!/usr/bin/env bash
# A test image from a real distribution: Debian bookworm minbase plus
# nginx-light, made by mmdebstrap from the Debian mirror this machine's apt
# uses, as an OCI image layout with one uncompressed layer.
#   mkdebian.sh            prints the layout's directory (tag "1") on stdout
# The nginx is Debian's own, configured as Debian ships it; the only file
# added is /var/www/html/index.html ("hello from debian nginx"), so a test
# knows the page.  Cmd runs it in the foreground as Docker's nginx image
# does (nginx -g 'daemon off;'); workers run as www-data.
#
# The layout is cached in $SM_TEST_IMAGES (default ~/.cache/sm/test-images)
# under a name keyed by this script's content hash, so a machine pays
# mmdebstrap (~1 min) once; timings go to stderr.  No privilege: mmdebstrap
# runs in --mode=unshare when user namespaces work, else fakechroot
# (SM_MMDEBSTRAP_MODE overrides).  SM_DEBIAN_MIRROR overrides the mirror.
set -euo pipefail

SUITE=bookworm
PACKAGES=nginx-light
INDEX='<h1>hello from debian nginx</h1>'
# run in the finished tree ($1): drop what apt fetched, dpkg's logs and the
# build host's /etc/hostname and resolv.conf (mmdebstrap copies them in; the
# runtime provides its own, as Docker's debian images expect); the known
# page; nginx's logs to its stdout/stderr, as Docker's nginx image does
CUSTOMIZE='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*.log
rm -f "$1/etc/hostname" "$1/etc/resolv.conf"
printf "%s\n" "'$INDEX'" >"$1/var/www/html/index.html"
ln -sf /dev/stdout "$1/var/log/nginx/access.log"
ln -sf /dev/stderr "$1/var/log/nginx/error.log"'
here=$(cd "$(dirname "$0")" && pwd)
self=$here/$(basename "$0")

tmp=
die() { echo "mkdebian.sh: $*" >&2; exit 1; }

# The first Debian archive URL in apt's sources (deb822 or one-line form)
# that serves $SUITE: the only mirror this machine may reach.
mirror() {
	if [ -n "${SM_DEBIAN_MIRROR:-}" ]; then echo "$SM_DEBIAN_MIRROR"; return; fi
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v s="$SUITE" 'BEGIN{RS=""} /(^|\n)Types:[^\n]*deb/ && $0 ~ "Suites:[^\n]*[ ]" s "([ \n]|$)" {
			if (match($0, /URIs:[ ]*[^ \n]+/)) { u = substr($0, RSTART, RLENGTH); sub(/URIs:[ ]*/, "", u); print u; exit } }' "$f"
	done | head -n1 | grep . && return
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk -v s="$SUITE" '$1 == "deb" { for (i = 2; i < NF; i++) if ($i !~ /^\[/ && $(i+1) == s) { print $i; exit } }' |
		head -n1 | grep . && return
	die "no Debian mirror for $SUITE in /etc/apt/sources.list(.d) — set SM_DEBIAN_MIRROR"
}

mode() {
	if [ -n "${SM_MMDEBSTRAP_MODE:-}" ]; then echo "$SM_MMDEBSTRAP_MODE"; return; fi
	# unshare as an ordinary user also needs a subuid range for the chroot's users
	if unshare --user --map-root-user true 2>/dev/null &&
		{ [ "$(id -u)" = 0 ] || grep -q "^$(id -un):" /etc/subuid 2>/dev/null; }; then
		echo unshare
	else
		echo fakechroot
	fi
}

# mmdebstrap → DIR/rootfs.tar: no docs, man pages, locales or apt lists
# (dpkg never writes them; the hook drops what apt fetched).  Merged /usr
# the debootstrap way, as Docker's debian images are: else bookworm's
# init-system-helpers pulls usrmerge and with it perl (~50 MB).
rootfs() {
	local url=$1 out=$2 m
	m=$(mode)
	echo "mkdebian.sh: mmdebstrap --mode=$m $SUITE + $PACKAGES from $url" >&2
	if ! timeout 900 mmdebstrap --mode="$m" --variant=minbase --include="$PACKAGES" \
		--aptopt='APT::Install-Recommends "false"' \
		--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
		--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
		--dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--customize-hook="$CUSTOMIZE" \
		"$SUITE" "$out" "$url" >"$out.log" 2>&1; then
		tail -n 20 "$out.log" >&2
		die "mmdebstrap could not build $SUITE from the Debian mirror $url (log above) — is $url reachable?"
	fi
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

blob() {   # FILE DIR: moves FILE into DIR/blobs/sha256, prints its digest
	local h
	h=$(sha "$1")
	mv "$1" "$2/blobs/sha256/$h"
	echo "$h"
}

# DIR/rootfs.tar → an OCI image layout in DIR (tag 1), uncompressed layer:
# its digest is its diff_id.
layout() {
	local d=$1 l c m size
	mkdir -p "$d/blobs/sha256"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$d/oci-layout"
	size=$(stat -c %s "$d/rootfs.tar")
	l=$(blob "$d/rootfs.tar" "$d")
	printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["nginx","-g","daemon off;"],"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"ExposedPorts":{"80/tcp":{}},"StopSignal":"SIGQUIT"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
		"$l" >"$d/config.json"
	c=$(blob "$d/config.json" "$d")
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
		"$c" "$(stat -c %s "$d/blobs/sha256/$c")" "$l" "$size" >"$d/manifest.json"
	size=$(stat -c %s "$d/manifest.json")
	m=$(blob "$d/manifest.json" "$d")
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"1"}}]}' \
		"$m" "$size" >"$d/index.json"
}

main() {
	local cache key dir t0
	cache=${SM_TEST_IMAGES:-${XDG_CACHE_HOME:-$HOME/.cache}/sm/test-images}
	key=$(sha "$self" | cut -c1-16)
	dir=$cache/debian-nginx-$key
	if [ -f "$dir/index.json" ]; then
		echo "mkdebian.sh: cached $dir" >&2
		echo "$dir"
		return
	fi
	command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (scripts/deps.sh installs it)"
	mkdir -p "$cache"
	tmp=$(mktemp -d "$cache/.debian-nginx.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	chmod 755 "$tmp"
	t0=$(date +%s)
	rootfs "$(mirror)" "$tmp/rootfs.tar"
	rm -f "$tmp/rootfs.tar.log"
	layout "$tmp"
	# another build may have finished meanwhile: keep the first
	mv -T "$tmp" "$dir" 2>/dev/null || true
	echo "mkdebian.sh: built $dir in $(($(date +%s) - t0)) s ($(du -sm "$dir" | cut -f1) MiB)" >&2
	echo "$dir"
}

main "$@"

#!/usr/bin/env bash
# Install what sm needs on Debian 12 (run as root, or with sudo available).
# apt-get is retried: the mirror sometimes fails a download once.
set -euo pipefail
cd "$(dirname "$0")"
pkgs=$(cat deps.txt deps-*.txt 2>/dev/null | sed -e 's/#.*//' | tr -s ' \n' ' ')
missing=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' $pkgs 2>/dev/null | awk '$1 == "ii" { print $2 }' |
	sort | comm -13 - <(tr ' ' '\n' <<< "$pkgs" | sed '/^$/d' | sort -u))
[ -z "$missing" ] && exit 0
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "deps: installing $(echo $missing)" >&2
for try in 1 2 3; do
	$sudo apt-get update -q >/dev/null 2>&1 || true
	if $sudo apt-get install -y -q --no-install-recommends $missing >/dev/null; then exit 0; fi
	echo "deps: apt-get failed (try $try of 3), retrying" >&2
	sleep $((try * 5))
done
echo "deps: could not install: $missing" >&2
exit 1

#!/usr/bin/env bash
# Install the Debian 12 packages sm needs to build, test and benchmark.
#   scripts/deps.sh            install what is missing (as root, or through sudo)
#   scripts/deps.sh --dry-run  print what is missing and what would be run; change nothing
#   SM_DEPS_PACKAGES="a b c"   check this list instead of deps.txt + deps-*.txt
# apt-get is retried: the mirror sometimes fails a download once.  The
# functions below can be sourced (tests/deps/deps_test.sh does) without
# running main.
set -euo pipefail
deps_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

deps__list() {     # the package list: $SM_DEPS_PACKAGES, else the deps*.txt files
	if [ -n "${SM_DEPS_PACKAGES:-}" ]; then
		tr -s ' \t' '\n' <<< "$SM_DEPS_PACKAGES"
	else
		cat "$deps_dir"/deps.txt "$deps_dir"/deps-*.txt | sed -e 's/#.*//'
	fi | tr -s ' \t' '\n' | sed '/^$/d' | sort -u
}

# deps__missing PKG...: print, one a line, every PKG that is not installed.
# dpkg-query exits 1 when any name is unknown or not installed, which is the
# normal case here, so its status is ignored (under pipefail it would end the
# script); only packages it reports as installed ("ii") are filtered out.
deps__missing() {
	[ $# -gt 0 ] || return 0
	local installed
	installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "$@" 2>/dev/null || true)
	installed=$(awk '$1 == "ii" { print $2 }' <<< "$installed" | sort -u)
	printf '%s\n' "$@" | sort -u | comm -23 - <(printf '%s\n' "$installed" | sed '/^$/d')
}

# deps__unknown PKG...: those of PKG that apt knows no candidate for (after
# apt-get update: a typo, or a package of another release).
deps__unknown() {
	local p
	for p in "$@"; do
		apt-cache show --no-all-versions "$p" >/dev/null 2>&1 || echo "$p"
	done
}

deps__sudo() {     # prints the command prefix that makes us root, or fails
	if [ "$(id -u)" = 0 ]; then echo ""; return 0; fi
	if command -v sudo >/dev/null 2>&1; then echo "sudo"; return 0; fi
	return 1
}

deps__install() {  # PKG...: apt-get install with retries; names what is still missing
	local try left
	export DEBIAN_FRONTEND=noninteractive
	for try in 1 2 3; do
		$sudo_cmd apt-get update -q >/dev/null 2>&1 || echo "deps: apt-get update failed (try $try of 3)" >&2
		if $sudo_cmd apt-get install -y -q --no-install-recommends "$@" >/dev/null; then return 0; fi
		left=$(deps__unknown "$@" | tr '\n' ' ')
		if [ -n "$left" ]; then
			echo "deps: no such package in the Debian lists: ${left% } — check scripts/deps*.txt and /etc/apt/sources.list" >&2
			return 1
		fi
		echo "deps: apt-get install failed (try $try of 3), retrying" >&2
		sleep $((try * 5))
	done
	left=$(deps__missing "$@" | tr '\n' ' ')
	echo "deps: could not install: ${left% } — see the apt-get output above, then run: make deps" >&2
	return 1
}

deps__main() {
	local dry=0 missing unknown
	case "${1:-}" in
	--dry-run|-n) dry=1 ;;
	"") ;;
	-h|--help) sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; return 0 ;;
	*) echo "deps: unknown option $1 (try --dry-run)" >&2; return 2 ;;
	esac
	mapfile -t pkgs < <(deps__list)
	mapfile -t missing < <(deps__missing "${pkgs[@]}")
	if [ ${#missing[@]} = 0 ]; then
		[ $dry = 0 ] || echo "deps: nothing missing (${#pkgs[@]} packages checked)"
		return 0
	fi
	if [ $dry = 1 ]; then
		echo "deps: missing: ${missing[*]}"
		if compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
			unknown=$(deps__unknown "${missing[@]}" | tr '\n' ' ')
			[ -z "$unknown" ] || echo "deps: not in the Debian lists: ${unknown% }"
		fi
		echo "deps: would run: apt-get install -y --no-install-recommends ${missing[*]}"
		return 0
	fi
	if ! sudo_cmd=$(deps__sudo); then
		echo "deps: missing packages: ${missing[*]} — not root and no sudo here: run 'apt-get install ${missing[*]}' as root (or install sudo), then retry" >&2
		return 1
	fi
	echo "deps: installing ${missing[*]}${sudo_cmd:+ (through sudo)}" >&2
	deps__install "${missing[@]}"
	echo "deps: installed ${#missing[@]} packages" >&2
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	deps__main "$@"
fi

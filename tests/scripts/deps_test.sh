#!/usr/bin/env bash
# scripts/deps.sh: which packages it finds missing, without touching the
# system, and how it fails.  TAP on stdout.
set -uo pipefail
cd "$(dirname "$0")/../.."
n=0
ok() {  # ok COND-STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
installed=bash
# a real Debian package that is not installed here (any one will do)
uninstalled=""
for p in cowsay sl fortune-mod bsdgames figlet toilet; do
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	case "$st" in ii*) ;; *) uninstalled=$p; break ;; esac
done
bogus=sm-no-such-package-$$
list="$installed $uninstalled $bogus"
missing=$(printf '%s\n' "$uninstalled" "$bogus" | sort | tr '\n' ' '); missing=${missing% }

# 1. --dry-run reports exactly the uninstalled and the nonexistent package, exits 0
out=$(SM_DEPS_PACKAGES="$list" bash scripts/deps.sh --dry-run 2>&1); rc=$?
ok $rc "deps.sh --dry-run exits 0"
ok "$([ "$(grep '^deps: missing:' <<< "$out")" = "deps: missing: $missing" ]; echo $?)" "dry run lists exactly '$uninstalled $bogus' as missing"
ok "$(grep -q 'would run: apt-get install' <<< "$out"; echo $?)" "dry run says what it would run"

# 2. the missing-package pipeline survives set -euo pipefail
out=$(bash -c 'set -euo pipefail; source scripts/deps.sh; deps__missing "$@"; echo END' _ $list 2>&1); rc=$?
ok $rc "deps__missing under set -euo pipefail returns 0 with an uninstalled package in the list"
ok "$([ "$(tr '\n' ' ' <<< "$out")" = "$missing END " ]; echo $?)" "deps__missing prints the missing ones and the caller carries on"

# 3. nothing missing: silent success
out=$(SM_DEPS_PACKAGES="$installed" bash scripts/deps.sh 2>&1); rc=$?
ok "$([ $rc = 0 ] && [ -z "$out" ]; echo $?)" "all installed: exit 0, prints nothing"

# 4. neither root nor sudo: one line that says what to do, exit 1
bin=$(mktemp -d); trap 'rm -rf "$bin"' EXIT; chmod 0755 "$bin"
for t in bash dpkg-query awk sort comm sed tr id cat dirname mktemp; do ln -s "$(command -v $t)" "$bin/$t"; done
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups env PATH="$bin" SM_DEPS_PACKAGES="$list" bash scripts/deps.sh 2>&1); rc=$?
	ok "$([ $rc = 1 ] && [ "$(wc -l <<< "$out")" = 1 ] && grep -q "not root and no sudo.*apt-get install" <<< "$out"; echo $?)" "no root, no sudo: exit 1 with one line naming the fix ($out)"
else
	out=$(env PATH="$bin" SM_DEPS_PACKAGES="$list" bash scripts/deps.sh 2>&1); rc=$?
	ok "$([ $rc = 1 ] && grep -q "not root and no sudo" <<< "$out"; echo $?)" "no sudo: exit 1 naming the fix"
fi

# 5. as a user with sudo: apt-get goes through sudo (a recording sudo stands in
#    for the real one, which would change this machine)
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	chmod 0755 "$bin"
	printf '#!/bin/bash\necho "$*" >> %s/sudo.log\n' "$bin" > "$bin/sudo"; chmod 0755 "$bin/sudo"
	touch "$bin/sudo.log"; chmod 0666 "$bin/sudo.log"
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups env PATH="$bin" SM_DEPS_PACKAGES="$list" bash scripts/deps.sh 2>&1); rc=$?
	ok "$([ $rc = 0 ] && grep -q "installing .*through sudo" <<< "$out" && grep -qx "apt-get install -y -q --no-install-recommends $missing" "$bin/sudo.log"; echo $?)" "with sudo: apt-get install runs through sudo"
fi
exit 0

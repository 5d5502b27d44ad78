#!/usr/bin/env bash
# The Makefile on a machine without the libraries: parsing it prints
# nothing (so `make test` reaches scripts/deps.sh first), and a compile
# that needs them stops with one line saying what to run.  TAP on stdout.
set -uo pipefail
cd "$(dirname "$0")/../.."
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
# as a person runs it: not inside the make that runs the suites (MAKELEVEL
# and MAKEFLAGS would add "Entering directory" lines)
plain() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES "$@"; }
nolibs() { plain env PKG_CONFIG_LIBDIR=/nonexistent PKG_CONFIG_PATH= "$@"; }

err=$(nolibs make -n deps 2>&1 >/dev/null); rc=$?
ok "$([ $rc = 0 ] && [ -z "$err" ]; echo $?)" "no libraries: parsing the Makefile prints nothing on stderr (${err:0:80})"
# (-n still runs the recursive make, which then misses the libraries deps.sh would install)
out=$(nolibs make -n test 2>&1)
ok "$([ "$(head -n1 <<< "$out")" = "scripts/deps.sh" ] && ! grep -q "not found\|search path" <<< "$out"; echo $?)" \
	"no libraries: make test runs scripts/deps.sh first, no pkg-config noise"
out=$(nolibs make -B -n build/src/main.o 2>&1); rc=$?
ok "$([ $rc != 0 ] && grep -q "libraries missing.*run: make deps" <<< "$out" && [ "$(wc -l <<< "$out")" = 1 ]; echo $?)" \
	"no libraries: a compile stops with one line naming make deps"
out=$(plain make -B -n build/src/main.o 2>&1); rc=$?
ok "$([ $rc = 0 ] && grep -q -- "-I/usr/include/lua5.4" <<< "$out"; echo $?)" "libraries present: compiles get their pkg-config flags"
exit 0

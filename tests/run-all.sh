#!/usr/bin/env bash
# Runs every test suite, counts TAP "ok"/"not ok" lines across all of them,
# and ends with one line "N passed, N failed".  Exit status is non-zero on
# any failure (including a suite that crashed without reporting).
#   SM_SUITES="scripts unit spec integration bench"  which suites (default: all;
#                                     bench = every benchmark once, smallest counts)
#   SM_BUILD=build                      build directory
set -uo pipefail
cd "$(dirname "$0")/.."
build=${SM_BUILD:-build}
suites=${SM_SUITES:-scripts unit spec integration bench}
export SM_BIN=$PWD/$build/sm SM_ROOT=$PWD
# sanitizer builds share the guest assets of the normal build
[ -d "$build/guest" ] || export SM_GUEST_DIR=$PWD/build/guest
log=$(mktemp -d "${TMPDIR:-/tmp}/sm-test.XXXXXX")
trap 'rm -rf "$log"' EXIT
pass=0 fail=0

count() {   # count NAME: tallies $log/NAME.tap
	local name=$1 out=$log/$1.tap p f
	p=$(grep -cE '^ok [0-9]+' "$out")
	f=$(grep -cE '^not ok [0-9]+' "$out")
	if [ "$p" = 0 ] && [ "$f" = 0 ]; then
		echo "# suite $name reported no tests"; f=1
	fi
	echo "# $name: $p passed, $f failed ($((SECONDS - suite_t0)) s)"
	pass=$((pass + p)) fail=$((fail + f))
}

run_unit() {
	for t in "$build"/tests/test_*; do
		[ -x "$t" ] || continue
		echo "# $t"
		timeout 120 "$t" || echo "not ok 0 - $t exited with $?"
	done
}

run_scripts() {   # the shell tests of scripts/ (TAP each)
	for t in tests/scripts/*_test.sh; do
		echo "# $t"
		timeout 120 bash "$t" || echo "not ok 0 - $t exited with $?"
	done
}

busted_tap() {   # FILES...: busted exits non-zero on failure; the TAP lines carry the counts
	busted --output=TAP --lpath="$PWD/lua/?.lua;$PWD/lua/?/init.lua;$PWD/spec/?.lua" "$@" 2>&1
	return 0
}

run_busted() {   # DIR [each]: "each" runs one busted per file and prints its wall time
	local files f t0
	files=$(find "$1" -maxdepth 1 -name '*_spec.lua' | sort)
	[ -n "$files" ] || return 0
	if [ "${2:-}" != each ]; then busted_tap $files; return 0; fi
	for f in $files; do
		t0=$SECONDS
		busted_tap "$f"
		echo "# time $f: $((SECONDS - t0)) s"
	done
}

# The HTTP test snapshot (spec/support/http_snapshot.lua) the daemon specs
# serve, made once for the whole integration suite instead of once per
# spec file; a spec makes its own when this fails.
shared_http_snapshot() {
	[ -z "${SM_TEST_HTTP_SNAPSHOT:-}" ] || return 0
	mkdir -m 700 "$log/http" &&
		timeout 900 "$build/sm" lua spec/support/http_snapshot.lua "$log/http" >/dev/null 2>"$log/http.err" &&
		export SM_TEST_HTTP_SNAPSHOT=$log/http/snap ||
		echo "# the shared HTTP test snapshot failed (each spec makes its own): $(tail -n 3 "$log/http.err")"
}

for s in $suites; do
	suite_t0=$SECONDS
	case $s in
	scripts)     run_scripts 2>&1 | tee "$log/scripts.tap" ;;
	unit)        run_unit 2>&1 | tee "$log/unit.tap" ;;
	spec)        run_busted spec | tee "$log/spec.tap" ;;
	integration) shared_http_snapshot; run_busted spec/integration each | tee "$log/integration.tap" ;;
	bench)       bench/run.sh --smoke 2>&1 | tee "$log/bench.tap" ;;
	*)           echo "unknown suite $s"; continue ;;
	esac
	count "$s"
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

#!/usr/bin/env bash
# make bench: every benchmark, each printing its figures beside a peer
# measured in the same run.  A bench is bench/NAME.sh, or bench/NAME.lua
# (run by `sm lua`) when there is no NAME.sh wrapping it.
#   bench/run.sh            full iteration counts
#   bench/run.sh --smoke    the smallest counts (make bench-smoke, part of make test):
#                           figures are printed, never asserted; TAP lines say
#                           which benchmark scripts ran to the end
set -uo pipefail
cd "$(dirname "$0")/.."
smoke=0
[ "${1:-}" = --smoke ] && smoke=1
if [ $smoke = 1 ]; then
	export SM_BENCH_BOOTS=1 SM_BENCH_RESTORES=2 SM_BENCH_CONCURRENT=2 SM_BENCH_BOOT_TRUE=1 \
		SM_BENCH_EXECS=3 SM_BENCH_MIB=0.25 SM_BENCH_AGENT_RESTORES=1 SM_BENCH_VSOCK_MIB=4 \
		BENCH_OCI_MB=4 BENCH_RUNS=1 SM_BENCH_MEM=128 \
		SM_BENCH_ROUTER_RUNS=2 SM_BENCH_WRK_S=1 SM_BENCH_VM_WRK_S=2 SM_BENCH_ROUTER_SEQ=2 SM_BENCH_RUN_N=1 SM_BENCH_RUN_WORKERS=2 SM_BENCH_POLICY_ROUNDS=2 SM_BENCH_EGRESS_MIB=1
fi
benches=()
for f in bench/*.sh bench/*.lua; do
	name=$(basename "${f%.*}")
	[ "$name" = run ] && continue
	case "$f" in *.lua) [ -e "bench/$name.sh" ] && continue ;; esac
	benches+=("$f")
done
status=0 n=0
for f in "${benches[@]}"; do
	name=$(basename "${f%.*}") n=$((n + 1)) t0=$(date +%s)
	echo "== $name"
	case "$f" in
	*.lua) timeout 1800 build/sm lua "$f" ;;
	*)     timeout 1800 "$f" ;;
	esac
	rc=$?
	[ $rc = 0 ] || status=1
	if [ $smoke = 1 ]; then
		[ $rc = 0 ] && echo "ok $n - bench $name ran to the end ($(( $(date +%s) - t0 )) s)" ||
			echo "not ok $n - bench $name exited with $rc"
	fi
done
exit $status

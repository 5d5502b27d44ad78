#!/usr/bin/env bash
# make bench: every benchmark, each printing its figures beside a peer
# measured in the same run.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
echo "== boot"
build/sm lua bench/boot.lua || status=1
echo "== router"
build/sm lua bench/router.lua || status=1
for b in bench/*.sh; do
	[ "$b" = bench/run.sh ] && continue
	echo "== $(basename "$b" .sh)"
	"$b" || status=1
done
exit $status

#!/usr/bin/env bash
# Pull + convert of a ~112 MB image (~55 MB compressed) from a local registry (Debian's
# docker-registry on 127.0.0.1) with `sm pull`, beside `skopeo copy` of the
# same image to an OCI layout (download only, no conversion).  Fresh cache /
# destination each run; median of 3.  Prints both times and the ratio.
#   SM_BIN=build/sm  BENCH_OCI_MB=112  BENCH_RUNS=3
set -euo pipefail
cd "$(dirname "$0")/.."
sm=${SM_BIN:-$PWD/build/sm}
mb=${BENCH_OCI_MB:-112}
runs=${BENCH_RUNS:-3}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sm-bench-oci.XXXXXX")
trap 'tests/oci/registry.sh stop "$tmp/reg" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT

python3 tests/oci/mkimage.py big "$tmp/layout" "$mb"
port=$(tests/oci/registry.sh start "$tmp/reg" open)
ref=127.0.0.1:$port/bench/big:1
timeout 300 skopeo copy -q --dest-tls-verify=false "oci:$tmp/layout:1" "docker://$ref"
size=$(du -sm "$tmp/layout/blobs" | cut -f1)

now() { date +%s.%N; }
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

time_sm() {
	rm -rf "$tmp/cache" "$tmp/data"
	local t0; t0=$(now)
	SM_CACHE_DIR=$tmp/cache XDG_DATA_HOME=$tmp/data timeout 300 "$sm" pull --no-bake -q "$ref" >/dev/null
	echo "$(now) - $t0" | bc
}

time_skopeo() {
	rm -rf "$tmp/out"
	local t0; t0=$(now)
	timeout 300 skopeo copy -q --src-tls-verify=false "docker://$ref" "oci:$tmp/out:1"
	echo "$(now) - $t0" | bc
}

sm_t=$(for _ in $(seq "$runs"); do time_sm; done | median)
sk_t=$(for _ in $(seq "$runs"); do time_skopeo; done | median)
printf 'oci: image %s MB compressed, %d layers, median of %d\n' "$size" "$(ls "$tmp/layout/blobs/sha256" | wc -l | awk '{print $1-2}')" "$runs"
printf 'oci: sm pull --no-bake (download + verify + layer images)  %.2f s\n' "$sm_t"
printf 'oci: skopeo copy (download only)             %.2f s\n' "$sk_t"
printf 'oci: ratio sm/skopeo                          %.2f\n' "$(echo "$sm_t / $sk_t" | bc -l)"

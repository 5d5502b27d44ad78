#!/usr/bin/env bash
# Host ↔ guest through virtio-vsock and the guest agent: the device's
# host-side cost alone (bench/vsock_dev.c, no guest), then exec latency
# and port-proxy throughput end to end (bench/agent.lua).
#   bench/agent.sh [EXEC_RUNS] [MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/bench/vsock_dev ] || make --no-print-directory build/bench/vsock_dev >/dev/null
build/bench/vsock_dev "${SM_BENCH_VSOCK_MIB:-64}" 2>/dev/null
exec build/sm lua bench/agent.lua "$@"

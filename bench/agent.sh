#!/usr/bin/env bash
# Host ↔ guest through virtio-vsock and the guest agent: the device's
# host-side cost alone (bench/vsock_dev.c, no guest), then exec latency
# and port-proxy throughput end to end (bench/agent.lua).
#   bench/agent.sh [EXEC_RUNS] [MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/bench
cc -O2 -std=gnu11 -D_GNU_SOURCE -Isrc -Itests/unit -o build/bench/vsock_dev bench/vsock_dev.c build/libsm.a \
	$(pkg-config --libs lua5.4 libcurl libarchive libsquashfs1 jansson libcrypto) -lpthread -lm
build/bench/vsock_dev 64 2>/dev/null
exec build/sm lua bench/agent.lua "$@"

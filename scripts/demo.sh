#!/usr/bin/env bash
# The main job for now: boot the built-in guest under KVM and run a command
# in it.  (Serving an image over HTTP arrives with `sm run`.)
set -euo pipefail
cd "$(dirname "$0")/.."
echo "demo: booting the built-in guest (about a minute on hosts without VT-x/AMD-V; see docs/emulating-hosts.md)" >&2
exec build/sm boot --vcpus 2 -- /bin/sh -c 'echo "hello from the guest: $(uname -sr), $(nproc) CPUs"; free -m | head -2'

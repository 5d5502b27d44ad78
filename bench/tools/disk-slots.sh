#!/usr/bin/env bash
# Cost of the VMM's virtio-blk slot count (docs/vmm.md "Disk slots"): boots
# the guest to a boot snapshot with N slots, then restores it R times with
# a trivial workload.  Compares two sm-vmm builds:
#   make BUILD=build-4 CC="gcc -DVMM_MAX_DISKS=4" build-4/sm-vmm
#   bench/tools/disk-slots.sh build-4/sm-vmm build/sm-vmm [R]   (not part of make bench: it compares two builds)
# Prints one line per VMM: boot-to-ready ms, snapshot mem bytes on disk, restore ms (each).
set -euo pipefail
cd "$(dirname "$0")/../.."
r=${3:-3}
kernel=build/guest/vmlinux initrd=build/guest/initramfs.cpio
cmdline="console=ttyS0 quiet panic=-1 reboot=k io_delay=none tsc=reliable no_timer_check 8250.nr_uarts=2 random.trust_cpu=on"
tmp=$(mktemp -d /tmp/sm-slots.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
ms() { echo $(( $(date +%s%N) / 1000000 )); }
for vmm in "$1" "$2"; do
	snap=$tmp/$(basename "$(dirname "$vmm")")
	t0=$(ms)
	timeout 600 "$vmm" --kernel "$kernel" --initrd "$initrd" --cmdline "$cmdline" --snapshot-on-ready "$snap" \
		--status-fd 3 3>"$tmp/status" >/dev/null 2>&1 || true
	boot=$(( $(ms) - t0 ))
	ready=$(grep -o 'ready_us=[0-9]*' "$tmp/status" | head -1 | cut -d= -f2)
	restores=""
	for _ in $(seq "$r"); do
		t0=$(ms)
		timeout 120 "$vmm" --restore "$snap" -- /bin/true >/dev/null 2>&1 || true
		restores="$restores $(( $(ms) - t0 ))"
	done
	echo "$vmm: boot_ms=$boot ready_ms=$(( ${ready:-0} / 1000 )) mem_on_disk=$(du -k "$snap/mem" | cut -f1)K restore_true_ms=$restores load=$(cut -d' ' -f1 /proc/loadavg)"
done

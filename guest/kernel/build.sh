#!/usr/bin/env bash
# Build the guest kernel (an uncompressed vmlinux) from Debian's
# linux-source-6.1 with our config fragment and patches, once per machine:
# the result is cached outside the tree under a hash of the source version,
# the fragment and the patches, with its System.map beside it (the profiler
# symbolizes against it, docs/profiling.md).  Prints the cached vmlinux path last.
#   guest/kernel/build.sh [DEST]   (DEST: also copy/link the result there)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tarball=/usr/src/linux-source-6.1.tar.xz
[ -r "$tarball" ] || { echo "guest kernel: $tarball missing — apt-get install linux-source-6.1" >&2; exit 1; }

srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || stat -c %s "$tarball")
key=$( { echo "$srcver"; cat "$here/sm.config" "$here"/*.patch; } | sha256sum | cut -c1-16)
cache=${SM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sm}/kernel
out=$cache/$key/vmlinux
map=$cache/$key/System.map
mkdir -p "$cache"

finish() {
    # a kernel cached before System.map was kept: its vmlinux still has its
    # symbol table, and `nm -n` prints the map scripts/mksysmap writes
    if [ ! -s "$map" ]; then
        nm -n "$out" | grep -v -e ' [aNUw] ' -e ' \$' -e ' \.L' -e ' __crc_' -e ' __kstrtab_' -e ' __kstrtabns_' -e ' L0$' > "$map.tmp" && mv -f "$map.tmp" "$map" ||
            { rm -f "$map.tmp"; echo "guest kernel: no System.map for $out (nm failed) — the profiler cannot name kernel functions" >&2; }
    fi
    if [ -n "${1:-}" ]; then ln -sf "$out" "$1.tmp" && mv -f "$1.tmp" "$1"; fi
    echo "$out"
}
if [ -s "$out" ]; then finish "${1:-}"; exit 0; fi

exec 9>"$cache/$key.lock"
flock 9                        # another build of the same kernel: wait for it
if [ -s "$out" ]; then finish "${1:-}"; exit 0; fi

build=$cache/build-$key
rm -rf "$build"; mkdir -p "$build"
echo "guest kernel: building Linux $srcver once for this machine (about 7 min on 2 cores; cached in $cache)" >&2
tar -xJf "$tarball" -C "$build" --strip-components=1
for p in "$here"/*.patch; do patch -s -p1 -d "$build" < "$p"; done
make -s -C "$build" KCONFIG_ALLCONFIG="$here/sm.config" allnoconfig >/dev/null
# every option we asked for must have survived Kconfig's dependency checks
missing=0
while IFS= read -r line; do
    case "$line" in CONFIG_*=y|CONFIG_*=[0-9]*) grep -qx "$line" "$build/.config" || { echo "guest kernel: $line did not take effect" >&2; missing=1; } ;; esac
done < "$here/sm.config"
[ $missing = 0 ] || exit 1
start=$(date +%s)
make -C "$build" -j"$(nproc)" vmlinux 2>&1 | awk -v t0="$start" '
    / CC | LD | AR / { n++ }
    { if (systime() - last >= 30) { last = systime(); printf "guest kernel: %d objects, %ds\n", n, last - t0 > "/dev/stderr"; fflush("/dev/stderr") } }
    /error:|Error [0-9]/ { print > "/dev/stderr" }'
[ "${PIPESTATUS[0]}" = 0 ] || { echo "guest kernel: build failed in $build" >&2; exit 1; }
mkdir -p "$cache/$key"
cp "$build/System.map" "$map.tmp" && mv "$map.tmp" "$map"
cp "$build/vmlinux" "$out.tmp" && mv "$out.tmp" "$out"
rm -rf "$build"
echo "guest kernel: built in $(( $(date +%s) - start ))s" >&2
finish "${1:-}"

#!/usr/bin/env bash
# Pack the guest's initramfs: our init as /init plus a static busybox
# (Debian's busybox-static) with its applet links.  Uncompressed on
# purpose: inflating it is emulated on kvm_pvm hosts and took over a minute.
#   guest/mkinitramfs.sh INIT OUT.cpio [EXTRA_BINARY...]   (extras go to /bin)
set -euo pipefail
init=$1 out=$(realpath -m "$2")
busybox=${SM_BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] && "$busybox" --list >/dev/null 2>&1 || {
	echo "mkinitramfs: $busybox missing — apt-get install busybox-static" >&2; exit 1; }
{ ldd "$busybox" 2>&1 || true; } | grep -q 'not a dynamic' || {
	echo "mkinitramfs: $busybox is not static — apt-get install busybox-static" >&2; exit 1; }
stage=$(mktemp -d "${TMPDIR:-/tmp}/sm-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,etc,mnt}
install -m 0755 "$init" "$stage/init"
install -m 0755 "$busybox" "$stage/bin/busybox"
for extra in "${@:3}"; do install -m 0755 "$extra" "$stage/bin/$(basename "$extra")"; done
for applet in $("$busybox" --list-full); do
	[ -e "$stage/$applet" ] || ln -s /bin/busybox "$stage/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$stage/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$stage/etc/group"
chmod 1777 "$stage/tmp"
# deterministic archive: sorted names, fixed owner and mtime
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | \
	cpio --quiet -o -H newc -R 0:0 --reproducible > "$out.tmp" 2>/dev/null || \
	{ find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 > "$out.tmp"; })
mv "$out.tmp" "$out"

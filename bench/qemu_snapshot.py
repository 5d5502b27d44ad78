#!/usr/bin/env python3
"""Make a QEMU (TCG, -M microvm) migration file of a running guest, the
bench peer for sm's snapshots: boot KERNEL + INITRD running the workload
(sent on the init channel like sm does, docs/init-channel.md), wait for its
first output, then migrate to FILE over QMP.
   qemu_snapshot.py KERNEL INITRD CMDLINE MEM_MIB FILE -- ARGV..."""
import json, os, socket, subprocess, sys, tempfile, time

kernel, initrd, cmdline, mem, out = sys.argv[1:6]
argv = sys.argv[sys.argv.index("--") + 1:]
tmp = tempfile.mkdtemp(prefix="sm-bench-qemu.")
qmp_path = os.path.join(tmp, "qmp")
q = subprocess.Popen(
    ["qemu-system-x86_64", "-M", "microvm", "-accel", "tcg", "-m", mem, "-smp", "1", "-nodefaults",
     "-no-user-config", "-display", "none", "-no-reboot", "-kernel", kernel, "-initrd", initrd,
     "-append", cmdline, "-serial", "null", "-chardev", "stdio,id=chan",
     "-device", "isa-serial,chardev=chan,iobase=0x2f8,irq=3", "-qmp", f"unix:{qmp_path},server=on,wait=off"],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE)

def read_until(pred, limit=120):
    buf, t0 = b"", time.time()
    while not pred(buf):
        if time.time() - t0 > limit:
            raise SystemExit("qemu_snapshot: timed out waiting for the guest")
        buf += os.read(q.stdout.fileno(), 65536)
    return buf

read_until(lambda b: b.startswith(b"\x01\x00\x01\x00"))   # HELLO (any version)
payload = b"".join(b"a" + a.encode() + b"\0" for a in argv)
q.stdin.write(bytes([6, 0, len(payload) & 0xff, len(payload) >> 8]) + payload)  # CONFIG
q.stdin.flush()
read_until(lambda b: b"\x02\x00" in b)                                   # first stdout frame

s = socket.socket(socket.AF_UNIX)
s.connect(qmp_path)
f = s.makefile("rw")
def qmp(cmd, **args):
    f.write(json.dumps({"execute": cmd, "arguments": args}) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            return r
f.readline()
qmp("qmp_capabilities")
qmp("migrate", uri=f"exec:cat > {out}")
while qmp("query-migrate")["return"].get("status") not in ("completed", "failed"):
    time.sleep(0.05)
q.kill()
print(os.path.getsize(out))

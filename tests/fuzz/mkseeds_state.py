#!/usr/bin/env python3
"""Writes tests/fuzz/seeds/fuzz_state/*: vm.state files (docs/snapshot-format.md)
with the sections fuzz_state restores, plus its harness-only RAM section."""
import os, struct

OUT = os.path.join(os.path.dirname(__file__), "seeds", "fuzz_state")
ST_DEV_SERIAL, ST_DEV_VIRTIO, ST_DEV_INITCHAN, ST_DEV_VSOCK = 30, 31, 32, 34
FUZZ_TAG_RAM = 0x4D4152

def section(tag, index, data):
    return struct.pack("<IIQ", tag, index, len(data)) + data + b"\0" * ((8 - len(data) % 8) % 8)

def state(*sections):
    return b"SMSTATE\0" + struct.pack("<II", 1, 0) + b"".join(sections)

def serial(rx=b"", ier=0, head=0):
    regs = struct.pack("<8BiiII", ier, 3, 8, 0, 1, 1, 0, 0, 1, 0, head, len(rx))
    return regs + rx + b"\0" * (8192 - len(rx))

def virtio(queues, status=15, failed=0):
    s = struct.pack("<6IQII", status, 0, 0, 0, 0, 0, 1 << 32, failed, len(queues))
    for num, ready, desc, avail, used, last, uidx in queues + [(0,) * 7] * (4 - len(queues)):
        s += struct.pack("<IIQQQHHI", num, ready, desc, avail, used, last, uidx, 0)
    return s

def desc(addr, ln, flags, nxt):
    return struct.pack("<QIHH", addr, ln, flags, nxt)

def ram():
    r = bytearray(0xA00)
    r[0x100:0x110] = desc(0x800, 64, 2, 0)                       # rng: one writable buffer
    r[0x200:0x206] = struct.pack("<HHH", 0, 1, 0)
    r[0x400:0x420] = desc(0x900, 16, 1, 1) + desc(0x910, 1, 2, 0)  # blk: header + status
    r[0x500:0x506] = struct.pack("<HHH", 0, 1, 0)
    r[0x900:0x910] = struct.pack("<IIQ", 0, 0, 0)
    return bytes(r)

def initchan(have=0, hdr=b"\0\0\0\0", payload=b""):
    return [section(ST_DEV_INITCHAN, 0, struct.pack("<I", have)), section(ST_DEV_INITCHAN, 1, hdr),
            section(ST_DEV_INITCHAN, 2, payload + b"\0" * (4097 - len(payload)))]

def main():
    os.makedirs(OUT, exist_ok=True)
    rng = virtio([(4, 1, 0x100, 0x200, 0x300, 0, 0)])
    blk = virtio([(4, 1, 0x400, 0x500, 0x600, 0, 0)])
    full = state(section(ST_DEV_SERIAL, 0, serial(b"hello", ier=1)), section(ST_DEV_SERIAL, 1, serial()),
                 section(ST_DEV_VIRTIO, 0, rng), section(ST_DEV_VIRTIO, 1, blk),
                 section(ST_DEV_VSOCK, 0, struct.pack("<I", 1 << 30)),
                 *initchan(6, bytes([2, 0, 10, 0]), b"ab"), section(FUZZ_TAG_RAM, 0, ram()))
    seeds = {
        "full": full,
        "wrapped_rings": state(section(ST_DEV_VIRTIO, 0, virtio([(4, 1, 0x100, 0x200, 0x300, 0xffff, 0xffff)])),
                               section(FUZZ_TAG_RAM, 0, ram())),
        "not_ready": state(section(ST_DEV_VIRTIO, 1, virtio([(4, 0, 0xfffff000, 0, 0, 0, 0)]))),
        "serial_full_queue": state(section(ST_DEV_SERIAL, 1, serial(b"x" * 8192, ier=3))),
        "initchan_header": state(*initchan(2, bytes([5, 0, 0, 0]))),
        "truncated": full[:1000],
        "empty": state(),
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)

if __name__ == "__main__":
    main()

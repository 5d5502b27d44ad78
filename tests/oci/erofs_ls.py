#!/usr/bin/env python3
"""List an uncompressed EROFS image like `unsquashfs -lln` (prefix "root"),
or with --xattrs one "path key value" line per xattr.  An independent reader
of the on-disk format (Linux 6.1 fs/erofs/erofs_fs.h, docs/images.md §3.1),
for tests that cannot mount: FLAT_PLAIN / FLAT_INLINE data, compact and
extended inodes, inline xattrs."""
import stat
import struct
import sys
import time

PREFIXES = {1: "user.", 2: "system.posix_acl_access", 3: "system.posix_acl_default",
            4: "trusted.", 6: "security."}


class Image:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.b = f.read()
        (magic, _csum, _compat, bits, _ext, self.root, _inos, self.btime, _bns,
         _blocks, self.meta, _xattr) = struct.unpack_from("<IIIBBHQQIIII", self.b, 1024)
        if magic != 0xE0F5E1E2:
            sys.exit("not an erofs image")
        self.bs = 1 << bits

    def inode(self, nid):
        off = self.meta * self.bs + nid * 32
        fmt, xcount = struct.unpack_from("<HH", self.b, off)
        i = {"nid": nid, "off": off, "layout": (fmt >> 1) & 7}
        if fmt & 1:
            (_, _, i["mode"], _, i["size"], i["u"], _, i["uid"], i["gid"], i["mtime"], _,
             i["nlink"]) = struct.unpack_from("<HHHHQIIIIQII", self.b, off)
            i["isize"] = 64
        else:
            (_, _, i["mode"], i["nlink"], i["size"], _, i["u"], _, i["uid"],
             i["gid"]) = struct.unpack_from("<HHHHIIIIHH", self.b, off)
            i["mtime"], i["isize"] = self.btime, 32
        i["xsize"] = 12 + 4 * (xcount - 1) if xcount else 0
        return i

    def data(self, i):
        size, bs, start = i["size"], self.bs, i["u"] * self.bs
        if i["layout"] == 0:
            return self.b[start:start + size]
        if i["layout"] != 2:
            sys.exit("nid %d: layout %d is not flat" % (i["nid"], i["layout"]))
        full = size // bs * bs
        tail = i["off"] + i["isize"] + i["xsize"]
        return self.b[start:start + full] + self.b[tail:tail + size - full]

    def xattrs(self, i):
        out, p, end = [], i["off"] + i["isize"] + 12, i["off"] + i["isize"] + i["xsize"]
        while i["xsize"] and p < end:
            nlen, idx, vlen = struct.unpack_from("<BBH", self.b, p)
            name = self.b[p + 4:p + 4 + nlen].decode()
            value = self.b[p + 4 + nlen:p + 4 + nlen + vlen]
            out.append((PREFIXES.get(idx, "?%d." % idx) + name, value))
            p += (4 + nlen + vlen + 3) & ~3
        return out

    def entries(self, i):
        d, bs = self.data(i), self.bs
        for at in range(0, len(d), bs):
            blk = d[at:at + bs]
            n = struct.unpack_from("<H", blk, 8)[0] // 12
            for k in range(n):
                nid, nameoff, _ft = struct.unpack_from("<QHB", blk, 12 * k)
                end = struct.unpack_from("<H", blk, 12 * (k + 1) + 8)[0] if k + 1 < n else len(blk)
                yield blk[nameoff:end].split(b"\0")[0].decode("utf-8", "surrogateescape"), nid


def line(img, path, i):
    mode = i["mode"]
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        dev = i["u"]
        size = "%d,%4d" % ((dev >> 8) & 0xfff, (dev & 0xff) | ((dev >> 12) & 0xfff00))
    else:
        size = str(i["size"])
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(i["mtime"]))
    s = "%s %d/%d %16s %s root%s" % (stat.filemode(mode), i["uid"], i["gid"], size, when, path)
    if stat.S_ISLNK(mode):
        s += " -> " + img.data(i).decode("utf-8", "surrogateescape")
    return s


def walk(img, nid, path, xattrs):
    i = img.inode(nid)
    if xattrs:
        for k, v in img.xattrs(i):
            print(path or "/", k, v.decode("utf-8", "backslashreplace"))
    else:
        print(line(img, path, i))
    if stat.S_ISDIR(i["mode"]):
        for name, child in sorted(img.entries(i)):
            if name not in (".", ".."):
                walk(img, child, path + "/" + name, xattrs)


def main():
    args = [a for a in sys.argv[1:] if a != "--xattrs"]
    img = Image(args[0])
    walk(img, img.root, "", "--xattrs" in sys.argv)


if __name__ == "__main__":
    main()

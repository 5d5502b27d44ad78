#!/usr/bin/env python3
"""Build test images as OCI image layouts, from local files only.

    mkimage.py KIND DIR [TAG]

KIND:
  busybox    base layer (gzip): /bin/busybox from busybox-static + applet
             links; second layer (zstd): whiteout, opaque dir, hard link,
             symlinks (one pointing outside), setuid, uid/gid 0 and 1000,
             a device node, xattr
  multiarch  an index with linux/arm64 (bogus) and linux/amd64 (= busybox)
  big MB     layers of random and compressible files, about MB megabytes
  rootfs N   N layers (N >= 2) for booting into: busybox base with user
             'app' (1234:1234, also in group staff 50), /shadow and /layers/K in layer K (layer 2
             shadows /shadow), layer 2 whites out /etc/gone and makes
             /opt/old opaque; config User app, WorkingDir /home/app
  dotdot     one layer with a '../escape' entry
  absolute   one layer with an '/etc/abs' entry
  badlink    one layer with a hard link to a file not in the layer

    mkimage.py docker-save LAYOUT OUT.tar

writes the layout's (single-platform) image as `docker save` does:
manifest.json, <id>.json config, <id>/layer.tar uncompressed layers (skopeo
cannot put zstd layers in a docker-archive).
"""
import gzip, hashlib, io, json, os, random, subprocess, sys, tarfile

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = {"gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
            "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
            "none": "application/vnd.oci.image.layer.v1.tar"}
MTIME = 1700000000


class Layout:
    def __init__(self, root):
        self.root = root
        os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(root, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)

    def blob(self, data, media_type):
        h = hashlib.sha256(data).hexdigest()
        with open(os.path.join(self.root, "blobs", "sha256", h), "wb") as f:
            f.write(data)
        return {"mediaType": media_type, "digest": "sha256:" + h, "size": len(data)}

    def index(self, manifests):
        with open(os.path.join(self.root, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": manifests}, f)


class Tar:
    def __init__(self):
        self.buf = io.BytesIO()
        self.t = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)

    def add(self, name, kind=tarfile.REGTYPE, data=b"", mode=0o644, uid=0, gid=0,
            link="", major=0, minor=0, pax=None):
        i = tarfile.TarInfo(name)
        i.type, i.mode, i.uid, i.gid, i.mtime = kind, mode, uid, gid, MTIME
        i.linkname, i.devmajor, i.devminor = link, major, minor
        i.size = len(data) if kind == tarfile.REGTYPE else 0
        if pax:
            i.pax_headers = pax
        self.t.addfile(i, io.BytesIO(data) if kind == tarfile.REGTYPE else None)

    def dir(self, name, mode=0o755, uid=0, gid=0):
        self.add(name, tarfile.DIRTYPE, mode=mode, uid=uid, gid=gid)

    def raw(self):
        self.t.close()
        return self.buf.getvalue()


def compress(raw, how):
    if how == "gzip":
        return gzip.compress(raw, mtime=0)
    if how == "zstd":
        return subprocess.run(["zstd", "-q", "-c"], input=raw, stdout=subprocess.PIPE, check=True).stdout
    return raw


def image(lay, layers, config=None, arch="amd64"):
    """layers: [(raw_tar, compression)] -> manifest descriptor."""
    descs, diff_ids = [], []
    for raw, how in layers:
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        descs.append(lay.blob(compress(raw, how), MT_LAYER[how]))
    cfg = {"architecture": arch, "os": "linux",
           "config": config or {}, "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    cdesc = lay.blob(json.dumps(cfg).encode(), MT_CONFIG)
    man = {"schemaVersion": 2, "mediaType": MT_MANIFEST, "config": cdesc, "layers": descs}
    d = lay.blob(json.dumps(man).encode(), MT_MANIFEST)
    d["platform"] = {"os": "linux", "architecture": arch}
    return d


def busybox_layers():
    base = Tar()
    for d in ("bin", "etc", "tmp", "home", "home/user", "opt", "opt/old", "var"):
        base.dir(d, mode=0o1777 if d == "tmp" else 0o755)
    with open("/bin/busybox", "rb") as f:
        base.add("bin/busybox", data=f.read(), mode=0o755)
    for applet in ("sh", "ls", "cat", "echo"):
        base.add("bin/" + applet, tarfile.SYMTYPE, link="busybox", mode=0o777)
    base.add("etc/passwd", data=b"root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n")
    base.add("etc/gone", data=b"deleted in the next layer\n")
    base.add("opt/old/file", data=b"hidden by the opaque dir\n")

    top = Tar()
    top.dir("etc")
    top.add("etc/.wh.gone")
    top.dir("opt/old")
    top.add("opt/old/.wh..wh..opq")
    top.add("opt/old/new", data=b"new\n")
    top.add("home/user/notes", data=b"mine\n" * 1000, uid=1000, gid=1000, mode=0o600)
    top.add("bin/suid", data=b"#!/bin/sh\n", mode=0o4755)
    top.add("bin/suid-link", tarfile.LNKTYPE, link="bin/suid")
    top.add("etc/escape", tarfile.SYMTYPE, link="../../../../etc/shadow", mode=0o777)
    top.add("dev/null", tarfile.CHRTYPE, major=1, minor=3, mode=0o666)
    top.add("etc/xattr", data=b"x", pax={"SCHILY.xattr.user.test": "yes"})
    return [(base.raw(), "gzip"), (top.raw(), "zstd")]


BUSYBOX_CONFIG = {"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo hello"],
                  "Env": ["PATH=/bin", "GREETING=hi"], "WorkingDir": "/home/user",
                  "User": "1000:1000", "ExposedPorts": {"8080/tcp": {}}}


def app_base(dirs, applets, world=("tmp",)):
    """A busybox base layer: dirs, /bin/busybox and its applets, users root and app (1234)."""
    base = Tar()
    for d in dirs:
        base.dir(d, mode=0o1777 if d in world else 0o755)
    base.dir("home/app", uid=1234, gid=1234)
    with open("/bin/busybox", "rb") as f:
        base.add("bin/busybox", data=f.read(), mode=0o755)
    for applet in applets:
        base.add("bin/" + applet, tarfile.SYMTYPE, link="busybox", mode=0o777)
    base.add("etc/passwd", data=b"root:x:0:0:root:/root:/bin/sh\napp:x:1234:1234::/home/app:/bin/sh\n")
    base.add("etc/group", data=b"root:x:0:\napp:x:1234:\nstaff:x:50:app\n")
    return base


def numbered_layer(k):
    """A tiny layer adding /layers/K (an image's K-th layer is visible)."""
    t = Tar()
    t.dir("layers")
    t.add("layers/%d" % k, data=b"%d\n" % k)
    return t


def rootfs_layers(n):
    base = app_base(("bin", "etc", "tmp", "home", "home/app", "opt", "opt/old", "layers"),
                    ("sh", "ls", "cat", "echo", "id", "hostname", "pwd", "sleep", "sync", "od", "head", "test", "wc"))
    base.add("etc/gone", data=b"deleted in layer 2\n")
    base.add("opt/old/file", data=b"hidden by the opaque dir\n")
    base.add("shadow", data=b"layer1\n")
    base.add("layers/1", data=b"1\n")
    layers = [(base.raw(), "gzip")]
    for k in range(2, n + 1):
        t = numbered_layer(k)
        if k == 2:
            t.add("shadow", data=b"layer2\n")
            t.dir("etc")
            t.add("etc/.wh.gone")
            t.dir("opt/old")
            t.add("opt/old/.wh..wh..opq")
            t.add("opt/old/new", data=b"new\n")
        layers.append((t.raw(), "none"))
    return layers


ROOTFS_CONFIG = {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin", "GREETING=hi"],
                 "WorkingDir": "/home/app", "User": "app"}


WEB_START = b"""#!/bin/sh
# what the workload sees, served as /info; then the server itself
{ echo "args:$*"; echo "user:$(id -u):$(id -g)"; echo "groups:$(id -G)"; echo "pwd:$(pwd)"; echo "host:$(hostname)"
  env | sort | sed 's/^/env:/'; } > /www/info
echo "web-start: serving /www on 8080 (args: $*)"
echo "web-start: to stderr" >&2
exec httpd -f -v -p 8080 -h /www
"""


def web_layers(n):
    """busybox httpd serving /www on 8080 (entrypoint /bin/web-start writes
    /www/info first), then n-1 tiny layers, each adding /layers/K."""
    base = app_base(("bin", "etc", "tmp", "home", "home/app", "layers", "www", "data", "root"),
                    ("sh", "ls", "cat", "echo", "id", "hostname", "pwd", "sleep", "sync", "od", "head", "test",
                     "wc", "env", "sort", "sed", "httpd", "date", "true", "false", "kill", "ps", "grep", "rm", "mkdir",
                     "uname", "nproc", "free", "df"), world=("tmp", "www"))
    base.add("bin/web-start", data=WEB_START, mode=0o755)
    base.add("www/index.html", data=b"<h1>hello from the web image</h1>\n")
    base.add("layers/1", data=b"1\n")
    layers = [(base.raw(), "gzip")]
    for k in range(2, n + 1):
        layers.append((numbered_layer(k).raw(), "none"))
    return layers


WEB_CONFIG = {"Entrypoint": ["/bin/web-start"], "Cmd": ["default-cmd"], "Env": ["PATH=/bin", "GREETING=hi"],
              "WorkingDir": "/www", "ExposedPorts": {"8080/tcp": {}}}


def one_bad_layer(kind):
    t = Tar()
    if kind == "dotdot":
        t.add("ok", data=b"ok")
        t.add("../escape", data=b"bad")
    elif kind == "absolute":
        t.add("/etc/abs", data=b"bad")
    elif kind == "badlink":
        t.add("link", tarfile.LNKTYPE, link="not/here")
    return [(t.raw(), "gzip")]


def big_layers(mb):
    rnd = random.Random(42)
    layers, per = [], 8
    total = mb << 20
    for li in range(max(1, total // (per << 20))):
        t = Tar()
        t.dir("data%d" % li)
        for fi in range(per):
            if fi % 2:
                data = rnd.randbytes(1 << 20)                     # incompressible
            else:
                data = (b"supermachine %d " % fi) * (1 << 16)     # compressible
            t.add("data%d/f%d" % (li, fi), data=data[: 1 << 20])
        layers.append((t.raw(), "gzip"))
    return layers


def decompress(data):
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return subprocess.run(["zstd", "-q", "-d", "-c"], input=data, stdout=subprocess.PIPE, check=True).stdout
    return data


def docker_save(layout, out):
    def blob(d):
        with open(os.path.join(layout, "blobs", "sha256", d["digest"][7:]), "rb") as f:
            return f.read()
    index = json.load(open(os.path.join(layout, "index.json")))
    man = json.loads(blob(index["manifests"][0]))
    t = Tar()
    cfg = blob(man["config"])
    cfg_name = man["config"]["digest"][7:] + ".json"
    t.add(cfg_name, data=cfg)
    names = []
    for l in man["layers"]:
        raw = decompress(blob(l))
        lid = hashlib.sha256(raw).hexdigest()
        t.dir(lid)
        t.add(lid + "/layer.tar", data=raw)
        names.append(lid + "/layer.tar")
    t.add("manifest.json", data=json.dumps([{"Config": cfg_name, "RepoTags": ["test/busybox:1"],
                                             "Layers": names}]).encode())
    with open(out, "wb") as f:
        f.write(t.raw())


def main():
    kind, root = sys.argv[1], sys.argv[2]
    if kind == "docker-save":
        return docker_save(root, sys.argv[3])
    tag = sys.argv[3] if len(sys.argv) > 3 and kind not in ("big", "rootfs", "web") else "1"
    lay = Layout(root)
    if kind == "busybox":
        d = image(lay, busybox_layers(), BUSYBOX_CONFIG)
    elif kind == "multiarch":
        arm = image(lay, [(Tar().raw(), "gzip")], {"Cmd": ["arm"]}, arch="arm64")
        amd = image(lay, busybox_layers(), BUSYBOX_CONFIG)
        d = lay.blob(json.dumps({"schemaVersion": 2, "mediaType": MT_INDEX,
                                 "manifests": [arm, amd]}).encode(), MT_INDEX)
    elif kind == "rootfs":
        d = image(lay, rootfs_layers(max(2, int(sys.argv[3]))), ROOTFS_CONFIG)
    elif kind == "web":
        d = image(lay, web_layers(int(sys.argv[3]) if len(sys.argv) > 3 else 2), WEB_CONFIG)
    elif kind == "big":
        d = image(lay, big_layers(int(sys.argv[3])), {"Cmd": ["/bin/true"]})
    else:
        d = image(lay, one_bad_layer(kind), {})
    d.pop("platform", None)
    d["annotations"] = {"org.opencontainers.image.ref.name": tag}
    lay.index([d])


if __name__ == "__main__":
    main()

-- Integration: sm pull against REAL servers on 127.0.0.1 — Debian's
-- docker-registry (open, and with token auth from tests/oci/token_server.py),
-- a lying registry (tests/oci/hostile_registry.py) — plus the three local
-- transports.  Images are built locally by tests/oci/mkimage.py and pushed
-- with skopeo.  docs/images.md is the reference for what is checked.
local ROOT = os.getenv("SM_ROOT") or "."
local SM = os.getenv("SM_BIN") or (ROOT .. "/build/sm")
local OCI = ROOT .. "/tests/oci"

local sh = require("support.run").combined

local function must(cmd)
  local out, rc = sh(cmd)
  assert(rc == 0, cmd .. " failed (" .. tostring(rc) .. "):\n" .. out)
  return out
end

local tmp, env, port, tport, hport
local function sm(args, extra)
  return sh(env .. (extra or "") .. " timeout 60 " .. SM .. " " .. args)
end

-- One layer image listed like `unsquashfs -lln`, paths under "root/":
-- erofs by tests/oci/erofs_ls.py (an independent reader of the format).
local function layer_listing(l)
  if l.format == "squashfs" then
    return (must("unsquashfs -lln " .. l.image):gsub("squashfs%-root", "root"))
  end
  assert.are.equal("erofs", l.format)
  must("fsck.erofs " .. l.image)
  return must("python3 " .. OCI .. "/erofs_ls.py " .. l.image)
end

-- Every file in every layer image of a pulled image, in order.
local function rootfs_listing(name)
  local out = must(env .. SM .. " images --pulled --format json")
  local list = require("cjson").decode(out)
  for _, e in ipairs(list) do
    if e.name == name then
      local parts = {}
      for _, l in ipairs(e.layers) do
        parts[#parts + 1] = layer_listing(l)
      end
      return table.concat(parts, "--\n"), e
    end
  end
  error("image " .. name .. " not in `sm images`")
end

-- docs/images.md §3: what the busybox test image's two layers must hold.
local function check_busybox(listing)
  local bb = must("stat -c %s /bin/busybox"):gsub("%s+", "")
  assert.matches("%-rwxr%-xr%-x 0/0%s+" .. bb .. " [%d%-: ]+ root/bin/busybox\n", listing)
  assert.matches("root/bin/sh %-> busybox", listing)
  assert.matches("c%-%-%-%-%-%-%-%-%- 0/0%s+0,%s+0 [%d%-: ]+ root/etc/gone\n", listing)
  assert.matches("%-rwsr%-xr%-x 0/0%s+10 [%d%-: ]+ root/bin/suid\n", listing)
  assert.matches("root/bin/suid%-link\n", listing)
  assert.matches("%-rw%-%-%-%-%-%-%- 1000/1000%s+5000 [%d%-: ]+ root/home/user/notes\n", listing)
  assert.matches("crw%-rw%-rw%- 0/0%s+1,%s+3 [%d%-: ]+ root/dev/null\n", listing)
  assert.matches("root/etc/escape %-> %.%./%.%./%.%./%.%./etc/shadow", listing)
  assert.is_nil(listing:find(".wh.", 1, true))
end

local function skopeo(src, dst, creds)
  must("timeout 60 skopeo copy -q --dest-tls-verify=false " .. (creds or "") .. " " .. src .. " " .. dst)
end

setup(function()
  tmp = must("mktemp -d /tmp/sm-oci-it.XXXXXX"):gsub("%s+$", "")
  env = string.format("SM_CACHE_DIR=%s/cache XDG_DATA_HOME=%s/data DOCKER_CONFIG=%s/docker ", tmp, tmp, tmp)
  must("mkdir -p " .. tmp .. "/docker")
  for _, kind in ipairs({ "busybox", "multiarch", "dotdot", "absolute", "badlink" }) do
    must("python3 " .. OCI .. "/mkimage.py " .. kind .. " " .. tmp .. "/" .. kind .. " 1")
  end
  port = must(OCI .. "/registry.sh start " .. tmp .. "/reg open"):match("(%d+)%s*$")
  tport = must(OCI .. "/registry.sh start " .. tmp .. "/treg token"):match("(%d+)%s*$")
  must("setsid python3 " .. OCI .. "/hostile_registry.py " .. tmp .. "/hport </dev/null >/dev/null 2>&1 & echo $! > " .. tmp .. "/hpid")
  for _ = 1, 100 do
    local f = io.open(tmp .. "/hport")
    hport = f and f:read("a")
    if f then f:close() end
    if hport and hport:match("^%d+$") then break end
    must("sleep 0.1")
  end
  local reg = "docker://127.0.0.1:" .. port .. "/test/"
  skopeo("oci:" .. tmp .. "/busybox:1", reg .. "busybox:1")
  skopeo("--all oci:" .. tmp .. "/multiarch:1", reg .. "multi:1")
  for _, kind in ipairs({ "dotdot", "absolute", "badlink" }) do
    skopeo("oci:" .. tmp .. "/" .. kind .. ":1", reg .. kind .. ":1")
  end
  skopeo("oci:" .. tmp .. "/busybox:1", "docker://127.0.0.1:" .. tport .. "/test/busybox:1", "--dest-creds tester:secret")
  skopeo("oci:" .. tmp .. "/busybox:1", "oci-archive:" .. tmp .. "/busybox.tar:1")
  must("python3 " .. OCI .. "/mkimage.py docker-save " .. tmp .. "/busybox " .. tmp .. "/busybox-docker.tar")
end)

teardown(function()
  if not tmp then return end
  sh(OCI .. "/registry.sh stop " .. tmp .. "/reg")
  sh(OCI .. "/registry.sh stop " .. tmp .. "/treg")
  sh("kill $(cat " .. tmp .. "/hpid)")
  sh("rm -rf " .. tmp)
end)

describe("sm pull from a registry", function()
  it("pulls localhost:PORT/test/busybox:1 and converts both layers", function()
    local out, rc = sm("pull --no-bake localhost:" .. port .. "/test/busybox:1")
    assert.are.equal(0, rc, out)
    assert.matches("2 layers", out)
    local listing, e = rootfs_listing("localhost:" .. port .. "/test/busybox:1")
    check_busybox(listing)
    assert.matches("/layers/%x+%.erofs$", e.layers[1].image)
    assert.are.equal("application/vnd.oci.image.layer.v1.tar+gzip", e.layers[1].media_type)
    assert.are.equal("application/vnd.oci.image.layer.v1.tar+zstd", e.layers[2].media_type)
    assert.are.same({ "/bin/sh", "-c" }, e.config.entrypoint)
    assert.are.same({ "echo hello" }, e.config.cmd)
    assert.are.same({ "8080/tcp" }, e.config.ports)
    assert.are.equal("1000:1000", e.config.user)
    assert.are.equal("/home/user", e.config.workdir)
  end)

  it("keeps the opaque directory xattr (trusted.overlay.opaque=y)", function()
    local _, e = rootfs_listing("localhost:" .. port .. "/test/busybox:1")
    local out = must("python3 " .. OCI .. "/erofs_ls.py --xattrs " .. e.layers[2].image)
    assert.matches("/opt/old trusted.overlay.opaque y", out)
    assert.matches("/etc/xattr user.test yes", out)
  end)

  it("picks linux/amd64 from a multi-arch index", function()
    local out, rc = sm("pull --no-bake 127.0.0.1:" .. port .. "/test/multi:1")
    assert.are.equal(0, rc, out)
    local _, e = rootfs_listing("127.0.0.1:" .. port .. "/test/multi:1")
    local _, bb = rootfs_listing("localhost:" .. port .. "/test/busybox:1")
    assert.are.equal(bb.digest, e.digest)
    assert.are.same({ "echo hello" }, e.config.cmd)
  end)

  it("needs credentials for a token-auth registry and says so", function()
    local out, rc = sm("pull --no-bake 127.0.0.1:" .. tport .. "/test/busybox:1")
    assert.are.equal(1, rc, out)
    assert.matches("requires a login", out)
    must(string.format("printf '{\"auths\":{\"127.0.0.1:%s\":{\"auth\":\"%s\"}}}' > %s/docker/config.json",
      tport, must("printf tester:wrong | base64"):gsub("%s", ""), tmp))
    out, rc = sm("pull --no-bake 127.0.0.1:" .. tport .. "/test/busybox:1")
    assert.are.equal(1, rc, out)
    assert.matches("refused the credentials", out)
  end)

  it("pulls from a token-auth registry with credentials from the docker config", function()
    must(string.format("printf '{\"auths\":{\"127.0.0.1:%s\":{\"auth\":\"%s\"}}}' > %s/docker/config.json",
      tport, must("printf tester:secret | base64"):gsub("%s", ""), tmp))
    local out, rc = sm("pull --no-bake -q 127.0.0.1:" .. tport .. "/test/busybox:1", " SM_CACHE_DIR=" .. tmp .. "/cache-token")
    assert.are.equal(0, rc, out)
    assert.matches("^sha256:%x+", out)
    must("rm " .. tmp .. "/docker/config.json")
  end)

  it("fails clearly when the registry is not there", function()
    local out, rc = sm("pull --no-bake 127.0.0.1:1/none:1")
    assert.are.equal(1, rc, out)
    assert.matches("sm pull: GET http://127.0.0.1:1/v2/none/manifests/1", out)
  end)

  it("fails clearly for an unknown tag", function()
    local out, rc = sm("pull --no-bake localhost:" .. port .. "/test/busybox:nope")
    assert.are.equal(1, rc, out)
    assert.matches("not found", out)
  end)
end)

describe("local transports", function()
  local registry_listing
  before_each(function()
    registry_listing = registry_listing or rootfs_listing("localhost:" .. port .. "/test/busybox:1")
  end)

  for _, src in ipairs({ "oci-layout:%s/busybox:1", "oci-archive:%s/busybox.tar:1", "docker-archive:%s/busybox-docker.tar" }) do
    it("gives the same rootfs from " .. src:match("^[%w%-]+"), function()
      local name = src:format(tmp)
      local out, rc = sm("pull --no-bake " .. name)
      assert.are.equal(0, rc, out)
      local listing, e = rootfs_listing(name)
      assert.are.equal(registry_listing, listing)
      assert.are.same({ "echo hello" }, e.config.cmd)
    end)
  end

  it("refuses a missing layout tag", function()
    local out, rc = sm("pull --no-bake oci-layout:" .. tmp .. "/busybox:2")
    assert.are.equal(1, rc, out)
    assert.matches("no image tagged '2'", out)
  end)
end)

describe("hostile input", function()
  local function refused(ref, pattern)
    local out, rc = sm("pull --no-bake " .. ref)
    assert.are.equal(1, rc, out)
    assert.matches(pattern, out)
  end

  it("refuses a layer with a '..' entry", function()
    refused("localhost:" .. port .. "/test/dotdot:1", "'%.%./escape' has a '%.%.' component")
  end)
  it("refuses a layer with an absolute path", function()
    refused("localhost:" .. port .. "/test/absolute:1", "'/etc/abs' has an absolute path")
  end)
  it("refuses a hard link to a file not in the layer", function()
    refused("localhost:" .. port .. "/test/badlink:1", "hard link to a file that is not in this layer")
  end)
  it("refuses a manifest over 4 MiB", function()
    refused("127.0.0.1:" .. hport .. "/big:1", "larger than 4 MiB")
  end)
  it("refuses malformed manifest JSON", function()
    refused("127.0.0.1:" .. hport .. "/malformed:1", "malformed JSON")
  end)
  it("refuses a blob whose content does not match its digest", function()
    refused("127.0.0.1:" .. hport .. "/mismatch:1", "digest mismatch")
  end)
  it("refuses a manifest the registry mislabels", function()
    refused("127.0.0.1:" .. hport .. "/baddigest:1", "manifest digest mismatch")
  end)

  it("left nothing usable or stray: no bad blobs, no layer images, no temp files, nothing outside the cache", function()
    local out = must("ls -A " .. tmp .. "/cache/tmp")
    assert.are.equal("", out)
    local layers = must("ls " .. tmp .. "/cache/layers | wc -l"):gsub("%s", "")
    -- busybox's two, plus the docker-archive's two (uncompressed, other digests);
    -- the refused layers have none
    assert.are.equal("4", layers)
    assert.are.equal("", must("find " .. tmp .. " /tmp -maxdepth 3 -name escape -o -maxdepth 3 -name abs 2>/dev/null | grep -v '^" .. tmp .. "/\\(dotdot\\|absolute\\)' || true"))
    -- every blob in the cache hashes to its name
    must("cd " .. tmp .. "/cache/blobs/sha256 && for f in *; do echo \"$f  $f\"; done | sha256sum -c --quiet")
  end)
end)

describe("sm images / sm rmi", function()
  it("lists and removes images", function()
    local out = must(env .. SM .. " images --pulled")
    assert.matches("NAME%s+DIGEST%s+LAYERS%s+SIZE%s+PULLED", out)
    assert.matches("localhost:" .. port .. "/test/busybox:1", out)
    local rc
    out, rc = sm("rmi --pulled localhost:" .. port .. "/test/busybox:1")
    assert.are.equal(0, rc, out)
    out = must(env .. SM .. " images --pulled")
    assert.is_nil(out:find("localhost:" .. port .. "/test/busybox:1", 1, true))
    out, rc = sm("rmi --pulled localhost:" .. port .. "/test/busybox:1")
    assert.are.equal(1, rc, out)
    assert.matches("no image", out)
  end)
end)

describe("SM_LAYER_FORMAT=squashfs", function()
  it("writes squashfs layer images instead, with the same contents", function()
    local out, rc = sm("pull --no-bake oci-archive:" .. tmp .. "/busybox.tar:1", "SM_LAYER_FORMAT=squashfs")
    assert.are.equal(0, rc, out)
    local listing, e = rootfs_listing("oci-archive:" .. tmp .. "/busybox.tar:1")
    assert.are.equal("squashfs", e.layers[1].format)
    assert.matches("/layers/%x+%.sqfs$", e.layers[1].image)
    check_busybox(listing)
    out = must("sqfs2tar " .. e.layers[2].image .. " | python3 -c \"import tarfile,sys; t=tarfile.open(fileobj=sys.stdin.buffer,mode='r|');"
      .. " [print(m.name, k, v) for m in t for k, v in m.pax_headers.items()]\"")
    assert.matches("opt/old SCHILY.xattr.trusted.overlay.opaque y", out)
  end)
  it("refuses a format it does not know", function()
    local out, rc = sm("pull --no-bake oci-archive:" .. tmp .. "/busybox.tar:1", "SM_LAYER_FORMAT=ext4")
    assert.are.equal(1, rc, out)
    assert.matches("neither erofs nor squashfs", out)
  end)
end)

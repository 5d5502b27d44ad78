-- sm.bake: turn an OCI image into a snapshot that workers are restored from.
--
--   local snap = bake.ensure(r)   -- r: validated `sm run` options (sm.run.options)
--   snap = { name=, dir=, meta=, baked = true|false }
--
-- Pipeline (docs/run.md §2): pull per r.pull → restore the boot snapshot
-- with the image's layer images attached read-only → guest init stacks
-- them with overlayfs and moves into it → the run config (Docker
-- semantics) → the workload starts → wait until the guest port accepts →
-- settle → snapshot.  With volumes the snapshot is taken before the
-- workload starts ("ready" point): a volume's filesystem must never be in
-- a snapshot's memory, so each restore mounts the volumes and then starts
-- the workload.
--
-- A snapshot directory <snapshots>/<name>/ holds vm/ (the VM snapshot,
-- docs/snapshot-format.md) and bake.json (what was baked and how).  It is
-- built under a temporary name and renamed into place complete.  The bake
-- key hashes everything that changes the snapshot; a snapshot whose key
-- matches is reused.
local core = require "sm.core"
local errors = require "sm.errors"
local oci = require "sm.oci"
local steps = require "sm.bake.steps"
local cjson = require "cjson"

local M = {}

M.FORMAT = 2			-- bake.json's version; bump when its meaning changes (2: recipes)
M.SETTLE_S = 0.3		-- after the port accepts: let the workload finish warming up

local util = require "sm.util"
local env, data_home = util.env, util.data_home

local trace = util.run_trace

function M.snapshots_dir(r)
  local dir = (r and r.snapshots_dir) or env("SM_SNAPSHOTS") or (data_home() .. "/sm/snapshots")
  local ok, err = core.fs.mkdir_p(dir, tonumber("700", 8))
  if not ok then errors.fail("snapshots directory: " .. tostring(err) .. " — set --snapshots-dir or SM_SNAPSHOTS") end
  return dir
end

-- ---- the image ----

local function pull_hint(err)
  if err:find("—", 1, true) then return "" end
  if err:find("not found", 1, true) or err:find("404", 1, true) then return " — check the image name and tag" end
  return ""
end

-- The image record per the pull policy.
function M.image(r)
  local t0 = core.sys.monotime()
  local img, err
  -- a local source is read again every time (it may have changed; the
  -- layer cache keeps that cheap); a registry is asked only per the policy
  if r.pull ~= "always" and not oci.is_local(r.image) then img = oci.inspect(r.image) end
  if img then
    trace("pull: %s already present (%s)", r.image, img.digest)
    return img
  end
  if r.pull == "never" then
    errors.fail(string.format("image %s is not pulled and --pull never forbids it — `sm pull %s` or --pull missing", r.image, r.image))
  end
  img, err = oci.pull(r.image, { insecure = r.insecure })
  if not img then errors.fail(string.format("pulling %s: %s%s", r.image, err, pull_hint(err))) end
  trace("pull %.1f ms (%s, %d layers)", (core.sys.monotime() - t0) * 1e3, img.digest, #img.layers)
  return img
end

-- ---- the run config: image config + flags, Docker's rules ----

local function first_port(ports)
  for _, p in ipairs(ports or {}) do
    local n = math.tointeger(tonumber(p:match("^(%d+)")))
    if n and n >= 1 and n <= 65535 and not p:find("/udp") then return n end
  end
end

function M.run_config(img, r)
  -- a recipe's env/workdir/user steps act on the image's config, as in a Dockerfile
  local c = steps.config(img.config or {}, r.recipe and r.recipe.bake)
  -- --entrypoint replaces ENTRYPOINT and drops the image's CMD unless --cmd is given
  local given = r.entrypoint_argv or (r.entrypoint and (r.entrypoint == "" and {} or { r.entrypoint }))
  local entry = given or c.entrypoint or {}
  local cmd = r.cmd or (given and {} or c.cmd or {})
  local argv = table.move(cmd, 1, #cmd, #entry + 1, table.move(entry, 1, #entry, 1, {}))
  if #argv == 0 then
    errors.fail(string.format("image %s has no ENTRYPOINT or CMD — give one with --cmd '[\"prog\",\"arg\"]' or --entrypoint", r.image))
  end
  local envs = table.move(c.env or {}, 1, #(c.env or {}), 1, {})
  table.move(r.env, 1, #r.env, #envs + 1, envs)	-- later entries win, in the guest as in Docker
  return {
    argv = argv, env = envs,
    workdir = r.workdir or (c.workdir ~= "" and c.workdir) or "/",
    user = r.user or (c.user ~= "" and c.user) or "",
    hostname = r.hostname or M.default_hostname(r),
    port = r.guest_port or first_port(c.ports) or 80,
  }
end

-- The snapshot's name, as a hostname.
function M.default_hostname(r)
  return ((r.name or require("sm.run").snapshot_name(r.image)):gsub("[^%w%-]", "-"):sub(1, 63))
end

-- ---- volumes: named ones live in $XDG_DATA_HOME/sm/volumes/NAME.img ----

M.VOLUME_BYTES = 1 << 30

function M.volume_path(v)
  if v.path then return v.path end
  local dir = data_home() .. "/sm/volumes"
  local ok, err = core.fs.mkdir_p(dir, tonumber("700", 8))
  if not ok then errors.fail("volumes directory: " .. tostring(err)) end
  return dir .. "/" .. v.name .. ".img"
end

-- A named volume is made on first use: 1 GiB sparse, ext4, no privilege.
function M.ensure_volume(v)
  local path = M.volume_path(v)
  if core.fs.stat(path) then return path end
  if v.path then errors.fail("volume " .. path .. ": no such file — make it (e.g. mke2fs -t ext4 " .. path .. " 1G) or use a volume name") end
  local tmp = path .. ".tmp"
  local p = core.proc.spawn({ "/sbin/mke2fs", "-q", "-F", "-t", "ext4", "-L", v.name:sub(1, 16), "-E", "root_owner=0:0", tmp,
    tostring(M.VOLUME_BYTES // 1024) .. "k" }, { stdout = "pipe", stderr = "pipe", stdin = "null" })
  local res = p:wait(120)
  if not res or res.code ~= 0 then
    os.remove(tmp)
    errors.fail("formatting volume " .. v.name .. " failed: " .. tostring(res and res.stderr or "timeout") .. " — is e2fsprogs installed?")
  end
  local ok, err = os.rename(tmp, path)
  if not ok then errors.fail("volume " .. path .. ": " .. tostring(err)) end
  return path
end

-- ---- the key and the stored snapshot ----

local function layer_file(l) return l.image end

-- Where the snapshot is taken: "listening" (the default), "ready" (before
-- the workload starts; always with volumes) or a recipe's function.
function M.point(r)
  local p = r.recipe and r.recipe.snapshot
  if #r.volumes > 0 then
    if p and p ~= "ready" then
      errors.usage_error("snapshot = " .. (type(p) == "string" and ('"' .. p .. '"') or type(p)) ..
        " with volumes: a volume's data must never be in a snapshot's memory — use snapshot = \"ready\"")
    end
    return "ready"
  end
  return p or "listening"
end

function M.key(img, cfg, r)
  local vm = require "sm.vm"
  local kernel, initrd = vm.assets()
  -- fixed field order: a Lua table's own order differs between processes
  local parts = { "bake", M.FORMAT, img.digest, cjson.encode(cfg.argv), cjson.encode(cfg.env), cfg.workdir,
    cfg.user, cfg.hostname, cfg.port, r.memory_mib, r.vcpus, r.kernel or kernel, initrd }
  for _, l in ipairs(img.layers) do parts[#parts + 1] = layer_file(l) end
  for _, v in ipairs(r.volumes) do parts[#parts + 1] = v.guest .. (v.readonly and ":ro" or ":rw") end
  local point = M.point(r)
  parts[#parts + 1] = "point " .. (type(point) == "function" and steps.describe(point, r.recipe) or point)
  parts[#parts + 1] = "steps " .. steps.describe(r.recipe and r.recipe.bake, r.recipe)
  if r.egress then parts[#parts + 1] = "egress " .. r.egress .. (r.egress_during_bake and " during bake" or "") end
  for i = 1, #parts do parts[i] = tostring(parts[i]) end
  return core.digest.sha256(table.concat(parts, "\0"))
end

local function read_json(path)
  local s = util.read_file(path)
  if not s then return nil end
  local ok, t = pcall(cjson.decode, s)
  return ok and type(t) == "table" and t or nil
end
M.read_json = read_json

local function write_json(path, t)
  local f = assert(io.open(path, "w"))
  f:write(cjson.encode(t), "\n")
  f:close()
end

-- The stored snapshot NAME in the snapshots dir, if complete.
function M.find(dir, name)
  local meta = read_json(dir .. "/" .. name .. "/bake.json")
  if meta and meta.format == M.FORMAT and core.fs.stat(dir .. "/" .. name .. "/vm/metadata.json") then return meta end
end

-- Every stored snapshot: { name, dir, meta }.
function M.list(r)
  local dir, out = M.snapshots_dir(r), {}
  for _, name in ipairs(core.fs.readdir(dir) or {}) do
    local meta = not name:match("^%.") and M.find(dir, name)
    if meta then out[#out + 1] = { name = name, dir = dir .. "/" .. name, meta = meta } end
  end
  return out
end

-- Which running daemon serves the snapshot directory, if any.
function M.served_by(snapdir)
  for _, d in ipairs(require("sm.run").daemons()) do
    if d.snapshot_dir == snapdir then return d end
  end
end

-- ---- baking ----

local tail = util.tail_lines

-- What a restore of this snapshot needs from sm.vm.restore: the layers
-- again (same slots), and at the ready point the run config and volumes.
function M.restore_options(meta, volumes)
  local o = { rootfs = { layers = {} } }
  for _, l in ipairs(meta.layers) do o.rootfs.layers[#o.rootfs.layers + 1] = l.file end
  if meta.point == "ready" then
    local c = meta.config
    o.argv, o.env = c.argv, c.env
    o.workdir, o.user = c.workdir ~= "" and c.workdir or nil, c.user ~= "" and c.user or nil
    o.volumes = {}
    for i, v in ipairs(meta.volumes or {}) do
      o.volumes[i] = { path = assert(volumes and volumes[i], "volume " .. v.guest .. " has no host side"), target = v.guest }
    end
  end
  return o
end

local function vm_output(v, res)
  res = res or v:wait(0.2) or (v:kill(9) and v:wait(10))
  return res and tail((res.stdout or "") .. (res.stderr or ""), 20) or ""
end

-- Wait until something listens on the guest port; fails with the
-- workload's output if it exits first, or names the port on timeout.
local function wait_listening(v, cfg, r, uds)
  local agent = require "sm.agent"
  local timeout = tonumber(env("SM_BAKE_TIMEOUT") or "120")
  local deadline = core.sys.monotime() + timeout
  repeat
    if agent.listening(uds, cfg.port, 10) then return end
    local res = v:wait(0.2)		-- 0 would not leave it time to drain the captured output
    if res then
      errors.fail(string.format("baking %s: the workload exited (%s) before it listened on guest port %d:\n%s",
        r.image, res.status == "exit" and ("status " .. tostring(res.code)) or tostring(res.message), cfg.port,
        vm_output(v, res)))
    end
    core.sys.sleep(0.1)
  until core.sys.monotime() >= deadline
  v:kill(9)
  errors.fail(string.format("baking %s: nothing listened on guest port %d within %d s — set --port to the port the workload serves (SM_BAKE_TIMEOUT raises the wait)\n%s",
    r.image, cfg.port, timeout, vm_output(v)))
end

-- Polls a recipe's snapshot function (vm) -> true until it says so.
local function wait_fn(v, fn, r)
  local timeout = tonumber(env("SM_BAKE_TIMEOUT") or "120")
  local deadline = core.sys.monotime() + timeout
  repeat
    local ok, yes = pcall(fn, v)
    if not ok then errors.fail("baking " .. r.image .. ": the recipe's snapshot function failed: " .. tostring(yes)) end
    if yes then return end
    if v:wait(0.2) then errors.fail("baking " .. r.image .. ": the workload exited before the snapshot function said yes:\n" .. vm_output(v)) end
  until core.sys.monotime() >= deadline
  v:kill(9)
  errors.fail(string.format("baking %s: the recipe's snapshot function did not return true within %d s (SM_BAKE_TIMEOUT raises the wait)\n%s",
    r.image, timeout, vm_output(v)))
end

local function take(v, dir, r)
  local t0 = core.sys.monotime()
  local ok, err = v:snapshot(dir, 300)
  trace("bake: snapshot %.1f ms", (core.sys.monotime() - t0) * 1e3)
  if not ok then
    v:kill(9)
    v:wait(10)
    errors.fail("baking " .. r.image .. ": snapshot failed: " .. tostring(err))
  end
end

local function guest_up(v, ready_point, r)
  local t0 = core.sys.monotime()
  local ok, err
  if ready_point then ok, err = v:wait_prepared(120) else ok, err = v:wait_agent(120) end
  if ok and ready_point then ok, err = v:wait_agent(60) end
  if not ok then
    errors.fail("baking " .. r.image .. ": the guest did not come up: " .. tostring(err) .. "\n" .. vm_output(v))
  end
  -- the phases, so a slow bake says where its time went
  trace("bake: guest up %.1f ms", (core.sys.monotime() - t0) * 1e3)
end

local function layer_files(img)
  local layers = {}
  for _, l in ipairs(img.layers) do layers[#layers + 1] = layer_file(l) end
  return layers
end

-- Boot the image (from the boot snapshot) without its workload: the steps
-- run, then a "ready" snapshot is taken (the final one at the ready point,
-- else a stage the workload is started from).
-- egress only while the steps ran (recipe egress.during_bake): the guest
-- unbinds its network driver before the snapshot, and the VMM writes a
-- snapshot of a VM whose guest has no network driver without the device
-- (docs/network.md "Snapshots"), so what is served has no eth0.
local function unplug_network(v, r)
  local res = v:exec{ argv = { "/bin/sh", "-c",
    "for d in /sys/bus/virtio/drivers/virtio_net/virtio*; do echo \"${d##*/}\" > /sys/bus/virtio/drivers/virtio_net/unbind || exit 1; done; " ..
    "! test -e /sys/class/net/eth0" }, user = "0", timeout = 60 }
  if not res or res.code ~= 0 then
    errors.fail("baking " .. r.image .. ": removing the bake's network (egress.during_bake) failed — the image needs /bin/sh: " ..
      tostring(res and (res.stderr or res.code) or "no answer"))
  end
end

local function bake_steps(img, cfg, r, tmpdir, point)
  local vm = require "sm.vm"
  local uds = tmpdir .. "/bake.sock"
  local v = vm.boot{ memory_mib = r.memory_mib, vcpus = r.vcpus, kernel = r.kernel, console = "capture",
    vsock_uds = uds, rootfs = { layers = layer_files(img) }, hostname = cfg.hostname, egress = r.egress }
  local ok, err = pcall(function()
    guest_up(v, true, r)
    steps.run(steps.baker(v, cfg, r.recipe, r.image), r.recipe.bake)
    if r.egress_during_bake then unplug_network(v, r) end
  end)
  if not ok then v:kill(9) v:wait(10) error(err, 0) end
  local dir = point == "ready" and tmpdir .. "/vm" or tmpdir .. "/stage"
  take(v, dir, r)
  v:kill(9)
  v:wait(10)
  if point == "ready" then return nil end
  local o = M.restore_options({ point = "ready", config = cfg, layers = {} }, {})
  o.rootfs.layers = layer_files(img)
  o.console, o.vsock_uds = "capture", uds
  if r.egress_during_bake then o.egress = false else o.egress = r.egress end	-- the steps' network stays behind
  os.remove(uds)
  v = vm.restore(dir, o)
  local up, err = v:wait_agent(60)
  if not up then errors.fail("baking " .. r.image .. ": the stage snapshot did not come up: " .. tostring(err) .. "\n" .. vm_output(v)) end
  return v
end

-- Boot the image (from the boot snapshot) and snapshot it listening, at
-- the recipe's function's moment or, with volumes, ready.  Writes into
-- tmpdir/vm.  With bake steps the workload starts from a stage snapshot
-- taken after them.
local function bake_vm(img, cfg, r, tmpdir)
  local vm = require "sm.vm"
  local point = M.point(r)
  local uds = tmpdir .. "/bake.sock"
  local v
  if r.recipe and r.recipe.bake then
    v = bake_steps(img, cfg, r, tmpdir, point)
    if not v then return "ready" end
  else
    local ready_point = point == "ready"
    v = vm.boot{
      memory_mib = r.memory_mib, vcpus = r.vcpus, kernel = r.kernel, console = "capture", vsock_uds = uds,
      rootfs = { layers = layer_files(img) }, hostname = cfg.hostname,
      egress = not r.egress_during_bake and r.egress or nil,	-- no steps: nothing to give it to
      -- at the ready point the run config comes with each restore
      argv = not ready_point and cfg.argv or nil, env = not ready_point and cfg.env or nil,
      workdir = not ready_point and cfg.workdir or nil, user = not ready_point and cfg.user ~= "" and cfg.user or nil,
    }
    guest_up(v, ready_point, r)
    if ready_point then
      take(v, tmpdir .. "/vm", r)
      v:kill(9)
      v:wait(10)
      return "ready"
    end
  end
  local t0 = core.sys.monotime()
  if type(point) == "function" then
    wait_fn(v, point, r)
    trace("bake: the snapshot function said yes after %.1f ms", (core.sys.monotime() - t0) * 1e3)
  else
    wait_listening(v, cfg, r, uds)
    trace("bake: guest port %d listening %.1f ms", cfg.port, (core.sys.monotime() - t0) * 1e3)
    core.sys.sleep(M.SETTLE_S)
  end
  take(v, tmpdir .. "/vm", r)
  v:kill(9)
  v:wait(10)
  core.fs.rmtree(tmpdir .. "/stage")
  return "listening"
end

-- Put the finished tmpdir in place of dir (atomically as far as a reader goes).
local function install(tmpdir, dir)
  local old = core.fs.stat(dir) and (dir .. ".old." .. core.sys.getpid())
  if old then assert(os.rename(dir, old)) end
  local ok, err = os.rename(tmpdir, dir)
  if old then core.fs.rmtree(old) end
  if not ok then errors.fail("installing the snapshot " .. dir .. ": " .. tostring(err)) end
end

function M.bake(img, cfg, r, name, key, inputs)
  local dir = M.snapshots_dir(r)
  local tmpdir = string.format("%s/.%s.tmp-%d", dir, name, core.sys.getpid())
  core.fs.rmtree(tmpdir)
  assert(core.fs.mkdir_p(tmpdir, tonumber("700", 8)))
  local t0 = core.sys.monotime()
  local ok, point = pcall(bake_vm, img, cfg, r, tmpdir)
  os.remove(tmpdir .. "/bake.sock")
  if not ok then core.fs.rmtree(tmpdir) error(point, 0) end
  local layers = {}
  for _, l in ipairs(img.layers) do layers[#layers + 1] = { digest = l.digest, file = layer_file(l), size = l.size } end
  local vols = {}
  for _, v in ipairs(r.volumes) do vols[#vols + 1] = { guest = v.guest, readonly = v.readonly } end
  local meta = {
    format = M.FORMAT, key = key, name = name, image = r.image, image_name = img.name, digest = img.digest,
    config = cfg, port = cfg.port, memory_mib = r.memory_mib, vcpus = r.vcpus, layers = layers,
    volumes = vols, point = point, baked_at = os.time(), bake_ms = math.floor((core.sys.monotime() - t0) * 1e3),
    recipe = r.recipe and not r.recipe.default and (core.fs.realpath(r.recipe.path) or r.recipe.path) or nil,
    service = r.service, inputs = inputs or {},
  }
  write_json(tmpdir .. "/bake.json", meta)
  install(tmpdir, dir .. "/" .. name)
  trace("bake %.1f ms (%s snapshot %s)", (core.sys.monotime() - t0) * 1e3, point, name)
  return meta
end

-- The snapshot for these options: reused when its key matches, else baked.
function M.ensure(r)
  local name = r.name or require("sm.run").snapshot_name(r.image)
  local dir = M.snapshots_dir(r)
  local have = M.find(dir, name)
  if not r.bake then
    if not have then errors.fail(string.format("no snapshot %s in %s and --no-bake forbids baking it — drop --no-bake", name, dir)) end
    trace("bake: skipped (--no-bake, snapshot %s)", name)
    return { name = name, dir = dir .. "/" .. name, meta = have, baked = false }
  end
  local img = M.image(r)
  local cfg = M.run_config(img, r)
  for _, v in ipairs(r.volumes) do M.ensure_volume(v) end
  local key = M.key(img, cfg, r)
  local changed = have and have.key == key and steps.changed(have.inputs)
  if have and have.key == key and not changed then
    trace("bake: skipped (snapshot %s is up to date)", name)
    return { name = name, dir = dir .. "/" .. name, meta = have, baked = false }
  end
  local inputs = steps.inputs(r.recipe and r.recipe.bake, r.recipe)
  local d = have and M.served_by(dir .. "/" .. name)
  if d then
    errors.fail(string.format("snapshot %s needs a new bake but the daemon on port %d serves it — `sm run --stop --http-port %d` first",
      name, d.port, d.port))
  end
  trace("bake: %s (%s)", changed and ("copied file " .. changed .. " changed")
    or have and "image, recipe or options changed" or "no snapshot yet", name)
  local meta = M.bake(img, cfg, r, name, key, inputs)
  return { name = name, dir = dir .. "/" .. name, meta = meta, baked = true }
end

return M

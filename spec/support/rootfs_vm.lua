-- Run with `sm lua`: an image's rootfs in the guest (docs/init-channel.md,
-- "Rootfs"; docs/clone-safety.md).
--   sm lua spec/support/rootfs_vm.lua IMAGE_NAME DIR
-- IMAGE_NAME is a pulled `mkimage.py rootfs N` image ($SM_IMAGES_DIR); DIR a
-- private scratch directory.  Every VM restores a snapshot: the boot
-- snapshot (shared with the other suites), then one taken at the "ready"
-- point.  Prints "key=value" lines (values without newlines).
local core = require "sm.core"
local oci = require "sm.oci"
local vm = require "sm.vm"

local name, dir = arg[1], arg[2]
local function out(k, v) io.stdout:write(k, "=", (tostring(v):gsub("\n", "|")), "\n") io.stdout:flush() end

local img = assert(oci.inspect(name))
local layers = {}
for i, l in ipairs(img.layers) do layers[i] = l.image end
out("layers", #layers)

-- 1. boot into the image with its config; the workload reports what it sees,
-- then stays for `sm exec` through the agent (which must serve inside the image)
local script = table.concat({
  "cat /shadow", "test -e /etc/gone && echo gone-visible || echo gone-hidden",
  "ls /opt/old", "hostname", "echo $GREETING $HOSTNAME", "pwd", "id -u", "id -g", "echo $HOME",
  "ls /layers | wc -l", "cat /proc/mounts | wc -l", "echo done", "exec sleep 600" }, "; ")
local t0 = core.sys.monotime()
local v = vm.boot{ rootfs = { layers = layers }, hostname = "web-1", workdir = img.config.workdir,
  user = img.config.user, env = img.config.env, argv = { "/bin/sh", "-c", script },
  vsock_uds = dir .. "/a.sock", console = "capture" }
local ok = v.proc:expect("done\n", 400)
out("boot_s", string.format("%.1f", core.sys.monotime() - t0))
out("workload", ok and v.proc:buffered() or ("none: " .. tostring(v.proc:buffered("status"))))
if ok and v:wait_agent(60) then
  local r = v:exec{ argv = { "/bin/cat", "/shadow", "/layers/1", "/layers/" .. #layers } }
  out("exec", r.stdout)
end
v:kill(9)
local r = v:wait(30)
out("stderr1", r and r.stderr or "")

-- 2. the "ready" point: rootfs prepared, no workload yet; snapshot it
t0 = core.sys.monotime()
local p = vm.boot{ rootfs = { layers = layers }, hostname = "ready", console = "capture" }
ok = p:wait_prepared(400)
out("prepared", ok)
out("prepare_s", string.format("%.1f", core.sys.monotime() - t0))
ok = ok and p:snapshot(dir .. "/ready", 120)
out("ready_snapshot", ok)
p:kill(9)
p:wait(30)
if not ok then return 1 end

-- 3. two restores of it, each with the same ext4 volume: the first writes
-- and fsyncs a file, the second reads it back; both read /dev/urandom
local vol = dir .. "/vol.ext4"
local function restore(i, cmd)
  t0 = core.sys.monotime()
  local w = vm.restore(dir .. "/ready", { rootfs = { layers = layers }, volumes = { { path = vol, target = "/data" } },
    user = "app", workdir = "/data", console = "capture",
    argv = { "/bin/sh", "-c", cmd .. "; head -c 16 /dev/urandom | od -An -tx1; cat /run/sm/worker-id; hostname" } })
  local res = w:wait(300)
  out("restore" .. i .. "_s", string.format("%.1f", core.sys.monotime() - t0))
  out("restore" .. i, res and (res.status .. " " .. tostring(res.code) .. " " .. (res.stdout or "") .. (res.stderr or "") .. " " .. tostring(res.message)))
end
restore(1, "echo persisted-by-1 > /data/f && sync && cat /data/f")
restore(2, "cat /data/f")

-- 4. `stop` of a workload that ignores SIGTERM: after the grace init kills
-- it, then syncs and unmounts the volume before the VM ends
t0 = core.sys.monotime()
local s = vm.restore(dir .. "/ready", { rootfs = { layers = layers }, volumes = { { path = vol, target = "/data" } },
  stop_grace = 2, vsock_uds = dir .. "/s.sock", console = "capture",
  argv = { "/bin/sh", "-c", "trap '' TERM; echo stopped-cleanly > /data/g; echo started; exec sleep 600" } })
ok = s.proc:expect("started\n", 300) and s:wait_agent(120)
out("stop_started", ok and true or false)
out("stop", ok and s:stop(30))
out("stop_s", string.format("%.1f", core.sys.monotime() - t0))
return 0

-- sm.run: the life of an `sm run` daemon seen from outside — its options,
-- its state files, readiness, --connect, --stop, and the list `sm ps`
-- shows.  The daemon itself (router + supervisor) is sm.daemon; the bake
-- is sm.bake.  Errors are raised with sm.errors (usage errors exit 2).
--
-- State of the daemon on PORT, in the per-user 0700 state directory
-- ($XDG_STATE_HOME/sm, else ~/.local/state/sm):
--   router-PORT.pid        the daemon's pid; the daemon holds a lock on it while it runs
--   router-PORT.log        the router's own log (`sm logs --router`)
--   router-PORT.workers.log every worker's output, each line tagged with its worker (`sm logs`)
--   router-PORT.snapshot   the snapshot it serves: its name, then its directory, a line each
--                          (read by ps, logs, exec and --stop --rm)
--   router-PORT.stop       written by `sm run --stop` before it signals the daemon: the grace in seconds
--   router-PORT.rm         present when it was started with --rm (sticky until --stop)
--   router-PORT.tls        present when it serves HTTPS: its certificate's SHA-256 fingerprint
--                          (sm's own probes check the daemon by it, docs/tls.md)
local core = require "sm.core"
local errors = require "sm.errors"
local cjson = require "cjson"

local M = {}

local util = require "sm.util"
local env, read = util.env, util.read_file

local function env_int(name, default)
  local v = env(name)
  if not v then return default end
  local n = math.tointeger(tonumber(v))
  if not n then errors.usage_error(name .. "=" .. v .. ": must be a whole number") end
  return n
end

-- ---- options ----

-- The options `sm run` (and, where they change the bake, `sm pull`) take:
-- sm.args specs, in the order --help lists them.
M.spec = {
  { "detach", short = "d" }, { "connect" }, { "stop" },
  { "http-port", arg = "PORT", type = "int" }, { "name", arg = "NAME" },
  { "port", arg = "PORT", type = "int" }, { "memory", arg = "MIB", type = "int" },
  { "vcpus", arg = "N", type = "int" }, { "cpus", arg = "N", type = "int" },
  { "workers-per-snapshot", arg = "N", type = "int" }, { "idle-timeout", arg = "SEC", type = "int" },
  { "snapshots-dir", arg = "DIR" }, { "pull", arg = "POLICY" }, { "no-bake" }, { "no-push" },
  { "insecure" },
  { "volume", short = "v", arg = "HOST:GUEST", many = true },
  { "entrypoint", arg = "CMD" }, { "cmd", arg = "JSON" }, { "workdir", arg = "DIR" },
  { "user", arg = "USER" }, { "hostname", arg = "NAME" }, { "env", short = "e", arg = "K=V", many = true },
  { "restart", arg = "POLICY" }, { "health-cmd", arg = "CMD" }, { "health-interval", arg = "SEC", type = "int" },
  { "rm" }, { "stop-grace", short = "t", arg = "SEC" },
  { "enable-egress" }, { "no-egress" }, { "egress-policy", arg = "POLICY" },
  { "probe-path", arg = "PATH" }, { "ready-timeout-ms", arg = "MS", type = "int" },
  { "pid-file", arg = "PATH" }, { "log-file", arg = "PATH" },
  { "inbound-tls-cert", arg = "PATH" }, { "inbound-tls-key", arg = "PATH" }, { "inbound-tls-autogen" },
  { "kernel", arg = "PATH" },
  { "as-daemon" },	-- internal: the detached daemon of a recipe (sm.run.detach)
}

local L = require("sm.recipe").LIMITS
M.MAX_WORKERS = L.workers_max[2]
M.DEFAULT_IDLE_TIMEOUT = 300		-- s; a worker idle this long is reaped

local function bad(fmt, ...) errors.usage_error(string.format(fmt, ...)) end

local function range(name, v, lo, hi, unit)
  if v ~= nil and (math.type(v) ~= "integer" or v < lo or v > hi) then
    bad("--%s must be %d..%d%s, got %s", name, lo, hi, unit or "", tostring(v))
  end
  return v
end

-- --cmd '["a","b"]': a JSON array of strings.
local function parse_cmd(s)
  local ok, v = pcall(cjson.decode, s)
  if not ok or type(v) ~= "table" or #v == 0 then bad("--cmd %s: expected a JSON array of strings, e.g. '[\"nginx\",\"-g\",\"daemon off;\"]'", s) end
  for i, a in pairs(v) do
    if math.type(i) ~= "integer" or type(a) ~= "string" then bad("--cmd %s: expected a JSON array of strings", s) end
  end
  return v
end

-- --volume NAME:/path or /abs/file.img:/path (read-write; one VM at a time)
function M.parse_volume(s)
  local host, guest = s:match("^([^:]+):(/[^:]*)$")
  if not host then
    bad("--volume %s: expected HOST:GUEST, e.g. data:/var/lib/data or /abs/disk.img:/data", s)
  end
  if guest == "/" or guest:find("/%.%.?/") or guest:find("/%.%.?$") then
    bad("--volume %s: the guest path must be an absolute directory other than /", s)
  end
  local v = { guest = guest, readonly = false, spec = s }
  if host:sub(1, 1) == "/" then
    v.path = host
  elseif host:match("^[%w][%w_.%-]*$") and #host <= 64 then
    v.name = host
  else
    bad("--volume %s: HOST is a volume name (letters, digits, '.', '_', '-') or an absolute path", s)
  end
  return v
end

local RESTART = { no = "no", ["on-failure"] = "on-failure", always = "always", ["unless-stopped"] = "unless-stopped" }

local function check_unsupported(o)
  if o.pid_file then
    errors.fail("--pid-file: the pid file is always in the state directory (router-PORT.pid, read by sm ps) — drop the flag")
  end
end

-- Validated options with every default filled in.  `o` is what sm.args
-- parsed; `image` the positional argument (nil for --connect/--stop).
function M.options(o, image)
  local r = {
    image = image, detach = o.detach, connect = o.connect, stop = o.stop, rm = o.rm,
    http_port = range("http-port", o.http_port or env_int("SM_HTTP_PORT", 8080), L.http_port[1], L.http_port[2]),
    guest_port = range("port", o.port, L.port[1], L.port[2]),
    memory_mib = range("memory", o.memory or 256, L.memory[1], L.memory[2], " MiB"),
    vcpus = range("vcpus", o.vcpus or o.cpus or 1, L.vcpus[1], L.vcpus[2]),
    workers = range("workers-per-snapshot", o.workers_per_snapshot or env_int("SM_WORKERS_PER_SNAPSHOT", 1), L.workers_max[1], M.MAX_WORKERS),
    idle_timeout = range("idle-timeout", o.idle_timeout or env_int("SM_IDLE_TIMEOUT", M.DEFAULT_IDLE_TIMEOUT), L.idle_timeout[1], L.idle_timeout[2], " s"),
    snapshots_dir = o.snapshots_dir or env("SM_SNAPSHOTS"),
    pull = o.pull or env("SM_PULL_POLICY") or "missing",
    bake = not (o.no_bake or o.no_push), insecure = o.insecure,
    entrypoint = o.entrypoint, entrypoint_argv = o.entrypoint_argv, workdir = o.workdir, user = o.user,
    cmd = type(o.cmd) == "table" and o.cmd or o.cmd and parse_cmd(o.cmd),
    recipe = o.recipe,
    hostname = o.hostname, env = o.env or {}, volumes = {},
    restart = o.restart or "no", health_cmd = o.health_cmd,
    health_interval = range("health-interval", o.health_interval or 30, 1, 3600, " s"),
    probe_path = o.probe_path, ready_timeout_ms = range("ready-timeout-ms", o.ready_timeout_ms or env_int("SM_READY_TIMEOUT_MS", 30000), 1, 3600000),
    kernel = o.kernel, name = o.name,
  }
  if not ({ missing = 1, always = 1, never = 1 })[r.pull] then bad("--pull must be missing, always or never, got '%s'", r.pull) end
  r.restart = RESTART[r.restart] or bad("--restart must be no, on-failure, always or unless-stopped, got '%s'", r.restart)
  if r.probe_path and (r.probe_path:sub(1, 1) ~= "/" or r.probe_path:find("[\r\n]")) then
    bad("--probe-path must start with '/' and not contain CR/LF, got '%s'", r.probe_path)
  end
  if r.hostname and not r.hostname:match("^[%w][%w.%-]*$") or (r.hostname and #r.hostname > 64) then
    bad("--hostname %s: letters, digits, '.' and '-', at most 64", r.hostname)
  end
  for _, e in ipairs(r.env) do
    if not e:match("^[^=]+=") then bad("--env %s: expected KEY=VALUE", e) end
  end
  local grace = o.stop_grace or env("SM_STOP_GRACE_MS") and tostring(env_int("SM_STOP_GRACE_MS") / 1000) or "10"
  r.stop_grace = tonumber(grace)
  if not r.stop_grace or r.stop_grace < L.stop_grace[1] or r.stop_grace > L.stop_grace[2] then bad("--stop-grace must be %g..%g s, got %s", L.stop_grace[1], L.stop_grace[2], grace) end
  for _, v in ipairs(o.volume or {}) do r.volumes[#r.volumes + 1] = M.parse_volume(v) end
  local rw = 0
  for _, v in ipairs(r.volumes) do if not v.readonly then rw = rw + 1 end end
  if rw > 0 and r.workers > 1 then
    bad("--workers-per-snapshot %d with a read-write --volume: a volume is attached to one VM at a time — use 1 worker or :ro volumes", r.workers)
  end
  if r.name and (not r.name:match("^[%w][%w_.%-]*$") or #r.name > 64) then
    bad("--name %s: letters, digits, '.', '_' and '-', at most 64", r.name)
  end
  if not r.connect and not r.stop and not r.image then bad("missing image — e.g. sm run nginx:1.27-alpine") end
  check_unsupported(o)
  -- egress (docs/network.md): served with it, or only the bake steps
  r.egress = require("sm.vm").egress_from_flags(o) or nil
  r.egress_during_bake = r.egress and o.egress_during_bake or nil
  r.tls = require("sm.tls").options{ cert = o.inbound_tls_cert, key = o.inbound_tls_key, autogen = o.inbound_tls_autogen }
  local files = M.files(r.http_port)
  r.pid_file, r.log_file = files.pid, o.log_file or files.log
  return r
end

-- The `sm run` options for ARG — an image (run by the default recipe) or a
-- recipe file — with the flags in `o` on top: one table per service, in
-- name order.  Services without their own http_port take the ports after
-- the first one's.
function M.resolve(o, arg)
  if not arg or (o.connect or o.stop) and not require("sm.recipe").is_recipe(arg) then return { M.options(o, arg) } end
  local recipe = require "sm.recipe"
  local rec = recipe.is_recipe(arg) and recipe.load(arg) or recipe.default(arg)
  local list = recipe.services(rec)
  local out, base = {}, nil
  for i, svc in ipairs(list) do
    local so, image = recipe.flags(svc.fields, rec, i == 1 and o or M.without(o, "http_port", "name"))
    if #list > 1 and not svc.fields.http_port and not (i == 1 and o.http_port) then
      so.http_port = base and base + i - 1 or nil
    end
    local r = M.options(so, image)
    M.check_policies(r)
    base = base or r.http_port
    r.service = svc.name
    out[i] = r
  end
  return out
end

-- o without the given keys (flags that name one service, not all).
function M.without(o, ...)
  local c = {}
  for k, v in pairs(o) do c[k] = v end
  for _, k in ipairs({ ... }) do c[k] = nil end
  return c
end

-- The snapshot name for an image reference: what `--name` defaults to.
--   nginx:1.27-alpine -> nginx-1.27-alpine;  localhost:5000/test/web:1 -> localhost-5000-test-web-1
--   oci-layout:/some/dir/web:1 -> web-1
function M.snapshot_name(image)
  local s = image:gsub("^oci%-layout:", ""):gsub("^oci%-archive:", ""):gsub("^docker%-archive:", "")
  if s ~= image then s = s:match("([^/]+)$") or s end
  s = s:gsub("@sha256:(%x%x%x%x%x%x%x%x%x%x%x%x)%x*", "-%1"):gsub("%.tar$", "")
  s = s:lower():gsub("[^%w_.%-]+", "-"):gsub("%-+", "-"):gsub("^[%-.]+", ""):gsub("%-$", "")
  if s == "" then s = "image" end
  return s:sub(1, 64)
end

-- ---- state files ----

-- $XDG_STATE_HOME/sm, else ~/.local/state/sm; created 0700.
function M.state_dir()
  local dir = env("XDG_STATE_HOME") and env("XDG_STATE_HOME") .. "/sm"
    or (env("HOME") or errors.fail("HOME is not set")) .. "/.local/state/sm"
  local ok, err = core.fs.private_dir(dir)
  if not ok then errors.fail("state directory " .. dir .. ": " .. tostring(err) .. " — set XDG_STATE_HOME to a directory you own") end
  return dir
end

function M.files(port)
  local base = M.state_dir() .. "/router-" .. port
  return { pid = base .. ".pid", log = base .. ".log", workers = base .. ".workers.log", snapshot = base .. ".snapshot", rm = base .. ".rm",
    stop = base .. ".stop", tls = base .. ".tls" }
end

local function write(path, s)
  local f, err = io.open(path .. ".tmp", "w")
  if not f then errors.fail("writing " .. path .. ": " .. tostring(err)) end
  f:write(s)
  f:close()
  local ok, rerr = os.rename(path .. ".tmp", path)
  if not ok then errors.fail("writing " .. path .. ": " .. tostring(rerr)) end
end

local function alive(pid) return pid and core.proc.kill(pid, 0) ~= nil end

local function pid_of(files)
  return math.tointeger(tonumber((read(files.pid) or ""):match("^%s*(%d+)")))
end

-- Remove the state files of the daemon on port (the log stays for `sm logs`).
function M.clear(port)
  local f = M.files(port)
  for _, p in ipairs({ f.pid, f.snapshot, f.rm, f.stop, f.tls }) do os.remove(p) end
end

-- Whether the daemon pid still holds port's lock (it does for its life; a
-- free lock means it is gone even when its pid still answers: a zombie
-- nobody reaped yet, or a reused pid).
function M.holds_port(port, pid)
  local free = core.fs.lock(M.files(port).pid .. ".lock", { wait = false })
  if free then free:unlock() end
  return not free and alive(pid)
end

-- The running daemon on port: { port, pid, snapshot, rm } or nil (stale
-- files are swept).
function M.daemon(port)
  local f = M.files(port)
  local pid = pid_of(f)
  if not pid then return nil end
  -- the daemon holds its lock for life; a free lock means it is gone (even
  -- when its pid still answers: a zombie nobody reaped, or a reused pid)
  if not M.holds_port(port, pid) then M.clear(port) return nil end
  local name, dir = (read(f.snapshot) or ""):match("^([^\n]*)\n?([^\n]*)")
  return { port = port, pid = pid, snapshot = name ~= "" and name or nil, snapshot_dir = dir ~= "" and dir or nil,
    rm = core.fs.stat(f.rm) ~= nil }
end

-- The daemon's own claim on its port, made before it binds: a lock held
-- for its life, then the pid and sidecar files.  A second daemon on the
-- same port is refused naming the first.
function M.claim(port, snapshot, dir, rm, tls)
  local f = M.files(port)
  local lock, err = core.fs.lock(f.pid .. ".lock", { wait = false })
  if not lock then
    local other = M.daemon(port)
    errors.fail(string.format("port %d is already served by sm daemon pid %s (snapshot %s) — `sm run --stop --http-port %d` first, or pick another --http-port",
      port, other and other.pid or "?", other and other.snapshot or "?", port))
  end
  write(f.snapshot, snapshot .. "\n" .. dir .. "\n")
  os.remove(f.stop)
  if rm then write(f.rm, "") else os.remove(f.rm) end
  if tls then write(f.tls, tls.fingerprint .. "\n") else os.remove(f.tls) end
  write(f.pid, core.sys.getpid() .. "\n")
  return lock
end

-- Every running daemon, sorted by port; stale pid files are removed.
function M.daemons()
  local list = {}
  for _, name in ipairs(core.fs.readdir(M.state_dir()) or {}) do
    local port = math.tointeger(tonumber(name:match("^router%-(%d+)%.pid$")))
    local d = port and M.daemon(port)
    if d then list[#list + 1] = d end
  end
  table.sort(list, function(a, b) return a.port < b.port end)
  return list
end

-- ---- talking to a daemon over HTTP (127.0.0.1 only) ----

-- The fingerprint of the certificate the daemon on port serves HTTPS with, or nil.
function M.tls_of(port)
  return (read(M.files(port).tls) or ""):match("^([%x:]+)")
end

local function parse_response(resp)
  local status = math.tointeger(tonumber(resp:match("^HTTP/1%.%d (%d%d%d)")))
  if not status then return nil, "no HTTP answer" end
  return status, resp:match("\r\n\r\n(.*)$") or ""
end

-- One GET with Connection: close, over TLS when fingerprint (the daemon's
-- certificate, checked).  Returns status, body | nil, err.
function M.http_get(port, path, timeout, fingerprint)
  timeout = timeout or 2
  local req = "GET " .. path .. " HTTP/1.1\r\nHost: 127.0.0.1:" .. port .. "\r\nConnection: close\r\n\r\n"
  if fingerprint then
    local resp, terr = core.tls.request(port, fingerprint, req, timeout)
    if not resp then return nil, terr end
    return parse_response(resp)
  end
  local s, err = core.net.tcp_connect("127.0.0.1", port, timeout)
  if not s then return nil, err end
  local ok, serr = s:send(req, timeout)
  if not ok then s:close() return nil, serr end
  local parts, deadline = {}, core.sys.monotime() + timeout
  repeat
    local d = s:recv(65536, math.max(0.01, deadline - core.sys.monotime()))
    if not d or d == "" then break end
    parts[#parts + 1] = d
  until core.sys.monotime() >= deadline
  s:close()
  return parse_response(table.concat(parts))
end

-- The daemon's /_health as a table, or nil, why.
function M.health(port)
  local status, body = M.http_get(port, "/_health", nil, M.tls_of(port))
  if status ~= 200 then return nil, status and ("/_health answered " .. status) or body end
  local ok, t = pcall(cjson.decode, body)
  if not ok or type(t) ~= "table" or t.status ~= "ok" then return nil, "/_health did not say {\"status\":\"ok\"}" end
  return t
end

-- Readiness (the original tool's rule): the workload answers / with any
-- status but 502/503/504 — or 200 on probe_path.  Returns true | nil, last error.
function M.wait_ready(port, probe_path, timeout_ms, still_running, fingerprint)
  local deadline, last = core.sys.monotime() + timeout_ms / 1000, "no answer"
  repeat
    local status, body = M.http_get(port, probe_path or "/", 5, fingerprint)
    if status and (probe_path and status == 200 or not probe_path and status ~= 502 and status ~= 503 and status ~= 504) then
      return true
    end
    last = status and string.format("%s answered %d %s", probe_path or "/", status, (body or ""):sub(1, 120):gsub("%s+", " ")) or body
    if still_running and not still_running() then return nil, "the daemon exited" end
    core.sys.sleep(0.02)
  until core.sys.monotime() >= deadline
  return nil, last
end

-- ---- the modes of `sm run` ----

local function endpoint(port, t) return require("sm.tls").endpoint(port, t) end

function M.connect(r)
  local h, err = M.health(r.http_port)
  if not h then
    errors.fail(string.format("no healthy sm daemon at %s (%s) — start one with `sm run IMAGE --detach --http-port %d`",
      endpoint(r.http_port), tostring(err), r.http_port))
  end
  io.stdout:write("endpoint: ", endpoint(r.http_port, M.tls_of(r.http_port)), "\n")
  return 0
end

-- The snapshot a finished daemon leaves behind when --rm asked for it gone.
local function remove_snapshot(dir)
  if dir and core.fs.stat(dir .. "/metadata.json") then core.fs.rmtree(dir) end
end

-- SIGTERM to the daemon (it stops its workloads through their agents,
-- waits the grace, kills what is left, removes its files); kill it if it
-- takes longer than the grace plus a margin.
function M.stop(r)
  local d = M.daemon(r.http_port)
  if not d then
    errors.fail(string.format("no sm daemon is running on port %d — nothing to stop (`sm ps` lists the running ones)", r.http_port))
  end
  local f = M.files(r.http_port)
  write(f.stop, string.format("%g\n", r.stop_grace))
  if r.rm then write(f.rm, "") end
  local rm = r.rm or d.rm
  core.proc.kill(d.pid, 15)
  local deadline = core.sys.monotime() + r.stop_grace + 15
  while M.holds_port(r.http_port, d.pid) and core.sys.monotime() < deadline do core.sys.sleep(0.05) end
  if M.holds_port(r.http_port, d.pid) then
    io.stderr:write(string.format("sm run: daemon pid %d did not stop in time; killing it\n", d.pid))
    core.proc.kill(d.pid, 9)
    while M.holds_port(r.http_port, d.pid) and core.sys.monotime() < deadline + 5 do core.sys.sleep(0.05) end
  end
  M.clear(r.http_port)
  if rm then remove_snapshot(d.snapshot_dir) end
  return 0
end

local trace = util.run_trace
M.trace = trace

-- The host side of each volume, in the order bake.json lists them.
local function volume_paths(r)
  local bake = require "sm.bake"
  local paths = {}
  for i, v in ipairs(r.volumes) do paths[i] = bake.volume_path(v) end
  return paths
end

-- The `sm daemon` command line for a baked snapshot.
function M.daemon_argv(r, snap)
  local argv = { core.sys.paths().exe, "daemon", "--http-port", tostring(r.http_port), "--snapshot", snap.dir,
    "--workers-per-snapshot", tostring(r.workers), "--idle-timeout", tostring(r.idle_timeout),
    "--stop-grace", string.format("%g", r.stop_grace) }
  if r.rm then argv[#argv + 1] = "--rm" end
  if r.restart ~= "no" then table.move({ "--restart", r.restart }, 1, 2, #argv + 1, argv) end
  if r.health_cmd then
    table.move({ "--health-cmd", r.health_cmd, "--health-interval", tostring(r.health_interval) }, 1, 4, #argv + 1, argv)
  end
  for _, p in ipairs(volume_paths(r)) do table.move({ "--volume", p }, 1, 2, #argv + 1, argv) end
  if r.tls then table.move({ "--inbound-tls-cert", r.tls.cert, "--inbound-tls-key", r.tls.key }, 1, 4, #argv + 1, argv) end
  return argv
end

-- A daemon already on the port: fine if it serves the same snapshot.
local function already_running(r, name)
  local d = M.daemon(r.http_port)
  if not d then return false end
  if d.snapshot ~= name then
    errors.fail(string.format("port %d is already served by sm daemon pid %d (snapshot %s) — `sm run --stop --http-port %d` first, or pick another --http-port",
      r.http_port, d.pid, tostring(d.snapshot), r.http_port))
  end
  return true
end

-- A read-write volume another VM holds (its VMM locks it): say so now,
-- not as a worker that cannot start.
local function check_volumes_free(r)
  for i, p in ipairs(volume_paths(r)) do
    local l, err, errno = true, nil, nil
    if not r.volumes[i].readonly then l, err, errno = core.fs.lock(p, { wait = false }) end
    if not l and errno == 11 then
      errors.fail("volume " .. p .. " is in use read-write by another VM — stop it first (sm ps), a volume is attached to one VM at a time")
    end
    if not l then errors.fail("volume " .. p .. ": " .. tostring(err)) end
    if l ~= true then l:unlock() end
  end
end

-- A recipe's services are served by one daemon: `sm run` again, in its own
-- session, with --as-daemon (it loads the recipe for its functions and
-- serves what this process baked).  A plain image is served by `sm daemon`.
local function spawn_daemon(list, snaps, argv)
  local r = list[1]
  if #list == 1 and (not r.recipe or r.recipe.builtin) then return core.proc.spawn(M.daemon_argv(r, snaps[1]),
    { stdout = "file:" .. r.log_file, stderr = "file:" .. r.log_file, stdin = "null", setsid = true })
  end
  local a = { core.sys.paths().exe, "run" }
  table.move(argv, 1, #argv, 3, a)
  a[#a + 1] = "--as-daemon"
  return core.proc.spawn(a, { stdout = "file:" .. r.log_file, stderr = "file:" .. r.log_file, stdin = "null", setsid = true })
end

-- Bakes what needs baking, then (unless a daemon already serves it all)
-- starts the daemon and returns once every service answers.
function M.detach(list, argv)
  local bake = require "sm.bake"
  local t0 = core.sys.monotime()
  local snaps, running = {}, 0
  for i, r in ipairs(list) do
    snaps[i] = bake.ensure(r)
    if already_running(r, snaps[i].name) then running = running + 1 end
  end
  if running < #list then
    if running > 0 then
      errors.fail("some of the recipe's services are running and some are not — `sm run --stop --http-port " ..
        list[1].http_port .. "` first")
    end
    for _, r in ipairs(list) do check_volumes_free(r) end
    local p = spawn_daemon(list, snaps, argv)
    local t1 = core.sys.monotime()
    for _, r in ipairs(list) do
      local ok, err = M.wait_ready(r.http_port, r.probe_path, r.ready_timeout_ms, function() return p:wait(0) == nil end,
        r.tls and r.tls.fingerprint)
      if not ok then M.not_ready(r, p, err, list[1].log_file) end
    end
    trace("first response %.1f ms (daemon start -> / answered), total %.1f ms", (core.sys.monotime() - t1) * 1e3,
      (core.sys.monotime() - t0) * 1e3)
  end
  for _, r in ipairs(list) do io.stdout:write("endpoint: ", endpoint(r.http_port, r.tls), "\n") end
  return 0
end

-- The daemon did not answer in time: stop it, say why.
function M.not_ready(r, p, err, log_file)
  -- what the daemon said last, before we stop it (a failed restore says why)
  local log = read(log_file) or ""
  local last = log:match(".*(sm daemon: cannot restore[^\n]*)") or log:match("([^\n]+)\n?$") or ""
  local res = p:wait(0)
  if not res then p:kill(15) res = p:wait(20) or (p:kill(9) and p:wait(5)) end
  if M.daemon(r.http_port) == nil then M.clear(r.http_port) end
  errors.fail(string.format("the daemon on port %d did not become ready in %d ms: %s%s — see %s",
    r.http_port, r.ready_timeout_ms, tostring(err), last ~= "" and (" (log: " .. last .. ")") or "", log_file))
end

-- Serves every service in this process until stopped: the foreground run
-- (attached to the terminal: workload output streams here, SIGINT/SIGTERM
-- stop it gracefully), or the detached recipe daemon (as_daemon).
function M.foreground(list, as_daemon)
  local bake = require "sm.bake"
  local opts = {}
  for i, r in ipairs(list) do
    local snap = bake.ensure(r)
    already_running(r, snap.name)
    check_volumes_free(r)
    opts[i] = M.daemon_options(r, snap)
    opts[i].foreground = not as_daemon
  end
  return require("sm.daemon").serve_all(opts)
end

-- The daemon's policy options (docs/policies.md) for r: the flags', else
-- the recipe's (sm.recipe.flags already let --restart win).
function M.policies(r)
  local rec = r.recipe or {}
  local health = rec.health
  if type(health) == "function" then health = { check = health } end
  if r.health_cmd then health = { check = "cmd", cmd = r.health_cmd, interval = r.health_interval } end
  return { health = health, restart = rec.restart or r.restart, after_restore = rec.after_restore,
    before_stop = rec.before_stop }
end

-- Checked before any bake: a recipe's bad health table is its own error.
function M.check_policies(r)
  local ok, err = pcall(require("sm.policy.options").check, M.policies(r))
  if ok then return end
  if r.recipe and r.recipe.path and not r.recipe.builtin then require("sm.recipe").fail_at(r.recipe, tostring(err)) end
  errors.usage_error(tostring(err))
end

function M.daemon_options(r, snap)
  local daemon = require "sm.daemon"
  local baked = daemon.baked(snap.dir, volume_paths(r))
  local o = { http_port = r.http_port, snapshot = baked.vm, snapshot_root = baked.root, restore = baked.restore,
    name = baked.name, port = baked.port, workers = r.workers, idle_timeout = r.idle_timeout,
    stop_grace = r.stop_grace, rm = r.rm, foreground = true, limits = {}, tls = r.tls }
  for k, v in pairs(M.policies(r)) do o[k] = v end
  return o
end

return M

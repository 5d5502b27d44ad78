-- sm daemon: the HTTP edge router and worker supervisor for one snapshot
-- (docs/router.md).  `sm run` starts it; it can be run by hand too.
local args = require "sm.args"
local core = require "sm.core"
local daemon = require "sm.daemon"
local errors = require "sm.errors"
local tls = require "sm.tls"

local M = {}

M.summary = "serve a snapshot over HTTP on 127.0.0.1, restoring workers on demand"
M.usage = [==[
usage: sm daemon --snapshot DIR [--port GUESTPORT] [options]

Listens on 127.0.0.1:--http-port and forwards each HTTP connection to a
worker VM restored from the snapshot in DIR, whose guest serves HTTP on
GUESTPORT (reached through the guest agent's port proxy).  Workers are
restored when a request needs one (scale from zero), up to
--workers-per-snapshot, and ended after --idle-timeout seconds without a
connection.  One more VMM is kept as a standby (restored up to its first
KVM_RUN, paused; not a worker): a request that needs a worker takes it and
waits only for it to start, and the next standby is prepared meanwhile.
GET /_health is answered by the router itself:
  {"status":"ok","snapshot":NAME,"workers":{"live":N,"idle":N,"starting":N,"standby":N},...}
Runs in the foreground until SIGTERM or Ctrl-C; its workers end with it.

options:
  --http-port PORT            edge port on 127.0.0.1 (default 8080, SM_HTTP_PORT)
  --snapshot DIR              a snapshot `sm run` baked (DIR/bake.json + DIR/vm/:
                              its guest port, layers and run config come from
                              there, docs/run.md), or any VM snapshot directory
                              whose guest serves HTTP (DIR/metadata.json)
  --port GUESTPORT            the guest's HTTP port (default: the bake's, else 80)
  --volume PATH               host side of the baked snapshot's next volume, in
                              bake.json order; repeatable
  --stop-grace S              SIGTERM to each workload, then S seconds before its
                              VM is killed (default 10)
  --rm                        remove the snapshot when the daemon stops
  --name NAME                 snapshot name shown by /_health (default: DIR's last part)
  --workers-per-snapshot N    pool size, 1..64 (default 1, SM_WORKERS_PER_SNAPSHOT)
  --idle-timeout S            end a worker idle S seconds; 0 keeps one warm
                              (default 300, SM_IDLE_TIMEOUT)
  --no-standby                keep no standby VMM: every worker is restored
                              when it is needed (less memory, slower start)
  --worker-conns N            client connections one worker serves at once,
                              1..4096 (default 48); more wait in the router's
                              queue — a slow guest answers each sooner with fewer
  --queue-timeout S           a waiting client gets 503 after S seconds (default 30)
  --upstream-timeout S        504 when the guest sends no first byte in S s (default 30)
  --restart POLICY            what to do when a worker fails (workload exit, VMM
                              death, failed health checks): no | on-failure |
                              always | unless-stopped (default no; docs/policies.md)
  --health-cmd CMD            a shell command the agent runs in each worker every
                              --health-interval; 3 failures in a row (exit not 0,
                              or over 5 s) drain the worker and replace it
  --health-interval S         seconds between checks (default 30)
  --inbound-tls-cert FILE     serve HTTPS: the certificate (PEM, its chain after it)
  --inbound-tls-key FILE      ... and its private key (PEM, unencrypted); docs/tls.md
  --inbound-tls-autogen       serve HTTPS with a self-signed certificate for localhost,
                              127.0.0.1 and ::1, made once in the state directory
                              (tls/cert.pem); its SHA-256 fingerprint is printed
  --verbose, -v               copy the workers' console output to the log (stderr)

Errors clients see (complete responses with Connection: close): 400/431 for
a bad or oversized request head, 502 when the guest service cannot be
reached or the worker died, 503 + Retry-After when no worker came in time,
504 when the guest did not answer in time.  With TLS, plain HTTP to the
port is answered at once with a plain-text 400 ("this port speaks TLS").
]==]

local spec = {
  { "http-port", arg = "PORT", type = "int" },
  { "snapshot", arg = "DIR" },
  { "port", arg = "GUESTPORT", type = "int" },
  { "name", arg = "NAME" },
  { "workers-per-snapshot", arg = "N", type = "int" },
  { "idle-timeout", arg = "S" },
  { "worker-conns", arg = "N", type = "int" },
  { "queue-timeout", arg = "S" },
  { "upstream-timeout", arg = "S" },
  { "verbose", short = "v" },
  { "volume", arg = "PATH", many = true },
  { "stop-grace", arg = "S" },
  { "no-standby" },
  { "restart", arg = "POLICY" },
  { "health-cmd", arg = "CMD" },
  { "health-interval", arg = "S" },
  { "rm" },
  { "inbound-tls-cert", arg = "FILE" }, { "inbound-tls-key", arg = "FILE" }, { "inbound-tls-autogen" },
  { "foreground" },	-- sm run's own: worker output on stdout too
}

local function env_int(name, def)
  local v = os.getenv(name)
  return v and v ~= "" and math.tointeger(tonumber(v)) or def
end

local function seconds(flag, v, def, min)
  if v == nil then return def end
  local n = tonumber(v)
  if not n or n < min or n > 86400 then errors.usage_error(flag .. " " .. v .. ": must be " .. min .. "..86400 seconds") end
  return n
end

local function int_in(flag, v, lo, hi)
  if math.type(v) ~= "integer" or v < lo or v > hi then
    errors.usage_error(string.format("%s %s: must be %d..%d", flag, tostring(v), lo, hi))
  end
  return v
end

function M.run(argv)
  local o, rest, positional = args.parse(argv, spec)
  if #rest > 0 or #positional > 0 then errors.usage_error("unexpected argument '" .. (positional[1] or rest[1]) .. "' — see --help") end
  if not o.snapshot then errors.usage_error("--snapshot DIR is required") end
  if o.health_interval and not o.health_cmd then errors.usage_error("--health-interval needs --health-cmd CMD (what to check)") end
  o.snapshot = o.snapshot:gsub("/+$", "")
  local baked = daemon.baked(o.snapshot, o.volume)
  if not baked and not core.fs.stat(o.snapshot .. "/metadata.json") then
    errors.fail("snapshot " .. o.snapshot .. ": no bake.json or metadata.json there — give a snapshot sm run baked or one of sm boot --snapshot-to")
  end
  local t = tls.options{ cert = o.inbound_tls_cert, key = o.inbound_tls_key, autogen = o.inbound_tls_autogen }
  return daemon.serve{
    tls = t,
    http_port = int_in("--http-port", o.http_port or env_int("SM_HTTP_PORT", 8080), 1, 65535),
    snapshot = baked and baked.vm or o.snapshot,
    snapshot_root = baked and baked.root or nil,
    restore = baked and baked.restore or nil,
    name = o.name or (baked and baked.name) or o.snapshot:match("([^/]+)$"),
    port = int_in("--port", o.port or (baked and baked.port) or 80, 1, 65535),
    workers = int_in("--workers-per-snapshot", o.workers_per_snapshot or env_int("SM_WORKERS_PER_SNAPSHOT", 1), 1, 64),
    idle_timeout = seconds("--idle-timeout", o.idle_timeout or os.getenv("SM_IDLE_TIMEOUT"), 300, 0),
    stop_grace = seconds("--stop-grace", o.stop_grace, 10, 0),
    rm = o.rm, verbose = o.verbose, foreground = o.foreground, standby = not o.no_standby,
    restart = o.restart, health = o.health_cmd and { check = "cmd", cmd = o.health_cmd,
      interval = seconds("--health-interval", o.health_interval, 30, 0.05) } or nil,
    limits = {
      worker_conns = o.worker_conns and int_in("--worker-conns", o.worker_conns, 1, 4096),
      queue_timeout = seconds("--queue-timeout", o.queue_timeout, 30, 0.001),
      upstream_timeout = seconds("--upstream-timeout", o.upstream_timeout, 30, 0.001),
    },
  }
end

return M

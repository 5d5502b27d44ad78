-- sm run IMAGE: pull, bake a snapshot on first use, serve it on 127.0.0.1:PORT.
local args = require "sm.args"
local errors = require "sm.errors"
local run = require "sm.run"

local M = {}

M.summary = "run an image: bake a snapshot once, serve it over HTTP (docker run)"
M.usage = [==[
usage: sm run [options] IMAGE|RECIPE.lua          foreground; Ctrl-C stops it
       sm run --detach [options] IMAGE|RECIPE.lua run in the background
       sm run --connect [--http-port PORT]
       sm run --stop [--http-port PORT] [--stop-grace SEC] [--rm]

IMAGE is a registry reference (nginx:1.27-alpine, localhost:5000/app:1) or
oci-layout:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE.
RECIPE.lua is a recipe (docs/recipes.md): the image, bake steps, health
checks, restart policy, hooks and services in one Lua file; the flags below
override its fields.  A plain IMAGE runs the default recipe
(recipes/default.lua, or $XDG_CONFIG_HOME/sm/recipes/default.lua).

The first run pulls IMAGE (--pull), boots it once with its layers, starts
its workload, waits until the guest port accepts connections and saves a
snapshot under --snapshots-dir/NAME.  Later runs with the same image and
options reuse that snapshot.  A daemon then serves http://127.0.0.1:PORT/:
each connection goes to a worker VM restored from the snapshot, restoring
one on demand (scale from zero) up to --workers-per-snapshot; idle workers
are reaped after --idle-timeout.  GET /_health is answered by the daemon.

modes:
  (none)                   foreground: workload output streams here, Ctrl-C stops
  -d, --detach             background: return once / answers (any status but
                           502/503/504, or 200 on --probe-path), print the endpoint
  --connect                probe the daemon on --http-port, print its endpoint
  --stop                   stop the daemon on --http-port: SIGTERM to the workload,
                           --stop-grace, then kill

options:
  --http-port PORT         edge port on 127.0.0.1 (8080, SM_HTTP_PORT)
  --name NAME              snapshot name (derived from IMAGE)
  --port PORT              guest service port (the image's first ExposedPort, else 80)
  --memory MIB             guest RAM, 64..16384 (256)
  --vcpus N                1..16 (1)
  --workers-per-snapshot N pool size, 1..64 (1, SM_WORKERS_PER_SNAPSHOT)
  --idle-timeout SEC       reap a worker idle this long; 0 keeps one warm (300, SM_IDLE_TIMEOUT)
  --snapshots-dir DIR      ($XDG_DATA_HOME/sm/snapshots, SM_SNAPSHOTS)
  --pull POLICY            missing | always | never (missing, SM_PULL_POLICY)
  --no-bake, --no-push     reuse the existing snapshot, never bake
  --insecure               plain HTTP to a registry other than localhost
  -v, --volume HOST:GUEST  persistent ext4 volume; HOST is a name
                           ($XDG_DATA_HOME/sm/volumes/NAME.img, 1 GiB, made on first
                           use) or an absolute path; read-write, one VM at a time
                           (so one worker); repeatable
  --entrypoint CMD         replace the image's ENTRYPOINT (and drop its CMD unless --cmd)
  --cmd JSON               replace the image's CMD, a JSON array: '["httpd","-f"]'
  --workdir DIR, --user USER, --hostname NAME
                           override the image's WorkingDir / User (name or uid[:gid]) / hostname
  -e, --env K=V            environment for the workload; repeatable
  --restart POLICY         no | on-failure | always | unless-stopped (no)
  --health-cmd CMD         a command the agent runs in the guest every --health-interval
  --health-interval SEC    1..3600 (30)
  --rm                     remove the snapshot when the daemon stops (sticky from
                           --detach to --stop)
  -t, --stop-grace SEC     0..600 (10, SM_STOP_GRACE_MS)
  --probe-path PATH        readiness: require 200 on PATH (starts with /)
  --ready-timeout-ms MS    (30000, SM_READY_TIMEOUT_MS)
  --pid-file, --log-file   (state dir: router-PORT.pid / .log)
  --inbound-tls-cert FILE  serve HTTPS: the certificate (PEM, chain after it) ...
  --inbound-tls-key FILE   ... and its private key (PEM, unencrypted); docs/tls.md
  --inbound-tls-autogen    serve HTTPS with a self-signed certificate for localhost,
                           127.0.0.1 and ::1, made once in the state directory
                           (tls/cert.pem); its SHA-256 fingerprint is printed
  --enable-egress          the bake and every worker get a network out (eth0,
                           user-mode NAT in the VMM; docs/network.md), policy
                           deny_private unless --egress-policy
  --egress-policy P        deny_private | allowlist:CIDRS | denylist:CIDRS
  --no-egress              only lo (the default; a recipe's egress field is
                           the way to give only the bake steps a network)
  --kernel PATH            guest kernel (SM_KERNEL)

SM_RUN_TRACE=1 prints one timing line per phase (pull, bake, restore, first
response) on stderr.  See docs/run.md.
]==]

function M.run(argv)
  local o, rest, positional = args.parse(argv, run.spec)
  if #rest > 0 then errors.usage_error("unexpected arguments after -- (use --cmd '[...]' to set the command)") end
  if #positional > 1 then errors.usage_error("extra argument '" .. positional[2] .. "' — one IMAGE at a time") end
  -- the detached daemon of a recipe: serves what its parent baked
  if o.as_daemon then o.no_bake, o.detach = true, nil end
  local list = run.resolve(o, positional[1])
  local r = list[1]
  if r.stop then return run.stop(r) end
  if r.connect then return run.connect(r) end
  if r.detach then return run.detach(list, argv) end
  return run.foreground(list, o.as_daemon)
end

return M

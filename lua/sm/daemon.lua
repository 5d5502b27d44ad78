-- sm.daemon: the supervisor of `sm daemon` (docs/router.md).  The HTTP edge
-- is C (core.router.new) on the daemon's one loop; this module decides when
-- workers come and go, in coroutines on the same loop:
--
--   * the pool keeper waits for the router's "need a worker" event and
--     restores one from the snapshot (up to `workers`), backing off when
--     restores keep failing;
--   * each worker's status pipe says when its VMM runs (its vsock socket
--     accepts from then on: the router may send it clients) and how it ended;
--     its exit is seen at once through a pidfd and the worker is removed;
--   * the reaper ends workers idle for `idle_timeout` seconds (0 keeps one
--     warm: the pool never shrinks below one, and one starts at once);
--   * the standby keeper keeps one standby VMM (sm vmm --standby, docs/vmm.md):
--     restored up to its first KVM_RUN and paused, so a request that needs a
--     worker only waits for `go` (clock, entropy, vCPUs start).  The next
--     standby is prepared once the last one runs, off the request path; one
--     that dies is logged and replaced after 0.1, 0.2 ... 10 s.  It is not a
--     worker (it does not count towards `workers`); /_health shows it.
--
--   local d = daemon.new{ http_port = 8080, snapshot = DIR, name = "web", port = 8080,
--                         workers = 1, idle_timeout = 300, limits = { ... },
--                         tls = { cert =, key =, fingerprint = } (sm.tls.options; nil: plain HTTP),
--                         restore = { extra sm.vm.restore options: rootfs, argv, volumes ... },
--                         workers_log = PATH, foreground = bool, stop_grace = s,
--                         standby = false (no standby VMM: every worker is a cold restore),
--                         -- policies (docs/policies.md; all optional, checked by sm.policy.options):
--                         health = { check = "http"|"cmd"|"tcp"|function(ctx), path =, port =, cmd =,
--                                    interval = 30, timeout = 5, retries = 3, start_period = 0 },
--                         restart = "no"|"on-failure"|"always"|"unless-stopped"|function(ctx),
--                         after_restore = function(vm), before_stop = function(vm),
--                         hook_timeout = 30, policy_timeout = 1 }
--   d:run()     -- until SIGTERM/SIGINT or d:stop()
--   daemon.serve(o)  -- the same, holding the port's state files (sm.run) for its life
--
-- Every worker's output goes to workers_log, each line tagged [wN] (and to
-- stdout when foreground).  SIGTERM/SIGINT stop it: SIGTERM to each
-- workload through its agent, stop_grace seconds (or what `sm run --stop`
-- wrote), then the VMs that are left are killed.  SIGUSR1 asks for a worker
-- even with no client waiting (sm exec uses it).
--
-- Policies run in their own coroutines, guarded (sm.policy.guard), never on
-- the router's path: a worker's health checks (sm.policy.checker) drain it
-- when it turns unhealthy; a worker that fails (workload exit, VMM death,
-- health, a failed after_restore) is put to the restart policy, which may
-- restore a fresh one after a delay even with no client waiting.
local core = require "sm.core"
local errors = require "sm.errors"
local loop = require "sm.loop"
local pagent = require "sm.policy.agent"
local checker = require "sm.policy.checker"
local guard = require "sm.policy.guard"
local options = require "sm.policy.options"
local policy = require "sm.policy"
local vm = require "sm.vm"

local M = {}
local Daemon = {}
Daemon.__index = Daemon

M.KEEP_WARM_EXTRA_IDLE_S = 60   -- with idle_timeout 0: extra workers still go after this
M.REAP_EVERY_S = 0.5
M.STOP_GRACE_S = 2

local function log(fmt, ...)
  io.stderr:write("sm daemon: ", string.format(fmt, ...), "\n")
  io.stderr:flush()
end
M.log = log

-- Seconds to wait after n failures in a row: 0.1, 0.2, 0.4 ... 10.
local function backoff(n)
  return n > 0 and math.min(10, 0.1 * 2 ^ (n - 1)) or 0
end

function M.new(o)
  local pok, p = pcall(options.check, o)
  if not pok then errors.fail(tostring(p)) end
  local self = setmetatable({ o = o, p = p, workers = {}, next_id = 1, fails = 0, need = loop.event(),
    standby_need = loop.event(), standby_fails = 0, stopping = false }, Daemon)
  local lim = { port = o.http_port, snapshot = o.name, max_workers = o.workers,
    tls_cert = o.tls and o.tls.cert, tls_key = o.tls and o.tls.key }
  for k, v in pairs(o.limits or {}) do lim[k] = v end
  local rt, err, errno = core.router.new(lim)
  if not rt then
    if errno == 98 then   -- EADDRINUSE
      errors.fail(string.format("127.0.0.1:%d is in use by another program — stop it or pick another --http-port",
        o.http_port))
    end
    errors.fail(err)
  end
  self.router = rt
  self.check_hooks = {
    alive = function(w) return not self.stopping and self.workers[w.id] == w and not w.draining end,
    health = function(w, h) self:set_health(w, h) end,
    unhealthy = function(w, why) self:unhealthy(w, why) end,
    log = log,
  }
  -- the port is ours now, so is this directory (another daemon on it would have failed above)
  self.dir = M.worker_dir(o.http_port)
  core.fs.rmtree(self.dir)
  assert(core.fs.private_dir(self.dir))
  if o.workers_log then
    self.wlog = assert(io.open(o.workers_log, "a"))
    self.wlog:setvbuf("line")
  end
  return self
end

-- ---- workers ----

function Daemon:count()
  local n = 0
  for _ in pairs(self.workers) do n = n + 1 end
  return n
end

-- The workers that count towards `workers`: a draining one is on its way out.
function Daemon:pool_count()
  local n = 0
  for _, w in pairs(self.workers) do if not w.draining then n = n + 1 end end
  return n
end

local function status_line(self, w, line)
  local st = vm.parse_status(line)
  if line:match("^standby ") then
    w.standby_us = st.standby_us
    if self.standby ~= w then return end   -- told to go already: it runs next
    self:show_standby()
    log("standby %d ready (pid %d, set-up %d µs)", w.id, w.vm:pid(), st.standby_us or -1)
  elseif line:match("^running ") then
    w.setup_us, w.ready_at = st.setup_us, core.sys.monotime()
    if self.stopping then return end
    log("worker %d running (pid %d, restore set-up %d µs%s)", w.id, w.vm:pid(), st.setup_us or -1,
      st.standby_us and string.format(" after go; its standby took %d µs", st.standby_us) or "")
    loop.go(function() self:admit(w) end)
    if w.went then
      self.standby_fails = 0
      self.standby_need:set()   -- the next standby, now that this one runs
    end
  elseif st["end"] then
    w.end_line = st
  end
end

local function end_reason(w, r)
  local e = w.end_line or {}
  return (e["end"] or ("VMM " .. (r.signal and "killed by signal " .. r.signal or "exited " .. tostring(r.code))))
    .. (e.msg and e.msg ~= "" and (" (" .. e.msg .. ")") or "")
end

-- A standby's VMM exited before go: replaced after a back-off (not if we ended it).
function Daemon:standby_exited(w, r)
  if self.standby == w then self.standby = nil end
  self:show_standby()
  if w.reaped then return end
  self.standby_fails = self.standby_fails + 1
  log("standby %d ended: %s; the next in %.1f s", w.id, end_reason(w, r), backoff(self.standby_fails))
  self.standby_need:set()
end

-- A VMM exited.  A worker's is out of the router at once (its clients get
-- 502 or a close); a standby's is replaced.
function Daemon:vmm_exited(w)
  if w.pidw then w.pidw:close() w.pidw = nil end
  local r = w.vm.proc:wait(1) or {}
  os.remove(w.uds)
  if not self.workers[w.id] then return self:standby_exited(w, r) end
  if not self.stopping then self.router:remove_worker(w.id) end
  self.workers[w.id] = nil
  if not w.ready_at then self.fails = self.fails + 1 else self.fails = 0 end
  if not w.reaped then log("worker %d ended: %s", w.id, end_reason(w, r)) end
  if self.on_worker_exit then self.on_worker_exit(w) end
  if (w.failed or not w.reaped) and not self.stopping then
    local ctx = self:restart_ctx(w, r)
    loop.go(function() self:restart(ctx) end)
  end
  self.need:set()   -- the keeper re-checks: waiting clients may need a new one
  self.standby_need:set()
end

-- Where the daemon on port keeps its workers' sockets (wN.sock): sm exec looks there.
function M.worker_dir(port)
  return vm.runtime_dir() .. "/daemon-" .. port
end

function Daemon:worker_line(id, which, line)
  local tagged = string.format("[w%d] %s\n", id, line)
  if self.wlog then self.wlog:write(tagged) end
  if self.o.foreground then
    local f = which == "stderr" and io.stderr or io.stdout
    f:write(tagged)
    f:flush()
  elseif self.o.verbose then
    log("worker %d: %s", id, line)
  end
end

-- A VMM restored from the snapshot (a standby waiting for go, or a worker),
-- its pipes and pidfd watched; nil if it could not be started.
function Daemon:spawn_vmm(standby)
  local id = self.next_id
  self.next_id = id + 1
  local uds = string.format("%s/w%d.sock", self.dir, id)
  os.remove(uds)
  -- a worker never writes a snapshot: its VMM may not write files at all
  local ro = { vsock_uds = uds, cid = 2 + id, console = "capture", standby = standby, no_snapshots = true }
  for k, val in pairs(self.o.restore or {}) do ro[k] = val end
  local ok, v = pcall(vm.restore, self.o.snapshot, ro)
  if not ok then
    log("cannot restore %s: %s", self.o.snapshot, tostring(v))
    return nil
  end
  local w = { id = id, uds = uds, vm = v, started_at = core.sys.monotime() }
  loop.lines(assert(v.proc:take_fd("status")), function(line) if line then status_line(self, w, line) end end)
  for _, which in ipairs({ "stdout", "stderr" }) do
    loop.lines(assert(v.proc:take_fd(which)), function(line)
      if line then self:worker_line(id, which, line) end
    end)
  end
  local pidfd = assert(v.proc:pidfd())
  w.pidw = loop.on_readable(pidfd, function() self:vmm_exited(w) end)
  w.pidfd = pidfd
  return w
end

-- The standby, told to go (it may still be setting up: it goes once it is),
-- or nil when there is none or it died meanwhile.
function Daemon:take_standby()
  local w = self.standby
  if not w then return nil end
  self.standby = nil
  self:show_standby()
  if not w.vm:go() then return nil end   -- its exit is logged as a standby's
  w.went = true
  return w
end

-- A worker for the router: the standby if there is one, else a cold restore.
function Daemon:start_worker(restarts)
  local w = self:take_standby() or self:spawn_vmm(false)
  if not w then
    self.fails = self.fails + 1
    return nil
  end
  w.restarts = restarts or 0
  w.agent = pagent.vm(w.uds, self.o.port, w.id)
  self.workers[w.id] = w
  assert(self.router:add_worker(w.id, w.uds, self.o.port))
  if self.p.health then self:set_health(w, "starting") end
  return w
end

function Daemon:show_standby()
  if self.stopping then return end
  self.router:set_standby(self.standby and self.standby.standby_us and 1 or 0)
end

-- SIGTERM (the VMM ends the VM and reports end=killed), SIGKILL if it
-- lingers; with stop_hook, before_stop runs first (bounded by stop_grace).
function Daemon:end_worker(w, why, stop_hook)
  w.reaped = true
  self.router:remove_worker(w.id)
  log("worker %d: %s", w.id, why)
  if stop_hook and self.p.before_stop then
    return loop.go(function()
      self:before_stop(w, self.o.stop_grace or M.STOP_GRACE_S)
      self:kill_worker(w)
    end)
  end
  self:kill_worker(w)
end

function Daemon:kill_worker(w)
  w.vm:kill(15)
  core.loop.timer(M.STOP_GRACE_S * 1000, function()
    if self.workers[w.id] == w then w.vm:kill(9) end
  end)
end

-- ---- policies and hooks (docs/policies.md) ----

function Daemon:set_health(w, h)
  w.health = h
  self.router:set_health(w.id, h)
end

-- A running worker: after_restore (if any) before the router sends it a
-- client, then its health checks.  A hook that fails ends the worker as a failure.
function Daemon:admit(w)
  if self.p.after_restore then
    local ok, err = w.agent:wait_agent(self.p.hook_timeout)
    if ok then ok, err = guard.call("after_restore", self.p.hook_timeout, self.p.after_restore, w.agent) end
    if self.stopping or self.workers[w.id] ~= w then return end
    if not ok then
      w.failed = { reason = "hook", why = err }
      return self:end_worker(w, "after_restore failed: " .. policy.oneline(err) .. "; ended")
    end
  end
  self.router:ready(w.id)
  if self.p.health then
    loop.go(function() checker.run(w, self.p.health, self.check_hooks) end)
  end
end

function Daemon:before_stop(w, grace)
  local ok, err = guard.call("before_stop", math.max(grace, 0.05), self.p.before_stop, w.agent)
  if not ok then log("worker %d: %s", w.id, policy.oneline(err)) end
end

-- Unhealthy: no new clients (a fresh worker takes them), the restart policy
-- hears of it once the VM is gone: after its connections end, or stop_grace.
function Daemon:unhealthy(w, why)
  w.draining, w.failed = true, { reason = "health", why = why }
  self:set_health(w, "unhealthy")
  self.router:drain(w.id)
  log("worker %d is unhealthy (%s): draining", w.id, why)
  self.need:set()
  local deadline = core.sys.monotime() + (self.o.stop_grace or M.STOP_GRACE_S)
  while self.workers[w.id] == w and core.sys.monotime() < deadline do
    local st = self.router:worker_stats(w.id)
    if not st or st.active == 0 then break end
    loop.sleep(0.1)
  end
  if self.workers[w.id] == w and not w.reaped then self:end_worker(w, "unhealthy, drained; ended") end
end

-- What the restart policy hears of a worker that failed (docs/policies.md, "Restart").
function Daemon:restart_ctx(w, r)
  local e = w.end_line or {}
  local ctx = { worker = w.id, restarts = w.restarts or 0, last_health = w.health_last or {},
    uptime = core.sys.monotime() - (w.ready_at or w.started_at), why = end_reason(w, r) }
  if w.failed then
    ctx.reason, ctx.why = w.failed.reason, w.failed.why
  elseif e["end"] == "exit" then
    ctx.reason, ctx.exit_code = "exit", math.tointeger(e.value)
  elseif e["end"] == "signal" then
    ctx.reason, ctx.signal = "exit", math.tointeger(e.value)
  else
    ctx.reason, ctx.exit_code, ctx.signal = "vmm", r.code, r.signal
  end
  return ctx
end

-- Asks the restart policy; restores a fresh worker after the delay it gave
-- (if the pool still has room: a request may have brought one meanwhile).
function Daemon:restart(ctx)
  local rp = self.p.restart
  local ok, a, b = guard.call(rp.name, self.p.policy_timeout, rp.fn, ctx)
  local d = ok and policy.decision(a, b) or { restart = false, reason = policy.oneline(a) }
  if not d.restart then
    return log("worker %d (%s): %s gives up: %s", ctx.worker, ctx.reason, rp.name, d.reason)
  end
  log("worker %d (%s): %s restarts it in %g s", ctx.worker, ctx.reason, rp.name, d.delay)
  if d.delay > 0 then loop.sleep(d.delay) end
  if self.stopping then return end
  if self:pool_count() >= self.o.workers then
    return log("worker %d: the pool is full again; no restart needed", ctx.worker)
  end
  local w = self:start_worker(ctx.restarts + 1)
  if w then log("worker %d restored in place of worker %d (restart %d)", w.id, ctx.worker, w.restarts) end
end

-- ---- the coroutines ----

-- Restores a worker whenever the router asks; after failed restores waits
-- backoff(fails) before the next.
function Daemon:keeper()
  while not self.stopping do
    local waiting = self.need:wait()
    if self.stopping then return end
    if self.fails > 0 then loop.sleep(backoff(self.fails)) end
    local st = self.router:stats()
    local pool = self:pool_count()
    if pool < self.o.workers and (st.waiting > 0 or type(waiting) == "number" or self:warm_short()) then
      if not self:start_worker() then self.need:set() end   -- again, after the back-off
    end
  end
end

-- Keeps one standby while serving; after standbys that died waits
-- backoff(standby_fails) before the next (reset once one has run as a worker).
function Daemon:standby_keeper()
  while not self.stopping do
    self.standby_need:wait()
    if self.standby_fails > 0 and not self.stopping then loop.sleep(backoff(self.standby_fails)) end
    if not self.stopping and not self.standby then
      self.standby = self:spawn_vmm(true)
      if not self.standby then
        self.standby_fails = self.standby_fails + 1
        self.standby_need:set()   -- again, after the back-off
      end
    end
  end
end

function Daemon:warm_short()
  return self.o.idle_timeout == 0 and self:pool_count() == 0
end

function Daemon:reap_idle()
  local limit = self.o.idle_timeout
  local ready = 0
  for _, w in pairs(self.workers) do if w.ready_at and not w.reaped and not w.draining then ready = ready + 1 end end
  for _, w in pairs(self.workers) do
    local st = w.ready_at and not w.reaped and not w.draining and self.router:worker_stats(w.id)
    local keep = limit == 0 and ready <= 1
    local after = limit == 0 and M.KEEP_WARM_EXTRA_IDLE_S or limit
    if st and st.active == 0 and st.idle_s >= after and not keep then
      ready = ready - 1
      self:end_worker(w, string.format("idle for %.1f s, ended", st.idle_s), true)
    end
  end
  if self:warm_short() then self.need:set() end
end

function Daemon:reaper()
  while not self.stopping do
    loop.sleep(M.REAP_EVERY_S)
    if not self.stopping then self:reap_idle() end
  end
end

-- The grace --stop asked for (router-PORT.stop), else ours.
function Daemon:grace()
  local f = io.open(require("sm.run").files(self.o.http_port).stop)
  local g = f and tonumber(f:read("l") or "")
  if f then f:close() end
  return g or self.o.stop_grace or M.STOP_GRACE_S
end

function Daemon:stop(why)
  if self.stopping then return end
  self.stopping = true
  local grace = self:grace()
  log("stopping (%s): SIGTERM to %d workload(s), %g s grace", why or "asked", self:count(), grace)
  self.router:close()
  local agent = require "sm.agent"
  for _, w in pairs(self.workers) do
    w.reaped = true
    -- the workload gets SIGTERM through the agent; a worker still restoring has none to ask
    local function term()
      if not (w.ready_at and agent.stop(w.uds, 15, 2)) then w.vm:kill(15) end
    end
    if w.ready_at and self.p.before_stop then
      loop.go(function() self:before_stop(w, grace) term() end)
    else
      term()
    end
  end
  local standby = self.standby
  if standby then standby.reaped = true standby.vm:kill(9) end   -- it never ran: nothing to stop gently
  self.need:set()
  self.standby_need:set()
  local deadline = core.sys.monotime() + grace
  loop.go(function()
    while (self:count() > 0 or self.standby) and core.sys.monotime() < deadline do loop.sleep(0.05) end
    for _, w in pairs(self.workers) do w.vm:kill(9) w.vm.proc:wait(1) end
    for _, sig in ipairs(self.signals or {}) do sig:close() end
    core.fs.rmtree(self.dir)
    if self.wlog then self.wlog:close() self.wlog = nil end
    if self.on_stopped then self.on_stopped() else loop.stop() end
  end)
end

-- Every VM of this daemon, killed at once (the loop failed).
function Daemon:kill_all()
  for _, w in pairs(self.workers) do w.vm:kill(9) end
  if self.standby then self.standby.vm:kill(9) end
end

-- Its coroutines, signals and the router's callback, on the loop (which
-- the caller runs: one daemon, or several services in one process).
function Daemon:start()
  self.router:on_need(function(waiting) self.need:set(waiting) end)
  self.signals = {
    loop.on_signal(15, function() self:stop("SIGTERM") end),
    loop.on_signal(2, function() self:stop("SIGINT") end),
    loop.on_signal(10, function() if not self.stopping then self.need:set(1) end end),	-- SIGUSR1: warm one
  }
  loop.go(function() self:keeper() end)
  loop.go(function() self:reaper() end)
  if self.o.standby ~= false then
    loop.go(function() self:standby_keeper() end)
    self.standby_need:set()
  end
  if self:warm_short() then self.need:set() end
  if self.o.tls then
    log("TLS certificate %s (SHA-256 %s)", self.o.tls.cert, self.o.tls.fingerprint)
  end
  log("serving %s on %s (guest port %d, up to %d workers, idle timeout %s s, %s)",
    self.o.name, require("sm.tls").endpoint(self.o.http_port, self.o.tls), self.o.port, self.o.workers, tostring(self.o.idle_timeout),
    self.o.standby ~= false and "a standby VMM" or "no standby")
end

function Daemon:run()
  self:start()
  local ok, err = loop.run()
  if not ok then
    self:kill_all()
    error(err, 0)
  end
end

-- A snapshot `sm run` baked (DIR/bake.json + DIR/vm/, docs/run.md): what
-- serving it takes — { vm =, root =, port =, name =, restore = } — or nil
-- when DIR has no bake.json.  volumes: the host sides, in bake.json order.
function M.baked(dir, volumes)
  local bake = require "sm.bake"
  local meta = bake.read_json(dir .. "/bake.json")
  if not meta then return nil end
  if meta.format ~= bake.FORMAT then
    errors.fail("snapshot " .. dir .. ": bake format " .. tostring(meta.format) .. ", this sm reads " .. bake.FORMAT .. " — bake it again with sm run")
  end
  if #(volumes or {}) ~= #(meta.volumes or {}) then
    errors.usage_error(string.format("snapshot %s needs %d --volume (host sides), got %d", dir,
      #(meta.volumes or {}), #(volumes or {})))
  end
  return { vm = dir .. "/vm", root = dir, port = math.tointeger(meta.port), name = meta.name,
    restore = bake.restore_options(meta, volumes) }
end

-- The port's state files (sm.run: pid, lock, snapshot, rm), held for the
-- daemon's life; released (and with --rm the snapshot removed) by release.
local function claim(o)
  local run = require "sm.run"
  o.workers_log = o.workers_log or run.files(o.http_port).workers
  local lock = run.claim(o.http_port, o.name, o.snapshot_root or o.snapshot, o.rm, o.tls)
  local f = io.open(o.workers_log, "w")	-- a new daemon's log starts empty
  if f then f:close() end
  return lock
end

local function release(o, lock)
  local run = require "sm.run"
  local rm = core.fs.stat(run.files(o.http_port).rm) ~= nil
  run.clear(o.http_port)
  lock:unlock()
  if rm and o.snapshot_root then
    core.fs.rmtree(o.snapshot_root)
    log("removed snapshot %s (--rm)", o.snapshot_root)
  end
end

-- Serve until stopped, holding the port's state files for the daemon's
-- life; removes them, and with --rm the snapshot (o.snapshot_root), when
-- it ends.  Returns the exit code.
function M.serve(o)
  local lock = claim(o)
  local ok, err = pcall(function() M.new(o):run() end)
  release(o, lock)
  if not ok then error(err, 0) end
  return 0
end

-- Several services (a recipe's, docs/recipes.md §8) in this one process:
-- a router and a supervisor each, one loop; a signal stops them all, and
-- the loop ends when the last has stopped.
function M.serve_all(list)
  if #list == 1 then return M.serve(list[1]) end
  local locks, daemons = {}, {}
  local ok, err = pcall(function()
    for i, o in ipairs(list) do
      locks[i] = claim(o)
      daemons[i] = M.new(o)
    end
    local left = #daemons
    for _, d in ipairs(daemons) do
      d.on_stopped = function()
        left = left - 1
        if left == 0 then loop.stop() end
      end
      d:start()
    end
    local lok, lerr = loop.run()
    if not lok then
      for _, d in ipairs(daemons) do d:kill_all() end
      error(lerr, 0)
    end
  end)
  for i, o in ipairs(list) do if locks[i] then release(o, locks[i]) end end
  if not ok then error(err, 0) end
  return 0
end

return M

-- sm.loop: the daemon's one event loop (libuv, src/lua/l_loop.c) for Lua
-- that reads as if it blocked: code runs in coroutines, and sleep / wait
-- yield to the loop until a timer or an event resumes them (OpenResty and
-- Neovim style).  Nothing here may block the loop: the router's C path
-- runs on it too.
--
--   loop.go(fn, ...)           -- run fn in a new coroutine, now
--   loop.sleep(s)              -- inside a coroutine
--   ev = loop.event()          -- ev:wait([timeout_s]) -> value | nil, "timeout"; ev:set(value)
--   loop.lines(fd, fn)         -- fn(line) per line, fn(nil) at EOF
--   loop.on_readable(fd, fn), loop.on_signal(signo, fn), loop.every(s, fn)
--   ok, err = loop.run(); loop.stop()
local core = require "sm.core"

local M = {}

local function ms(s) return math.max(0, math.floor(s * 1000 + 0.5)) end

-- Resumes co; an error in it stops the loop (core.loop.run returns it).
-- resumed_at: when the running coroutine was last resumed (sm.policy.guard
-- measures how long a guarded function runs without yielding from it).
function M.resume(co, ...)
  M.resumed_at = core.sys.monotime()
  local ok, err = coroutine.resume(co, ...)
  if not ok then error(debug.traceback(co, tostring(err)), 0) end
end

function M.go(fn, ...)
  local co = coroutine.create(fn)
  M.resume(co, ...)
  return co
end

local function current()
  local co, main = coroutine.running()
  if main then error("sm.loop: this call waits, so it must run inside loop.go(...)", 2) end
  return co
end

function M.sleep(s)
  local co = current()
  core.loop.timer(ms(s), function() M.resume(co) end)
  coroutine.yield()
end

function M.every(s, fn) return assert(core.loop.timer(ms(s), fn, math.max(1, ms(s)))) end

-- A one-slot event: set() wakes the coroutine waiting on it, or is kept
-- for the next wait().
local Event = {}
Event.__index = Event

function M.event() return setmetatable({ pending = false }, Event) end

function Event:set(v)
  local co = self.waiter
  if co then
    self.waiter = nil
    if self.timer then self.timer:close() self.timer = nil end
    return M.resume(co, v == nil and true or v)
  end
  self.pending, self.value = true, v
end

function Event:wait(timeout)
  if self.pending then
    self.pending = false
    local v = self.value
    self.value = nil
    return v == nil and true or v
  end
  local co = current()
  self.waiter = co
  if timeout then
    self.timer = core.loop.timer(ms(timeout), function()
      self.waiter, self.timer = nil, nil
      M.resume(co, nil, "timeout")
    end)
  end
  return coroutine.yield()
end

function M.lines(fd, fn) return assert(core.loop.read_lines(fd, fn)) end
function M.on_readable(fd, fn) return assert(core.loop.watch_fd(fd, fn)) end
function M.on_signal(signo, fn) return assert(core.loop.on_signal(signo, fn)) end
function M.run() return core.loop.run() end
function M.stop() core.loop.stop() end

return M

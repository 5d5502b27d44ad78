-- sm.policy: finding policies by name and reading what they answer
-- (docs/policies.md).  Built-ins are plain modules under sm.policy.restart.*
-- and sm.policy.health.*, loaded with require, so a file of the same name
-- under $XDG_CONFIG_HOME/sm/lua/ replaces one without rebuilding.
--
--   fn, err = policy.restart("on-failure" | "on_failure" | function)
--   fn, err = policy.health("http" | "cmd" | "tcp" | function)
--   s = policy.oneline(why)       -- a reason fit for one log line
--   d = policy.decision(ok, a, b)   -- a restart policy's pcall results →
--         { restart = true, delay = s } | { restart = false, reason = "..." }
local M = {}

M.MAX_DELAY_S = 3600
M.RESTART = { no = true, on_failure = true, always = true, unless_stopped = true }
M.HEALTH = { http = true, cmd = true, tcp = true }

-- "on-failure" (a flag) and "on_failure" (a module) name the same policy.
local function load(kind, known, spec)
  if type(spec) == "function" then return spec, kind .. " function" end
  if type(spec) ~= "string" then return nil, kind .. ": expected a name or a function, got " .. type(spec) end
  local name = spec:gsub("%-", "_")
  if not known[name] then
    local names = {}
    for k in pairs(known) do names[#names + 1] = (k:gsub("_", "-")) end
    table.sort(names)
    return nil, string.format("%s policy '%s' is not one of ours (%s, or a function)", kind, spec, table.concat(names, ", "))
  end
  local ok, fn = pcall(require, "sm.policy." .. kind .. "." .. name)
  if not ok then return nil, string.format("%s policy %s: %s", kind, name, tostring(fn)) end
  if type(fn) ~= "function" then
    return nil, string.format("%s policy %s: its module returned a %s, not a function", kind, name, type(fn))
  end
  return fn, kind .. "/" .. name
end

-- Reasons come from user code and the guest: control bytes become spaces, at most 300 bytes.
function M.oneline(why)
  local s = tostring(why):gsub("[%c]+", " "):gsub("^%s+", ""):gsub("%s+$", "")
  return #s > 300 and s:sub(1, 297) .. "..." or s
end

function M.restart(spec) return load("restart", M.RESTART, spec) end
function M.health(spec) return load("health", M.HEALTH, spec) end

-- true [, s] or a number s: restart after s seconds (0: now); false|nil
-- [, reason]: give up.  Anything else is a policy error: give up, say why.
function M.decision(first, second)
  local delay
  if first == true then delay = second == nil and 0 or second
  elseif math.type(first) then delay = first
  elseif first == false or first == nil then
    return { restart = false, reason = second ~= nil and M.oneline(second) or "the policy said no" }
  else
    return { restart = false, reason = "the policy returned a " .. type(first) .. " (want true, seconds, or false, reason)" }
  end
  if not math.type(delay) or delay ~= delay or delay < 0 or delay > M.MAX_DELAY_S then
    return { restart = false, reason = string.format("the policy asked for a delay of %s s (want 0..%d)", tostring(delay), M.MAX_DELAY_S) }
  end
  return { restart = true, delay = delay }
end

return M

-- sm.recipe: a recipe file (docs/recipes.md, format 1) read, checked and
-- turned into the options `sm run` and `sm pull` work with.
--
--   local rec = recipe.load("site.lua")        -- raises "recipe site.lua:7: …"
--   local list = recipe.services(rec)          -- { {name=, fields=}, … }
--   local o = recipe.flags(fields, rec, given) -- sm.args-shaped options
--
-- A recipe is a Lua file returning a table.  It is code the user wrote,
-- but its shape is checked like untrusted input: an unknown field, a wrong
-- type or a missing image is one line naming the field and, where the
-- source shows it, the line.  Flags given on the command line override the
-- recipe's fields (recipe.flags).
local errors = require "sm.errors"

local M = {}

M.FORMAT = 1

-- The recipe line of each bake step table (for "step 2 (site.lua:9)").
M.step_lines = setmetatable({}, { __mode = "k" })

-- ---- value checkers: each returns nil when v fits, else what it wanted ----

local function int(lo, hi)
  return function(v)
    if math.type(v) ~= "integer" then return string.format("a whole number %d..%d", lo, hi) end
    if v < lo or v > hi then return string.format("%d..%d, got %d", lo, hi, v) end
  end
end

local function number(lo, hi)
  return function(v)
    if type(v) ~= "number" or v ~= v then return string.format("a number %g..%g", lo, hi) end
    if v < lo or v > hi then return string.format("%g..%g, got %g", lo, hi, v) end
  end
end

local function str(pattern, what)
  return function(v)
    if type(v) ~= "string" or v == "" or v:find("%z") then return "a non-empty string" end
    if pattern and not v:match(pattern) then return what end
  end
end

local function list_of(check, what)
  return function(v)
    if type(v) ~= "table" then return what end
    local n = 0
    for k in pairs(v) do
      n = n + 1
      if math.type(k) ~= "integer" or k < 1 then return what end
    end
    if n ~= #v then return what end
    for _, e in ipairs(v) do if check(e) then return what end end
  end
end

local function one_of(...)
  local checks = { ... }
  return function(v)
    local wants = {}
    for _, c in ipairs(checks) do
      local w = c(v)
      if not w then return nil end
      wants[#wants + 1] = w
    end
    return table.concat(wants, " or ")
  end
end

local function is_type(t, what) return function(v) if type(v) ~= t then return what end end end
local function enum(...)
  local set, names = {}, {}
  for _, s in ipairs({ ... }) do set[s] = true names[#names + 1] = '"' .. s .. '"' end
  return function(v) if not set[v] then return table.concat(names, ", ") end end
end

local fn = is_type("function", "a function")
local strings = list_of(str(), "a list of strings")
local argv = one_of(str(), list_of(str(), "a list of strings (exec form)"))

local function env_map(v)
  local what = 'a table of NAME = "value" (or a list of "NAME=value")'
  if type(v) ~= "table" then return what end
  if not strings(v) then
    for _, e in ipairs(v) do if not e:match("^[^=]+=") then return what end end
    return nil
  end
  for k, val in pairs(v) do
    if type(k) ~= "string" or not k:match("^[%a_][%w_]*$") then return what end
    local t = type(val)
    if t ~= "string" and t ~= "number" and t ~= "boolean" then return what end
  end
end

-- ---- the fields (docs/recipes.md lists exactly these; spec checks it) ----

-- The ranges a field and its `sm run` flag share (sm.run.options checks the flags).
M.LIMITS = {
  port = { 1, 65535 }, http_port = { 1, 65535 }, memory = { 64, 16384 }, vcpus = { 1, 16 },
  workers_max = { 1, 64 }, idle_timeout = { 0, 86400 }, stop_grace = { 0, 600 },
}
local L = M.LIMITS

local NAME = "^[%w][%w_.%-]*$"
local step_check		-- below: a bake step

-- Fields of a service (and of the recipe itself, which is its first service
-- or the defaults of `services`).  sub = the fields of a nested table.
M.FIELDS = {
  image = str(),
  name = str(NAME, "letters, digits, '.', '_', '-' (at most 64)"),
  port = int(L.port[1], L.port[2]),
  http_port = int(L.http_port[1], L.http_port[2]),
  memory = int(L.memory[1], L.memory[2]),
  vcpus = int(L.vcpus[1], L.vcpus[2]),
  env = env_map,
  cmd = argv,
  entrypoint = argv,
  workdir = str("^/", "an absolute path"),
  user = str(),
  hostname = str("^[%w][%w.%-]*$", "letters, digits, '.' and '-'"),
  volumes = list_of(str("^[^:]+:/", "HOST:GUEST"), 'a list of "HOST:/guest/path" strings'),
  workers = { max = int(L.workers_max[1], L.workers_max[2]), idle_timeout = int(L.idle_timeout[1], L.idle_timeout[2]) },
  bake = one_of(fn, function(v) return step_check(v) end),
  snapshot = one_of(enum("listening", "ready"), fn),
  health = one_of(fn, is_type("table", "a table")),
  restart = one_of(enum("no", "on-failure", "on_failure", "always", "unless-stopped", "unless_stopped"), fn),
  stop_grace = number(L.stop_grace[1], L.stop_grace[2]),
  after_restore = fn,
  before_stop = fn,
  route = str("^/", "a path prefix starting with '/'"),
  egress = { policy = str("^[%w_]", "deny_private, allowlist:CIDRS or denylist:CIDRS"),
    during_bake = is_type("boolean", "true or false") },
  tls = { cert = str(), key = str(), autogen = is_type("boolean", "true or false") },
}

-- Fields only the top level has.
M.TOP = {
  format = int(1, M.FORMAT),
  services = is_type("table", "a table of NAME = { service fields }"),
}

-- (their ranges are sm.policy.options', checked when the recipe is resolved)
local seconds = is_type("number", "a number of seconds")
M.HEALTH = {
  check = one_of(str("^[%w_]+$", "a built-in check's name"), fn), path = str("^/", "a path starting with '/'"),
  port = int(L.port[1], L.port[2]), cmd = argv, interval = seconds, timeout = seconds, retries = int(1, 100),
  start_period = seconds,
}

-- A bake step: exactly one verb, plus that verb's own options.
M.VERBS = { "run", "copy", "env", "workdir", "user" }
M.STEPS = {
  run = { run = argv },
  copy = { copy = str(), to = str("^/", "an absolute guest path"), mode = int(0, 4095), owner = str() },
  env = { env = env_map },
  workdir = { workdir = str("^/", "an absolute path") },
  user = { user = str() },
}

-- Every field name the loader accepts, flattened ("workers.max",
-- "health.interval", "bake.copy"), sorted: docs/recipes.md §2 lists these.
function M.all_fields()
  local out = {}
  local function add(t, prefix)
    for k, v in pairs(t) do
      out[#out + 1] = prefix .. k
      if type(v) == "table" then add(v, prefix .. k .. ".") end
    end
  end
  add(M.FIELDS, "")
  add(M.TOP, "")
  add(M.HEALTH, "health.")
  local seen = {}
  for _, step in pairs(M.STEPS) do
    for k in pairs(step) do
      if not seen[k] then seen[k] = true out[#out + 1] = "bake." .. k end
    end
  end
  table.sort(out)
  return out
end

-- ---- where in the source a field is, for the message ----

-- The first line at or after `from` where `key = ` (not `==`) appears.
local function line_of(src, key, from)
  local n = 0
  for line in (src .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    if n >= (from or 1) and line:find("%f[%w_]" .. key:gsub("%p", "%%%0") .. "%s*=[^=]") then return n end
  end
end

local Ctx = {}
Ctx.__index = Ctx

function Ctx:fail(path, msg, line)
  local where = self.path .. ((line or self.line) and (":" .. (line or self.line)) or "")
  errors.usage_error(string.format("recipe %s: %s%s", where, path and ("field '" .. path .. "': ") or "", msg))
end

-- The known name closest to a misspelt one (at most 2 edits), if any.
local function closest(name, known)
  local function dist(a, b)
    if math.abs(#a - #b) > 2 then return 3 end
    local prev = {}
    for j = 0, #b do prev[j] = j end
    for i = 1, #a do
      local cur = { [0] = i }
      for j = 1, #b do
        cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a:sub(i, i) == b:sub(j, j) and 0 or 1))
      end
      prev = cur
    end
    return prev[#b]
  end
  local best, bd = nil, 3
  for k in pairs(known) do
    local d = dist(name, k)
    if d < bd or (d == bd and best and k < best) then best, bd = k, d end
  end
  return best
end

-- Checks table t against fields; prefix names nested fields ("workers.").
function Ctx:check(t, fields, prefix, from, extra)
  local names = {}
  for k in pairs(t) do names[#names + 1] = k end
  table.sort(names, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(names) do
    local v = t[k]
    local path = (prefix or "") .. tostring(k)
    local line = type(k) == "string" and line_of(self.src, k, from) or nil
    local spec = type(k) == "string" and (fields[k] or (extra and extra[k]))
    if not spec then
      local near = type(k) == "string" and closest(k, fields)
      self:fail(path, "unknown field" .. (near and (" — did you mean '" .. near .. "'?") or "")
        .. " (docs/recipes.md lists the fields)", line)
    elseif type(spec) == "table" then
      if type(v) ~= "table" then self:fail(path, "want a table", line) end
      self:check(v, spec, path .. ".", line)
    else
      local want = spec(v)
      if want then self:fail(path, "want " .. want .. ", got " .. (type(v) == "string" and ('"' .. v .. '"') or type(v)), line) end
    end
  end
end

-- A bake step list: each a table with exactly one verb.
function Ctx:check_steps(steps)
  local from = line_of(self.src, "bake")
  for i, s in ipairs(steps) do
    local path = "bake[" .. i .. "]"
    if type(s) ~= "table" then self:fail(path, "want a step table such as { run = \"...\" }", from) end
    local verb, n = nil, 0
    for _, k in ipairs(M.VERBS) do if s[k] ~= nil then verb, n = k, n + 1 end end
    if n ~= 1 then self:fail(path, "want exactly one of run, copy, env, workdir, user", from) end
    local line = line_of(self.src, verb, from)
    self:check(s, M.STEPS[verb], path .. ".", line)
    if verb == "copy" and not s.to then self:fail(path, "copy needs `to = \"/guest/path\"`", line) end
    M.step_lines[s] = line
    from = line and line + 1 or from
  end
end

function Ctx:check_service(t, prefix, from)
  self:check(t, M.FIELDS, prefix, from, prefix == nil and M.TOP or nil)
  if type(t.bake) == "table" then self:check_steps(t.bake) end
  if type(t.health) == "table" then
    self:check(t.health, M.HEALTH, (prefix or "") .. "health.", line_of(self.src, "health", from))
  end
  if t.route then
    self:fail((prefix or "") .. "route", "path routing on a shared port is not built yet — give each service its own http_port",
      line_of(self.src, "route", from))
  end
end

step_check = function(v)
  if type(v) ~= "table" then return "a list of steps" end
  for k in pairs(v) do if math.type(k) ~= "integer" then return "a list of steps" end end
end

-- ---- loading ----

-- A recipe argument: a path ending in .lua.
function M.is_recipe(arg) return type(arg) == "string" and arg:match("%.lua$") ~= nil end

local function dirname(path) return path:match("^(.*)/[^/]*$") or "." end

-- Reads, runs and checks a recipe file.  Returns the recipe table with
-- `_path` (as given), `_dir` (for relative paths in it) and `_src`.
-- `arg`, if given, is the chunk's `...` (the default recipe's image).
function M.load(path, arg)
  local f, oerr = io.open(path, "rb")
  if not f then errors.usage_error("recipe " .. path .. ": " .. tostring(oerr):gsub("^[^:]*: ", "") .. " — give the path of a .lua recipe") end
  local src = f:read("a")
  f:close()
  -- its own globals, falling back to the standard ones: a recipe cannot
  -- leave anything behind in sm's
  local env = setmetatable({}, { __index = _G })
  local chunk, perr = load(src, "@" .. path, "t", env)
  if not chunk then errors.usage_error("recipe " .. perr:gsub("^([^:]+:%d+:)", "%1 syntax error:")) end
  local ok, t = pcall(chunk, arg)
  if not ok then
    errors.usage_error("recipe " .. (type(t) == "string" and t or tostring(t)):gsub("\n.*", ""))
  end
  local ctx = setmetatable({ path = path, src = src }, Ctx)
  if type(t) ~= "table" then
    ctx:fail(nil, "must return a table (got " .. type(t) .. ") — end it with `return { image = \"...\", ... }`")
  end
  ctx:check_service(t, nil, 1)
  if t.services then
    local n = 0
    for name, s in pairs(t.services) do
      n = n + 1
      local line = type(name) == "string" and line_of(src, name) or nil
      if type(name) ~= "string" or not name:match(NAME) or #name > 64 then
        ctx:fail("services", "service names are letters, digits, '.', '_', '-', got " .. tostring(name), line)
      end
      if type(s) ~= "table" then ctx:fail("services." .. name, "want a table of service fields", line) end
      ctx:check_service(s, "services." .. name .. ".", line)
      if not (s.image or t.image) then ctx:fail("services." .. name .. ".image", "missing — every service needs an image", line) end
    end
    if n == 0 then ctx:fail("services", "empty — give at least one service", line_of(src, "services")) end
  elseif not t.image then
    local ret
    local n = 0
    for line in (src .. "\n"):gmatch("([^\n]*)\n") do
      n = n + 1
      if line:match("^%s*return%f[%W]") then ret = n end
    end
    ctx:fail("image", 'missing — e.g. image = "nginx:1.27-alpine"', ret)
  end
  t._path, t._dir, t._src = path, dirname(path), src
  return t
end

-- The default recipe, what `sm run IMAGE` runs: the user's
-- $XDG_CONFIG_HOME/sm/recipes/default.lua if there is one, else ours
-- (recipes/default.lua beside sm's Lua modules).
function M.default_path()
  local util = require "sm.util"
  local home = util.env("HOME")
  local xdg = util.env("XDG_CONFIG_HOME") or (home and home .. "/.config")
  local mine = xdg and xdg .. "/sm/recipes/default.lua"
  if mine and require("sm.core").fs.stat(mine) then return mine, false end
  return require("sm.core").sys.paths().lua .. "/../recipes/default.lua", true
end

function M.default(image)
  local path, builtin = M.default_path()
  local rec = M.load(path, image)
  rec._default, rec._builtin = true, builtin
  return rec
end

-- The services of a recipe, in name order: { name =, fields = } where
-- fields are the service's own over the recipe's top-level ones.  A recipe
-- without `services` is one service named by its `name` (or nil).
function M.services(rec)
  if not rec.services then return { { fields = rec } } end
  local list = {}
  for name, s in pairs(rec.services) do
    local fields = {}
    for k, v in pairs(rec) do if M.FIELDS[k] then fields[k] = v end end
    for k, v in pairs(s) do fields[k] = v end
    fields.name = fields.name or name
    list[#list + 1] = { name = name, fields = fields }
  end
  table.sort(list, function(a, b) return a.name < b.name end)
  return list
end

-- A check made after loading (sm.policy.options' ranges, say) failed:
-- raise it as the loader would, at the line of the field it names
-- ("health.interval = 0: must be …").
function M.fail_at(info, msg)
  local field = msg:match("^([%w_.]+)")
  local key = field and field:match("([%w_]+)$")
  local line = info.src and key and line_of(info.src, key)
  local ctx = setmetatable({ path = info.path, src = info.src or "" }, Ctx)
  ctx:fail(nil, msg, line)
end

-- ---- recipe fields → `sm run` options ----

local function env_list(e)
  if not e then return nil end
  if #e > 0 or next(e) == nil then return table.move(e, 1, #e, 1, {}) end
  local keys = {}
  for k in pairs(e) do keys[#keys + 1] = k end
  table.sort(keys)	-- a fixed order: it goes into the bake key
  local out = {}
  for i, k in ipairs(keys) do out[i] = k .. "=" .. tostring(e[k]) end
  return out
end
M.env_list = env_list

-- A string cmd is shell form (as in a Dockerfile); a list is exec form.
local function cmd_argv(v)
  if type(v) == "string" then return { "/bin/sh", "-c", v } end
  return v
end

-- A host path in a recipe: relative ones are the recipe directory's.
local function abs(dir, p)
  if p:sub(1, 1) == "/" then return p end
  return ((dir or ".") == "." and "" or dir .. "/") .. p:gsub("^%./", "")
end
M.host_path = abs

-- A relative host side of a volume is the recipe's directory's ("./x.img:/data").
local function volume_spec(dir, s)
  local host, rest = s:match("^([^:]+)(:.*)$")
  if host:match("^%.%.?/") then return abs(dir, host) .. rest end
  return s
end

-- The sm.args-shaped options a service's fields mean, with the flags the
-- user gave (`given`, from sm.args) on top.  Fields with no flag (bake
-- steps, hooks, a health or restart function, snapshot) are kept in
-- o.recipe for sm.bake and sm.daemon.
function M.flags(fields, rec, given)
  local w = fields.workers or {}
  local o = {
    name = fields.name, port = fields.port, http_port = fields.http_port, memory = fields.memory,
    vcpus = fields.vcpus, workers_per_snapshot = w.max, idle_timeout = w.idle_timeout,
    env = env_list(fields.env), cmd = fields.cmd and cmd_argv(fields.cmd), workdir = fields.workdir,
    user = fields.user, hostname = fields.hostname, stop_grace = fields.stop_grace,
    entrypoint = type(fields.entrypoint) == "string" and fields.entrypoint or nil,
    entrypoint_argv = type(fields.entrypoint) == "table" and fields.entrypoint or nil,
    restart = type(fields.restart) == "string" and fields.restart:gsub("_", "-") or nil,
  }
  if fields.egress then		-- docs/network.md: during_bake = only the bake steps have it
    o.egress_policy = fields.egress.policy or "deny_private"
    o.egress_during_bake = fields.egress.during_bake or nil
  end
  local t = fields.tls or {}
  o.inbound_tls_cert = t.cert and abs(rec._dir, t.cert)
  o.inbound_tls_key = t.key and abs(rec._dir, t.key)
  o.inbound_tls_autogen = t.autogen or nil
  if fields.volumes then
    o.volume = {}
    for i, v in ipairs(fields.volumes) do o.volume[i] = volume_spec(rec._dir, v) end
  end
  local g = given or {}
  if g.inbound_tls_cert or g.inbound_tls_key or g.inbound_tls_autogen then	-- the flags replace the recipe's tls
    o.inbound_tls_cert, o.inbound_tls_key, o.inbound_tls_autogen = nil, nil, nil
  end
  for k, v in pairs(given or {}) do
    if k == "env" then
      o.env = table.move(v, 1, #v, #(o.env or {}) + 1, o.env or {})	-- flags' entries come later: they win
    elseif k == "entrypoint" then
      o.entrypoint, o.entrypoint_argv = v, nil
    else
      o[k] = v
    end
  end
  o.recipe = {
    path = rec._path, dir = rec._dir, src = rec._src, default = rec._default, builtin = rec._builtin, bake = fields.bake, snapshot = fields.snapshot,
    health = not (given and given.health_cmd) and fields.health or nil,
    restart = not (given and given.restart) and type(fields.restart) == "function" and fields.restart or nil,
    after_restore = fields.after_restore, before_stop = fields.before_stop,
  }
  return o, fields.image
end

return M

-- sm.bake.steps: a recipe's bake steps, run in the bake VM on top of the
-- image before the snapshot (docs/recipes.md "Bake steps").
--
--   local b = steps.baker(vm, cfg, rec)   -- cfg: the run config so far
--   b:run("make install") / b:run{"make", "install"}   -- raises with the step's output on failure
--   b:exec{ argv, env=, cwd=, user=, stdin= } -> { code=, signal=, stdout=, stderr= }
--   b:copy("site/", "/usr/share/nginx/html/", { mode =, owner = })
--   steps.run(b, list)                    -- { run = }, { copy = }, { env = }, { workdir = }, { user = }
--
-- Steps see the environment, directory and user the steps before them set
-- (Dockerfile semantics: ENV, WORKDIR and USER also reach the workload;
-- steps.config folds them into the run config before the bake starts).
-- Host paths in a recipe are relative to the recipe's directory.  Each
-- copied source is hashed (steps.tree_hash) and recorded, so a changed file
-- bakes again.
local core = require "sm.core"
local errors = require "sm.errors"

local M = {}

M.TIMEOUT_S = 600	-- one step at most (SM_BAKE_STEP_TIMEOUT)

local util = require "sm.util"
local trace, tail = util.run_trace, util.tail_lines
local abs = require("sm.recipe").host_path

-- sha256 over a host file or tree: each entry's relative path, kind,
-- permission bits, and a file's content or a link's target — what a copy
-- puts into the guest, not mtimes.
function M.tree_hash(path)
  local parts = {}
  local function walk(p, rel)
    local st, err = core.fs.lstat(p)
    if not st then errors.fail("copy: " .. err .. " — check the path (relative paths are the recipe's directory's)") end
    local perm = st.mode & 4095
    if st.type == "file" then
      parts[#parts + 1] = string.format("f %s %o %s", rel, perm, assert(core.digest.sha256_file(p)))
    elseif st.type == "link" then
      parts[#parts + 1] = string.format("l %s %s", rel, assert(core.fs.readlink(p)))
    elseif st.type == "dir" then
      parts[#parts + 1] = string.format("d %s %o", rel, perm)
      for _, name in ipairs(assert(core.fs.readdir(p))) do walk(p .. "/" .. name, rel .. "/" .. name) end
    else
      errors.fail("copy: " .. p .. " is not a file, directory or symlink — copy only those")
    end
  end
  walk(path, ".")
  return core.digest.sha256(table.concat(parts, "\n"))
end

-- Which step a message is about: "step 2 (site.lua:9)".
local function where(b, i, line)
  if not i then return "bake function (" .. (b.rec and b.rec.path or "recipe") .. ")" end
  return string.format("step %d%s", i, line and string.format(" (%s:%d)", b.rec.path, line) or "")
end

local Baker = {}
Baker.__index = Baker

function M.baker(vm, cfg, rec, image)
  return setmetatable({ vm = vm, env = table.move(cfg.env, 1, #cfg.env, 1, {}), cwd = cfg.workdir,
    user = cfg.user ~= "" and cfg.user or nil, rec = rec, image = image, inputs = {} }, Baker)
end


function Baker:exec(req)
  local r = {}
  for k, v in pairs(req) do r[k] = v end
  r.env = r.env or self.env
  r.cwd = r.cwd or self.cwd
  r.user = r.user or self.user
  r.timeout = r.timeout or tonumber(os.getenv("SM_BAKE_STEP_TIMEOUT") or "") or M.TIMEOUT_S
  return self.vm:exec(r)
end

local function argv_of(cmd)
  if type(cmd) == "string" then return { "/bin/sh", "-c", cmd } end
  return cmd
end

local function shown(cmd)
  return type(cmd) == "string" and cmd or table.concat(cmd, " ")
end

-- Runs cmd; a non-zero exit fails the bake with the step and its output.
function Baker:run(cmd, opts)
  local t0 = core.sys.monotime()
  local req = { argv = argv_of(cmd) }
  for k, v in pairs(opts or {}) do req[k] = v end
  local res = self:exec(req)
  trace("bake: %s `%s` %.1f ms, exit %s", where(self, self.step, self.line), shown(cmd),
    (core.sys.monotime() - t0) * 1e3, tostring(res.code or ("signal " .. tostring(res.signal))))
  if res.code ~= 0 then
    local out = tail((res.stdout or "") .. (res.stderr or ""), 20)
    errors.fail(string.format("baking %s: %s `%s` %s%s", self.image or "the recipe", where(self, self.step, self.line),
      shown(cmd), res.code and ("exited " .. res.code) or ("was killed by signal " .. tostring(res.signal)),
      out ~= "" and (":\n" .. out) or " (no output)"))
  end
  return res
end

-- Copies a host file or tree into the guest (sm.vm's copy: the agent's PUT).
function Baker:copy(src, dst, opts)
  local path = abs(self.rec and self.rec.dir, src)
  local hash = M.tree_hash(path)
  self.inputs[#self.inputs + 1] = { src = path, hash = hash }
  if not self.vm.copy then errors.fail("copy: this sm's agent client cannot copy files") end
  local t0 = core.sys.monotime()
  local ok, info = pcall(self.vm.copy, self.vm, path, dst, { mode = opts and opts.mode, owner = opts and opts.owner })
  if not ok then
    errors.fail(string.format("baking %s: %s `copy = %s`: %s", self.image or "the recipe", where(self, self.step, self.line),
      src, tostring(info):gsub("^copy: ", "")))
  end
  trace("bake: %s copy %s -> %s %.1f ms", where(self, self.step, self.line), src, dst, (core.sys.monotime() - t0) * 1e3)
  return info
end

local function set_env(env, list)
  for _, e in ipairs(list) do env[#env + 1] = e end
end

-- The env/workdir/user steps folded into the run config's image part
-- (before flags and recipe fields, which win): Dockerfile ENV/WORKDIR/USER.
function M.config(c, list)
  local out = { env = table.move(c.env or {}, 1, #(c.env or {}), 1, {}), workdir = c.workdir, user = c.user,
    entrypoint = c.entrypoint, cmd = c.cmd, ports = c.ports }
  local env_list = require("sm.recipe").env_list
  for _, s in ipairs(type(list) == "table" and list or {}) do
    if s.env then set_env(out.env, env_list(s.env)) end
    if s.workdir then out.workdir = s.workdir end
    if s.user then out.user = s.user end
  end
  return out
end

-- Runs a step list (or calls a bake function) in order.
function M.run(b, bake)
  if type(bake) == "function" then
    b.step, b.line = nil, nil
    local ok, err = pcall(bake, b)
    if not ok then
      if errors.is_failure(err) then error(err, 0) end
      errors.fail(string.format("baking %s: the bake function failed: %s", b.image or "the recipe", tostring(err)))
    end
    return
  end
  local lines = require("sm.recipe").step_lines
  for i, s in ipairs(bake) do
    b.step, b.line = i, lines[s]
    if s.run then b:run(s.run)
    elseif s.copy then b:copy(s.copy, s.to, s)
    elseif s.env then set_env(b.env, require("sm.recipe").env_list(s.env))
    elseif s.workdir then b.cwd = s.workdir
    elseif s.user then b.user = s.user end
  end
end

-- The steps as the bake key sees them: verbs and values in a fixed order
-- (a function bake: the recipe's whole source).
function M.describe(bake, rec)
  if type(bake) == "function" then return "fn " .. core.digest.sha256(rec and rec.src or "") end
  local cjson = require "cjson"
  local out = {}
  for i, s in ipairs(bake or {}) do
    local keys = {}
    for k in pairs(s) do keys[#keys + 1] = k end
    table.sort(keys)
    local kv = {}
    for _, k in ipairs(keys) do kv[#kv + 1] = k .. "=" .. cjson.encode(s[k]) end
    out[i] = table.concat(kv, ",")
  end
  return table.concat(out, ";")
end

-- The copy sources a step list names, hashed: what bake.json records.
function M.inputs(bake, rec)
  local out = {}
  for _, s in ipairs(type(bake) == "table" and bake or {}) do
    if s.copy then
      local p = abs(rec and rec.dir, s.copy)
      out[#out + 1] = { src = p, hash = M.tree_hash(p) }
    end
  end
  return out
end

-- The first recorded input whose content changed (or vanished), or nil.
function M.changed(inputs)
  for _, i in ipairs(inputs or {}) do
    local ok, h = pcall(M.tree_hash, i.src)
    if not ok or h ~= i.hash then return i.src end
  end
  return nil
end

return M

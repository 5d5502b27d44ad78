-- sm pull IMAGE: fetch an image and build its layer images.
local args = require "sm.args"
local errors = require "sm.errors"
local oci = require "sm.oci"
local core = require "sm.core"
local run = require "sm.run"

local usage = [[
usage: sm pull [--insecure] [--quiet] [bake options] IMAGE
       sm pull [bake options] RECIPE.lua   bake a recipe's snapshots, serve nothing

Fetches IMAGE and converts each layer to a read-only erofs image in the
layer cache (SM_LAYER_FORMAT=squashfs: squashfs instead).  IMAGE is a
registry reference (nginx, nginx:1.27, localhost:5000/app@sha256:...) or a
local source:
  oci-layout:DIR[:TAG]   oci-archive:FILE[:TAG]   docker-archive:FILE

options:
  --insecure   plain HTTP to the registry (always allowed for localhost,
               127.0.0.1 and [::1])
  --quiet, -q  print only the image digest
  --no-bake    fetch only; otherwise the snapshot `sm run` would serve is
               baked too (reused when up to date)
  --name, --port, --memory, --vcpus, --snapshots-dir, -v/--volume, --entrypoint,
  --cmd, --workdir, --user, --hostname, -e/--env, --kernel
               what the bake uses, as for `sm run` (sm run --help)

A RECIPE.lua (docs/recipes.md) is baked, every service of it, with the flags
over its fields — like `docker build` for a Dockerfile; `sm images` then
shows which recipe each snapshot came from.

Cache: $SM_CACHE_DIR or $XDG_CACHE_HOME/sm.  Images: $XDG_DATA_HOME/sm/images.
See docs/images.md.
]]

local function human(n)
  if n >= 1 << 20 then return string.format("%.1f MB", n / (1 << 20)) end
  if n >= 1 << 10 then return string.format("%.1f kB", n / (1 << 10)) end
  return tostring(n) .. " B"
end

-- How to act on a failure whose message does not already say (its text
-- has no "— fix" part), by the failure's kind.
local HINTS = {
  unsafe = " — the image is unsafe or corrupt; sm will not use it",
  network = " — check the registry address and the network",
  not_found = " — check the image name and tag",
  invalid_ref = " — e.g. nginx, nginx:1.27, localhost:5000/app:1",
}
local function hint(err, kind)
  if err:find("—", 1, true) then return "" end
  return HINTS[kind] or ""
end

-- A TTY gets one redrawn bar per blob; anything else one line per finished blob.
local function progress_printer(tty)
  local order, state = {}, {}
  local function draw()
    if #order > 0 then io.stdout:write(string.format("\27[%dA", #order)) end
    for _, d in ipairs(order) do
      local s = state[d]
      local frac = s.total > 0 and s.done / s.total or 1
      local bar = string.rep("=", math.floor(frac * 30)) .. string.rep(" ", 30 - math.floor(frac * 30))
      io.stdout:write(string.format("\27[2K%s [%s] %s/%s\n", d:sub(8, 19), bar, human(s.done), human(s.total)))
    end
    io.stdout:flush()
  end
  return function(digest, done, total)
    if not state[digest] then
      state[digest] = { done = 0, total = total }
      order[#order + 1] = digest
      if tty then io.stdout:write("\n") end
    end
    local s = state[digest]
    s.done, s.total = done, total
    if tty then
      draw()
    elseif done == total and not s.printed then
      s.printed = true
      io.stdout:write(string.format("%s: downloaded %s\n", digest:sub(8, 19), human(total)))
    end
  end
end

-- sm pull RECIPE.lua: bake each of its services (pulling what they need), serve nothing.
local function bake_recipe(opts, path)
  if opts.no_bake then errors.usage_error("--no-bake with a recipe: a recipe is pulled by baking it — `sm pull IMAGE --no-bake` fetches one image") end
  for _, r in ipairs(run.resolve(opts, path)) do
    local snap = require("sm.bake").ensure(r)
    if not opts.quiet then
      io.stdout:write(string.format("snapshot %s: %s (%s)\n", snap.name, snap.dir, snap.baked and "baked" or "up to date"))
    end
  end
  return 0
end

return {
  summary = "fetch an image and bake its snapshot (no daemon; --no-bake: fetch only)",
  usage = usage,
  run = function(argv)
    local spec = { { "quiet", short = "q" } }
    for _, o in ipairs(run.spec) do
      if ({ name = 1, port = 1, memory = 1, vcpus = 1, cpus = 1, ["snapshots-dir"] = 1, volume = 1, entrypoint = 1,
          cmd = 1, workdir = 1, user = 1, hostname = 1, env = 1, kernel = 1, insecure = 1, ["no-bake"] = 1 })[o[1]] then
        spec[#spec + 1] = o
      end
    end
    local opts, _, pos = args.parse(argv, spec)
    if #pos ~= 1 then errors.usage_error("needs exactly one IMAGE — see `sm pull --help`") end
    if require("sm.recipe").is_recipe(pos[1]) then return bake_recipe(opts, pos[1]) end
    local r = not opts.no_bake and run.options(opts, pos[1])	-- usage errors before any download
    local t0 = core.sys.monotime()
    local img, err, errno = oci.pull(pos[1], {
      insecure = opts.insecure,
      progress = not opts.quiet and progress_printer(core.tty.isatty(1)) or nil,
    })
    if not img then errors.fail(err .. hint(err, oci.ref_problem(pos[1]) and "invalid_ref" or errors.kind(errno))) end
    if opts.quiet then
      io.stdout:write(img.digest, "\n")
    else
      io.stdout:write(string.format("%s: %d layers, %s, digest %s (%.1fs)\n", img.name, #img.layers,
        human(img.size), img.digest, core.sys.monotime() - t0))
    end
    if r then
      local snap = require("sm.bake").ensure(r)
      if not opts.quiet then
        io.stdout:write(string.format("snapshot %s: %s (%s)\n", snap.name, snap.dir, snap.baked and "baked" or "up to date"))
      end
    end
    return 0
  end,
}

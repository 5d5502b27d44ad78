-- sm.oci: images, the friendly layer over sm.core's OCI primitives.
--   local img = oci.pull("nginx:1.27-alpine", { progress = fn, insecure = false })
--   oci.inspect(ref) -> the stored image (run config + layers), no network
--   oci.list(), oci.remove(name_or_ref_or_digest)
-- The local image store is one JSON file per image under
-- $XDG_DATA_HOME/sm/images/ (docs/images.md §4).  The layer cache it points
-- into is shared by all images and is not removed with them.
local core = require "sm.core"
local cjson = require "cjson.safe"

local M = {}

M.STORE_VERSION = 2   -- 2: layers[i].image + .format (erofs), was .sqfs

local data_home = require("sm.util").data_home

function M.store_dir()
  return os.getenv("SM_IMAGES_DIR") or (data_home() .. "/sm/images")
end

local function mkdir_p(dir)
  return core.fs.mkdir_p(dir, tonumber("700", 8))
end

-- One file per image name; the name is kept inside, the file name is a
-- filesystem-safe spelling of it.
local function entry_path(name)
  return M.store_dir() .. "/" .. name:gsub("[^%w%.%-]", "_") .. ".json"
end

local function read_json(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return cjson.decode(s)
end

-- Written to a temp name and renamed: a reader never sees half a file.
local function write_json(path, t)
  local tmp = path .. ".tmp." .. tostring(core.sys.monotime()):gsub("%.", "")
  local f, err = io.open(tmp, "wb")
  if not f then return nil, err end
  f:write(cjson.encode(t))
  f:close()
  local ok, rerr = os.rename(tmp, path)
  if not ok then os.remove(tmp); return nil, rerr end
  return true
end

-- Is src a local transport:path (oci-layout:, oci-archive:, docker-archive:)?
function M.is_local(src)
  return (src:match("^oci%-layout:") or src:match("^oci%-archive:") or src:match("^docker%-archive:")) ~= nil
end

-- The name an image is stored under: the normalised reference, or the
-- transport:path string of a local source.
function M.name_of(src)
  if M.is_local(src) then return src end
  local norm, _ = core.oci.parse_ref(src)
  return norm
end

-- Why src is not an image reference (a registry one or a local
-- transport:path), or nil when it is one.
function M.ref_problem(src)
  if type(src) ~= "string" or src == "" then return "no image given" end
  if M.is_local(src) then return nil end
  local norm, err = core.oci.parse_ref(src)
  return not norm and err or nil
end

function M.pull(src, opts)
  opts = opts or {}
  if type(src) ~= "string" or src == "" then return nil, "no image given" end
  local img, err, errno = core.oci.pull(src, { insecure = opts.insecure, progress = opts.progress })
  if not img then return nil, err, errno end
  local entry = {
    version = M.STORE_VERSION,
    name = img.ref,
    ref = src,
    digest = img.digest,
    config_digest = img.config_digest,
    config = img.config,
    layers = img.layers,
    size = img.size,
    pulled_at = os.time(),
  }
  local ok, merr = mkdir_p(M.store_dir())
  if not ok then return nil, merr end
  ok, merr = write_json(entry_path(entry.name), entry)
  if not ok then return nil, "saving the image record: " .. tostring(merr) end
  return entry
end

function M.list()
  local out = {}
  for _, file in ipairs(core.fs.readdir(M.store_dir()) or {}) do
    if file:match("%.json$") then
      local e = read_json(M.store_dir() .. "/" .. file)
      if type(e) == "table" and e.name then out[#out + 1] = e end
    end
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

local function matches(e, key)
  if e.name == key or e.ref == key then return true end
  local norm = M.name_of(key)
  if norm and e.name == norm then return true end
  local hex = key:gsub("^sha256:", "")
  return #hex >= 6 and hex:match("^%x+$") ~= nil and e.digest:sub(8, 7 + #hex) == hex
end

function M.inspect(key)
  for _, e in ipairs(M.list()) do
    if matches(e, key) then return e end
  end
  return nil, "no image '" .. key .. "' — pull it first with `sm pull " .. key .. "`"
end

function M.remove(key)
  local e, err = M.inspect(key)
  if not e then return nil, err end
  local ok, rerr = os.remove(entry_path(e.name))
  if not ok then return nil, rerr end
  return e
end

return M

-- sm.tls: the edge's TLS options (docs/tls.md) — --inbound-tls-cert/--inbound-tls-key,
-- or --inbound-tls-autogen: a self-signed certificate for localhost,
-- 127.0.0.1 and ::1, made once in the per-user state directory
-- ($XDG_STATE_HOME/sm/tls/{cert,key}.pem, 0600 in a 0700 directory).
--
--   t = tls.options{ cert =, key =, autogen = }   -- nil (plain HTTP) or { cert =, key =, fingerprint =, autogen = }
--   t = tls.autogen()                              -- the generated pair (made now if missing)
local core = require "sm.core"
local errors = require "sm.errors"

local M = {}

local function absolute(p)
  if p:sub(1, 1) == "/" then return p end
  return (core.fs.realpath(p) or ((os.getenv("PWD") or ".") .. "/" .. p))
end

function M.dir()
  return require("sm.run").state_dir() .. "/tls"
end

-- The pair in dir, made first if it is not there.  Two sm at once: each
-- makes its own in a private temporary directory and renames it into place;
-- the rename that loses finds the winner's pair and uses it.
function M.autogen()
  local dir = M.dir()
  local cert, key = dir .. "/cert.pem", dir .. "/key.pem"
  local made = false
  if not core.fs.stat(cert) then
    local tmp = string.format("%s.tmp.%d", dir, core.sys.getpid())
    core.fs.rmtree(tmp)
    local ok, err = core.fs.private_dir(tmp)
    if not ok then errors.fail("--inbound-tls-autogen: " .. tostring(err)) end
    ok, err = core.tls.generate(tmp .. "/cert.pem", tmp .. "/key.pem")
    if not ok then core.fs.rmtree(tmp) errors.fail("--inbound-tls-autogen: " .. tostring(err)) end
    made = os.rename(tmp, dir) ~= nil
    if not made then core.fs.rmtree(tmp) end
  end
  local ok, err = core.tls.check(cert, key)
  if not ok then
    errors.fail(tostring(err) .. " (--inbound-tls-autogen's pair in " .. dir .. "; remove that directory and a new pair is made)")
  end
  local fp = assert(core.tls.fingerprint(cert))
  if made then
    io.stderr:write(string.format("sm: made a self-signed TLS certificate for localhost, 127.0.0.1 and ::1: %s\n" ..
      "sm:   SHA-256 %s — clients trust it with e.g. curl --cacert %s\n", cert, fp, cert))
  end
  return { cert = cert, key = key, fingerprint = fp, autogen = true }
end

-- Validated flags (o.cert, o.key, o.autogen); nil means plain HTTP.
function M.options(o)
  if o.autogen and (o.cert or o.key) then
    errors.usage_error("--inbound-tls-autogen makes its own certificate — drop --inbound-tls-cert/--inbound-tls-key, or drop --inbound-tls-autogen")
  end
  if o.autogen then return M.autogen() end
  if not o.cert and not o.key then return nil end
  if not o.cert then errors.usage_error("--inbound-tls-key needs --inbound-tls-cert FILE (the certificate, PEM)") end
  if not o.key then errors.usage_error("--inbound-tls-cert needs --inbound-tls-key FILE (its private key, PEM)") end
  local cert, key = absolute(o.cert), absolute(o.key)
  local ok, err = core.tls.check(cert, key)
  if not ok then errors.fail("--inbound-tls-cert/--inbound-tls-key: " .. tostring(err):gsub("^TLS: ", "")) end
  return { cert = cert, key = key, fingerprint = assert(core.tls.fingerprint(cert)) }
end

-- The URL clients use.
function M.endpoint(port, t)
  return string.format("%s://127.0.0.1:%d/", t and "https" or "http", port)
end

return M

-- sm.cli: command dispatch.  Every command is a module sm.cmd.<name>
-- returning { summary = "...", usage = "...", run = function(args) -> exit code }.
local errors = require "sm.errors"

local M = {}

M.version = "0.1.0"

-- Commands listed by `sm --help`, in this order.
M.commands = { "run", "ps", "logs", "exec", "cp", "pull", "images", "rmi", "daemon", "boot", "restore", "stop", "setup",
  "assets-path", "lua", "profile",
  "version", "help" }

local function load_cmd(name)
  if not name:match("^[%w][%w%-]*$") then return nil end
  local ok, mod = pcall(require, "sm.cmd." .. name:gsub("%-", "_"))
  if ok and (type(mod) ~= "table" or type(mod.run) ~= "function") then
    error("module sm.cmd." .. name .. " does not return a command table with a run function", 0)
  end
  if ok then return mod end
  -- only "no such module" means no such command; a broken one must say so
  if not tostring(mod):find("module 'sm.cmd." .. name:gsub("%-", "_") .. "' not found", 1, true) then
    error(mod, 0)
  end
  return nil
end
M.load_cmd = load_cmd

function M.help_text()
  local lines = {
    "sm — run OCI images as hardware-isolated microVMs on Linux KVM",
    "",
    "usage: sm <command> [options] [-- args...]",
    "",
    "commands:",
  }
  for _, name in ipairs(M.commands) do
    local cmd = load_cmd(name)
    if cmd then lines[#lines + 1] = string.format("  %-12s %s", name, cmd.summary or "") end
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "`sm <command> --help` describes a command; docs/ has the rest."
  return table.concat(lines, "\n") .. "\n"
end

-- Runs a command; returns the process exit code.
function M.main(argv)
  local name = argv[1]
  if name == nil or name == "help" or name == "--help" or name == "-h" then
    local topic = name == "help" and argv[2]
    local cmd = topic and load_cmd(topic)
    io.stdout:write(cmd and cmd.usage or M.help_text())
    if topic and not cmd then return errors.usage("help", "unknown command '" .. topic .. "'") end
    return 0
  end
  if name == "--version" or name == "-V" then name = "version" end
  local cmd = load_cmd(name)
  if not cmd then
    return errors.usage(nil, "unknown command '" .. name .. "' — see `sm --help`")
  end
  local args = table.move(argv, 2, #argv, 1, {})
  for _, a in ipairs(args) do
    if a == "--" then break end
    if a == "--help" or a == "-h" then io.stdout:write(cmd.usage); return 0 end
  end
  return errors.protect(name, cmd.run, args)
end

-- sm codesign and sm entitlements-path: macOS-only in the original tool
-- (Hypervisor.framework entitlements); on Linux they only say so.
function M.macos_only(name)
  return {
    summary = "not needed on Linux (macOS code signing in the original tool)",
    usage = "usage: sm " .. name .. [[


On macOS the original tool needs its binaries signed with the Hypervisor
entitlement.  Linux KVM needs no signing: access to /dev/kvm (the kvm
group) is all; `sm setup` checks it.  Prints that and exits 0.
]],
    run = function()
      io.stdout:write("sm ", name, ": not needed on Linux — KVM access is the kvm group; run `sm setup` to check it\n")
      return 0
    end,
  }
end

return M

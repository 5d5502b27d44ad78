-- sm lua: run a Lua script inside sm's interpreter, with sm's modules.
local errors = require "sm.errors"

return {
  summary = "run a Lua script with sm's modules (sm.core, sm.vm, ...)",
  usage = [[
usage: sm lua SCRIPT [ARGS...]

Runs SCRIPT in sm's embedded Lua 5.4, where require "sm.core", "sm.vm",
"sm.oci", ... work as in sm's own commands.  ARGS are in the global `arg`
(arg[0] is SCRIPT).  The exit status is the script's return value if it
is an integer, else 0.  Used by bench/ and handy for recipes and experiments.
]],
  run = function(argv)
    local script = argv[1]
    if not script then errors.usage_error("no script — usage: sm lua SCRIPT [ARGS...]") end
    local chunk, err = loadfile(script)
    if not chunk then errors.fail(err) end
    _G.arg = { [0] = script, table.unpack(argv, 2) }
    local r = chunk(table.unpack(argv, 2))
    return math.type(r) == "integer" and r or 0
  end,
}

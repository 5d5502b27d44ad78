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

sm.core is the raw C layer, one table per subsystem (docs/lua-core.md):
  sys     paths monotime getpid sleep emulating_host kvm_check errno limits
  fs      stat lstat readlink realpath access mkdir mkdir_p private_dir
          readdir rmtree lock
  digest  sha256 sha256_file
  proc    spawn kill
  tty     isatty raw restore winsize
  net     unix_connect unix_listen tcp_connect vsock_connect
  agent   proto frame exec_frame put_frame header exec put
  oci     parse_ref pull convert_layer cache_dir
  loop    run stop timer watch_fd read_lines on_signal stats
  router  new
  tls     check fingerprint generate request
A failing call returns nil, "what: why", errno; a wrong argument type
raises.  For example:

  local core = require "sm.core"
  local st, err = core.fs.stat("/etc/hostname")
  print(st and st.size or err, core.sys.monotime())
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

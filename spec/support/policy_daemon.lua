-- Run with `sm lua` for spec/integration/policy_spec.lua:
--   snapshot DIR               boot a guest (busybox httpd on 8080 with /cgi-bin/h, which
--                              answers 200 "ok" while /www/state says ok, else 500; a
--                              workload that exits with whatever is written to /www/ctl)
--                              and snapshot it to DIR/snap; prints "ok DIR/snap"
--   serve SNAP PORT CASE.lua   sm.daemon.serve on SNAP with the options CASE.lua returns
--                              (functions too: health checks, hooks, restart policies);
--                              stop_grace 30: a drained worker's slow requests finish
--   exec PORT ID CMD           CMD (sh -c) in worker ID of the daemon on PORT, blocking
local cmd = arg[1]

if cmd == "snapshot" then
  local dir = arg[2]
  local script = table.concat({
    "mkdir -p /www/cgi-bin && echo hello > /www/index.html && echo ok > /www/state",
    [[printf '#!/bin/sh\nif [ "$(cat /www/state)" = ok ]; then printf "HTTP/1.0 200 OK\\r\\n\\r\\nok\\n"; else printf "HTTP/1.0 500 Bad\\r\\n\\r\\nbad\\n"; fi\n' > /www/cgi-bin/h]],
    "chmod +x /www/cgi-bin/h && mkfifo /www/ctl && httpd -p 8080 -h /www",
    "read code < /www/ctl; exit $code" }, " && ")
  local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
  print("ok " .. dofile(here .. "/workload_snapshot.lua")(dir, script))
elseif cmd == "serve" then
  local o = dofile(arg[4])
  local d = { snapshot = arg[2], http_port = math.tointeger(tonumber(arg[3])), name = "policy", port = 8080,
    workers = 1, idle_timeout = 300, stop_grace = 30, standby = false,
    limits = { queue_timeout = 60, upstream_timeout = 60 } }
  for k, v in pairs(o) do d[k] = v end
  return require("sm.daemon").serve(d)
elseif cmd == "exec" then
  local uds = require("sm.daemon").worker_dir(tonumber(arg[2])) .. "/w" .. arg[3] .. ".sock"
  local r, err = require("sm.agent").exec(uds, { argv = { "/bin/sh", "-c", arg[4] } }, { timeout = 30 })
  if not r then io.stderr:write(tostring(err), "\n") return 125 end
  io.stdout:write(r.stdout or "")
  return r.exit or 128
else
  error("usage: policy_daemon.lua snapshot DIR | serve SNAP PORT CASE.lua | exec PORT ID CMD")
end

-- Run with `sm lua`: make the snapshot the daemon specs and bench/router.lua
-- serve.  Boots a guest whose workload is busybox httpd on port 8080 (a
-- small page at /index.html, 1 MiB at /big, a CGI /cgi-bin/slow that
-- answers after 60 s), waits until it listens, and snapshots it to
-- DIR/snap with the server running.  Prints "ok DIR/snap".
--   sm lua spec/support/http_snapshot.lua DIR     (DIR: a private 0700 directory)
local dir = assert(arg[1], "usage: http_snapshot.lua DIR")
local script = "mkdir -p /www/cgi-bin && echo hello-router > /www/index.html"
  .. " && dd if=/dev/zero bs=65536 count=16 2>/dev/null | tr '\\000' x > /www/big"
  .. " && printf '#!/bin/sh\\nsleep 60\\necho Content-Type: text/plain\\necho\\necho slow\\n' > /www/cgi-bin/slow"
  .. " && chmod +x /www/cgi-bin/slow"
  .. " && exec httpd -f -p 8080 -h /www"
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
print("ok " .. dofile(here .. "/workload_snapshot.lua")(dir, script))

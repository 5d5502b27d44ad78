-- An app with a volume, a hook and its own health check: busybox httpd
-- serving pages kept on a persistent ext4 volume.
--
--   sm run examples/notes/recipe.lua --detach      # http://127.0.0.1:8080/
--   curl http://127.0.0.1:8080/restores.txt        # one line per restored worker
--   sm ps                                          # HEALTH: healthy
--
-- The volume is $XDG_DATA_HOME/sm/volumes/notes.img (1 GiB sparse, made on
-- first use); with a volume the snapshot is taken at the "ready" point and
-- each restore mounts it and starts the workload.  SM_EXAMPLE_IMAGE picks
-- another image with busybox (the tests use one built locally).
return {
  image = os.getenv("SM_EXAMPLE_IMAGE") or "busybox:1.36",
  name = "notes",
  memory = 128,
  volumes = { "notes:/data" },
  entrypoint = { "sh", "-c", "mkdir -p /data/www && { [ -s /data/www/index.html ] || echo '<h1>notes</h1>' > /data/www/index.html; }"
    .. " && exec httpd -f -v -p 8080 -h /data/www" },

  -- before a restored worker gets its first client: note the restore on the volume
  after_restore = function(vm)
    local r, err = vm:exec("mkdir -p /data/www && date +%s >> /data/www/restores.txt", { timeout = 30 })
    assert(r and r.exit == 0, "could not write to the volume: " .. tostring(err or (r and r.stderr)))
  end,

  -- healthy while the volume takes writes and the page is served, seen from
  -- inside the guest (both calls yield to the daemon's loop)
  health = {
    check = function(ctx)
      local r = ctx.vm:exec("touch /data/.probe && rm /data/.probe", { timeout = 10 })
      if not r or r.exit ~= 0 then return false, "the volume /data takes no writes" end
      local status, line = ctx.vm:get("/index.html")
      return status == 200, "GET /index.html: " .. tostring(line)
    end,
    interval = 10, timeout = 20, retries = 3, start_period = 2,
  },
  restart = "on-failure",
}

-- A static site: busybox's httpd serving the files this recipe copies in.
--
--   sm run examples/static-site/recipe.lua --detach     # http://127.0.0.1:8080/
--   SM_RUN_TRACE=1 sm run examples/static-site/recipe.lua --detach
--
-- Edit public/index.html, stop it (sm run --stop) and run it again: the
-- copied file changed, so it bakes again; run unchanged and it does not.
-- SM_EXAMPLE_IMAGE picks another image with busybox's httpd (the tests use
-- one built locally).
return {
  image = os.getenv("SM_EXAMPLE_IMAGE") or "busybox:1.36",
  name = "static-site",
  port = 8080,
  entrypoint = { "httpd", "-f", "-v", "-p", "8080", "-h", "/www" },
  bake = {
    { copy = "public/", to = "/www/", mode = tonumber("644", 8) },
    { run = "test -s /www/index.html" },	-- fails the bake if the copy went wrong
  },
}

-- Two services from one recipe, one daemon: a small CGI "API" and a static
-- site, each its own snapshot, pool and edge port.  Services without an
-- http_port take ports in name order from --http-port (8080): api on 8080,
-- site on 8081.
--
--   sm run examples/two-services/recipe.lua --detach     # both endpoints are printed
--   curl http://127.0.0.1:8080/cgi-bin/time
--   sm run --stop --http-port 8081                # stops the daemon: both services
--
-- SM_EXAMPLE_IMAGE picks another image with busybox (the tests use one
-- built locally).
return {
  image = os.getenv("SM_EXAMPLE_IMAGE") or "busybox:1.36",
  memory = 128,			-- every service's default
  port = 8080,
  services = {
    site = {
      entrypoint = { "httpd", "-f", "-v", "-p", "8080", "-h", "/www" },
      bake = { { copy = "../static-site/public/", to = "/www/" } },
    },
    api = {
      entrypoint = { "httpd", "-f", "-v", "-p", "8080", "-h", "/srv" },
      bake = { { copy = "api/", to = "/srv/" } },	-- cgi-bin/time keeps its mode 0755
    },
  },
}

-- A restart policy (docs/policies.md, "Restart"): on failure, restart after
-- 1, 2, 4 ... 60 s; never while the app's own health endpoint says it is
-- draining (its last http check answered e.g. "HTTP/1.1 503 draining").
-- In a recipe: restart = dofile("examples/backoff_restart.lua")
return function(ctx)
  if ctx.reason == "exit" and ctx.exit_code == 0 then return false, "exited 0" end
  local last = ctx.last_health[#ctx.last_health]
  if last and not last.ok and tostring(last.why):lower():find("draining", 1, true) then
    return false, "the health endpoint says draining"
  end
  if ctx.restarts >= 10 then return false, "gave up after 10 restarts" end
  return math.min(60, 2 ^ ctx.restarts)
end

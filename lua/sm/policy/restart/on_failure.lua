-- --restart on-failure: restart a worker that failed (an exit other than 0,
-- a signal, a VMM death, failed health checks) after 0.2, 0.4 ... 10 s;
-- give up after 10 restarts in a row.  ctx: docs/policies.md, "Restart".
return function(ctx)
  if ctx.reason == "exit" and ctx.exit_code == 0 then return false, "the workload exited 0" end
  if ctx.restarts >= (ctx.max_restarts or 10) then
    return false, string.format("gave up after %d restarts", ctx.restarts)
  end
  return math.min(10, 0.2 * 2 ^ ctx.restarts)
end

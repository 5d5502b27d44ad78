-- --restart unless-stopped: as always, except a workload someone stopped
-- (killed by SIGTERM or SIGINT, e.g. through `sm stop` or the agent's STOP).
return function(ctx)
  if ctx.signal == 15 or ctx.signal == 2 then return false, "the workload was stopped (signal " .. ctx.signal .. ")" end
  return math.min(10, 0.2 * 2 ^ ctx.restarts)
end

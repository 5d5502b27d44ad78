-- health check "cmd": o.cmd (an argv table or a shell string) run in the
-- guest by the agent; healthy when it exits 0 within o.timeout.
return function(ctx, o)
  local r, err = ctx.vm:exec(o.cmd, { timeout = o.timeout })
  if not r then return false, err end
  if r.exit == 0 then return true end
  local out = (r.stderr ~= "" and r.stderr or r.stdout or ""):gsub("%s+$", ""):sub(-200)
  return false, (r.signal and "killed by signal " .. r.signal or "exited " .. tostring(r.exit))
    .. (out ~= "" and (": " .. out) or "")
end

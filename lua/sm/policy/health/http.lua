-- health check "http": a GET of o.path (default /) that the agent makes to
-- the guest's own 127.0.0.1:o.port (default the service port), so the check
-- sees the workload as a local client would; healthy on 2xx and 3xx.
return function(ctx, o)
  local status, line = ctx.vm:get(o.path or "/", o.port, o.timeout)
  if not status then return false, line end
  if status >= 200 and status < 400 then return true end
  return false, line
end

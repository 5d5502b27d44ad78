-- health check "tcp": healthy when the agent can connect to the guest's
-- 127.0.0.1:o.port (default the service port).
return function(ctx, o)
  local ok, err = ctx.vm:tcp(o.port, o.timeout)
  if ok then return true end
  return false, err
end

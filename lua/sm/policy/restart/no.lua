-- --restart no: a worker that fails is not replaced until a request needs one.
return function(ctx)
  return false, "restart policy is no"
end

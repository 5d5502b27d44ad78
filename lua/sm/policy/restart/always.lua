-- --restart always: restart whatever ended the worker, after 0.2, 0.4 ... 10 s.
return function(ctx)
  return math.min(10, 0.2 * 2 ^ ctx.restarts)
end

-- The default recipe: what `sm run IMAGE` runs (docs/recipes.md).  The
-- image from the command line arrives as `...`.  Copy this file to
-- $XDG_CONFIG_HOME/sm/recipes/default.lua to change what every plain
-- `sm run IMAGE` does (say, memory = 512, or a health check); flags still
-- override it.  Sizes left out here (memory 256 MiB, 1 vCPU, 1 worker,
-- idle timeout 300 s, stop grace 10 s) are sm run's own defaults, which
-- the SM_* variables in `sm run --help` change.
local image = ...
return {
  image = image,
  -- no bake steps: the image as its author made it; no `snapshot`: the
  -- workload started and accepting on its port ("listening"), or before it
  -- starts ("ready") with volumes
  restart = "no",		-- a worker that fails is not restarted (a new request restores another)
}

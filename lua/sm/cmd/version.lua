local cli = require "sm.cli"
return {
  summary = "print the version",
  usage = "usage: sm version\n\nPrints sm's version.\n",
  run = function()
    io.stdout:write("sm ", cli.version, "\n")
    return 0
  end,
}

-- `make demo` runs scripts/demo.sh: the README's main job must keep working.
local run = require "support.run"

describe("the demo (scripts/demo.sh)", function()
  if run.skip_without_kvm(pending) then return end

  it("serves a page from the guest through the port proxy, execs, and leaves no VM behind", function()
    local tmp = run.tmpdir("demo")
    run.sh("mkdir -m 700 " .. tmp .. "/xdg")
    local code, out, err = run.sh("cd " .. run.quote(run.root) .. " && env XDG_RUNTIME_DIR=" .. tmp
      .. "/xdg timeout 600 bash scripts/demo.sh")
    local _, left = run.sh("ls " .. tmp .. "/xdg/sm/vms")
    run.sh("rm -rf " .. run.quote(tmp))
    assert.equal(0, code, out .. err)
    assert.matches("(ready", out, 1, true)
    assert.matches("HTTP/1%.%d 200 OK", out)
    assert.matches("hello from a supermachine guest", out, 1, true)
    assert.matches("Linux 6%.1", out)
    assert.equal("", left)
  end)
end)

-- `make demo` runs scripts/demo.sh: the README's main job must keep working.
local run = require "support.run"

describe("the demo (scripts/demo.sh)", function()
  if run.skip_without_kvm(pending) then return end

  it("runs a local image with sm run --detach, curls it, shows ps/logs/exec, stops it, leaves nothing", function()
    local tmp = run.tmpdir("demo")
    run.sh("mkdir -m 700 " .. tmp .. "/xdg")
    local port = tostring(run.ports(1))
    local code, out, err = run.sh("cd " .. run.quote(run.root) .. " && env XDG_RUNTIME_DIR=" .. tmp
      .. "/xdg XDG_STATE_HOME=" .. tmp .. "/state XDG_DATA_HOME=" .. tmp .. "/data SM_HTTP_PORT=" .. port
      .. " timeout 900 bash scripts/demo.sh")
    local _, left = run.sh("ls " .. tmp .. "/xdg/sm/daemon-" .. port .. " " .. tmp .. "/state/sm/router-" .. port .. ".pid 2>/dev/null")
    local _, vmms = run.sh("{ pgrep -f '[s]m-vmm.*" .. tmp .. "'; true; }")
    run.sh("rm -rf " .. run.quote(tmp))
    assert.equal(0, code, out .. err)
    assert.matches("endpoint: http://127.0.0.1:" .. port .. "/", out, 1, true)
    assert.matches("HTTP/1%.%d 200 OK", out)
    assert.matches("hello from the web image", out, 1, true)
    assert.matches('"status":"ok"', out, 1, true)
    assert.matches(port .. "%s+%d+%s+demo%-web", out)
    assert.matches("[w1]", out, 1, true)
    assert.matches("Linux 6%.1", out)
    assert.equal("", left)
    assert.equal("", vmms)
  end)
end)

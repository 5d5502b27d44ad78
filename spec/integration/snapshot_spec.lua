-- Snapshots (docs/snapshot-format.md): a counting guest continues from
-- where it was snapshotted, the boot snapshot replaces booting, and bad
-- snapshots are refused with one clear line.  Boots are expensive here
-- (~45 s, emulated guest kernel), restores are not: each vCPU count boots
-- once (its boot snapshot) and everything else restores.
local run = require "support.run"

local TIMEOUT = 900	-- a new boot snapshot (4 vCPUs) probes 46 disk slots: minutes on a loaded host

local tmp

local function lines(s)
  local t = {}
  for l in s:gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

-- Run the counter, snapshot it after ms; returns the last value it printed.
-- A loaded host may not have started the counter by then: wait longer.
local function counter_snapshot(vcpus, dir, ms)
  local code, out, err, l
  for _ = 1, 3 do
    code, out, err = run.sm({ "boot", "--vcpus", tostring(vcpus), "--snapshot-after-ms", tostring(ms),
      "--snapshot-to", dir, "--", "/bin/sm-counter", "20" }, nil, "timeout " .. TIMEOUT)
    assert.equal(0, code, err)
    assert.matches("snapshot written to " .. dir, err, 1, true)
    l = lines(out)
    if #l > 0 then break end
    ms = ms * 2
  end
  assert.is_true(#l > 0, "the counter printed before the snapshot")
  for i, v in ipairs(l) do assert.equal(tostring(i - 1), v, "counter output before the snapshot") end
  return tonumber(l[#l])
end

-- The first value a restore prints (the VM is stopped after it).
local function first_after_restore(dir)
  local _, out = run.sh("timeout 20 " .. run.quote(run.bin) .. " restore " .. run.quote(dir) .. " 2>/dev/null | head -n 3")
  return lines(out)
end

describe("snapshots", function()
  if run.skip_without_kvm(pending) then return end

  setup(function()
    tmp = run.tmpdir("snap")
  end)
  teardown(function()
    if tmp then run.sh("rm -rf " .. run.quote(tmp)) end
  end)

  it("the boot snapshot is used: a second sm boot restores, it does not boot a kernel", function()
    local code, out, err = run.sm({ "boot", "--", "/bin/echo", "hello" }, { SM_TRACE = "1" }, "timeout " .. TIMEOUT)
    assert.equal(0, code, err)
    code, out, err = run.sm({ "boot", "--", "/bin/echo", "hello" }, { SM_TRACE = "1" }, "timeout " .. TIMEOUT)
    assert.equal(0, code, err)
    assert.equal("hello\n", out)
    assert.matches("boot snapshot [^\n]*: restoring", err)
    assert.not_matches("booting the kernel", err)
  end)

  for _, vcpus in ipairs({ 1, 2 }) do
    it("a counting guest with " .. vcpus .. " vCPU(s) continues from its snapshot", function()
      local dir = tmp .. "/counter-" .. vcpus
      local last = counter_snapshot(vcpus, dir, 4000)
      local after = first_after_restore(dir)
      assert.equal(tostring(last + 1), after[1])
      assert.equal(tostring(last + 2), after[2])
    end)
  end

  it("a restored VM can be snapshotted again, and that snapshot continues too", function()
    local dir = tmp .. "/counter-1"
    local dir2 = tmp .. "/counter-1-again"
    local code, out, err = run.sm({ "restore", "--snapshot-after-ms", "500", "--snapshot-to", dir2, dir },
      nil, "timeout " .. TIMEOUT)
    assert.equal(0, code, err)
    local l = lines(out)
    local after = first_after_restore(dir2)
    assert.equal(tostring(tonumber(l[#l]) + 1), after[1])
  end)

  it("with 4 vCPUs, 25 of 25 restores continue from the snapshot", function()
    local dir = tmp .. "/counter-4"
    local last = counter_snapshot(4, dir, 4000)
    local ok = 0
    for _ = 1, 25 do
      if first_after_restore(dir)[1] == tostring(last + 1) then ok = ok + 1 end
    end
    assert.equal(25, ok)
  end)

  it("vm:snapshot() snapshots a running VM that carries on, and the snapshot continues", function()
    local dir = tmp .. "/live"
    local code, out, err = run.sm({ "lua", run.root .. "/spec/support/vm_snapshot.lua", dir }, nil, "timeout " .. TIMEOUT)
    assert.equal(0, code, err)
    local at = tonumber(out:match("^ok (%d+)"))
    local after = first_after_restore(dir)
    local first = tonumber(after[1])
    assert.is_true(first ~= nil and first >= 4 and first <= at + 1, "restored at " .. tostring(after[1]) .. ", snapshot near " .. at)
    assert.equal(tostring(first + 1), after[2])
  end)

  -- SM_VMM_FAULT=kill-mid-snapshot: the VMM SIGKILLs itself after mem is
  -- written, before vm.state (src/snapshot/snapshot.c, tests/README.md)
  it("a VMM killed while it writes a snapshot: no restore ever uses the half-written one; the next write cleans it", function()
    local dir = tmp .. "/killed"
    local function write(fault)
      return run.sm({ "boot", "--snapshot-after-ms", "300", "--snapshot-to", dir, "--", "/bin/sm-counter", "20" },
        fault and { SM_VMM_FAULT = "kill-mid-snapshot" } or nil, "timeout " .. TIMEOUT)
    end
    local function stale() return select(2, run.sh("ls -d " .. dir .. ".tmp.* 2>/dev/null")) end
    local code = write(true)
    assert.are_not.equal(0, code)
    assert.is_nil(io.open(dir .. "/metadata.json"))
    assert.are_not.equal("", stale(), "the killed writer's directory is there (it holds mem)")
    local rc, _, err = run.sm({ "restore", dir })
    assert.equal(125, rc)
    assert.is_true(run.one_line(err), err)
    -- a good write to the same place removes the dead writer's leftovers
    local err2
    code, _, err2 = write(false)
    assert.equal(0, code, err2)
    assert.equal("", stale())
    -- killed again over a good snapshot: the good one stays and restores
    assert.are_not.equal(0, (write(true)))
    assert.are_not.equal("", stale())
    local after = first_after_restore(dir)
    assert.is_truthy(tonumber(after[1]), "the earlier snapshot still restores: " .. table.concat(after, ","))
  end)

  describe("refuses a bad snapshot with one clear line", function()
    local function broken(name, how)
      local dir = tmp .. "/bad-" .. name
      assert.equal(0, (run.sh("cp -r --sparse=always " .. run.quote(tmp .. "/counter-1") .. " " .. run.quote(dir)
        .. " && cd " .. run.quote(dir) .. " && " .. how)))
      local code, _, err = run.sm({ "restore", dir })
      assert.equal(125, code)
      assert.is_true(run.one_line(err), err)
      return err
    end

    it("truncated mem", function()
      assert.matches("mem is %d+ bytes, metadata says %d+", broken("mem", "truncate -s 1M mem"))
    end)
    it("corrupted state file", function()
      assert.matches("vm.state does not match its checksum",
        broken("state", "printf 'XXXX' | dd of=vm.state bs=1 seek=100 conv=notrunc 2>/dev/null"))
    end)
    it("truncated state file", function()
      assert.matches("vm.state does not match its checksum", broken("state-trunc", "truncate -s 1000 vm.state"))
    end)
    it("unknown format version", function()
      assert.matches("snapshot format version 99, this sm reads version 4",
        broken("format", "sed -i -E 's/\"format\": [0-9]+/\"format\": 99/' metadata.json"))
    end)
    it("a missing file", function()
      assert.matches("vm.state: No such file or directory", broken("missing", "rm vm.state"))
    end)
    it("malformed metadata", function()
      assert.matches("metadata.json is not valid JSON", broken("json", "printf '{\"format\": 2,' > metadata.json"))
    end)
    it("a CPU-feature fingerprint the host lacks", function()
      assert.matches("this host lacks CPU features it needs",
        broken("cpu", "sed -i -E 's/(\"fingerprint\": \"[a-z]+):[0-9a-f]{8}/\\1:ffffffff/' metadata.json"))
    end)
    it("a snapshot directory that does not exist", function()
      local code, _, err = run.sm({ "restore", tmp .. "/nope" })
      assert.equal(125, code)
      assert.matches("no such directory", err, 1, true)
    end)
  end)
end)

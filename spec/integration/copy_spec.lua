-- Copying host files into a guest (docs/agent-protocol.md §PUT): vm:copy on
-- one detached VM restored from the boot snapshot, checked from inside the
-- guest with exec (busybox cat, stat, readlink, sha256sum).  Every wait has a timeout.
local run = require "support.run"

local NAME = "copy-spec"
local V = require("support.detached_vm").new(NAME)
local tmp, booted, boot_err

local function sm(args) return V:sm(args) end
local function guest(script)
  local code, out, err = sm({ "exec", NAME, "--", "/bin/sh", "-c", script })
  assert.equal(0, code, err)
  return out
end
-- copy(src, dst, mode, owner) -> code, "files=.. bytes=.." or "error=..."
local function copy(src, dst, mode, owner)
  local code, out, err = sm({ "lua", run.root .. "/spec/support/copy_client.lua", NAME, src, dst, mode or "",
    owner or "" })
  return code, out .. err
end

describe("vm:copy (PUT)", function()
  if run.skip_without_kvm(pending) then return end

  setup(function()
    V:start("copy")
    tmp, booted, boot_err = V.tmp, V.booted, V.boot_err
    local s = tmp .. "/src"
    run.sh(table.concat({ "mkdir -p " .. s .. "/tree/sub " .. s .. "/tree/empty",
      "printf 'hello a\\n' > " .. s .. "/a.txt",
      "printf 'in sub\\n' > " .. s .. "/tree/sub/b.txt",
      "printf '#!/bin/sh\\necho run\\n' > " .. s .. "/tree/c.sh && chmod 755 " .. s .. "/tree/c.sh",
      "ln -s sub/b.txt " .. s .. "/tree/link",
      "head -c 3145728 /dev/urandom > " .. s .. "/big",
      "mkfifo " .. s .. "/fifo" }, " && "))
  end)

  teardown(function() V:stop() end)

  it("copies a file into a directory named with a trailing /, making its parents", function()
    assert.is_true(booted, boot_err)
    local code, out = copy(tmp .. "/src/a.txt", "/tmp/new/dir/")
    assert.equal(0, code, out)
    assert.matches("files=1 bytes=8 entries=1", out, 1, true)
    assert.equal("hello a\n755 0:0\n", guest("cat /tmp/new/dir/a.txt; stat -c '%a %u:%g' /tmp/new/dir"))
    assert.equal("", guest("ls -a /tmp/new/dir | grep sm-put || true"))	-- no temporary left
  end)

  it("copies a tree's contents: subdirectory, empty directory, symlink as a symlink, modes kept", function()
    local code, out = copy(tmp .. "/src/tree", "/opt/tree")
    assert.equal(0, code, out)
    assert.matches("files=2 ", out, 1, true)
    assert.matches("entries=6", out, 1, true)	-- tree, c.sh, empty, link, sub, sub/b.txt
    assert.equal("in sub\nsub/b.txt\nin sub\n755\nrun\nyes\n", guest(table.concat({
      "cat /opt/tree/sub/b.txt", "readlink /opt/tree/link", "cat /opt/tree/link",
      "stat -c %a /opt/tree/c.sh", "/opt/tree/c.sh", "test -d /opt/tree/empty && echo yes" }, "; ")))
    -- again, over the top: existing files are replaced, the directories merged
    code, out = copy(tmp .. "/src/a.txt", "/opt/tree/sub/b.txt")
    assert.equal(0, code, out)
    code, out = copy(tmp .. "/src/tree", "/opt/tree")
    assert.equal(0, code, out)
    assert.equal("in sub\n", guest("cat /opt/tree/sub/b.txt"))
  end)

  it("copies a 3 MiB file byte for byte (sha256 in the guest)", function()
    local code, out = copy(tmp .. "/src/big", "/root/big")
    assert.equal(0, code, out)
    assert.matches("bytes=3145728", out, 1, true)
    local _, want = run.sh("sha256sum " .. tmp .. "/src/big | cut -d' ' -f1")
    assert.equal(want, guest("sha256sum /root/big | cut -d' ' -f1"))
  end)

  it("applies mode and owner to everything copied, and to the parents it makes", function()
    local code, out = copy(tmp .. "/src/tree", "/srv/owned", "640", "1234:5678")
    assert.equal(0, code, out)
    assert.equal(string.rep("640 1234:5678\n", 3),	-- directories get the mode too (COPY --chmod)
      guest("stat -c '%a %u:%g' /srv/owned/c.sh /srv/owned/sub/b.txt /srv/owned/sub"))
    code, out = copy(tmp .. "/src/a.txt", "/home/p/q/a.txt", "4755", "nobody")
    assert.equal(0, code, out)
    local uid = guest("id -u nobody")
    assert.equal("4755 " .. uid:gsub("\n", "") .. "\n755 " .. uid,
      guest("stat -c '%a %u' /home/p/q/a.txt /home/p/q"))
  end)

  it("the agent itself refuses bad entries and leaves nothing of a file the host did not finish", function()
    local code, out, err = sm({ "lua", run.root .. "/spec/support/put_raw.lua", NAME })
    assert.equal(0, code, out .. err)
    assert.matches("dotdot=ERROR guest path has a . or .. component", out, 1, true)
    assert.matches("relative=ERROR guest path must be absolute", out, 1, true)
    assert.matches("data_first=ERROR a connection must start with EXEC, PROXY, LISTENING, STOP, PING or PUT", out,
      1, true)
    assert.matches("data_after_dir=ERROR put: expected PUT, DATA after a file entry, or an empty DONE", out, 1, true)
    assert.matches("unended=ERROR put: a file's DATA must end with an empty DATA", out, 1, true)
    assert.matches("nolinktarget=ERROR put: a symlink needs a target", out, 1, true)
    assert.matches("ok=OK 1", out, 1, true)
    assert.matches("after=. .. hi no-a", out, 1, true)	-- raw-cut/ made, but empty
  end)

  it("sm cp HOST_PATH NAME:/path does the same from the command line", function()
    local code, out, err = sm({ "cp", "--mode", "600", "--owner", "1234", tmp .. "/src/tree", NAME .. ":/srv/cp/" })
    assert.equal(0, code, err)
    assert.equal("2 files, 26 bytes\n", out)
    assert.equal("600 1234\nin sub\n", guest("stat -c '%a %u' /srv/cp/c.sh; cat /srv/cp/sub/b.txt"))
    code, out, err = sm({ "cp", tmp .. "/src/fifo", NAME .. ":/tmp/" })
    assert.equal(1, code)
    assert.matches("is a FIFO", err, 1, true)
  end)

  it("refuses bad destinations, unknown owners and host FIFOs with errors that say why", function()
    local code, out = copy(tmp .. "/src/a.txt", "tmp/relative")
    assert.equal(1, code)
    assert.matches("guest path tmp/relative: must be absolute", out, 1, true)
    code, out = copy(tmp .. "/src/a.txt", "/tmp/../etc/x")
    assert.equal(1, code)
    assert.matches(". or .. component", out, 1, true)
    code, out = copy(tmp .. "/src/a.txt", "/tmp/new/dir/a.txt/inside")	-- a.txt is a file
    assert.equal(1, code)
    assert.matches("/tmp/new/dir/a.txt/inside: create: Not a directory", out, 1, true)
    code, out = copy(tmp .. "/src/a.txt", "/tmp/x", nil, "no-such-user")
    assert.equal(1, code)
    assert.matches("unknown user 'no-such-user'", out, 1, true)
    code, out = copy(tmp .. "/src/fifo", "/tmp/fifo")
    assert.equal(1, code)
    assert.matches("/src/fifo: is a FIFO; only regular files, directories and symlinks", out, 1, true)
    run.sh("mkdir " .. tmp .. "/src/withfifo && touch " .. tmp .. "/src/withfifo/f && mkfifo "
      .. tmp .. "/src/withfifo/p")
    code, out = copy(tmp .. "/src/withfifo", "/tmp/withfifo")
    assert.equal(1, code)
    assert.matches("is a FIFO", out, 1, true)
    assert.equal("no\n", guest("test -e /tmp/withfifo && echo yes || echo no"))	-- checked before sending
  end)
end)

-- An image's filesystem in the guest (issue 11, guest half): layer images
-- of every compressor read back in the guest (no VEX instruction in the
-- guest kernel's decompressors, docs/emulating-hosts.md), a 40-layer image
-- booted with its config (docs/init-channel.md "Rootfs"), the "ready"
-- point restored twice with a volume (fresh /dev/urandom per restore,
-- docs/clone-safety.md).  Every VM restores the boot snapshot or a snapshot
-- of it; every wait has a timeout.
local run = require "support.run"

local OCI = run.root .. "/tests/oci"
local tmp

local function must(cmd)
  local code, out, err = run.sh(cmd)
  assert(code == 0, cmd .. " failed (" .. tostring(code) .. "):\n" .. out .. err)
  return out
end

-- "key=value" lines -> table
local function parse(out)
  local t = {}
  for k, v in out:gmatch("([%w_]+)=([^\n]*)") do t[k] = v end
  return t
end

describe("layer images in the guest", function()
  if run.skip_without_kvm(pending) then return end

  setup(function()
    tmp = must("mktemp -d /tmp/sm-rootfs.XXXXXX"):gsub("\n", "")
    must("chmod 700 " .. tmp)
  end)

  teardown(function()
    if tmp then run.sh("rm -rf " .. run.quote(tmp)) end
  end)

  it("reads squashfs (zstd, gzip, uncompressed) and erofs images back intact", function()
    -- the same files in every image: compressible, random, and many small ones
    must("mkdir -p " .. tmp .. "/files/small && cd " .. tmp .. "/files && python3 -c \"import random; r=random.Random(7); "
      .. "open('c.bin','wb').write(b''.join(b'supermachine %d ' % i for i in range(16000))); "
      .. "open('r.bin','wb').write(r.randbytes(1<<18)); "
      .. "[open('small/%d' % i,'w').write('file %d\\n' % i * 50) for i in range(40)]\"")
    local want = must("cd " .. tmp .. "/files && find . -type f | sort | xargs md5sum | md5sum"):match("^(%x+)")
    local images = {
      { "zstd", "mksquashfs files zstd.img -quiet -comp zstd -noappend" },
      { "gzip", "mksquashfs files gzip.img -quiet -comp gzip -noappend" },
      { "none", "mksquashfs files none.img -quiet -noI -noD -noF -noX -noappend" },
      { "erofs", "mkfs.erofs --quiet erofs.img files" },
    }
    local disks, script = {}, {}
    for i, im in ipairs(images) do
      must("cd " .. tmp .. " && " .. im[2] .. " >/dev/null")
      disks[#disks + 1] = "--disk"
      disks[#disks + 1] = tmp .. "/" .. im[1] .. ".img:ro"
      local d = "/dev/vd" .. string.char(96 + i)
      script[#script + 1] = string.format("mkdir -p /m/%s && mount -o ro %s /m/%s && cd /m/%s && "
        .. "read a _ </proc/uptime && s=$(find . -type f | sort | xargs md5sum | md5sum) && read b _ </proc/uptime && "
        .. "echo %s=${s%%%% *} ms=$(( (${b%%.*}${b#*.} - ${a%%.*}${a#*.}) * 10 )) && cd /", im[1], d, im[1], im[1], im[1])
    end
    local args = { "boot" }
    for _, a in ipairs(disks) do args[#args + 1] = a end
    args[#args + 1] = "--"
    args[#args + 1] = "/bin/sh"
    args[#args + 1] = "-c"
    args[#args + 1] = table.concat(script, " && ")
    local code, out, err = run.sm(args, nil, " timeout 600 ")
    io.stderr:write("# ", (out:gsub("\n", "; ")), "\n")
    assert.equal(0, code, out .. err)
    for _, im in ipairs(images) do
      assert.matches(im[1] .. "=" .. want .. " ", out, 1, true)
    end
  end)

  it("boots a 40-layer image into its rootfs, with its config; the ready point restores twice with a volume", function()
    must("python3 " .. OCI .. "/mkimage.py rootfs " .. tmp .. "/img 40")
    local code, out, err = run.sm({ "pull", "--no-bake", "-q", "oci-layout:" .. tmp .. "/img:1" },
      { SM_IMAGES_DIR = tmp .. "/images", SM_CACHE_DIR = tmp .. "/cache" }, " timeout 120 ")
    assert.equal(0, code, out .. err)
    -- the volume: ext4 owned by the image's user, made without root
    must("mkfs.ext4 -q -F -E root_owner=1234:1234 " .. tmp .. "/vol.ext4 16M")
    code, out, err = run.sm({ "lua", run.root .. "/spec/support/rootfs_vm.lua", "oci-layout:" .. tmp .. "/img:1", tmp },
      { SM_IMAGES_DIR = tmp .. "/images" }, " timeout 2400 ")
    io.stderr:write("# ", (out:gsub("\n", "; ")), "\n")
    assert.equal(0, code, out .. err)
    local r = parse(out)
    assert.equal("40", r.layers)
    local w = r.workload or ""
    -- layer 2 shadows layer 1; its whiteout and opaque dir hide layer 1's files
    assert.matches("^layer2|gone%-hidden|new|", w)
    -- hostname, env (image + HOSTNAME), workdir, user app = 1234:1234 from the image's /etc/passwd
    assert.matches("|web%-1|hi web%-1|/home/app|1234|1234|/home/app|40|", w)
    assert.matches("done", w, 1, true)
    -- sm exec lands in the image's filesystem (the agent serves inside it)
    assert.equal("layer2|1|40|", r.exec)
    assert.equal("true", r.prepared)
    assert.equal("true", r.ready_snapshot)
    -- restore 1 writes + fsyncs on the volume; restore 2 (same snapshot) reads it back
    local r1, r2 = r.restore1 or "", r.restore2 or ""
    assert.matches("^exit 0 persisted%-by%-1|", r1)
    assert.matches("^exit 0 persisted%-by%-1|", r2)
    -- the volume was unmounted cleanly: the host sees the file too
    assert.equal("persisted-by-1\n", must("debugfs -R 'cat /f' " .. tmp .. "/vol.ext4 2>/dev/null"))
    -- fresh entropy and a fresh worker id per restore of one snapshot
    local u1, id1 = r1:match("| ([%x ]+)|(%x+)|ready|")
    local u2, id2 = r2:match("| ([%x ]+)|(%x+)|ready|")
    assert.is_truthy(u1, r1)
    assert.is_truthy(u2, r2)
    assert.are_not.equal(u1, u2)
    assert.equal(32, #id1)
    assert.are_not.equal(id1, id2)
    -- a workload ignoring SIGTERM is killed after the grace, and the volume
    -- still ends clean (e2fsck -n exits 0) with the file it wrote
    assert.equal("true", r.stop_started)
    assert.equal("stopped", r.stop)
    assert.equal("stopped-cleanly\n", must("debugfs -R 'cat /g' " .. tmp .. "/vol.ext4 2>/dev/null"))
    must("e2fsck -n " .. tmp .. "/vol.ext4")
  end)
end)

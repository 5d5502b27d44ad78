-- The guest agent over virtio-vsock (issue 4; docs/agent-protocol.md,
-- docs/vsock.md).  Booting costs about a minute on emulating hosts, so the
-- whole suite shares ONE detached VM, started in setup() and stopped in
-- teardown().  Every wait has a timeout.
local run = require "support.run"

local NAME = "agent-spec"
local V = require("support.detached_vm").new(NAME)
local T = " timeout 300 "
local tmp, env, booted, boot_err, vmm_pid

local function sm(args, prefix) return V:sm(args, prefix) end
local function exec(argv, opts)
  local a = { "exec", NAME }
  for _, o in ipairs(opts or {}) do a[#a + 1] = o end
  a[#a + 1] = "--"
  for _, x in ipairs(argv) do a[#a + 1] = x end
  return sm(a)
end
-- sm lua spec/support/agent_client.lua CMD NAME ... -> code, { key = value }
local function client(...)
  local code, out, err = sm({ "lua", run.root .. "/spec/support/agent_client.lua", ... })
  local kv = {}
  for k, v in out:gmatch("([%w_]+)=([^\n]*)") do kv[k] = v end
  return code, kv, out .. err
end

describe("guest agent (one detached VM)", function()
  if run.skip_without_kvm(pending) then return end

  setup(function()
    V:start("agent")
    tmp, env, booted, boot_err, vmm_pid = V.tmp, V.env, V.booted, V.boot_err, V.vmm_pid
  end)

  teardown(function() V:stop() end)

  it("sm boot --detach --name prints the name once the agent answers; state in a 0700 runtime dir", function()
    assert.is_true(booted, boot_err)
    local _, mode = run.sh("stat -c %a " .. tmp .. "/xdg/sm " .. tmp .. "/xdg/sm/vms/" .. NAME)
    assert.equal("700\n700\n", mode)
    local _, ls = run.sh("ls " .. tmp .. "/xdg/sm/vms/" .. NAME)
    assert.matches("vmm.pid", ls, 1, true)
    assert.matches("vsock.sock", ls, 1, true)
  end)

  it("exec: stdout and stderr arrive separately (agent-protocol.md §During an exec)", function()
    local code, out, err = exec({ "/bin/sh", "-c", "echo out; echo err >&2" })
    assert.equal(0, code, err)
    assert.equal("out\n", out)
    assert.equal("err\n", err)
  end)

  it("exec: stdin is piped: echo abc | sm exec NAME -- cat", function()
    local code, out, err = run.sh("echo abc | env XDG_RUNTIME_DIR=" .. env.XDG_RUNTIME_DIR .. T
      .. run.quote(run.bin) .. " exec " .. NAME .. " -- cat")
    assert.equal(0, code, err)
    assert.equal("abc\n", out)
  end)

  it("exec: exit codes 0, 1 and 42 pass through; a signal death is 128+N", function()
    local code, out, err = exec({ "/bin/sh", "-c", "true" })
    assert.equal(0, code, err)
    code = exec({ "/bin/sh", "-c", "exit 1" })
    assert.equal(1, code)
    code = exec({ "/bin/sh", "-c", "exit 42" })
    assert.equal(42, code)
    code, out, err = exec({ "/bin/sh", "-c", "kill -9 $$" })
    assert.equal(137, code, out .. err)
    code, _, err = exec({ "/no/such/program" })
    assert.equal(127, code)
    assert.matches("cannot run /no/such/program", err, 1, true)
  end)

  it("exec: -e, -w and -u set env, cwd and user", function()
    local code, out, err = exec({ "/bin/sh", "-c", "echo $FOO $(pwd) $(id -u):$(id -g)" },
      { "-e", "FOO=bar", "-w", "/tmp", "-u", "nobody" })
    assert.equal(0, code, err)
    assert.equal("bar /tmp 65534:65534\n", out)
    code, _, err = exec({ "/bin/true" }, { "-u", "no-such-user" })
    assert.equal(125, code)
    assert.matches("unknown user 'no-such-user'", err, 1, true)
  end)

  it("exec -t: an interactive shell on a pty, driven through a pty here", function()
    local py = [[
import os, pty, sys, time, select
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
buf = b""
def expect(s, t=120):
    global buf
    end = time.time() + t
    while s not in buf and time.time() < end:
        r, _, _ = select.select([fd], [], [], 1)
        if r:
            try: buf += os.read(fd, 4096)
            except OSError: break
    return s in buf
time.sleep(1)
os.write(fd, b"tty; stty size; echo hi-$((6*7))\n")
ok = expect(b"hi-42")
os.write(fd, b"exit 3\n")
expect(b"\0", 30)
_, st = os.waitpid(pid, 0)
print("OK" if ok else "NO", os.WEXITSTATUS(st))
sys.stdout.write(buf.decode(errors="replace"))
]]
    local f = assert(io.open(tmp .. "/ptydrive.py", "w"))
    f:write(py)
    f:close()
    local code, out, err = run.sh("env XDG_RUNTIME_DIR=" .. env.XDG_RUNTIME_DIR .. T .. "python3 " .. tmp
      .. "/ptydrive.py " .. run.quote(run.bin) .. " exec -t " .. NAME .. " -- /bin/sh")
    assert.equal(0, code, err)
    assert.matches("^OK 3\n", out)
    assert.matches("/dev/pts/%d+", out)
    assert.matches("hi%-42", out)
  end)

  it("vm:connect: 8 MiB each way through a guest echo service, byte-identical, with a stalling reader", function()
    local code, out, err = exec({ "/bin/sh", "-c", "nc -ll -p 7000 -e /bin/cat >/dev/null 2>&1 & echo started" })
    assert.equal(0, code, err)
    assert.equal("started\n", out)
    local kv, all
    code, kv, all = client("echo", NAME, "7000", "8")
    io.stderr:write("# 8 MiB echo: ", tostring(kv.seconds), " s, ", tostring(kv.mb_per_s), " MB/s each way\n")
    assert.equal(0, code, all)
    assert.equal("true", kv.identical, all)
    assert.equal(tostring(8 * 1048576), kv.received, all)
  end)

  it("port proxy: 32 concurrent connections to busybox httpd in the guest", function()
    local code, out, err = exec({ "/bin/sh", "-c",
      "mkdir -p /www && echo hello-http > /www/index.html && httpd -p 8080 -h /www && echo started" })
    assert.equal(0, code, err)
    local kv, all
    code, kv, all = client("http", NAME, "8080", "32")
    assert.equal(0, code, all)
    assert.equal("32", kv.ok, all)
  end)

  it("garbage before CONNECT: that client is closed with a log line, others unaffected (vsock.md)", function()
    local code, kv, all = client("garbage", NAME)
    assert.equal(0, code, all)
    assert.equal("true", kv.closed, all)
    local f = io.open(tmp .. "/xdg/sm/vms/" .. NAME .. "/vmm.log")
    local log = f and f:read("a") or ""
    if f then f:close() end
    assert.matches('host client sent "GET / HTTP/1.0', log, 1, true)
  end)

  it("1000 connect-and-drop clients leave the VMM's fds and memory at baseline", function()
    local code, kv, all = client("churn", NAME, "1000")
    io.stderr:write("# churn: fds ", tostring(kv.fds_before), " -> ", tostring(kv.fds_after), ", VmRSS ",
      tostring(kv.rss_before_kb), " -> ", tostring(kv.rss_after_kb), " kB\n")
    assert.equal(0, code, all)
  end)

  it("a guest service that never reads: the host's sends stall, the VMM's memory stays bounded", function()
    local code, out, err = exec({ "/bin/sh", "-c", "nc -l -p 7002 -e /bin/sleep 600 >/dev/null 2>&1 & echo started" })
    assert.equal(0, code, err)
    assert.equal("started\n", out)
    local kv, all
    code, kv, all = client("sink", NAME, "7002", "64")
    io.stderr:write("# sink: taken ", tostring(kv.taken_kb), " KiB of 64 MiB, VmRSS ", tostring(kv.rss_before_kb), " -> ",
      tostring(kv.rss_after_kb), " kB\n")
    assert.equal(0, code, all)
  end)

  it("an exec flooding a stdout nobody reads: the VMM's memory stays bounded, a second exec still runs", function()
    local code, kv, all = client("flood", NAME, "10")
    io.stderr:write("# flood: VmRSS ", tostring(kv.rss_before_kb), " -> peak ", tostring(kv.rss_peak_kb),
      " kB; second exec in ", tostring(kv.second_exec_s), " s\n")
    assert.equal(0, code, all)
  end)

  it("a guest opening 1000 vsock connections to a host port: at most 224 held, the rest refused at once, exec still works", function()
    local code, kv, all = client("connflood", NAME, "1000")
    io.stderr:write("# connflood: ", tostring(kv.report), ", host accepted ", tostring(kv.host_accepted), "; VMM fds ",
      tostring(kv.fds_before), " -> peak ", tostring(kv.fds_peak), " -> ", tostring(kv.fds_end), "\n")
    assert.equal(0, code, all)
  end)

  it("sm stop: SIGTERM to the workload through the agent; the VMM ends within the grace time", function()
    local code, out, err = sm({ "stop", "--time", "60", NAME })
    assert.equal(0, code, err)
    assert.equal(NAME .. "\n", out)
    assert.equal("", err)		-- stopped, not killed
    assert.not_equal(0, (run.sh("kill -0 " .. tostring(vmm_pid))))
    booted = false
    code, _, err = exec({ "/bin/true" })
    assert.equal(125, code)
    assert.matches("no VM named 'agent%-spec'", err)
  end)
end)

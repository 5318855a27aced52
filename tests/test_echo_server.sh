#!/usr/bin/env bash
# test_echo_server.sh - examples/echo_server against a client nobody here
# wrote: Python's asyncio (Debian's python3) on 127.0.0.1.
#
#   tests/test_echo_server.sh BUILD_DIR
#
# Starts the server on a free port (--port 0, the port read from its first
# line), then 50 concurrent asyncio connections each send 200 lines of
# varied length and check every byte that comes back, plus one connection
# sending 8 MiB at once (read back while it is written), plus a client
# that resets its connection mid-stream; then SIGINT must stop the server
# (exit by SIGINT, as the shell's status 130) with no output on stderr.
# `--help` must describe the options.  Bounded: 60 s in all.
#
# Exit status: 0 pass, 1 fail, 77 skipped (no python3, example not built).

set -u

if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
exe=$1/examples/echo_server
if ! command -v python3 >/dev/null 2>&1; then
    echo "skipped: python3 is needed for the asyncio client"
    exit 77
fi
if [[ ! -x $exe ]]; then
    echo "skipped: $exe not built"
    exit 77
fi

help=$("$exe" --help) || { echo "FAIL: --help exited $?"; exit 1; }
[[ $help == *--port* ]] || { echo "FAIL: --help does not mention --port"; exit 1; }

timeout -k 5 60 python3 - "$exe" <<'PY'
import asyncio, os, signal, socket, struct, subprocess, sys

exe = sys.argv[1]
srv = subprocess.Popen([exe, "--port", "0", "--host", "127.0.0.1"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
line = srv.stdout.readline().decode()
if "listening on port" not in line:
    print("FAIL: first line:", line)
    srv.kill()
    sys.exit(1)
port = int(line.split()[-1])


async def lines_client(k):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    for i in range(200):
        msg = (f"{k}:{i}:" + "x" * ((k * 37 + i * 11) % 300) + "\n").encode()
        w.write(msg)
        await w.drain()
        back = await r.readexactly(len(msg))
        assert back == msg, (k, i)
    w.close()
    await w.wait_closed()


async def bulk_client():
    r, w = await asyncio.open_connection("127.0.0.1", port)
    data = os.urandom(8 << 20)
    w.write(data)
    got = await r.readexactly(len(data))
    assert got == data
    w.close()
    await w.wait_closed()


async def reset_client():
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"y" * 100000)
    sock = w.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))
    w.transport.abort()  # RST mid-stream: the server must shrug it off


async def main():
    await asyncio.gather(*(lines_client(k) for k in range(50)), bulk_client(),
                         reset_client())
    await lines_client(999)  # still serving after the reset


failed = False
try:
    asyncio.run(asyncio.wait_for(main(), 40))
    print("ok   50 line clients, 8 MiB bulk, a reset, then one more client")
except Exception as e:
    print("FAIL: client:", repr(e))
    failed = True

srv.send_signal(signal.SIGINT)
try:
    srv.wait(10)
except subprocess.TimeoutExpired:
    srv.kill()
    print("FAIL: still running 10 s after SIGINT")
    sys.exit(1)
err = srv.stderr.read().decode()
if srv.returncode != -signal.SIGINT:
    print("FAIL: exit status", srv.returncode, "want death by SIGINT")
    failed = True
else:
    print("ok   SIGINT stops it (status 130 in a shell)")
if err:
    print("FAIL: stderr:", err)
    failed = True
sys.exit(1 if failed else 0)
PY

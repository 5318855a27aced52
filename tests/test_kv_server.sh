#!/usr/bin/env bash
# test_kv_server.sh - examples/kv_server against the Redis project's own
# clients (redis-cli, redis-benchmark) and a raw python3 socket.
#
#   tests/test_kv_server.sh BUILD_DIR
#
# Starts the server on a free port (--port 0, the port read from its first
# line), then checks with redis-cli: PING, SET/GET, a missing key (nil),
# DEL of several keys (the count), a value with NUL, CR and LF bytes, SET
# with EX and PX (gone once expired), an unknown command; redis-benchmark's
# set, get and ping tests (20,000 requests each, 16 pipelined) must each
# report requests per second; raw: 200 requests pipelined in one write
# (answers in order, in both the array and the inline form), a request in
# 1-byte pieces, a 1 MiB value, and protocol errors (an error reply, then
# the connection closed).  SIGINT must stop the server (death by SIGINT,
# status 130) with nothing on stderr.  `--help` must describe the options.
# Bounded: 60 s in all.
#
# Exit status: 0 pass, 1 fail, 77 skipped (redis-cli, redis-benchmark or
# python3 missing, example not built).

set -u

if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
if [[ -z ${WEFT_TEST_BOUNDED:-} ]]; then
    WEFT_TEST_BOUNDED=1 exec timeout -k 5 60 bash "$0" "$@"
fi
source "$(dirname "$0")/example_server.bash"
exe=$1/examples/kv_server
require_tools redis-cli redis-benchmark python3
require_built "$exe"
require_help "$exe" --port --host
start_server "$exe"

# ---- redis-cli
cli() { timeout 5 redis-cli -h 127.0.0.1 -p "$port" --no-raw "$@" 2>&1; }
expect() { # expect WANT COMMAND...
    local want=$1 got
    shift
    got=$(cli "$@")
    [[ $got == "$want" ]] || fail "redis-cli $*: got '$got', want '$want'"
}
expect PONG PING
expect '"hello there"' PING "hello there"
expect OK SET greeting hello
expect '"hello"' GET greeting
expect '(nil)' GET no-such-key
expect OK SET other 1
expect '(integer) 2' DEL greeting other no-such-key
expect '(nil)' GET greeting
printf 'a\0b\r\nc' >"$tmp/bin"
got=$(timeout 5 redis-cli -h 127.0.0.1 -p "$port" -x SET bin <"$tmp/bin")
[[ $got == OK ]] || fail "SET of a binary value: '$got'"
expect '"a\x00b\r\nc"' GET bin
timeout 5 redis-cli -h 127.0.0.1 -p "$port" --raw GET bin >"$tmp/bin.back"
printf '\n' >>"$tmp/bin" # --raw adds a newline
cmp -s "$tmp/bin" "$tmp/bin.back" || fail "binary value: bytes differ"
expect OK SET short-lived x EX 1
expect '"x"' GET short-lived
expect OK SET gone x PX 100
sleep 0.3
expect '(nil)' GET gone
got=$(cli NOSUCHCOMMAND a)
[[ $got == *"unknown command"* ]] || fail "unknown command: '$got'"
((failed)) || echo "ok   redis-cli: PING, SET, GET, nil, DEL count, binary value, EX/PX, unknown command"

# ---- redis-benchmark
if timeout 40 redis-benchmark -h 127.0.0.1 -p "$port" -t set,get,ping \
    -n 20000 -P 16 -q >"$tmp/bench" 2>"$tmp/bench.err"; then
    tr '\r' '\n' <"$tmp/bench" | grep 'requests per second' >"$tmp/rps"
    for t in PING_INLINE PING_MBULK SET GET; do
        grep -q "^ *$t: [0-9.]* requests per second" "$tmp/rps" ||
            fail "redis-benchmark: no figure for $t: $(cat "$tmp/bench")"
    done
    if [[ -s $tmp/bench.err ]]; then
        fail "redis-benchmark stderr: $(cat "$tmp/bench.err")"
    fi
    ((failed)) || echo "ok   redis-benchmark -t set,get,ping -n 20000 -P 16:" \
        $(sed 's/ requests per second.*//' "$tmp/rps" | tr -s ' \n' ' ')
else
    fail "redis-benchmark exited with an error: $(cat "$tmp/bench" "$tmp/bench.err")"
fi
got=$(cli GET key:__rand_int__)
[[ $got == '"'* ]] || fail "the benchmark's key: '$got'"

# ---- raw
timeout 20 python3 - "$port" <<'PY' || failed=1
import socket, sys, time

port = int(sys.argv[1])
failed = False


def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def read_all(s):
    """Everything until the server closes."""
    data = b""
    while True:
        try:
            d = s.recv(65536)
        except ConnectionResetError:
            break
        if not d:
            break
        data += d
    return data


def check(name, cond, detail=""):
    global failed
    if not cond:
        print("FAIL:", name, detail)
        failed = True


# 200 requests in one write, arrays and inline mixed; then QUIT, after
# which the server closes: its answers are read whole.
s = conn()
reqs, want = b"", b""
for i in range(100):
    reqs += resp("SET", f"k{i}", f"v{i}") + f"GET k{i}\r\n".encode()
    want += b"+OK\r\n" + b"$%d\r\nv%d\r\n" % (len(str(i)) + 1, i)
reqs += resp("DEL", "k1", "k2", "nope") + b"PING\r\n" + resp("QUIT")
want += b":2\r\n+PONG\r\n+OK\r\n"
s.sendall(reqs)
got = read_all(s)
check("200 pipelined", got == want, got[-200:])
s.close()

# One request in 1-byte pieces, then the answer.
s = conn()
for b in resp("SET", "slow", "piece by piece") + resp("GET", "slow"):
    s.send(bytes([b]))
    time.sleep(0.0005)
want = b"+OK\r\n$14\r\npiece by piece\r\n"
got = b""
while len(got) < len(want):
    d = s.recv(4096)
    if not d:
        break
    got += d
check("request in pieces", got == want, got)
s.close()

# A 1 MiB value with every byte value, back unchanged.
s = conn()
big = bytes(range(256)) * 4096
s.sendall(resp("SET", "big", big) + resp("GET", "big") + resp("QUIT"))
got = read_all(s)
check("1 MiB value", got == b"+OK\r\n$%d\r\n" % len(big) + big + b"\r\n+OK\r\n",
      len(got))
s.close()

# Protocol errors: an error reply, then the connection closed - after the
# answers to what came before.
for bad, name in ((b"*1\r\n$x\r\n", "bad bulk length"),
                  (b"*1\r\n+PING\r\n", "no '$'"),
                  (b"*x\r\n", "bad array length"),
                  (b"*1\r\n$4\r\nPINGxx", "bulk not ended by CRLF"),
                  (b"*1\r\n$999999999\r\n", "bulk too long")):
    s = conn()
    s.sendall(b"PING\r\n" + bad)
    got = read_all(s)
    check(name, got.startswith(b"+PONG\r\n-ERR Protocol error") and
          got.endswith(b"\r\n") and got.count(b"\r\n") == 2, got)
    s.close()

if not failed:
    print("ok   raw: 200 pipelined requests in order, a request in pieces, "
          "1 MiB value, protocol errors close")
sys.exit(1 if failed else 0)
PY

stop_server_by_sigint
exit $failed

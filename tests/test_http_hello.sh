#!/usr/bin/env bash
# test_http_hello.sh - examples/http_hello against clients nobody here
# wrote: curl, wrk, and a raw python3 socket for what those never send.
#
#   tests/test_http_hello.sh BUILD_DIR
#
# Starts the server on a free port (--port 0, the port read from its first
# line), then checks: curl's GET / (status, headers, body), a 404, a 405,
# HEAD, two URLs over one kept-alive connection; raw requests: four
# pipelined on one connection answered in order, HTTP/1.0 with and without
# keep-alive, a request arriving a byte at a time, 405 with and without a
# body (kept alive, closed), malformed requests (400, closed), oversized
# header blocks (431 or closed); then 2 s of wrk with 50 connections (no
# socket errors, no non-2xx answers), and SIGINT must stop the server
# (death by SIGINT, status 130) with nothing on stderr.
# `--help` must describe the options.  Bounded: 60 s in all.
#
# Exit status: 0 pass, 1 fail, 77 skipped (curl or python3 missing, example
# not built).  Without wrk the load part alone is skipped.

set -u

if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
if [[ -z ${WEFT_TEST_BOUNDED:-} ]]; then
    WEFT_TEST_BOUNDED=1 exec timeout -k 5 60 bash "$0" "$@"
fi

source "$(dirname "$0")/example_server.bash"
exe=$1/examples/http_hello
require_tools curl python3
require_built "$exe"
require_help "$exe" --port --host
start_server "$exe"
url=http://127.0.0.1:$port

# ---- curl
got=$(curl -s --max-time 5 -D "$tmp/headers" "$url/")
[[ $got == "Hello, world!" ]] || fail "GET / body: '$got'"
grep -q '^HTTP/1.1 200 OK' "$tmp/headers" || fail "GET / status: $(head -n 1 "$tmp/headers")"
grep -qi '^Content-Type: text/plain' "$tmp/headers" || fail "GET /: no Content-Type text/plain"
grep -qi '^Content-Length: 14' "$tmp/headers" || fail "GET /: no Content-Length 14"
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$url/nope")
[[ $code == 404 ]] || fail "GET /nope: status $code, want 404"
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -X DELETE "$url/")
[[ $code == 405 ]] || fail "DELETE /: status $code, want 405"
got=$(curl -s --max-time 5 -I "$url/" | tr -d '\r')
[[ $got == *"HTTP/1.1 200 OK"*"Content-Length: 14"* ]] || fail "HEAD /: '$got'"
got=$(curl -sv --max-time 5 "$url/" "$url/" 2>&1)
[[ $got == *"Re-using existing connection"* ]] || fail "two URLs: connection not reused"
[[ $(grep -c '^Hello, world!' <<<"$got") -eq 2 ]] || fail "two URLs: not two bodies"
((failed)) || echo "ok   curl: GET /, 404, 405, HEAD, two requests on one connection"

# ---- raw requests
timeout 20 python3 - "$port" <<'PY' || failed=1
import socket, sys, time

port = int(sys.argv[1])
failed = False


def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Reader:
    def __init__(self, s):
        self.s, self.buf = s, b""

    def fill(self):
        try:
            d = self.s.recv(65536)
        except ConnectionResetError:
            d = b""
        self.buf += d
        return bool(d)

    def response(self):
        """(status, headers, body), or None at end of stream."""
        while b"\r\n\r\n" not in self.buf:
            if not self.fill():
                return None
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {k.lower(): v.strip() for k, v in
                (l.split(":", 1) for l in lines[1:])}
        n = int(hdrs["content-length"])
        while len(self.buf) < n:
            if not self.fill():
                raise EOFError("body cut short")
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, hdrs, body

    def closed(self):
        return not self.buf and not self.fill()


def check(name, cond, detail=""):
    global failed
    if not cond:
        print("FAIL:", name, detail)
        failed = True


def bodyless(rd):
    r = rd.response()
    return r and r[:2]


# Four pipelined requests in one segment: answered in order; the last
# asks to close.
s = conn()
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
          b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
          b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
          b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
rd = Reader(s)
# HEAD has a Content-Length but no body: read its head only.
r1, r2 = rd.response(), rd.response()
while b"\r\n\r\n" not in rd.buf and rd.fill():
    pass
head3, rd.buf = rd.buf.split(b"\r\n\r\n", 1)
r4 = rd.response()
check("pipelined 1", r1 and r1[0] == 200 and r1[2] == b"Hello, world!\n", r1)
check("pipelined 2", r2 and r2[0] == 404, r2)
check("pipelined 3 (HEAD)", head3.startswith(b"HTTP/1.1 200"), head3)
check("pipelined 4", r4 and r4[0] == 200 and
      r4[1].get("connection") == "close", r4)
check("pipelined: closed after Connection: close", rd.closed())
s.close()

# HTTP/1.0 closes unless keep-alive is asked for.
s = conn()
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
rd = Reader(s)
r = rd.response()
check("HTTP/1.0", r and r[0] == 200, r)
check("HTTP/1.0: closed", rd.closed())
s.close()
s = conn()
rd = Reader(s)
for i in range(2):
    s.sendall(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
    r = rd.response()
    check(f"HTTP/1.0 keep-alive {i}", r and r[0] == 200, r)
s.close()

# A request arriving a byte at a time, with empty lines before it.
s = conn()
for b in b"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n":
    s.send(bytes([b]))
    time.sleep(0.001)
r = Reader(s).response()
check("byte at a time", r and r[0] == 200, r)
s.close()

# A method we do not serve: 405, the connection kept - unless a body came
# with it, which the server does not read: then it closes.
s = conn()
s.sendall(b"POST / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n")
rd = Reader(s)
r1, r2 = rd.response(), rd.response()
check("405 kept alive", r1 and r1[0] == 405 and r1[1].get("allow") and
      r2 and r2[0] == 200, (r1, r2))
s.close()
s = conn()
s.sendall(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
rd = Reader(s)
r = rd.response()
check("405 with a body", r and r[0] == 405 and rd.closed(), r)
s.close()

# Malformed: 400, then the connection is closed.
for bad in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
            b"GET / HTTP/2.0\r\n\r\n", b"GET  / HTTP/1.1\r\n\r\n"):
    s = conn()
    s.sendall(bad)
    rd = Reader(s)
    r = rd.response()
    check(f"malformed {bad!r}", r and r[0] == 400 and rd.closed(), r)
    s.close()

# An oversized header block: 431, or the connection closed.
s = conn()
try:
    s.sendall(b"GET / HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 20000 + b"\r\n\r\n")
except OSError:
    pass
rd = Reader(s)
r = rd.response()
check("oversized head", r is None or (r[0] == 431 and rd.closed()), r)
s.close()
s = conn()  # many short lines add up too
s.sendall(b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 2000 + b"\r\n")
rd = Reader(s)
r = rd.response()
check("many headers", r is None or (r[0] == 431 and rd.closed()), r)
s.close()

if not failed:
    print("ok   raw: pipelining in order, HTTP/1.0, a byte at a time, "
          "405s, 400s, 431s")
sys.exit(1 if failed else 0)
PY

# ---- load
if command -v wrk >/dev/null 2>&1; then
    if timeout 20 wrk -t 2 -c 50 -d 2s "$url/" >"$tmp/wrk" 2>&1; then
        reqs=$(awk '/requests in/ { print $1 }' "$tmp/wrk")
        if [[ -z $reqs || $reqs -eq 0 ]]; then
            fail "wrk: no requests: $(cat "$tmp/wrk")"
        elif grep -qE 'Socket errors|Non-2xx' "$tmp/wrk"; then
            fail "wrk: $(grep -E 'Socket errors|Non-2xx' "$tmp/wrk")"
        else
            echo "ok   wrk: $reqs requests in 2 s over 50 connections, no errors"
        fi
    else
        fail "wrk exited with an error: $(cat "$tmp/wrk")"
    fi
else
    echo "note: wrk not installed, load part skipped"
fi

stop_server_by_sigint
exit $failed

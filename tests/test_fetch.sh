#!/usr/bin/env bash
# test_fetch.sh - examples/fetch against examples/http_hello.
#
#   tests/test_fetch.sh BUILD_DIR
#
# Starts http_hello on a free port (--port 0), then: fetch of 200 requests,
# 20 at once, must report "200 ok, 0 errors" and 2,800 bytes and exit 0,
# its bars (stderr is not a terminal: log lines) reaching 100%; fetch of a
# missing path must count 404s as errors and exit 1; once the server is
# stopped, fetch against its closed port must report every request failed
# (connection refused) and exit 1, promptly.  `--help` must describe the
# options.  Bounded: 60 s in all.
#
# Exit status: 0 pass, 1 fail, 77 skipped (examples not built).

set -u

if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
if [[ -z ${WEFT_TEST_BOUNDED:-} ]]; then
    WEFT_TEST_BOUNDED=1 exec timeout -k 5 60 bash "$0" "$@"
fi
source "$(dirname "$0")/example_server.bash"
fetch=$1/examples/fetch
server=$1/examples/http_hello
require_built "$fetch" "$server"
require_help "$fetch" --host --port --path --url-count --concurrency
start_server "$server"

# run NAME ARGS...: fetch, bounded, its output in $tmp/NAME.{out,err}, its
# exit status in $rc.
run() {
    local name=$1
    shift
    timeout 20 "$fetch" --host 127.0.0.1 --port "$port" "$@" \
        >"$tmp/$name.out" 2>"$tmp/$name.err"
    rc=$?
}

run ok --url-count 200 --concurrency 20
summary=$(head -n 1 "$tmp/ok.out")
if [[ $rc -ne 0 || $summary != "200 requests: 200 ok, 0 errors, 2800 bytes in "* ]]; then
    fail "200 requests: exit $rc, '$summary' $(cat "$tmp/ok.err")"
elif ! grep -q '^requests: 100%.* 200/200 ' "$tmp/ok.err" ||
    ! grep -q '^received: 100%.* 2.73k/2.73k ' "$tmp/ok.err"; then
    fail "200 requests: the bars did not finish: $(cat "$tmp/ok.err")"
else
    echo "ok   $summary"
fi

run missing --url-count 30 --concurrency 5 --path /missing
summary=$(cat "$tmp/missing.out")
if [[ $rc -ne 1 || $summary != "30 requests: 0 ok, 30 errors"*"status 404"* ]]; then
    fail "404s: exit $rc, '$summary'"
else
    echo "ok   404s are errors, exit status 1"
fi

kill -INT "$pid"
wait "$pid"
pid=
start=$SECONDS
run closed --url-count 200 --concurrency 20
summary=$(cat "$tmp/closed.out")
if [[ $rc -ne 1 || $summary != "200 requests: 0 ok, 200 errors"*"refused"* ]]; then
    fail "closed port: exit $rc, '$summary' $(cat "$tmp/closed.err")"
elif ((SECONDS - start > 5)); then
    fail "closed port: took $((SECONDS - start)) s"
else
    echo "ok   closed port: 200 errors (connection refused), exit status 1"
fi
exit $failed

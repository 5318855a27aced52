# example_server.bash - what the tests of the network examples share,
# sourced by tests/test_http_hello.sh, test_kv_server.sh and test_fetch.sh
# (not a test itself: tests/run.sh runs test_*.sh only).
#
#   source "$(dirname "$0")/example_server.bash"
#   require_tools curl python3          # exit 77 if one is missing
#   require_built "$exe" ...            # exit 77 if not built
#   require_help "$exe" --port --host   # exit 1 unless --help names them
#   start_server "$exe"                 # sets $pid, $port, $tmp; $tmp/err
#   stop_server_by_sigint               # fail unless it dies by SIGINT
#                                       # (status 130) with stderr empty
#
# start_server runs the example on 127.0.0.1, port 0, and reads the port
# from its first line ("listening on port N"); an EXIT trap kills it and
# removes $tmp on every path.  fail MESSAGE records a failure in $failed.

require_tools() {
    local tool
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "skipped: $tool is needed"
            exit 77
        fi
    done
}

require_built() {
    local exe
    for exe in "$@"; do
        if [[ ! -x $exe ]]; then
            echo "skipped: $exe not built"
            exit 77
        fi
    done
}

require_help() {
    local exe=$1 help opt
    shift
    help=$("$exe" --help) || { echo "FAIL: --help exited $?"; exit 1; }
    for opt in "$@"; do
        [[ $help == *"$opt"* ]] ||
            { echo "FAIL: --help does not describe $opt"; exit 1; }
    done
}

tmp=$(mktemp -d) || exit 1
pid=
failed=0
cleanup() {
    [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' TERM INT

fail() {
    echo "FAIL: $*"
    failed=1
}

start_server() {
    # A background job of a script starts with SIGINT ignored, and a
    # program keeps an ignored SIGINT ignored (as Python does): the tests
    # stop the server with SIGINT, so give it the default back.
    env --default-signal=INT "$1" --port 0 --host 127.0.0.1 \
        >"$tmp/out" 2>"$tmp/err" &
    pid=$!
    local line
    for _ in $(seq 50); do
        [[ -s $tmp/out ]] && break
        sleep 0.1
    done
    line=$(head -n 1 "$tmp/out")
    if [[ $line != *"listening on port "* ]]; then
        echo "FAIL: the server's first line: '$line'"
        exit 1
    fi
    port=${line##* }
}

stop_server_by_sigint() {
    kill -INT "$pid"
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        fail "still running 10 s after SIGINT"
        return
    fi
    wait "$pid"
    local rc=$?
    pid=
    if [[ $rc -ne 130 ]]; then
        fail "exit status $rc after SIGINT, want 130"
    else
        echo "ok   SIGINT stops it (status 130)"
    fi
    if [[ -s $tmp/err ]]; then
        fail "stderr: $(cat "$tmp/err")"
    fi
}

#!/usr/bin/env bash
# test_stuck.sh - examples/stuck explains where its tasks are stuck: the
# task dump (weft_dump_tasks) names each task's function and wait and
# unwinds its stack into the program's functions; a SIGQUIT prints the
# dump without stopping the program, which then stops on SIGINT.
#
#   tests/test_stuck.sh BUILD_DIR
#
# Exit status: 0 pass, 1 fail, 77 skipped (example not built).

set -u

if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
exe=$1/examples/stuck
if [[ ! -x $exe ]]; then
    echo "skipped: $exe not built"
    exit 77
fi
fail() {
    echo "FAIL: $*"
    exit 1
}
expect() { # text pattern what
    grep -q -- "$2" <<<"$1" || { echo "$1"; fail "$3: no '$2'"; }
}

out=$(timeout 10 "$exe" --once 2>&1) || fail "--once exited $?"
expect "$out" "^weft: 4 tasks on loop" "header"
expect "$out" "task 'fetch' (#2) fetch_config (stuck+0x" "named task"
expect "$out" "sleeping, for 0.1" "sleep state"
expect "$out" "awaiting task 'fetch' (#2)" "await state"
expect "$out" "update_cache (stuck+0x.*waiting on a lock" "lock state"
# (Builds with the ucontext switch say they have no backtraces.)
if ! grep -q "no backtrace with this build's context switch" <<<"$out"; then
    expect "$out" "#[0-9] *fetch_config+0x" "backtrace into the program"
    expect "$out" "#[0-9] *wait_for_config+0x" "backtrace into the program"
fi

# SIGQUIT while it runs: a dump, and it keeps running; SIGINT stops it.
log=$(mktemp)
trap 'rm -f "$log"; [[ -n ${pid:-} ]] && kill -9 "$pid" 2>/dev/null' EXIT
env --default-signal=INT,QUIT "$exe" 2>"$log" &
pid=$!
for _ in $(seq 100); do
    grep -q "press Ctrl" "$log" && break
    sleep 0.05
done
kill -QUIT "$pid"
for _ in $(seq 100); do
    grep -q "update_cache" "$log" && break
    sleep 0.05
done
kill -0 "$pid" 2>/dev/null || fail "SIGQUIT stopped the program"
expect "$(cat "$log")" "awaiting task 'fetch'" "dump on SIGQUIT"
kill -INT "$pid"
for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
done
wait "$pid"
rc=$?
pid=
[[ $rc -eq 0 || $rc -eq 130 ]] || fail "after SIGINT it exited $rc"
echo "ok: dump by call and by SIGQUIT, tasks named and unwound"

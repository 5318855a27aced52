#!/usr/bin/env bash
# test_gdb.sh - tools/weft-gdb.py in gdb's batch mode against
# examples/stuck stopped at a known point (a breakpoint in
# weft_dump_tasks, which --once calls while its tasks are stuck):
# `weft tasks` lists the four tasks with their states, `weft bt 2` shows
# task 2's frames down to fetch_config, and the thread's own registers are
# back afterwards.
#
#   tests/test_gdb.sh BUILD_DIR
#
# Exit status: 0 pass, 1 fail, 77 skipped (no gdb, ptrace refused, a build
# without debug information, or the example not built).

set -u

if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
exe=$1/examples/stuck
script=$(dirname "$0")/../tools/weft-gdb.py
command -v gdb >/dev/null 2>&1 || { echo "skipped: gdb is needed"; exit 77; }
[[ -x $exe ]] || { echo "skipped: $exe not built"; exit 77; }

out=$(timeout -k 5 60 gdb -q -batch -nx \
    -ex "source $script" -ex 'break weft_dump_tasks' -ex 'run --once' \
    -ex 'weft tasks' -ex 'weft bt 2' -ex 'bt 1' -ex 'kill' "$exe" 2>&1)
if grep -qE 'ptrace: Operation not permitted|Could not trace' <<<"$out"; then
    echo "skipped: ptrace is refused here"
    exit 77
fi
if grep -q 'no weft__tls_loop' <<<"$out"; then
    echo "skipped: weft built without debug information"
    exit 77
fi
fail() {
    echo "$out"
    echo "FAIL: $*"
    exit 1
}
grep -q "^task 'main' (#1) main_task: running" <<<"$out" || fail "main"
grep -q "^task 'fetch' (#2) fetch_config: waiting: sleep" <<<"$out" ||
    fail "the sleeping task"
grep -q "^task #3 wait_for_config: waiting: await" <<<"$out" ||
    fail "the awaiting task"
grep -q "^task #4 update_cache: waiting: a lock" <<<"$out" ||
    fail "the task on the lock"
grep -q "^4 tasks" <<<"$out" || fail "the count"
if grep -q "not with the ucontext switch" <<<"$out"; then
    echo "ok: weft tasks (weft bt: not with the ucontext switch)"
    exit 0
fi
grep -qE "^#[0-9]+ .* in weft_sleep " <<<"$out" || fail "bt: weft_sleep"
grep -qE "^#[0-9]+ .* in fetch_config " <<<"$out" || fail "bt: fetch_config"
# After `weft bt`, the thread's own frame 0 again.
[[ $(grep -c '^#0  weft_dump_tasks' <<<"$out") -ge 1 ]] ||
    fail "the thread's registers were not put back"
echo "ok: weft tasks, weft bt 2, registers restored"

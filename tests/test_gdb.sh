#!/usr/bin/env bash
# test_gdb.sh - tools/weft-gdb.py in gdb's batch mode against
# examples/stuck stopped at a known point (a breakpoint in
# weft_dump_tasks, which --once calls while its tasks are stuck), first
# live, then on a core file of that point:
#
#   live      `weft tasks` lists the four tasks with their states, `weft
#             bt 2` shows task 2's frames (numbered from 0) down to
#             fetch_config, the thread's own backtrace is unchanged after,
#             and `gcore` writes the core;
#   core      the same commands on the core file, where gdb cannot write
#             registers;
#   no libthread_db
#             the same again with gdb kept from loading libthread_db, as
#             when a core is read on another machine: the script finds
#             the thread-local loop pointer itself;
#   compact   examples/stuck --once --compact, live: a compact task copied
#             off the shared stack is marked and has no backtrace, the one
#             on it has its frames.
#
#   tests/test_gdb.sh BUILD_DIR
#
# Exit status: 0 pass, 1 fail, 77 skipped (no gdb, ptrace refused, a build
# without debug information, the example not built, or no core written:
# not enough free space, or gcore failed).

set -u

if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
exe=$1/examples/stuck
script=$(dirname "$0")/../tools/weft-gdb.py
command -v gdb >/dev/null 2>&1 || { echo "skipped: gdb is needed"; exit 77; }
[[ -x $exe ]] || { echo "skipped: $exe not built"; exit 77; }

core=$(mktemp "${TMPDIR:-/tmp}/weft-gdb-core.XXXXXX") || {
    echo "skipped: no temporary file for the core"
    exit 77
}
trap 'rm -f "$core"' EXIT
# gcore writes every mapping with data in it whole, the loop's reserved
# arenas too: about 1.5 GB here, mostly zeros.
need_kb=$((2 * 1024 * 1024))
free_kb=$(df -Pk "$(dirname "$core")" | awk 'NR == 2 { print $4 }')
gcore_cmd="gcore $core"
if [[ -z $free_kb ]] || ((free_kb < need_kb)); then
    gcore_cmd="echo no core: less than 2 GB free in $(dirname "$core")\n"
fi
# A sanitizer's shadow memory would go into the core too: tens of GB.
if ldd "$exe" 2>/dev/null | grep -qE 'lib(a|t|ub)san'; then
    gcore_cmd="echo no core: a sanitizer build maps too much to dump\n"
fi

# WEFT_GUARD=mprotect: gdb's gcore copies memory in blocks of a megabyte
# and cannot read one that holds a guard region (Linux 6.13's, the default
# guard tier there, inside the stacks' mapping): the task stacks would be
# missing from the core.  mprotect guards are mappings of their own, which
# gcore passes over.  (The kernel's own core dumps keep the stacks with
# either tier.)
out=$(WEFT_GUARD=mprotect timeout -k 5 90 gdb -q -batch -nx \
    -ex "source $script" -ex 'break weft_dump_tasks' -ex 'run --once' \
    -ex 'weft tasks' -ex 'weft bt 2' -ex 'bt 1' -ex "$gcore_cmd" \
    -ex 'kill' "$exe" 2>&1)
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
ucontext=false
grep -q "not with the ucontext switch" <<<"$out" && ucontext=true

# The lines every phase shows, in $out; $1 names the phase.
check() {
    grep -q "^task 'main' (#1) main_task: running" <<<"$out" ||
        fail "$1: main"
    grep -q "^task 'fetch' (#2) fetch_config: waiting: sleep" <<<"$out" ||
        fail "$1: the sleeping task"
    grep -q "^task #3 wait_for_config: waiting: await" <<<"$out" ||
        fail "$1: the awaiting task"
    grep -q "^task #4 update_cache: waiting: a lock" <<<"$out" ||
        fail "$1: the task on the lock"
    grep -q "^4 tasks" <<<"$out" || fail "$1: the count"
    if $ucontext; then
        grep -q "not with the ucontext switch" <<<"$out" ||
            fail "$1: weft bt with the ucontext switch"
        return
    fi
    # The frames after the task list: weft bt's, then the thread's bt 1.
    local frames
    frames=$(sed -n '/^4 tasks/,$p' <<<"$out" | grep '^#')
    grep -qE "^#[0-9]+ .* in weft_sleep " <<<"$frames" ||
        fail "$1: bt: weft_sleep"
    grep -qE "^#[0-9]+ .* in fetch_config " <<<"$frames" ||
        fail "$1: bt: fetch_config"
    # The task's innermost frame is #0, not the thread's frame 0.
    head -n 1 <<<"$frames" | grep -qE '^#0  0x[0-9a-f]+ in weft__' ||
        fail "$1: the task's frames are not numbered from 0"
    tail -n 1 <<<"$frames" | grep -q '^#0  weft_dump_tasks' ||
        fail "$1: the thread's own frames changed"
}
check live
grep -q '^Saved corefile' <<<"$out" || {
    why=$(grep -m 1 -iE 'core|failed' <<<"$out")
    echo "skipped: live ok; no core written (${why:-gcore said nothing})"
    exit 77
}

out=$(timeout -k 5 60 gdb -q -batch -nx -ex "source $script" \
    -ex 'weft tasks' -ex 'weft bt 2' -ex 'bt 1' "$exe" "$core" 2>&1)
check core

# No libthread_db: gdb cannot read thread-local variables by itself.
out=$(timeout -k 5 60 gdb -q -batch -nx \
    -ex 'set libthread-db-search-path /nonexistent' -ex "source $script" \
    -ex "core-file $core" -ex 'weft tasks' -ex 'weft bt 2' -ex 'bt 1' \
    "$exe" 2>&1)
grep -q 'Unable to find libthread_db' <<<"$out" ||
    fail "no libthread_db: gdb loaded one anyway"
check "no libthread_db"

if $ucontext; then
    echo "ok: weft tasks live and on a core (weft bt: not with the ucontext switch)"
    exit 0
fi

# Compact tasks (which the ucontext switch has not): #3 ran first and was
# copied off the shared stack when #4 came on it, so it has no backtrace;
# #4's frames are in place.
out=$(timeout -k 5 90 gdb -q -batch -nx     -ex "source $script" -ex 'break weft_dump_tasks'     -ex 'run --once --compact' -ex 'weft tasks' -ex 'weft bt 3'     -ex 'weft bt 4' -ex 'kill' "$exe" 2>&1)
grep -q "^task #3 wait_for_config: waiting: await (compact, its frame saved off the stack)" \
    <<<"$out" || fail "compact: the task off the stack"
grep -q "^task #3 is a compact task whose frame is saved off the stack: no backtrace" \
    <<<"$out" || fail "compact: weft bt of the task off the stack"
grep -qE "^#[0-9]+ .* in update_cache " <<<"$out" ||
    fail "compact: weft bt of the task on the stack"
echo "ok: weft tasks, weft bt 2 live and on a core (with and without libthread_db); compact tasks"


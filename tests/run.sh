#!/usr/bin/env bash
# Runs the weft test suite.
#
#   tests/run.sh BUILD_DIR
#
# Runs every executable BUILD_DIR/tests/test_* and every script
# tests/test_*.sh (given BUILD_DIR as $1), each in its own process, at most
# WEFT_TEST_JOBS (default 2) at a time; results are printed in name order.
#
# Exit status of a test: 0 passes, 77 is skipped (its last output line is the
# reason), anything else fails.  A test that runs longer than
# WEFT_TEST_TIMEOUT seconds (default 120) is stopped (SIGTERM, then SIGKILL
# 10 seconds later) and fails.  Each test's full output is kept in
# BUILD_DIR/test-logs/<name>.log.
#
# Environment:
#   WEFT_TEST_TIMEOUT  seconds per test (default 120)
#   WEFT_TEST_JOBS     tests run at once (default 2)
#   WEFT_TEST_WRAPPER  command prefixed to each test program, e.g.
#                      "qemu-aarch64 -L /usr/aarch64-linux-gnu"; when set, the
#                      scripts (which run host tools) are not run
#   WEFT_TEST_SCALE    passed through to the tests
#   WEFT_TEST_FORK     1: each test program runs each of its cases in a
#                      forked child of its own (see tests/check.h)
#
# A test program built on tests/check.c names its cases and ends its output
# with "cases: N passed, N failed, N skipped"; a test without that line
# counts as one case.  The last line printed is "N passed, N failed, N
# skipped", counting cases over every test, then "(N tests: N passed, N
# failed, N skipped)" is printed before it.  Exits 1 if a test failed or if
# there was no test to run, 0 otherwise.

set -u
LC_COLLATE=C

if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi

build_dir=$(cd "$1" && pwd) || exit 2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd) || exit 2

timeout_s=${WEFT_TEST_TIMEOUT:-120}
if ! [[ $timeout_s =~ ^[0-9]+(\.[0-9]+)?$ ]] || [[ $timeout_s =~ ^0+(\.0*)?$ ]]; then
    echo "$0: WEFT_TEST_TIMEOUT must be a positive number of seconds" >&2
    exit 2
fi
# The limit in microseconds, to tell a timeout from other deaths.
timeout_us=$(awk -v t="$timeout_s" 'BEGIN { printf "%d", t * 1000000 }')

jobs=${WEFT_TEST_JOBS:-2}
if ! [[ $jobs =~ ^[1-9][0-9]*$ ]]; then
    echo "$0: WEFT_TEST_JOBS must be a positive integer" >&2
    exit 2
fi

wrapper=()
if [[ -n ${WEFT_TEST_WRAPPER:-} ]]; then
    read -r -a wrapper <<<"$WEFT_TEST_WRAPPER"
fi

if ! command -v timeout >/dev/null 2>&1; then
    echo "$0: 'timeout' (coreutils) is required" >&2
    exit 2
fi

# ---------------------------------------------------------------- the tests
names=()  # display name, also the log file name
kinds=()  # exe or script
paths=()

shopt -s nullglob
for f in "$build_dir"/tests/test_*; do
    [[ -f $f && -x $f ]] || continue
    names+=("$(basename "$f")")
    kinds+=(exe)
    paths+=("$f")
done
nscripts=0
if [[ ${#wrapper[@]} -eq 0 ]]; then
    for f in "$root"/tests/test_*.sh; do
        [[ -f $f ]] || continue
        names+=("$(basename "$f")")
        kinds+=(script)
        paths+=("$f")
        nscripts=$((nscripts + 1))
    done
fi
shopt -u nullglob
n=${#names[@]}

logdir=$build_dir/test-logs
rm -rf "$logdir"
mkdir -p "$logdir" || exit 2
state=$(mktemp -d "${TMPDIR:-/tmp}/weft-run.XXXXXX") || exit 2

# Stop the tests still running (their timeout processes, which pass the
# signal on to the test) if we are interrupted.
stop_running() {
    local f pid
    for f in "$state"/*.pid; do
        [[ -e $f && ! -e ${f%.pid}.done ]] || continue
        read -r pid <"$f" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
    done
}
on_exit() {
    stop_running
    rm -rf "$state"
}
trap on_exit EXIT
trap 'trap - INT; stop_running; wait; exit 130' INT
trap 'stop_running; wait; exit 143' TERM

# Microseconds since the epoch ($EPOCHREALTIME with the separator removed).
now_us() {
    local t=${EPOCHREALTIME:-}
    if [[ -z $t ]]; then
        t=$(date +%s%6N)
    fi
    echo "${t//[!0-9]/}"
}

# run_one INDEX: runs one test; leaves "STATUS MICROSECONDS" in $state/INDEX.done.
run_one() {
    local i=$1 log="$logdir/${names[$1]}.log" start end rc tpid
    start=$(now_us)
    if [[ ${kinds[i]} == exe ]]; then
        (cd "$build_dir" && exec timeout -k 10 "$timeout_s" \
            "${wrapper[@]}" "${paths[i]}") </dev/null >"$log" 2>&1 &
    else
        (cd "$build_dir" && exec timeout -k 10 "$timeout_s" \
            bash "${paths[i]}" "$build_dir") </dev/null >"$log" 2>&1 &
    fi
    tpid=$!
    echo "$tpid" >"$state/$i.pid"
    wait "$tpid"
    rc=$?
    end=$(now_us)
    echo "$rc $((end - start))" >"$state/$i.tmp"
    mv "$state/$i.tmp" "$state/$i.done"
}

fmt_secs() { # microseconds -> "1.23s"
    local us=$1
    printf '%d.%02ds' $((us / 1000000)) $((us / 10000 % 100))
}

passed=0 # tests
failed=0
skipped=0
failed_names=()
c_passed=0 # cases
c_failed=0
c_skipped=0

# add_cases LOG RC: adds the test's case counts (its "cases:" line, or the
# test itself as one case); sets $ncases for the report line.
add_cases() {
    local log=$1 rc=$2 line p f s
    line=$(grep -E '^cases: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1)
    if [[ -z $line ]]; then
        ncases=""
        if [[ $rc -eq 0 ]]; then
            c_passed=$((c_passed + 1))
        elif [[ $rc -eq 77 ]]; then
            c_skipped=$((c_skipped + 1))
        else
            c_failed=$((c_failed + 1))
        fi
        return
    fi
    read -r _ p _ f _ s _ <<<"${line//,/}"
    # A test that failed outside its cases (a leak at the end, a check
    # between cases) counts one failure more.
    if [[ $rc -ne 0 && $rc -ne 77 && $f -eq 0 ]]; then
        f=1
    fi
    c_passed=$((c_passed + p))
    c_failed=$((c_failed + f))
    c_skipped=$((c_skipped + s))
    ncases=" ($((p + f + s)) cases)"
}

report() {
    local i=$1 name=${names[$1]} log="$logdir/${names[$1]}.log" rc us why
    read -r rc us <"$state/$i.done"
    add_cases "$log" "$rc"
    if [[ $rc -eq 0 ]]; then
        printf 'PASS %s  %s%s\n' "$name" "$(fmt_secs "$us")" "$ncases"
        passed=$((passed + 1))
        return
    fi
    if [[ $rc -eq 77 ]]; then
        why=$(grep -v '^[[:space:]]*$' "$log" | tail -n 1)
        printf 'SKIP %s  %s\n' "$name" "${why:-(no reason given)}"
        skipped=$((skipped + 1))
        return
    fi
    if [[ $rc -eq 124 || ($rc -eq 137 && $us -ge $timeout_us) ]]; then
        why="TIMEOUT after ${timeout_s}s"
    elif [[ $rc -gt 128 && $rc -lt 192 ]]; then
        why="signal SIG$(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128)))"
    elif [[ $rc -lt 0 ]]; then
        why="runner lost the test"
    else
        why="exit code $rc"
    fi
    printf 'FAIL %s (%s)  %s\n' "$name" "$why" "$(fmt_secs "$us")"
    if [[ -s $log ]]; then
        echo "---- last 40 lines of $log"
        tail -n 40 "$log" | sed 's/^/    /'
        echo "----"
    fi
    failed=$((failed + 1))
    failed_names+=("$name")
}

# ------------------------------------------------------------------ the run
echo "running $n test(s) from $build_dir ($((n - nscripts)) program(s), $nscripts script(s));" \
    "timeout ${timeout_s}s, $jobs at a time${WEFT_TEST_WRAPPER:+, wrapper: $WEFT_TEST_WRAPPER}"

next_start=0
next_print=0
while ((next_print < n)); do
    # Running = started and not finished.
    done_count=0
    for ((k = 0; k < next_start; k++)); do
        [[ -e $state/$k.done ]] && done_count=$((done_count + 1))
    done
    running=$((next_start - done_count))
    while ((running < jobs && next_start < n)); do
        run_one "$next_start" 2>/dev/null &
        next_start=$((next_start + 1))
        running=$((running + 1))
    done
    while ((next_print < n)) && [[ -e $state/$next_print.done ]]; do
        report "$next_print"
        next_print=$((next_print + 1))
    done
    ((next_print < n)) || break
    if [[ -e $state/$next_print.done ]]; then
        continue
    fi
    wait -n
    if [[ $? -eq 127 ]]; then
        # No child left: any test without a result was lost.
        for ((k = next_print; k < next_start; k++)); do
            [[ -e $state/$k.done ]] || echo "-1 0" >"$state/$k.done"
        done
    fi
done
wait

if ((n == 0)); then
    echo "no tests found in $build_dir/tests" >&2
fi
if ((failed > 0)); then
    echo "failed: ${failed_names[*]} (logs in $logdir)"
fi
echo "($n tests: $passed passed, $failed failed, $skipped skipped)"
echo "$c_passed passed, $c_failed failed, $c_skipped skipped"
if ((failed > 0 || n == 0)); then
    exit 1
fi
exit 0

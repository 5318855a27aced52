#!/usr/bin/env bash
# Runs the weft benchmarks.
#
#   bench/run.sh BUILD_DIR
#
# Runs every executable in BUILD_DIR/bench/, in name order, one at a time.
# Their rows form one table, whose header is printed here once; each
# program's name and wall time go to stderr so that stdout stays a table.
# WEFT_BENCH_SCALE (default 1) scales every workload, e.g. 0.01 for a quick
# check.  Single-threaded benchmarks run pinned to one CPU (WEFT_BENCH_PIN=0
# to not).  Exits 1 if a benchmark failed (a wrong result or a weft error).

set -u
LC_COLLATE=C

if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build_dir=$(cd "$1" && pwd) || exit 2

benches=()
shopt -s nullglob
for f in "$build_dir"/bench/*; do
    [[ -f $f && -x $f ]] && benches+=("$f")
done
shopt -u nullglob

if [[ ${#benches[@]} -eq 0 ]]; then
    echo "no benchmarks"
    exit 0
fi

# The load average says whether something else shared the CPUs.
read -r load1 _ </proc/loadavg 2>/dev/null || load1='?'
echo "weft $(git -C "$(dirname "$0")" describe --always --dirty 2>/dev/null || echo '?')," \
     "scale ${WEFT_BENCH_SCALE:-1}, $(nproc 2>/dev/null || echo '?') CPUs," \
     "load average $load1, $(uname -r)"
echo
echo "| workload | value | unit | target | note |"
echo "|---|---:|---|---|---|"
export WEFT_BENCH_NO_HEADER=1

# A loop is one thread: pinning it to one CPU spares its figures the
# migrations between CPUs that a shared machine otherwise adds (medians
# spread by a third without it).  The thread-pool benchmark needs both
# CPUs and runs unpinned, as does the loop-from-outside one.
pin=()
last_cpu=$(( $(nproc 2>/dev/null || echo 1) - 1 ))
if command -v taskset >/dev/null 2>&1 && [[ ${WEFT_BENCH_PIN:-1} != 0 ]]; then
    pin=(taskset -c "$last_cpu")
fi

failed=()
for b in "${benches[@]}"; do
    name=$(basename "$b")
    start=$SECONDS
    case $name in
    bench_thread | bench_outside | bench_echo) "$b" </dev/null ;;
    *) "${pin[@]}" "$b" </dev/null ;;
    esac
    rc=$?
    echo "== $name: $((SECONDS - start)) s" >&2
    if [[ $rc -ne 0 ]]; then
        echo "== $name failed (exit status $rc)" >&2
        failed+=("$name")
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "failed benchmarks: ${failed[*]}" >&2
    exit 1
fi
exit 0

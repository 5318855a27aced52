#!/usr/bin/env bash
# Runs the weft benchmarks.
#
#   bench/run.sh BUILD_DIR
#
# Runs every executable in BUILD_DIR/bench/, in name order (bench_machine
# first), one at a time.
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
# bench_machine first: what a system call and a fresh page cost here, the
# scale every other row is read against.
sorted=()
for b in "${benches[@]}"; do
    [[ $(basename "$b") == bench_machine ]] && sorted=("$b" "${sorted[@]}") || sorted+=("$b")
done
benches=("${sorted[@]}")

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

# The network examples under real clients: reported, not judged (no
# target).  The server runs on CPU 0 and the client on the last CPU, as
# bench_echo does, so that neither steals the other's time.
net_rows() {
    local hello=$build_dir/examples/http_hello fetch=$build_dir/examples/fetch
    if [[ ! -x $hello || ! -x $fetch ]]; then
        echo "== network examples not built: skipped" >&2
        return 0
    fi
    local srv_pin=() cli_pin=()
    if [[ ${#pin[@]} -gt 0 && $last_cpu -ge 1 ]]; then
        srv_pin=(taskset -c 0)
        cli_pin=(taskset -c "$last_cpu")
    fi
    local tmp port spid line
    tmp=$(mktemp -d) || return 0
    # A background job starts with SIGINT ignored: give the server the
    # default back, so that SIGINT stops it cleanly.
    env --default-signal=INT "${srv_pin[@]}" "$hello" --port 0 \
        --host 127.0.0.1 >"$tmp/out" 2>/dev/null </dev/null &
    spid=$!
    for _ in $(seq 50); do
        [[ -s $tmp/out ]] && break
        sleep 0.1
    done
    line=$(head -n 1 "$tmp/out")
    port=${line##* }
    if [[ $line != *"listening on port "* ]]; then
        echo "== http_hello did not start" >&2
    else
        if command -v wrk >/dev/null 2>&1; then
            "${cli_pin[@]}" timeout 30 wrk -t 1 -c 50 -d 2s --latency \
                "http://127.0.0.1:$port/" >"$tmp/wrk" 2>&1
            local rps p50 p99 errs
            rps=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/wrk")
            p50=$(awk '$1 == "50%" { print $2 }' "$tmp/wrk")
            p99=$(awk '$1 == "99%" { print $2 }' "$tmp/wrk")
            errs=$(grep -E 'Socket errors|Non-2xx' "$tmp/wrk" | tr -s ' ' | tr '\n' ' ')
            echo "| examples/http_hello under wrk, 50 connections, 2 s | ${rps:-?} | requests/s | - | wrk -t 1 -c 50 --latency; server CPU 0, wrk CPU $last_cpu${errs:+; $errs} |"
            echo "| the same, latency p50 | ${p50:-?} | (wrk's unit) | - | |"
            echo "| the same, latency p99 | ${p99:-?} | (wrk's unit) | - | |"
        else
            echo "== wrk not installed: http_hello row skipped" >&2
        fi
        local n summary
        n=$(awk -v s="${WEFT_BENCH_SCALE:-1}" 'BEGIN { n = int(10000 * s); print n < 100 ? 100 : n }')
        summary=$("${cli_pin[@]}" timeout 60 "$fetch" --host 127.0.0.1 \
            --port "$port" --url-count "$n" --concurrency 50 2>/dev/null | head -n 1)
        # "N requests: N ok, 0 errors, B bytes in T s"
        echo "$summary" | awk -v cpu="$last_cpu" '
            { printf "| examples/fetch: %d GETs of 14 B from http_hello, 50 at once | %.1f | us/request | - | %s; fetch CPU %s, server CPU 0 |\n",
                     $1, $(NF - 1) * 1e6 / $1, $0, cpu }'
    fi
    kill -INT "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
    rm -rf "$tmp"
}
start=$SECONDS
net_rows
echo "== network examples: $((SECONDS - start)) s" >&2

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "failed benchmarks: ${failed[*]}" >&2
    exit 1
fi
exit 0

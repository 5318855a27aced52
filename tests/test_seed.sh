#!/usr/bin/env bash
# test_seed.sh - the seed's Python programs and their C twins in
# examples/seed/: each twin must print exactly what the Python prints.
#
#   tests/test_seed.sh BUILD_DIR
#
# Runs BUILD_DIR/examples/<name> with WEFT_SEED_TIME_SCALE=0.01 (the seed's
# 1..10 second delays become 10..100 ms) and compares its stdout, byte for
# byte, with the Python program's.  Also checks that gather runs its tasks
# at once (5 delays, not 15) and that async_for prints each value as soon as
# it has it (not all at the end).
#
# Exit status: 0 pass, 1 fail, 77 skipped (examples not built).

set -u

if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
examples=$1/examples
scale=0.01

# name -> what the Python program prints (confirmed with python3; the
# progress bars of tqdm go to stderr and are not compared).
declare -A expected=(
    # print(asyncio.run(completed_task()))
    [completed_task]=$'None\n'
    # o = asyncio.run(M1(1)); print(o)
    [task_int]=$'1\n'
    # for x in await M2(): print(x)     (tqdm.gather of M1(1..5))
    [gather]=$'1\n2\n3\n4\n5\n'
    # async for x in M2(): print(x)     (M2 yields M1(1..5) in turn)
    [async_for]=$'1\n2\n3\n4\n5\n'
    # print(asyncio.run(M2()))          (asyncio.to_thread(M1, x = 10))
    [to_thread]=$'10\n'
    # print(asyncio.run(M1()))          (async with lock: ... return 10)
    [lock]=$'10\n'
)
names=(completed_task task_int gather async_for to_thread lock)

found=0
for name in "${names[@]}"; do
    [[ -x $examples/$name ]] && found=$((found + 1))
done
if ((found == 0)); then
    echo "skipped: no seed examples in $examples (WEFT_BUILD_EXAMPLES=OFF?)"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-seed.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT

failures=0
fail() {
    echo "FAIL $*"
    failures=$((failures + 1))
}

# Seconds since the epoch, with microseconds.
now() {
    if [[ -n ${EPOCHREALTIME:-} ]]; then
        echo "${EPOCHREALTIME/,/.}"
    else
        date +%s.%N
    fi
}

# run NAME SCALE: runs the example; stdout to $tmp/NAME.out, stderr to
# $tmp/NAME.err, each stdout line's arrival time (seconds after start) to
# $tmp/NAME.times.  Returns the example's exit status.
run() {
    local name=$1 k=$2 start line t rc
    : >"$tmp/$name.out"
    : >"$tmp/$name.times"
    start=$(now)
    {
        WEFT_SEED_TIME_SCALE=$k timeout 60 "$examples/$name" 2>"$tmp/$name.err"
        echo "exit $?" >"$tmp/$name.rc"
    } | while IFS= read -r line || [[ -n $line ]]; do
        t=$(now)
        printf '%s\n' "$line" >>"$tmp/$name.out"
        awk -v a="$start" -v b="$t" 'BEGIN { printf "%.4f\n", b - a }' \
            >>"$tmp/$name.times"
    done
    read -r _ rc <"$tmp/$name.rc"
    return "$rc"
}

for name in "${names[@]}"; do
    exe=$examples/$name
    if [[ ! -x $exe ]]; then
        fail "$name: $exe was not built"
        continue
    fi
    # Exact stdout: captured directly (the line reader above would hide a
    # missing final newline).
    WEFT_SEED_TIME_SCALE=$scale timeout 60 "$exe" >"$tmp/$name.exact" \
        2>"$tmp/$name.err"
    rc=$?
    if [[ $rc -ne 0 ]]; then
        fail "$name: exit status $rc"
        sed 's/^/    stderr: /' "$tmp/$name.err" | head -n 20
    fi
    printf '%s' "${expected[$name]}" >"$tmp/$name.want"
    if ! cmp -s "$tmp/$name.want" "$tmp/$name.exact"; then
        fail "$name: stdout differs from the Python program's"
        diff "$tmp/$name.want" "$tmp/$name.exact" | sed 's/^/    /'
    else
        echo "ok   $name"
    fi
done

# gather: the five tasks run at once - it takes about 5 delay units (the
# longest), not 15 (their sum).  A larger scale keeps start-up noise small.
if [[ -x $examples/gather ]]; then
    k=0.05
    start=$(now)
    WEFT_SEED_TIME_SCALE=$k timeout 60 "$examples/gather" >/dev/null 2>&1
    end=$(now)
    took=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
    if ! awk -v d="$took" -v k="$k" 'BEGIN { exit !(d >= 5 * k && d < 10 * k) }'
    then
        fail "gather: took $took s, expected about" \
            "$(awk -v k="$k" 'BEGIN { print 5 * k }') s (tasks run at once)"
    else
        echo "ok   gather runs its tasks at once"
    fi
fi

# async_for: value i arrives after 1 + 2 + ... + i delay units, each as
# soon as it is ready: never before (the delays are awaited one after the
# other), and the first well before the last (not all at the end).
if [[ -x $examples/async_for ]]; then
    k=0.02
    run async_for "$k"
    rc=$?
    if [[ $rc -ne 0 ]]; then
        fail "async_for: exit status $rc (timed run)"
    fi
    if ! awk -v k="$k" '
        { t[NR] = $1 }
        END {
            if (NR != 5) { print "    " NR " lines, expected 5"; exit 1 }
            ok = 1
            for (i = 1; i <= 5; i++) {
                due = k * i * (i + 1) / 2
                if (t[i] < due) {
                    printf "    value %d at %.3f s, before %.3f s\n", \
                        i, t[i], due
                    ok = 0
                }
            }
            # Between the first and the last value: 14 delay units.
            if (t[5] - t[1] < 7 * k) {
                printf "    values at %.3f .. %.3f s: printed together\n", \
                    t[1], t[5]
                ok = 0
            }
            exit !ok
        }' "$tmp/async_for.times"; then
        fail "async_for: values not printed as they became ready"
        sed 's/^/    arrival: /' "$tmp/async_for.times"
    else
        echo "ok   async_for prints each value when it is ready"
    fi
fi

if ((failures > 0)); then
    echo "$failures failure(s)"
    exit 1
fi
echo "all seed examples match"
exit 0

#!/usr/bin/env bash
# test_seed.sh - the seed's Python programs and their C twins in
# examples/seed/ (<name>.py and <name>.c): each twin must print exactly what
# the Python prints, and leave the same screen.
#
#   tests/test_seed.sh BUILD_DIR
#
# Runs BUILD_DIR/examples/<name> with WEFT_SEED_TIME_SCALE=0.01 (the seed's
# 1..10 second delays become 10..100 ms) and compares its stdout, byte for
# byte, with the Python program's.  Also checks that gather runs its tasks
# at once (5 delays, not 15) and that async_for prints each value as soon as
# it has it (not all at the end).
#
# Screens: each twin and its Python program (Debian's python3 with
# python3-tqdm) run on a pseudo-terminal of 80 and of 100 columns - a tmux
# pane, a real terminal emulator - with stdout and stderr both on it, as a
# user runs them; the final screens must be the same character for
# character, except rates and times (timing noise).  The delays are scaled
# by 0.2 there: every value then comes more than tqdm's mininterval (0.1 s)
# after the last, so both draw every tick, and rates stay in 1..99 it/s,
# where their width does not change the bar's.  Without tmux or tqdm the
# screens are skipped (said so), the rest still runs.
#
# Exit status: 0 pass, 1 fail, 77 skipped (examples not built).

set -u

if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
examples=$(cd "$1" && pwd)/examples
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

# ---------------------------------------------------------------- screens

seed_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../examples/seed" && pwd)
python=
for py in /usr/bin/python3 python3; do
    if command -v "$py" >/dev/null 2>&1 &&
        "$py" -c 'import tqdm' >/dev/null 2>&1; then
        python=$py
        break
    fi
done

# screen_of ID COLS PROGRAM...: runs PROGRAM in a detached tmux pane of COLS
# columns (its own server, so runs never meet) and writes its final screen,
# trailing blank lines dropped, to $tmp/ID.screen.  The pane's shell then
# sleeps until the server is killed, so that nothing replaces the screen.
screen_of() {
    local id=$1 cols=$2
    shift 2
    local sock=$tmp/$id.sock wrap=$tmp/$id.sh i
    {
        echo 'unset LC_ALL LC_CTYPE WEFT_PROGRESS'
        # The blocked-loop warning is weft's, not the programs': a slow
        # (sanitizer) build may print it, and Python has none to compare.
        echo "export LANG=C.UTF-8 WEFT_SEED_TIME_SCALE=0.2 WEFT_BLOCKED_WARN=off"
        echo "cd $(printf '%q' "$seed_dir")"
        printf '%q ' timeout 60 "$@"
        echo
        echo "echo \$? >$(printf '%q' "$tmp/$id.rc")"
        echo 'exec sleep 600'
    } >"$wrap"
    rm -f "$tmp/$id.rc"
    env -u TMUX tmux -S "$sock" -f /dev/null new-session -d -x "$cols" \
        -y 50 "bash $(printf '%q' "$wrap")" || return 1
    for ((i = 0; i < 1200; i++)); do
        [[ -s $tmp/$id.rc ]] && break
        sleep 0.05
    done
    env -u TMUX tmux -S "$sock" capture-pane -p -S - -E - |
        sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' >"$tmp/$id.screen"
    env -u TMUX tmux -S "$sock" kill-server 2>/dev/null
    [[ -s $tmp/$id.rc && $(cat "$tmp/$id.rc") == 0 ]]
}

# Rates and times vary from run to run; everything else must not.
mask() {
    sed -E -e 's#[0-9]+\.[0-9]+(it/s|s/it)#RATE#g' \
        -e 's#[0-9]{2}:[0-9]{2}(:[0-9]{2})?#TIME#g' "$1"
}

if ! command -v tmux >/dev/null 2>&1; then
    echo "skipped: screens (tmux is not installed)"
elif [[ -z $python ]]; then
    echo "skipped: screens (no python3 with tqdm; Debian: python3-tqdm)"
else
    for cols in 80 100; do
        pids=()
        for name in "${names[@]}"; do
            [[ -x $examples/$name && -f $seed_dir/$name.py ]] || continue
            screen_of "c-$name-$cols" "$cols" "$examples/$name" &
            pids+=($!)
            screen_of "py-$name-$cols" "$cols" "$python" "$name.py" &
            pids+=($!)
        done
        for p in "${pids[@]}"; do
            wait "$p"
        done
        for name in "${names[@]}"; do
            c=$tmp/c-$name-$cols py=$tmp/py-$name-$cols
            if [[ ! -f $seed_dir/$name.py ]]; then
                fail "$name: no Python twin $seed_dir/$name.py"
                continue
            fi
            [[ -x $examples/$name ]] || continue
            if [[ ! -s $c.rc || $(cat "$c.rc") != 0 ||
                ! -s $py.rc || $(cat "$py.rc") != 0 ]]; then
                fail "$name: under a $cols-column terminal the C program" \
                    "exited $(cat "$c.rc" 2>/dev/null || echo '(no status)')," \
                    "the Python one $(cat "$py.rc" 2>/dev/null ||
                        echo '(no status)')"
            elif ! cmp -s <(mask "$py.screen") <(mask "$c.screen"); then
                fail "$name: the screen of $cols columns differs from the" \
                    "Python program's (rates and times aside)"
                sed 's/^/    python| /' "$py.screen"
                sed 's/^/    weft  | /' "$c.screen"
            else
                echo "ok   $name: the screen of $cols columns is Python's"
            fi
        done
    done
fi

if ((failures > 0)); then
    echo "$failures failure(s)"
    exit 1
fi
echo "all seed examples match"
exit 0

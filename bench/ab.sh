#!/usr/bin/env bash
# Compares two builds of weft on the hot-path benchmarks, in one run.
#
#   bench/ab.sh OLD_BUILD_DIR NEW_BUILD_DIR [scale]
#
# For each of bench_yield, bench_spawn, bench_gather and bench_sync:
# - instructions: the whole program under callgrind (valgrind), old and new,
#   at `scale` (default 0.05).  Deterministic for a given binary and input,
#   so one run each is enough.  A program runs several workloads (and
#   repetitions): the total is what is compared.
# - time: the program's own table rows, old and new interleaved 5 times,
#   pinned to one CPU; the median of the 5 values of each row.
# Prints one table with old, new and the change for each.

set -u
if [[ $# -lt 2 ]]; then
    echo "usage: $0 OLD_BUILD_DIR NEW_BUILD_DIR [scale]" >&2
    exit 2
fi
old=$1 new=$2 scale=${3:-0.05}
benches=(bench_yield bench_spawn bench_gather bench_sync)
cpu=$(( $(nproc) - 1 ))
export WEFT_BENCH_NO_HEADER=1

# Summed over the processes a program forks (some run each measurement in
# a fresh process).
instr() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$1" "$scale" \
        2>&1 >/dev/null |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p' |
        awk '{ s += $1 } END { print s + 0 }'
}

echo "| program | instructions old | new | change |"
echo "|---|---:|---:|---:|"
for b in "${benches[@]}"; do
    o=$(instr "$old/bench/$b")
    n=$(instr "$new/bench/$b")
    awk -v b="$b" -v o="$o" -v n="$n" \
        'BEGIN { printf "| %s | %d | %d | %+.2f%% |\n", b, o, n, (n - o) * 100.0 / o }'
done
echo

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for rep in $(seq 1 "${WEFT_AB_REPS:-5}"); do
    for b in "${benches[@]}"; do
        for side in old new; do
            dir=$old
            [[ $side == new ]] && dir=$new
            taskset -c "$cpu" "$dir/bench/$b" "$scale" 2>/dev/null |
                awk -F'|' -v s="$side" '/^\| [a-z]/ && $3 ~ /[0-9]/ {
                    gsub(/^ +| +$/, "", $2); gsub(/ /, "", $3);
                    print s "\t" $2 "\t" $3 }' >>"$tmp/rows"
        done
    done
done
echo "| workload | time old (median of 5) | new | change |"
echo "|---|---:|---:|---:|"
awk -F'\t' '
    { key = $2; if (!(key in seen)) { seen[key] = 1; order[++k] = key }
      v[$1, key, ++c[$1, key]] = $3 }
    function median(s, key,   n, i, j, t, a) {
        n = c[s, key]
        for (i = 1; i <= n; i++) a[i] = v[s, key, i]
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
            if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return a[int((n + 1) / 2)]
    }
    END { for (i = 1; i <= k; i++) { key = order[i]
          o = median("old", key); n = median("new", key)
          printf "| %s | %s | %s | %+.1f%% |\n", key, o, n, (o > 0 ? (n - o) * 100 / o : 0) } }
' "$tmp/rows"

#!/usr/bin/env bash
# Runs the weft benchmarks.
#
#   bench/run.sh BUILD_DIR
#
# Runs every executable in BUILD_DIR/bench/, in name order, one at a time,
# and passes its output through.  Exits 1 if a benchmark failed.

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

failed=()
for b in "${benches[@]}"; do
    name=$(basename "$b")
    echo "== $name"
    "$b" </dev/null
    rc=$?
    if [[ $rc -ne 0 ]]; then
        echo "== $name failed (exit status $rc)" >&2
        failed+=("$name")
    fi
    echo
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "failed benchmarks: ${failed[*]}" >&2
    exit 1
fi
exit 0

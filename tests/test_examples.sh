#!/usr/bin/env bash
# test_examples.sh - the examples of timeouts (examples/timeout.c) and of
# task groups (examples/taskgroup.c) print exactly what they should.
#
#   tests/test_examples.sh BUILD_DIR
#
# Runs BUILD_DIR/examples/<name> and compares its stdout, byte for byte,
# with the text below; the example must also exit with status 0 and print
# nothing on stderr (where the loop reports failures nobody collected).
# Their output is deterministic: it names outcomes and says whether at
# least the expected time passed, never how long a wait took.
#
# Exit status: 0 pass, 1 fail, 77 skipped (examples not built).

set -u

if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
examples=$1/examples

declare -A expected

# asyncio.timeout, timeout_at, wait_for, nested timeouts, a shield.
expected[timeout]=$(
    cat <<'EOF'
1. a slow operation inside a 0.05 s timeout
   the sleep returned -ETIMEDOUT after >= 0.05 s: timed out
   weft_scope_close returned 1: this scope's deadline struck
   a 0.01 s operation in the same timeout: returned 0, close returned 0
2. weft_wait_for: await a task for 0.03 s at most
   slow task: its sleep returned -ECANCELED; it returns
   wait_for(slow task) returned -ETIMEDOUT after >= 0.03 s
   (the task was cancelled, and had finished before wait_for returned)
   wait_for(fast task) returned 0 with its result, 42
3. nested timeouts
   inner 0.02 s inside outer 1 s: the sleep returned -ETIMEDOUT, inner close 1;
   then a sleep in the outer scope returned 0, outer close 0
   inner 10 s inside outer 0.02 s: the sleep returned -ETIMEDOUT, inner close 0, outer close 1
4. cleanup after a timeout
   the work returned -ETIMEDOUT
   cleanup without a shield returned -ETIMEDOUT at once
   cleanup under a shield returned 0: it finished
   weft_scope_close returned 1
EOF
)

# asyncio.TaskGroup (all succeed; two fail in the same turn, the others
# are cancelled, both failures are kept), as_completed,
# asyncio.wait(FIRST_COMPLETED).
expected[taskgroup]=$(
    cat <<'EOF'
1. three downloads in a task group
   b.txt: downloaded
   c.txt: downloaded
   a.txt: downloaded
   weft_group_wait returned 0: all three finished
2. a task group where two downloads fail
   small.txt: downloaded
   the mirror goes down
   c.dat: connection reset
   d.dat: connection reset
   big.iso: stopped, -ECANCELED
   the owner's sleep in the block returned -ECANCELED
   weft_group_wait returned -ECONNRESET (c.dat: connection reset by the mirror)
   weft_group_failures: 2
     -ECONNRESET: c.dat: connection reset by the mirror
     -ECONNRESET: d.dat: connection reset by the mirror
   small.txt finished with 0, big.iso with -ECANCELED (not a failure)
3. results in completion order (as_completed)
   result 1: quick.bin
   result 2: medium.bin
   result 3: slow.bin
4. the first of two mirrors to answer (asyncio.wait)
   mirror-eu: downloaded
   weft_wait returned 1; mirror-eu done: 1, mirror-us done: 0
   mirror-us: stopped, -ECANCELED
   mirror-us cancelled: its await returned -ECANCELED
   the answer came from mirror-eu
EOF
)
names=(timeout taskgroup)

found=0
for name in "${names[@]}"; do
    [[ -x $examples/$name ]] && found=$((found + 1))
done
if ((found == 0)); then
    echo "skipped: no examples in $examples (WEFT_BUILD_EXAMPLES=OFF?)"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-examples.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT

failures=0
fail() {
    echo "FAIL $*"
    failures=$((failures + 1))
}

for name in "${names[@]}"; do
    exe=$examples/$name
    if [[ ! -x $exe ]]; then
        fail "$name: $exe was not built"
        continue
    fi
    timeout 60 "$exe" >"$tmp/$name.out" 2>"$tmp/$name.err"
    rc=$?
    ok=1
    if [[ $rc -ne 0 ]]; then
        fail "$name: exit status $rc"
        ok=0
    fi
    if [[ -s $tmp/$name.err ]]; then
        fail "$name: printed on stderr"
        sed 's/^/    stderr: /' "$tmp/$name.err" | head -n 20
        ok=0
    fi
    # $(...) dropped the text's final newline: put it back.
    printf '%s\n' "${expected[$name]}" >"$tmp/$name.want"
    if ! cmp -s "$tmp/$name.want" "$tmp/$name.out"; then
        fail "$name: stdout differs from the expected text (- expected, + got)"
        diff -u "$tmp/$name.want" "$tmp/$name.out" | tail -n +3 |
            sed 's/^/    /'
        ok=0
    fi
    ((ok)) && echo "ok   $name"
done

if ((failures > 0)); then
    echo "$failures failure(s)"
    exit 1
fi
echo "all examples print what they should"
exit 0

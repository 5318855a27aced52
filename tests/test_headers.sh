#!/usr/bin/env bash
# test_headers.sh - every public header compiles on its own.
#
#   tests/test_headers.sh BUILD_DIR
#
# For include/weft.h and each header under include/weft/, compiles a
# translation unit holding nothing but `#include <that header>` (with
# -I include, as a consumer of the source tree or of an installed copy
# would), with warnings as errors:
#   - the build's C compiler (from BUILD_DIR/CMakeCache.txt; else cc) and
#     clang, if present, as C11: -std=c11 -Wall -Wextra -Werror -pedantic;
#   - g++ and clang++, if present, as C++11 (-x c++), same warnings: the
#     headers are usable from C++ (extern "C").
# It also checks, with the first C compiler's preprocessor, that each header
# has an include guard: included twice, it must expand to exactly what it
# expands to once.  A header that fails is named, with the compiler's output.
#
# Exit status: 0 pass, 1 fail, 77 skipped (no C compiler found).

set -u

if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build_dir=$(cd "$1" && pwd) || exit 2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd) || exit 2
include_dir=$root/include

skip() {
    echo "skipped: $*"
    exit 77
}

# ---------------------------------------------------------------- compilers
cache=$build_dir/CMakeCache.txt
build_cc=""
if [[ -f $cache ]]; then
    build_cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$cache" | head -n 1)
fi

# Each compiler once, under the name it was found by (its resolved path
# decides whether two names are the same program).
c_compilers=()
cxx_compilers=()
seen=()
add_compiler() { # add_compiler c|cxx NAME
    local kind=$1 name=$2 path s
    path=$(command -v "$name" 2>/dev/null) || return 0
    path=$(readlink -f "$path" 2>/dev/null || echo "$path")
    for s in "${seen[@]}"; do
        [[ $s == "$kind:$path" ]] && return 0
    done
    seen+=("$kind:$path")
    if [[ $kind == c ]]; then
        c_compilers+=("$name")
    else
        cxx_compilers+=("$name")
    fi
}
[[ -n $build_cc ]] && add_compiler c "$build_cc"
add_compiler c cc
add_compiler c clang
add_compiler cxx g++
add_compiler cxx clang++

((${#c_compilers[@]} > 0)) || skip "no C compiler found (${build_cc:-cc}, clang)"

c_flags=(-std=c11 -Wall -Wextra -Werror -pedantic)
cxx_flags=(-x c++ -std=c++11 -Wall -Wextra -Werror -pedantic)

# ------------------------------------------------------------------ headers
headers=()
[[ -f $include_dir/weft.h ]] && headers+=(weft.h)
shopt -s nullglob
for h in "$include_dir"/weft/*.h; do
    headers+=("weft/$(basename "$h")")
done
shopt -u nullglob
((${#headers[@]} > 1)) || {
    echo "FAIL: no headers found under $include_dir"
    exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-headers.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

failures=0
failed_headers=()

# fail_header HEADER MESSAGE [LOG]: records a failure, shows the log.
fail_header() {
    local header=$1 h
    echo "FAIL: $header $2"
    if [[ -n ${3:-} ]]; then
        sed 's/^/    /' "$3" | head -n 12
    fi
    failures=$((failures + 1))
    for h in "${failed_headers[@]}"; do
        [[ $h == "$header" ]] && return
    done
    failed_headers+=("$header")
}

# check HEADER LANGUAGE COMPILER FLAGS...: compiles $tmp/tu.c; 1 on failure.
check() {
    local header=$1 language=$2 compiler=$3
    shift 3
    if ! "$compiler" "$@" -I "$include_dir" -c "$tmp/tu.c" \
        -o "$tmp/tu.o" >"$tmp/out.log" 2>&1; then
        fail_header "$header" "does not compile alone as $language ($compiler $*)" \
            "$tmp/out.log"
        return 1
    fi
    return 0
}

# expand FILE OUT: the tokens FILE expands to, without line markers or
# blank lines.
expand() {
    "${c_compilers[0]}" -E -P -I "$include_dir" "$1" >"$tmp/out.log" 2>&1 &&
        { grep -v '^[[:space:]]*$' "$tmp/out.log" >"$2" || true; }
}

for header in "${headers[@]}"; do
    printf '#include <%s>\n' "$header" >"$tmp/tu.c"
    ok=1
    for compiler in "${c_compilers[@]}"; do
        check "$header" C "$compiler" "${c_flags[@]}" || ok=0
    done
    for compiler in "${cxx_compilers[@]}"; do
        check "$header" C++ "$compiler" "${cxx_flags[@]}" || ok=0
    done
    ((ok)) || continue
    printf '#include <%s>\n#include <%s>\n' "$header" "$header" >"$tmp/twice.c"
    if ! expand "$tmp/tu.c" "$tmp/once.i" || ! expand "$tmp/twice.c" "$tmp/twice.i"; then
        fail_header "$header" "cannot be preprocessed (${c_compilers[0]} -E)" "$tmp/out.log"
    elif ! cmp -s "$tmp/once.i" "$tmp/twice.i"; then
        fail_header "$header" "has no working include guard: included twice, it expands twice"
    fi
done

used="C: ${c_compilers[*]}; C++: ${cxx_compilers[*]:-none}"
if ((failures > 0)); then
    echo "failed: ${failed_headers[*]} ($used)"
    exit 1
fi
echo "ok: ${#headers[@]} headers compile alone ($used)"
exit 0

#!/usr/bin/env bash
# Installs a built tree into a temporary prefix and checks that the three
# supported ways of consuming weft work, each with a small program that runs
# a task returning 42:
#   (a) pkg-config: static (libweft.a) and shared (libweft.so) linking,
#       and the two ways README.md gives for a private prefix, each run
#       without LD_LIBRARY_PATH: an rpath, and a fully static program
#       (`pkg-config --static` ... -static);
#   (b) CMake: find_package(weft) and weft::weft / weft::weft_shared;
#   (c) CMake: add_subdirectory(<weft source tree>) and weft::weft;
# plus: libweft.so exports only weft_* names (no internal weft__*), weft.h
# can be used from C++, the install says how to link for a private prefix,
# and README.md's first example compiles without a warning (-Wall -Wextra
# -pedantic) and runs.
#
#   tests/test_install.sh BUILD_DIR
#
# Exits 0 on success, 1 on failure, 77 (skipped) if a tool is missing.

set -u

if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 1
fi
build_dir=$(cd "$1" && pwd) || exit 1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd) || exit 1

skip() {
    echo "skipped: $*"
    exit 77
}
fail() {
    echo "FAIL: $*"
    exit 1
}

command -v cmake >/dev/null 2>&1 || skip "cmake not found"
command -v pkg-config >/dev/null 2>&1 || skip "pkg-config not found"
command -v nm >/dev/null 2>&1 || skip "nm not found"

cache=$build_dir/CMakeCache.txt
[[ -f $cache ]] || fail "$cache not found (not a CMake build directory?)"
cache_get() {
    sed -n "s/^$1:[A-Z]*=//p" "$cache" | head -n 1
}
if [[ -n $(cache_get CMAKE_TOOLCHAIN_FILE) ]]; then
    skip "cross build (host programs cannot be linked against it)"
fi

# Build the consumers with the compiler and the settings of the tree under
# test (an instrumented libweft needs the same compiler's sanitizer runtime).
cc=$(cache_get CMAKE_C_COMPILER)
[[ -n $cc ]] || cc=cc
sanitize=$(cache_get WEFT_SANITIZE)
context=$(cache_get WEFT_CONTEXT)
[[ -n $context ]] || context=auto
# (The sanitizer runtime needed by an instrumented libweft comes with the
# link flags of weft.pc and of the CMake targets.)
case $sanitize in
"" | address | thread) ;;
*) fail "unknown WEFT_SANITIZE '$sanitize' in $cache" ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-install.XXXXXX") || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
prefix=$tmp/prefix

# run LOGNAME CMD...: runs a step quietly; on failure shows its output.
run() {
    local name=$1
    shift
    if ! "$@" >"$tmp/$name.log" 2>&1; then
        echo "FAIL: $name: $*"
        sed 's/^/    /' "$tmp/$name.log"
        exit 1
    fi
}

# check_prog NAME PROGRAM [ENV...]: the program must print "ok" and exit 0.
check_prog() {
    local name=$1 prog=$2 out
    shift 2
    out=$(env "$@" "$prog" 2>&1) || fail "$name: $prog exited with status $?: $out"
    [[ $out == ok ]] || fail "$name: $prog printed: $out"
    echo "ok: $name"
}

cat >"$tmp/main.c" <<'EOF'
#include <weft.h>
#include <stdint.h>
#include <stdio.h>

static void *answer(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)42;
}

int main(void)
{
    void *result = NULL;
    int rc = weft_run(answer, NULL, &result);
    if (rc != 0 || (intptr_t)result != 42) {
        fprintf(stderr, "weft_run returned %d, result %ld\n", rc,
                (long)(intptr_t)result);
        return 1;
    }
    puts("ok");
    return 0;
}
EOF

# ------------------------------------------------------------------ install
run install cmake --install "$build_dir" --prefix "$prefix"
[[ -f $prefix/include/weft.h ]] || fail "include/weft.h not installed"
for h in "$root"/include/weft/*.h; do
    [[ -e $h ]] || continue
    cmp -s "$h" "$prefix/include/weft/${h##*/}" ||
        fail "include/weft/${h##*/} not installed (or installed differently)"
done
pc=$(find "$prefix" -name weft.pc -path '*/pkgconfig/*' | head -n 1)
[[ -n $pc ]] || fail "weft.pc not installed"
export PKG_CONFIG_PATH="$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
libdir=$(pkg-config --variable=libdir weft) || fail "pkg-config cannot read $pc"
libdir=$(cd "$libdir" 2>/dev/null && pwd) || fail "pkg-config libdir does not exist: $libdir"
[[ $libdir == "$prefix"/* ]] || fail "pkg-config libdir $libdir is outside $prefix"
[[ -f $libdir/libweft.a ]] || fail "libweft.a not installed in $libdir"
[[ -e $libdir/libweft.so ]] || fail "libweft.so not installed in $libdir"
[[ -e $libdir/libweft.so.0 ]] || fail "libweft.so.0 not installed in $libdir"
grep -q "private prefix.*-Wl,-rpath,.*-static" "$tmp/install.log" ||
    fail "the install does not say how to link for a private prefix: $(cat "$tmp/install.log")"
echo "ok: installed into a temporary prefix (and said how to link for it)"

# ------------------------------------------------- exported dynamic symbols
nm -D --defined-only "$libdir/libweft.so" >"$tmp/nm.txt" 2>&1 || fail "nm -D libweft.so: $(cat "$tmp/nm.txt")"
# Symbol names, without versions; the version node (WEFT_0.1) is not a symbol
# of the API.
awk 'NF >= 3 { print $3 } NF == 2 { print $2 }' "$tmp/nm.txt" | sed 's/@.*//' |
    grep -v '^WEFT_[0-9.]*$' | sort -u >"$tmp/syms.txt"
if grep -q '^weft__' "$tmp/syms.txt"; then
    fail "libweft.so exports internal symbols: $(grep '^weft__' "$tmp/syms.txt" | tr '\n' ' ')"
fi
if grep -qv '^weft_[a-z]' "$tmp/syms.txt"; then
    fail "libweft.so exports non-weft symbols: $(grep -v '^weft_[a-z]' "$tmp/syms.txt" | tr '\n' ' ')"
fi
grep -qx weft_run "$tmp/syms.txt" || fail "libweft.so does not export weft_run"
echo "ok: libweft.so exports $(wc -l <"$tmp/syms.txt") weft_* symbols and no weft__*"

# ----------------------------------------------------------- (a) pkg-config
read -r -a cflags <<<"$(pkg-config --cflags weft)"
read -r -a libs <<<"$(pkg-config --libs weft)"
read -r -a static_libs <<<"$(pkg-config --static --libs weft)"
# Link the archive itself: with both libweft.a and libweft.so present, -lweft
# picks the shared library.
for k in "${!static_libs[@]}"; do
    [[ ${static_libs[k]} == -lweft ]] && static_libs[k]=$libdir/libweft.a
done
c_warn=(-std=c11 -Wall -Wextra -pedantic -Werror)

run pc-static "$cc" "${c_warn[@]}" "${cflags[@]}" "$tmp/main.c" "${static_libs[@]}" -o "$tmp/app-pc-static"
if command -v readelf >/dev/null 2>&1 &&
    readelf -d "$tmp/app-pc-static" | grep -q 'NEEDED.*libweft'; then
    fail "pkg-config static: the program depends on libweft.so"
fi
check_prog "pkg-config, static" "$tmp/app-pc-static"

run pc-shared "$cc" "${c_warn[@]}" "${cflags[@]}" "$tmp/main.c" "${libs[@]}" -o "$tmp/app-pc-shared"
if command -v readelf >/dev/null 2>&1 &&
    ! readelf -d "$tmp/app-pc-shared" | grep -q 'NEEDED.*\[libweft\.so\.0\]'; then
    fail "pkg-config shared: the program does not depend on libweft.so.0"
fi
check_prog "pkg-config, shared" "$tmp/app-pc-shared" LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# A private prefix, as README.md says: an rpath, or a fully static program.
pc_libdir=$(pkg-config --variable=libdir weft)
run pc-rpath "$cc" "${c_warn[@]}" "${cflags[@]}" "$tmp/main.c" "${libs[@]}" \
    "-Wl,-rpath,$pc_libdir" -o "$tmp/app-pc-rpath"
check_prog "pkg-config, shared with an rpath" "$tmp/app-pc-rpath" -u LD_LIBRARY_PATH
if [[ -n $sanitize ]]; then
    echo "skipped: pkg-config --static -static (sanitizer runtimes do not link statically)"
else
    read -r -a static_raw <<<"$(pkg-config --static --libs weft)"
    run pc-full-static "$cc" "${c_warn[@]}" "${cflags[@]}" "$tmp/main.c" \
        "${static_raw[@]}" -static -o "$tmp/app-pc-full-static"
    if command -v readelf >/dev/null 2>&1 &&
        readelf -d "$tmp/app-pc-full-static" | grep -q NEEDED; then
        fail "pkg-config --static -static: the program needs shared libraries"
    fi
    check_prog "pkg-config --static, -static" "$tmp/app-pc-full-static" -u LD_LIBRARY_PATH
fi

# README.md's first example, as a reader would build it.
awk '/^```c$/ { f = 1; next } /^```/ { if (f) exit } f' "$root/README.md" >"$tmp/readme.c"
grep -q weft_run "$tmp/readme.c" || fail "README.md's first C example not found"
run readme "$cc" "${c_warn[@]}" "${cflags[@]}" "$tmp/readme.c" "${libs[@]}" \
    "-Wl,-rpath,$pc_libdir" -o "$tmp/app-readme"
out=$(env -u LD_LIBRARY_PATH "$tmp/app-readme" 2>&1) ||
    fail "README.md's first example exited with status $?: $out"
echo "ok: README.md's first example compiles with -Wall -Wextra -pedantic -Werror and runs"

# ------------------------------------------------------------- C++ consumer
cxx=""
case $(basename "$cc") in
*clang*) candidates=(clang++ c++ g++) ;;
*) candidates=(g++ c++ clang++) ;;
esac
for c in "${candidates[@]}"; do
    if command -v "$c" >/dev/null 2>&1; then
        cxx=$c
        break
    fi
done
if [[ -z $cxx ]]; then
    echo "skipped: C++ check (no C++ compiler)"
else
    cat >"$tmp/main.cpp" <<'EOF'
#include <weft.h>
#include <cstdint>
#include <cstdio>

static void *answer(void *)
{
    return reinterpret_cast<void *>(static_cast<std::intptr_t>(42));
}

int main()
{
    void *result = nullptr;
    int rc = weft_run(answer, nullptr, &result);
    if (rc != 0 || reinterpret_cast<std::intptr_t>(result) != 42) {
        std::fprintf(stderr, "weft_run returned %d\n", rc);
        return 1;
    }
    std::puts("ok");
    return 0;
}
EOF
    run cxx "$cxx" -Wall -Wextra "${cflags[@]}" "$tmp/main.cpp" "${static_libs[@]}" -o "$tmp/app-cxx"
    check_prog "C++ ($cxx)" "$tmp/app-cxx"
fi

# ----------------------------------------------------- (b) find_package()
mkdir -p "$tmp/find"
cp "$tmp/main.c" "$tmp/find/main.c"
cat >"$tmp/find/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.16)
project(weft_find_package_check LANGUAGES C)
find_package(weft 0.1 REQUIRED)
string(FIND "${weft_DIR}" "${EXPECTED_PREFIX}/" pos)
if(NOT pos EQUAL 0)
    message(FATAL_ERROR "found weft in ${weft_DIR}, not under ${EXPECTED_PREFIX}")
endif()
add_executable(app_static main.c)
target_link_libraries(app_static PRIVATE weft::weft)
add_executable(app_shared main.c)
target_link_libraries(app_shared PRIVATE weft::weft_shared)
EOF
run find-configure cmake -S "$tmp/find" -B "$tmp/find/build" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_PREFIX_PATH="$prefix" -DEXPECTED_PREFIX="$prefix"
run find-build cmake --build "$tmp/find/build" --parallel 2
check_prog "find_package, weft::weft" "$tmp/find/build/app_static"
check_prog "find_package, weft::weft_shared" "$tmp/find/build/app_shared" \
    LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# ---------------------------------------------------- (c) add_subdirectory()
mkdir -p "$tmp/sub"
cp "$tmp/main.c" "$tmp/sub/main.c"
cat >"$tmp/sub/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.16)
project(weft_subdirectory_check LANGUAGES C)
add_subdirectory("${WEFT_SOURCE_DIR}" weft)
if(WEFT_BUILD_TESTS OR WEFT_BUILD_BENCH OR WEFT_BUILD_EXAMPLES)
    message(FATAL_ERROR "tests, benchmarks or examples are on in a subproject")
endif()
add_executable(app main.c)
target_link_libraries(app PRIVATE weft::weft)
EOF
run sub-configure cmake -S "$tmp/sub" -B "$tmp/sub/build" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DWEFT_SOURCE_DIR="$root" -DWEFT_CONTEXT="$context" -DWEFT_SANITIZE="$sanitize"
run sub-build cmake --build "$tmp/sub/build" --parallel 2 --target app
check_prog "add_subdirectory, weft::weft" "$tmp/sub/build/app"

echo "all install checks passed"
exit 0

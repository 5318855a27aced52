# Thin wrapper over CMake.
#
#   make                      build into build/ (or build-<compiler>)
#   make test                 build, then run the test suite
#   make test CC=clang        the same with clang, in build-clang/
#   make asan | tsan          sanitizer builds (build-asan/, build-tsan/)
#   make ucontext             ucontext context switch (build-ucontext/)
#   make aarch64              cross build, tests under qemu (build-aarch64/)
#   make fuzz [FUZZ_SECONDS=60]  libFuzzer targets (clang; build-fuzz/),
#                             each run that long from fuzz/corpus/<name>/
#   make bench | demo | install [PREFIX=...] | format | clean
#
# Variables: CC, WERROR=1 (warnings are errors), JOBS (default 2), PREFIX,
# DESTDIR, CMAKE; the tests read WEFT_TEST_SCALE and WEFT_TEST_TIMEOUT from
# the environment (or the make command line).  make fuzz: FUZZ_SECONDS,
# FUZZ_MAX_LEN (largest input tried), FUZZ_CC (default clang).

CMAKE ?= cmake
JOBS ?= 2
PREFIX ?= /usr/local
WERROR ?=
FUZZ_SECONDS ?= 60
FUZZ_MAX_LEN ?= 16384
FUZZ_CC ?= clang

# Build directory: build/ for the default compiler, build-<name> otherwise.
CC_NAME := $(notdir $(firstword $(CC)))
ifneq ($(filter cc gcc,$(CC_NAME)),)
BUILD_SUFFIX :=
else
BUILD_SUFFIX := -$(CC_NAME)
endif
BUILD := build$(BUILD_SUFFIX)

ifeq ($(filter 1 ON on yes YES true TRUE,$(WERROR)),)
WERROR_FLAG := -DWEFT_WERROR=OFF
else
WERROR_FLAG := -DWEFT_WERROR=ON
endif

CONFIGURE_FLAGS := -DCMAKE_C_COMPILER=$(CC) $(WERROR_FLAG)

ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
TSAN_ENV := TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

AARCH64_CC := aarch64-linux-gnu-gcc
AARCH64_QEMU := qemu-aarch64
AARCH64_SYSROOT := /usr/aarch64-linux-gnu

# configure(dir, extra cmake flags) then build(dir).  The inner build does
# not inherit this make's flags: its own -j applies, without jobserver
# warnings or directory messages.
configure = $(CMAKE) -S . -B $(1) $(2)
build = env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL $(CMAKE) --build $(1) --parallel $(JOBS)

.PHONY: all build test demo asan tsan fuzz ucontext aarch64 bench install format clean

all: build

build:
	$(call configure,$(BUILD),$(CONFIGURE_FLAGS))
	$(call build,$(BUILD))

test: build
	bash tests/run.sh $(BUILD)

demo: build
	$(BUILD)/examples/demo

asan:
	$(call configure,build-asan$(BUILD_SUFFIX),$(CONFIGURE_FLAGS) -DWEFT_SANITIZE=address)
	$(call build,build-asan$(BUILD_SUFFIX))
	$(ASAN_ENV) bash tests/run.sh build-asan$(BUILD_SUFFIX)

tsan:
	$(call configure,build-tsan$(BUILD_SUFFIX),$(CONFIGURE_FLAGS) -DWEFT_SANITIZE=thread)
	$(call build,build-tsan$(BUILD_SUFFIX))
	$(TSAN_ENV) bash tests/run.sh build-tsan$(BUILD_SUFFIX)

# New inputs go to build-fuzz/corpus/<name>/ (the first directory given);
# the committed seeds in fuzz/corpus/<name>/ are only read.  A crash leaves
# its input in build-fuzz/ (crash-*).
FUZZ_TARGETS := stream
fuzz:
	$(call configure,build-fuzz,-DCMAKE_C_COMPILER=$(FUZZ_CC) $(WERROR_FLAG) -DWEFT_FUZZ=ON \
	  -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_BENCH=OFF -DWEFT_BUILD_EXAMPLES=OFF)
	$(call build,build-fuzz)
	set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p build-fuzz/corpus/$$t; \
	  $(ASAN_ENV) build-fuzz/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=$(FUZZ_MAX_LEN) -timeout=10 -print_final_stats=1 \
	    -artifact_prefix=build-fuzz/ build-fuzz/corpus/$$t fuzz/corpus/$$t; \
	done

ucontext:
	$(call configure,build-ucontext$(BUILD_SUFFIX),$(CONFIGURE_FLAGS) -DWEFT_CONTEXT=ucontext)
	$(call build,build-ucontext$(BUILD_SUFFIX))
	bash tests/run.sh build-ucontext$(BUILD_SUFFIX)

aarch64:
	@command -v $(AARCH64_CC) >/dev/null 2>&1 || { \
	  echo "make aarch64: $(AARCH64_CC) not found;" \
	       "install gcc-aarch64-linux-gnu and libc6-dev-arm64-cross" >&2; exit 1; }
	@command -v $(AARCH64_QEMU) >/dev/null 2>&1 || { \
	  echo "make aarch64: $(AARCH64_QEMU) not found; install qemu-user" >&2; exit 1; }
	$(call configure,build-aarch64,-DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake $(WERROR_FLAG))
	$(call build,build-aarch64)
	WEFT_TEST_WRAPPER="$(AARCH64_QEMU) -L $(AARCH64_SYSROOT)" bash tests/run.sh build-aarch64

# The peers that are built only on request (Tokio, Go: see CMakeLists.txt);
# without them, or if they fail to build, the benchmarks run without them.
bench: build
	$(call build,$(BUILD)) --target bench_peers || \
	  echo "bench peers not built: the benchmarks run without them" >&2
	bash bench/run.sh $(BUILD)

install: build
	$(CMAKE) --install $(BUILD) --prefix $(PREFIX)

FORMAT_DIRS := include src tests bench examples
format:
	@command -v clang-format >/dev/null 2>&1 || { echo "clang-format not found" >&2; exit 1; }
	find $(FORMAT_DIRS) -type f \( -name '*.c' -o -name '*.h' \) 2>/dev/null \
	  | xargs -r clang-format -i

clean:
	rm -rf build build-*/

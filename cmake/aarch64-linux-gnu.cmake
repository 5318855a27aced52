# Cross-compilation to 64-bit ARM Linux with Debian's cross toolchain
# (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross); programs run under
# qemu-user (qemu-aarch64).
#
#   cmake -S . -B build-aarch64 \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(WEFT_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${WEFT_CROSS_TRIPLE}-gcc)
set(CMAKE_ASM_COMPILER ${WEFT_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${WEFT_CROSS_TRIPLE}-g++)

set(CMAKE_FIND_ROOT_PATH /usr/${WEFT_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-aarch64;-L;/usr/${WEFT_CROSS_TRIPLE}")

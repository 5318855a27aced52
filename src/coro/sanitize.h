/*
 * sanitize.h - which sanitizers this translation unit is built with (gcc
 * defines __SANITIZE_*__, clang answers __has_feature), and so whether the
 * debug checks are in.
 */
#ifndef WEFT_SANITIZE_H
#define WEFT_SANITIZE_H

#ifndef __has_feature
#define __has_feature(x) 0
#endif

#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define WEFT_ASAN 1
#else
#define WEFT_ASAN 0
#endif

#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define WEFT_TSAN 1
#else
#define WEFT_TSAN 0
#endif

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#define WEFT_VALGRIND 1
#endif
#endif
#ifndef WEFT_VALGRIND
#define WEFT_VALGRIND 0
#endif

/* Checks of rules that would cost every call (the compact tasks' rule:
 * nothing in a suspended compact task's frame is used by anyone else):
 * in the sanitizer builds and CMAKE_BUILD_TYPE=Debug (WEFT_DEBUG_CHECKS). */
#if WEFT_ASAN || WEFT_TSAN || defined(WEFT_DEBUG_CHECKS)
#define WEFT_CHECKS 1
#else
#define WEFT_CHECKS 0
#endif

#endif

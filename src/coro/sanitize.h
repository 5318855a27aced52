/*
 * sanitize.h - which sanitizers this translation unit is built with.
 * gcc defines __SANITIZE_*__, clang answers __has_feature.
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

#endif

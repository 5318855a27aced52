/*
 * ctx_name.c - the name of the assembly context switch in this build.
 * (The ucontext build defines weft__ctx_name in ctx_ucontext.c instead.)
 */
#include "ctx.h"

#ifndef WEFT_CTX_UCONTEXT
const char *weft__ctx_name(void)
{
#if defined(__x86_64__)
    return "x86_64";
#elif defined(__aarch64__)
    return "aarch64";
#else
#error "no assembly context switch for this architecture: use -DWEFT_CONTEXT=ucontext"
#endif
}
#endif

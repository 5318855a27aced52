/*
 * where.c - a code address in words, for reports and the task dump:
 * "symbol+0x12 (module+0x3456)", or what dladdr knows of it.
 *
 * The module and offset are always there when the address lies in a
 * loaded object, so `addr2line -e module 0x3456` finds the line even when
 * the symbol is not exported (a static function, a program linked without
 * -rdynamic).  Nothing here allocates or takes a lock of weft's.
 */
#define _GNU_SOURCE
#include "core.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

const char *weft__code_where(uintptr_t pc, bool ret, char *buf, size_t len)
{
    Dl_info di;
    /* A return address may point just past its call's function: looked
     * up one byte back. */
    if (!dladdr((void *)(pc - ret), &di) || !di.dli_fname) {
        snprintf(buf, len, "0x%lx", (unsigned long)pc);
        return buf;
    }
    unsigned long off = (unsigned long)(pc - (uintptr_t)di.dli_fbase);
    const char *mod = base_name(di.dli_fname);
    if (!di.dli_sname || !di.dli_saddr)
        snprintf(buf, len, "%s+0x%lx", mod, off);
    else if (pc == (uintptr_t)di.dli_saddr)
        snprintf(buf, len, "%s (%s+0x%lx)", di.dli_sname, mod, off);
    else
        snprintf(buf, len, "%s+0x%lx (%s+0x%lx)", di.dli_sname,
                 (unsigned long)(pc - (uintptr_t)di.dli_saddr), mod, off);
    return buf;
}

/*
 * where.c - naming a code address for people: "symbol+0x12
 * (module+0x3456)", from the dynamic symbol table (dladdr: exported
 * symbols only, -rdynamic for a program's own) and the module's load
 * address, so that `addr2line -f -e MODULE OFFSET` finds the line.  Used
 * by the task dump, the reports at loop close and the deadlock report.
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

void weft__where(char *buf, size_t len, uintptr_t pc, bool ret)
{
    Dl_info di;
    /* A return address may point just past its call's function: looked
     * up one byte back. */
    if (!dladdr((void *)(pc - ret), &di) || !di.dli_fname) {
        snprintf(buf, len, "0x%lx", (unsigned long)pc);
        return;
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
}

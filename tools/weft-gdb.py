# weft-gdb.py - gdb commands for programs built with weft.
#
#     (gdb) source tools/weft-gdb.py
#     (gdb) weft tasks          # the tasks of the loop on the current thread
#     (gdb) weft bt 3           # task #3's backtrace
#
# `weft tasks` lists each task of the loop that runs on gdb's current thread
# (select it with `thread N`): its id, name, state and, for a blocked task,
# what kind of wait it is in.  `weft bt N` shows the backtrace of suspended
# task N by giving the thread, for the time of one `backtrace`, the
# registers the task saved when it switched away (as the context switch in
# src/coro/ctx_*.S laid them out), then putting the thread's own back.  It
# needs weft built with debug information (the default RelWithDebInfo
# build has it) and works on a live process; on a core file gdb cannot
# change registers, and `weft bt` says so (`weft tasks` works there too).
# Builds with the ucontext switch keep another layout: `weft bt` says so.

import gdb

STATES = {0: "free", 1: "not started", 2: "running", 3: "finished"}
FLAG_RECORD, FLAG_STACKLESS = 1 << 0, 1 << 5
WAIT_BLOCKED = None  # read from the program: WEFT__WAIT_BLOCKED


def _loop():
    try:
        loop = gdb.parse_and_eval("weft__tls_loop")
    except gdb.error as e:
        raise gdb.GdbError("weft: no weft__tls_loop (%s): is weft built "
                           "with debug information?" % e)
    if int(loop) == 0:
        raise gdb.GdbError("weft: no loop runs on this thread (try "
                           "`thread N` for the thread that runs weft_run)")
    return loop


def _enum(name):
    return int(gdb.parse_and_eval(name))


def _symbol(addr):
    """The name of the symbol at addr, or its address."""
    if not addr:
        return None
    try:
        text = gdb.execute("info symbol 0x%x" % addr, to_string=True)
    except gdb.error:
        return "0x%x" % addr
    if text.startswith("No symbol"):
        return "0x%x" % addr
    return text.split(" in section")[0].strip()


def _state(loop, slot):
    state = int(slot["state"])
    flags = int(slot["flags"])
    if flags & FLAG_STACKLESS:
        return "a job elsewhere (thread pool or another loop)", None
    if state == 1:
        return "not started", None
    if state == 3:
        return "finished, not yet awaited", None
    rec = slot["a"]["rec"]
    if int(rec) == int(loop["cur"]):
        return "running", rec
    if int(rec["wait"]) == _enum("WEFT__WAIT_BLOCKED"):
        kind = rec["kind"]
        name = kind["name"]
        if int(name):
            what = name.string()
        else:  # a kind of the core: weft__wait_sleep, weft__wait_await...
            what = _symbol(int(kind))
            for sep in ("wait_", "wait."):
                if sep in what:
                    what = what.split(sep)[-1]
        return "waiting: %s" % what, rec
    return "ready to run", rec


class WeftPrefix(gdb.Command):
    """weft tasks | weft bt N: tasks of the weft loop on this thread."""

    def __init__(self):
        super().__init__("weft", gdb.COMMAND_USER, prefix=True)


class WeftTasks(gdb.Command):
    """List the tasks of the loop that runs on the current thread."""

    def __init__(self):
        super().__init__("weft tasks", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        loop = _loop()
        top = int(loop["slot_top"])
        slots = loop["slots"]
        count = 0
        for i in range(1, top):
            slot = slots[i]
            if int(slot["state"]) == 0:
                continue
            count += 1
            what, rec = _state(loop, slot)
            label = "#%d" % i
            if rec is not None and int(rec["name"]):
                label = "'%s' (#%d)" % (rec["name"].string(), i)
            fn = _symbol(int(rec["fn"])) if rec is not None else None
            gdb.write("task %s%s: %s\n" % (label, " " + fn if fn else "",
                                           what))
        gdb.write("%d task%s\n" % (count, "" if count == 1 else "s"))


def _saved_registers(sp, arch):
    """The registers a suspended context resumes with, from its saved
    stack pointer (see src/coro/ctx_*.S)."""
    u64 = gdb.lookup_type("unsigned long")
    ptr = u64.pointer()

    def word(off):
        return int(gdb.Value(sp + off).cast(ptr).dereference())

    if "x86-64" in arch or "i386:x86-64" in arch:
        return {"rip": word(64), "rsp": sp + 72, "rbp": word(56),
                "rbx": word(48), "r12": word(40), "r13": word(32),
                "r14": word(24), "r15": word(16)}
    if "aarch64" in arch:
        regs = {"x%d" % (19 + i): word(8 * i) for i in range(10)}
        regs.update({"x29": word(80), "x30": word(88), "pc": word(88),
                     "sp": sp + 176})
        return regs
    raise gdb.GdbError("weft bt: no register layout for %s" % arch)


class WeftBt(gdb.Command):
    """weft bt N: the backtrace of suspended task N."""

    def __init__(self):
        super().__init__("weft bt", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        try:
            idx = int(arg.strip().lstrip("#"))
        except ValueError:
            raise gdb.GdbError("usage: weft bt N (a task id from weft tasks)")
        loop = _loop()
        if idx <= 0 or idx >= int(loop["slot_top"]):
            raise gdb.GdbError("weft bt: no task #%d" % idx)
        slot = loop["slots"][idx]
        what, rec = _state(loop, slot)
        if rec is None:
            raise gdb.GdbError("weft bt: task #%d is %s: no stack" %
                               (idx, what))
        if what == "running":
            gdb.execute("backtrace")
            return
        ctx = rec["exec"]["ctx"]
        if "uc" in [f.name for f in ctx.type.fields()]:
            raise gdb.GdbError("weft bt: not with the ucontext switch")
        frame = gdb.selected_frame()
        arch = frame.architecture().name()
        regs = _saved_registers(int(rec["exec"]["ctx"]["sp"]), arch)
        saved = {r: int(frame.read_register(r)) for r in regs}
        try:
            for r, v in regs.items():
                gdb.execute("set $%s = 0x%x" % (r, v), to_string=True)
        except gdb.error as e:
            raise gdb.GdbError("weft bt: cannot set registers here (%s); "
                               "a core file cannot be changed" % e)
        try:
            gdb.execute("backtrace")
        finally:
            gdb.execute("select-frame 0", to_string=True)
            for r, v in saved.items():
                gdb.execute("set $%s = 0x%x" % (r, v), to_string=True)


WeftPrefix()
WeftTasks()
WeftBt()

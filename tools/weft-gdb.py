# weft-gdb.py - gdb commands for programs built with weft.
#
#     (gdb) source tools/weft-gdb.py
#     (gdb) weft tasks          # the tasks of the loop on the current thread
#     (gdb) weft bt 3           # task #3's backtrace
#
# `weft tasks` lists each task of the loop that runs on gdb's current thread
# (select it with `thread N`): its id, name, state and, for a blocked task,
# what kind of wait it is in.  `weft bt N` shows the backtrace of suspended
# task N: for the time of one `backtrace`, an unwinder makes the registers
# the task saved when it switched away (as the context switch in
# src/coro/ctx_*.S laid them out) the callers of the thread's innermost
# frame, and the task's frames are printed numbered from 0.  No register
# is written, so both work on a live process and on a core file alike.
# They need weft built with debug information (the default RelWithDebInfo
# build has it).  Builds with the ucontext switch keep another layout:
# `weft bt` says so.

import re
import struct

import gdb
import gdb.unwinder

STATES = {0: "free", 1: "not started", 2: "running", 3: "finished"}
FLAG_RECORD, FLAG_STACKLESS = 1 << 0, 1 << 5
WAIT_BLOCKED = None  # read from the program: WEFT__WAIT_BLOCKED


def _loop():
    try:
        loop = gdb.parse_and_eval("weft__tls_loop")
    except gdb.error as e:
        loop = _tls_fallback(e)
    if int(loop) == 0:
        raise gdb.GdbError("weft: no loop runs on this thread (try "
                           "`thread N` for the thread that runs weft_run)")
    return loop


def _tls_fallback(err):
    """weft__tls_loop found without gdb's help.  gdb reads thread-local
    variables through glibc's libthread_db, which a core read on another
    machine (or with a mismatched libc) may lack.  The program's own TLS
    block sits at a fixed distance from the thread pointer, as the static
    linker laid it out, so weft linked into the program is still found;
    in a shared libweft only the dynamic linker knew the offset."""
    sym = gdb.lookup_global_symbol("weft__tls_loop")
    if sym is None:
        raise gdb.GdbError("weft: no weft__tls_loop (%s): is weft built "
                           "with debug information?" % err)
    path = sym.symtab.objfile.filename
    if path != gdb.current_progspace().filename:
        raise gdb.GdbError("weft: cannot read weft__tls_loop in %s (%s): "
                           "gdb needs libthread_db for a shared library's "
                           "thread-local variables" % (path, err))
    where = gdb.execute("info address weft__tls_loop", to_string=True)
    m = re.search(r"thread-local variable at offset (0x[0-9a-f]+)", where)
    frame = gdb.newest_frame()
    arch = frame.architecture().name()
    if not m or not ("x86-64" in arch or "aarch64" in arch):
        raise gdb.GdbError("weft: cannot read weft__tls_loop (%s)" % err)
    off = int(m.group(1), 16)
    memsz, align = _tls_segment(path)
    if "x86-64" in arch:  # the block ends at the thread pointer
        addr = int(frame.read_register("fs_base")) - _up(memsz, align) + off
    else:  # aarch64: it follows the 16-byte thread control block
        addr = int(frame.read_register("tpidr")) + _up(16, align) + off
    return gdb.Value(addr).cast(sym.type.pointer()).dereference()


def _up(n, align):
    return (n + align - 1) // align * align


def _tls_segment(path):
    """(memsz, align) of the PT_TLS program header of ELF64 file path."""
    with open(path, "rb") as f:
        head = f.read(64)
        phoff, = struct.unpack_from("<Q", head, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    for at in range(0, phentsize * phnum, phentsize):
        if struct.unpack_from("<I", table, at)[0] == 7:  # PT_TLS
            return struct.unpack_from("<QQ", table, at + 40)
    raise gdb.GdbError("weft: %s has no thread-local storage" % path)


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


ALERT_COMPACT = 2  # WEFT__ALERT_COMPACT, in a record's scope_alert


def _compact_away(rec):
    """Is rec a compact task (WEFT_SPAWN_COMPACT) whose frame is copied
    off the shared stack?  Its saved stack pointer is then the loop's
    deferred context (tagged), outside the shared stack (src/compact.c)."""
    if not int(rec["scope_alert"]) & ALERT_COMPACT:
        return False
    sp = int(rec["exec"]["ctx"]["sp"])
    lo = int(rec["stack"]["lo"])
    return not lo <= sp < lo + int(rec["stack"]["size"])


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
            if rec is not None and what != "running" and _compact_away(rec):
                what += " (compact, its frame saved off the stack)"
            gdb.write("task %s%s: %s\n" % (label, " " + fn if fn else "",
                                           what))
        gdb.write("%d task%s\n" % (count, "" if count == 1 else "s"))


def _saved_registers(sp, arch):
    """The registers a suspended context resumes with, from its saved
    stack pointer (see src/coro/ctx_*.S): those of the code that called
    weft__ctx_switch, at the return address.  The others were the
    caller's to save: gdb shows them as not saved."""
    u64 = gdb.lookup_type("unsigned long")
    ptr = u64.pointer()

    def word(off):
        return int(gdb.Value(sp + off).cast(ptr).dereference())

    if "x86-64" in arch:
        return {"rip": word(56), "rsp": sp + 64, "rbp": word(48),
                "rbx": word(40), "r12": word(32), "r13": word(24),
                "r14": word(16), "r15": word(8)}
    if "aarch64" in arch:
        regs = {"x%d" % (19 + i): word(8 * i) for i in range(10)}
        # The switch returns to x30: it is the pc too.
        regs.update({"x29": word(80), "x30": word(88), "pc": word(88),
                     "sp": sp + 176})
        return regs
    raise gdb.GdbError("weft bt: no register layout for %s" % arch)


class _FrameId:  # what gdb asks an unwinder for a frame's identity
    def __init__(self, sp, pc):
        self.sp, self.pc = sp, pc


class _TaskUnwinder(gdb.unwinder.Unwinder):
    """Enabled only while `weft bt` runs: claims the thread's innermost
    frame and gives as its caller's registers those a suspended task
    saved, so that gdb unwinds the task's stack from frame 1 on.  gdb
    cannot write a core file's registers, but it asks unwinders."""

    def __init__(self):
        super().__init__("weft")
        self.enabled = False
        self.regs = {}

    def __call__(self, pending):
        if pending.level() != 0:
            return None
        pc, sp = ("rip", "rsp") if "rip" in self.regs else ("pc", "sp")
        info = pending.create_unwind_info(
            _FrameId(pending.read_register(sp), pending.read_register(pc)))
        for name, v in self.regs.items():
            reg_type = pending.read_register(name).type
            info.add_saved_register(name, gdb.Value(v).cast(reg_type))
        return info


_unwinder = _TaskUnwinder()
gdb.unwinder.register_unwinder(None, _unwinder, replace=True)


def _renumbered(text):
    """`backtrace` text without frame 0 (the thread's) and with the
    task's frames numbered from 0, aligned as gdb aligns them."""
    out, skip = [], False
    for line in text.splitlines(True):
        m = re.match(r"#(\d+)\s+", line)
        if m:
            level = int(m.group(1))
            skip = level == 0
            line = "#%-2d %s" % (level - 1, line[m.end():])
        if not skip:
            out.append(line)
    return "".join(out)


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
        if _compact_away(rec):
            # Its bytes are in a heap buffer, its addresses another
            # task's: nothing to unwind (weft_dump_tasks says the same).
            gdb.write("task #%d is a compact task whose frame is saved off "
                      "the stack: no backtrace\n" % idx)
            return
        arch = gdb.newest_frame().architecture().name()
        regs = _saved_registers(int(ctx["sp"]), arch)
        # Dropping the frame cache selects frame 0: the user's frame is
        # selected again after.
        chosen = gdb.selected_frame()
        _unwinder.regs = regs
        _unwinder.enabled = True
        gdb.invalidate_cached_frames()
        try:
            text = gdb.execute("backtrace", to_string=True)
        finally:
            _unwinder.enabled = False
            gdb.invalidate_cached_frames()
            chosen.select()
        gdb.write(_renumbered(text))


WeftPrefix()
WeftTasks()
WeftBt()

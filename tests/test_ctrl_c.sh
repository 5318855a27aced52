#!/usr/bin/env bash
# test_ctrl_c.sh - real Ctrl-C on a pseudo-terminal stops examples/ctrl_c
# cleanly, and so does SIGTERM.
#
#   tests/test_ctrl_c.sh BUILD_DIR
#
# Runs BUILD_DIR/examples/ctrl_c as the foreground process of a new
# pseudo-terminal (python3's pty module), waits until it says its workers
# run, then:
#   1. writes the terminal's interrupt character (^C) to the master side:
#      the tty line discipline sends SIGINT to the foreground process group,
#      exactly what a user's Ctrl-C does.  Each worker must print its
#      cleanup line, the main task its last line, and the program must die
#      by SIGINT (status 130 in a shell);
#   2. sends SIGTERM instead: the same cleanup, and exit status 0.
# Everything runs under timeouts (10 s per run, 60 s in all).
#
# Exit status: 0 pass, 1 fail, 77 skipped (no python3, or example not
# built).

set -u

if [[ $# -ne 1 || ! -d $1 ]]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
exe=$1/examples/ctrl_c
if ! command -v python3 >/dev/null 2>&1; then
    echo "skipped: python3 is needed to drive a pseudo-terminal"
    exit 77
fi
if [[ ! -x $exe ]]; then
    echo "skipped: $exe not built (WEFT_BUILD_EXAMPLES=OFF?)"
    exit 77
fi

timeout -k 5 60 python3 - "$exe" <<'PY'
import os, pty, select, signal, sys, time

exe = sys.argv[1]
failures = 0


def run(how):
    """Runs exe on a new pty, stops it `how` ('ctrl-c' or 'sigterm');
    returns (output, wait status)."""
    pid, master = pty.fork()
    if pid == 0:
        os.execv(exe, [exe])
        os._exit(127)
    out = b""
    sent = False
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not sent and b"workers running" in out:
            time.sleep(0.12)  # let them make some progress
            if how == "ctrl-c":
                os.write(master, b"\x03")  # the tty's VINTR: real Ctrl-C
            else:
                os.kill(pid, signal.SIGTERM)
            sent = True
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            out += data
    else:
        os.kill(pid, signal.SIGKILL)
        print(f"FAIL {how}: still running after 10 s")
    _, status = os.waitpid(pid, 0)
    os.close(master)
    return out.decode(errors="replace").replace("\r\n", "\n"), status


for how in ("ctrl-c", "sigterm"):
    out, st = run(how)
    ok = True
    for line in ("worker 1: cleaning up", "worker 2: cleaning up",
                 "worker 3: cleaning up",
                 "main: stopped early, every worker cleaned up"):
        if line not in out:
            print(f"FAIL {how}: no line '{line}'")
            ok = False
    if how == "ctrl-c":
        if not (os.WIFSIGNALED(st) and os.WTERMSIG(st) == signal.SIGINT):
            print(f"FAIL {how}: wait status {st:#x}, want death by SIGINT "
                  "(shell status 130)")
            ok = False
    else:
        if not (os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0):
            print(f"FAIL {how}: wait status {st:#x}, want exit 0")
            ok = False
    if ok:
        print(f"ok   {how}")
    else:
        failures += 1
        print("    its output:")
        for l in out.splitlines():
            print("    | " + l)
sys.exit(1 if failures else 0)
PY
rc=$?
if [[ $rc -eq 0 ]]; then
    echo "Ctrl-C and SIGTERM stop the example cleanly"
fi
exit $rc

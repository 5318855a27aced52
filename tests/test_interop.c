/*
 * test_interop.c - weft's client side against a server nobody here wrote:
 * Python's asyncio (Debian's python3), started by this test on 127.0.0.1.
 *
 * The asyncio server answers each line with the line upper-cased, and a
 * line "BULK n" with n bytes (byte i is i*7 mod 256).  Twenty concurrent
 * weft streams each send 100 lines and check every answer; one asks for
 * 4 MiB and checks every byte; one connects through the name "localhost".
 * Skipped (77) without python3, and under an emulator.
 */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char server_py[] =
    "import asyncio, sys\n"
    "async def handle(r, w):\n"
    "    try:\n"
    "        while True:\n"
    "            line = await r.readline()\n"
    "            if not line: break\n"
    "            if line.startswith(b'BULK '):\n"
    "                n = int(line.split()[1])\n"
    "                w.write(bytes((i * 7) & 255 for i in range(n)))\n"
    "            else:\n"
    "                w.write(line.upper())\n"
    "            await w.drain()\n"
    "    finally:\n"
    "        w.close()\n"
    "async def main():\n"
    "    s = await asyncio.start_server(handle, '127.0.0.1', 0)\n"
    "    print(s.sockets[0].getsockname()[1], flush=True)\n"
    "    await asyncio.sleep(120)\n"
    "asyncio.run(main())\n";

static int port;

static void *lines_client(void *arg)
{
    int k = (int)P2I(arg);
    weft_stream *s;
    int rc = weft_open_connection(k == 0 ? "localhost" : "127.0.0.1", port,
                                  &s);
    if (rc)
        return I2P(rc);
    bool ok = true;
    for (int i = 0; i < 100 && ok; i++) {
        char line[64], want[64];
        int n = snprintf(line, sizeof line, "client %d line %d abc\n", k, i);
        for (int j = 0; j <= n; j++)
            want[j] = (char)(line[j] >= 'a' && line[j] <= 'z'
                                 ? line[j] - 32 : line[j]);
        ok &= weft_stream_write(s, line, (size_t)n, NULL) == 0;
        const char *p;
        size_t len;
        ok &= weft_stream_readline(s, &p, &len) == 0 && len == (size_t)n &&
              memcmp(p, want, len) == 0;
    }
    weft_stream_close(s);
    return I2P(ok ? 0 : -EPROTO);
}

static void *bulk_client(void *arg)
{
    (void)arg;
    weft_stream *s;
    int rc = weft_open_connection("127.0.0.1", port, &s);
    if (rc)
        return I2P(rc);
    size_t n = 4 << 20, got = 0;
    char *buf = malloc(n);
    REQUIRE(buf);
    weft_stream_write(s, "BULK 4194304\n", 13, NULL);
    rc = weft_stream_readexactly(s, buf, n, &got);
    bool ok = rc == 0 && got == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = (unsigned char)buf[i] == ((i * 7) & 255);
    free(buf);
    weft_stream_close(s);
    return I2P(ok ? 0 : -EPROTO);
}

static void *clients(void *arg)
{
    (void)arg;
    weft_task *t[21];
    for (int k = 0; k < 20; k++)
        REQUIRE(weft_spawn(lines_client, I2P(k), &t[k]) == 0);
    REQUIRE(weft_spawn(bulk_client, NULL, &t[20]) == 0);
    for (int k = 0; k < 21; k++) {
        void *r;
        CHECK_EQ(weft_await(t[k], &r), 0);
        if (P2I(r) != 0)
            fprintf(stderr, "client %d: %s\n", k, weft_strerror((int)P2I(r)));
        CHECK_EQ(P2I(r), 0);
    }
    return NULL;
}

int main(void)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        check_skip("python3 is needed for the asyncio server");
    if (getenv("WEFT_TEST_WRAPPER"))
        check_skip("under an emulator: the host's python3 cannot be run");
    int out[2];
    REQUIRE(pipe(out) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        execl("/usr/bin/python3", "python3", "-c", server_py, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    /* The whole line (the server may write it in pieces); the pipe stays
     * open until the server is gone, or a late write of its would fail
     * and kill it. */
    char buf[32] = {0};
    alarm(60);
    size_t got = 0;
    while (got < sizeof buf - 1 && !strchr(buf, '\n')) {
        ssize_t n = read(out[0], buf + got, sizeof buf - 1 - got);
        REQUIRE(n > 0);
        got += (size_t)n;
    }
    port = atoi(buf);
    REQUIRE(port > 0);
    check_begin();
    check_case_alarm_install();
    check_case("weft_clients_against_asyncio_server", clients, NULL, 0);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    int rc = check_end(); /* out[0] was open at check_begin too */
    close(out[0]);
    return rc;
}

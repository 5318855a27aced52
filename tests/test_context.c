/*
 * test_context.c - a context switch keeps what the ABI says a call keeps.
 *
 * - Callee-saved registers survive weft_yield(), exactly: a probe written
 *   in assembly fills every callee-saved register (x86-64: rbx, rbp,
 *   r12-r15; AArch64: x19-x29, d8-d15) with a task's own pattern, yields
 *   while other tasks do the same with theirs, and checks them all after.
 * - Ordinary C keeps its values: many tasks computing with a dozen live
 *   integers, doubles and pointers across yields get the same result as the
 *   same computation without yields.
 * - The floating-point control state is per task: tasks set different
 *   rounding modes (FE_UPWARD, FE_DOWNWARD, FE_TONEAREST) and keep them
 *   across yields, seen by fegetround() and by how 1.0/3.0 rounds (in
 *   double and, on x86-64, in x87 long double).  A new task starts with
 *   the mode of the context that started it: the main task with weft_run's
 *   caller's, an eager task with its spawner's.  weft_run's caller gets its
 *   own mode back whatever the tasks did.
 * - Stacks: 64 KiB of locals in recursion on the default stack, 768 KiB on
 *   a 1 MiB stack, and a small function (snprintf included) on a
 *   WEFT_STACK_MIN stack, each yielding at its deepest point.
 * - Variadic functions and struct returns (in registers and through
 *   memory) work across switches.
 * - All of it holds for compact tasks too (WEFT_SPAWN_COMPACT: registers,
 *   live values, rounding modes, struct returns and 16 KiB frames survive
 *   being copied off the shared stack and back at every switch).
 * - weft_switch_name() names the switch this build uses.
 */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <fenv.h>
#include <stdarg.h>
#include <string.h>

/* ---- the assembly probe of callee-saved registers ---- */

/* Returns 0 if every callee-saved register held after a weft_yield() what
 * it held before, else the OR of the differences. */
uint64_t probe_callee_saved(uint64_t seed);

#if defined(__x86_64__)
#define HAVE_PROBE 1
/* clang-format off */
__asm__(
    "    .text\n"
    "    .p2align 4\n"
    "    .type probe_callee_saved, @function\n"
    "probe_callee_saved:\n"
    "    pushq %rbp\n"
    "    pushq %rbx\n"
    "    pushq %r12\n"
    "    pushq %r13\n"
    "    pushq %r14\n"
    "    pushq %r15\n"
    "    subq $8, %rsp\n" /* 16-byte aligned for the call */
    "    movq %rdi, (%rsp)\n"
    "    leaq 1(%rdi), %rbx\n"
    "    leaq 2(%rdi), %rbp\n"
    "    leaq 3(%rdi), %r12\n"
    "    leaq 4(%rdi), %r13\n"
    "    leaq 5(%rdi), %r14\n"
    "    leaq 6(%rdi), %r15\n"
    "    call weft_yield@PLT\n"
    "    movq (%rsp), %rdi\n"
    "    xorl %eax, %eax\n"
    "    leaq 1(%rdi), %rcx\n"
    "    xorq %rbx, %rcx\n"
    "    orq %rcx, %rax\n"
    "    leaq 2(%rdi), %rcx\n"
    "    xorq %rbp, %rcx\n"
    "    orq %rcx, %rax\n"
    "    leaq 3(%rdi), %rcx\n"
    "    xorq %r12, %rcx\n"
    "    orq %rcx, %rax\n"
    "    leaq 4(%rdi), %rcx\n"
    "    xorq %r13, %rcx\n"
    "    orq %rcx, %rax\n"
    "    leaq 5(%rdi), %rcx\n"
    "    xorq %r14, %rcx\n"
    "    orq %rcx, %rax\n"
    "    leaq 6(%rdi), %rcx\n"
    "    xorq %r15, %rcx\n"
    "    orq %rcx, %rax\n"
    "    addq $8, %rsp\n"
    "    popq %r15\n"
    "    popq %r14\n"
    "    popq %r13\n"
    "    popq %r12\n"
    "    popq %rbx\n"
    "    popq %rbp\n"
    "    ret\n"
    "    .size probe_callee_saved, .-probe_callee_saved\n");
/* clang-format on */
#elif defined(__aarch64__)
#define HAVE_PROBE 1
/* clang-format off */
/* x19-x28 = seed+1..seed+10, d8-d15 = the bits of seed+11..seed+18, x29 =
 * the frame's own address. */
#define CHECK_X(r, k)                                                         \
    "    add x9, x0, #" #k "\n"                                               \
    "    eor x9, x9, " #r "\n"                                                \
    "    orr x1, x1, x9\n"
#define CHECK_D(r, k)                                                         \
    "    fmov x10, " #r "\n"                                                  \
    "    add x9, x0, #" #k "\n"                                               \
    "    eor x9, x9, x10\n"                                                   \
    "    orr x1, x1, x9\n"
#define SET_D(r, k)                                                           \
    "    add x9, x0, #" #k "\n"                                               \
    "    fmov " #r ", x9\n"
__asm__(
    "    .text\n"
    "    .p2align 4\n"
    "    .type probe_callee_saved, %function\n"
    "probe_callee_saved:\n"
    "    stp x29, x30, [sp, #-176]!\n"
    "    mov x29, sp\n"
    "    stp x19, x20, [sp, #16]\n"
    "    stp x21, x22, [sp, #32]\n"
    "    stp x23, x24, [sp, #48]\n"
    "    stp x25, x26, [sp, #64]\n"
    "    stp x27, x28, [sp, #80]\n"
    "    stp d8, d9, [sp, #96]\n"
    "    stp d10, d11, [sp, #112]\n"
    "    stp d12, d13, [sp, #128]\n"
    "    stp d14, d15, [sp, #144]\n"
    "    str x0, [sp, #160]\n"
    "    add x19, x0, #1\n"
    "    add x20, x0, #2\n"
    "    add x21, x0, #3\n"
    "    add x22, x0, #4\n"
    "    add x23, x0, #5\n"
    "    add x24, x0, #6\n"
    "    add x25, x0, #7\n"
    "    add x26, x0, #8\n"
    "    add x27, x0, #9\n"
    "    add x28, x0, #10\n"
    SET_D(d8, 11) SET_D(d9, 12) SET_D(d10, 13) SET_D(d11, 14)
    SET_D(d12, 15) SET_D(d13, 16) SET_D(d14, 17) SET_D(d15, 18)
    "    bl weft_yield\n"
    "    ldr x0, [sp, #160]\n"
    "    mov x1, #0\n"
    CHECK_X(x19, 1) CHECK_X(x20, 2) CHECK_X(x21, 3) CHECK_X(x22, 4)
    CHECK_X(x23, 5) CHECK_X(x24, 6) CHECK_X(x25, 7) CHECK_X(x26, 8)
    CHECK_X(x27, 9) CHECK_X(x28, 10)
    CHECK_D(d8, 11) CHECK_D(d9, 12) CHECK_D(d10, 13) CHECK_D(d11, 14)
    CHECK_D(d12, 15) CHECK_D(d13, 16) CHECK_D(d14, 17) CHECK_D(d15, 18)
    "    mov x9, sp\n"
    "    eor x9, x9, x29\n"
    "    orr x1, x1, x9\n"
    "    mov x0, x1\n"
    "    ldp x19, x20, [sp, #16]\n"
    "    ldp x21, x22, [sp, #32]\n"
    "    ldp x23, x24, [sp, #48]\n"
    "    ldp x25, x26, [sp, #64]\n"
    "    ldp x27, x28, [sp, #80]\n"
    "    ldp d8, d9, [sp, #96]\n"
    "    ldp d10, d11, [sp, #112]\n"
    "    ldp d12, d13, [sp, #128]\n"
    "    ldp d14, d15, [sp, #144]\n"
    "    ldp x29, x30, [sp], #176\n"
    "    ret\n"
    "    .size probe_callee_saved, .-probe_callee_saved\n");
/* clang-format on */
#else
#define HAVE_PROBE 0
#endif

/* Compact tasks (WEFT_SPAWN_COMPACT), which the ucontext build refuses. */
#if defined(WEFT_CTX_UCONTEXT)
#define HAVE_COMPACT 0
#else
#define HAVE_COMPACT 1
#endif

#if HAVE_PROBE
static void *probe_task(void *arg)
{
    uint64_t seed = (uint64_t)P2I(arg) * 0x100000001ull + 0x1234567800ull;
    uint64_t bad = 0;
    for (int i = 0; i < 50; i++)
        bad |= probe_callee_saved(seed + (uint64_t)i * 64);
    return I2P(bad != 0);
}
#endif

/* ---- ordinary C with many live values ---- */

static const uint64_t table[16] = {
    0x243f6a8885a308d3, 0x13198a2e03707344, 0xa4093822299f31d0,
    0x082efa98ec4e6c89, 0x452821e638d01377, 0xbe5466cf34e90c6c,
    0xc0ac29b7c97c50dd, 0x3f84d5b5b5470917, 0x9216d5d98979fb1b,
    0xd1310ba698dfb5ac, 0x2ffd72dbd01adfb7, 0xb8e1afed6a267e96,
    0xba7c9045f12c7f99, 0x24a19947b3916cf7, 0x0801f2e2858efc16,
    0x636920d871574e69,
};

/* A dozen integers, four doubles and two pointers, all live across the
 * (possible) call to weft_yield. */
static __attribute__((noinline)) uint64_t crunch(uint64_t seed, int yield)
{
    uint64_t a = seed, b = seed * 3 + 1, c = seed ^ 0x9e3779b97f4a7c15ull;
    uint64_t d = seed + 77, e = ~seed, f = seed << 7, g = seed >> 3;
    uint64_t h = seed * seed;
    uint32_t i1 = (uint32_t)seed, i2 = (uint32_t)(seed >> 16);
    uint32_t i3 = 0x55aa55aau, i4 = (uint32_t)seed * 7u;
    double x = (double)(seed & 0xffff) + 0.5;
    double y = 1.0 / ((double)(seed & 0xff) + 1.0);
    double z = 3.25, w = (double)(seed % 1000) * 0.001;
    const uint64_t *p = table + (seed & 15), *q = table + ((seed >> 4) & 15);
    for (int k = 0; k < 400; k++) {
        a += b ^ (uint64_t)k;
        b = b * 31 + c;
        c ^= d >> 3;
        d += e * 7;
        e = (e << 1) | (e >> 63);
        f += g ^ h;
        g = g * 5 + a;
        h ^= f + i1;
        i1 = i1 * 1103515245u + 12345u;
        i2 ^= i1 >> 5;
        i3 += i2 * 3u;
        i4 = (i4 << 3) ^ i3;
        x = x * 1.0000001 + (double)(a & 0xff);
        y = y * 0.999 + (double)(i2 & 0xf);
        z = z + x * 1e-9 - y * 1e-7;
        w = w * 0.5 + y;
        a += *p;
        b ^= q[k & 3];
        p = table + ((a >> 7) & 15);
        q = table + ((b >> 9) & 12);
        if (yield && k % 8 == 3)
            weft_yield();
    }
    uint64_t r = a ^ b ^ c ^ d ^ e ^ f ^ g ^ h;
    r ^= (uint64_t)i1 << 32 ^ i2 ^ (uint64_t)i3 << 16 ^ i4;
    r ^= (uint64_t)x ^ (uint64_t)(y * 1e6) ^ (uint64_t)(z * 1e3) ^
         (uint64_t)(w * 1e6);
    r ^= (uint64_t)(p - table) << 40 ^ (uint64_t)(q - table) << 48;
    return r;
}

static void *crunch_task(void *arg)
{
    uint64_t seed = (uint64_t)P2I(arg) * 0x9e3779b97f4a7c15ull;
    uint64_t want = crunch(seed, 0);
    uint64_t got = crunch(seed, 1);
    return I2P(got != want);
}

/* ---- floating-point control state ---- */

static const int modes[3] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD};
static const char *const mode_names[3] = {"to-nearest", "upward", "downward"};
static double ref_div[3];
static volatile double one = 1.0, three = 3.0;
#if defined(__x86_64__)
static long double ref_ldiv[3];
static volatile long double lone = 1.0L, lthree = 3.0L;
#endif

static double div13(void)
{
    volatile double r = one / three;
    return r;
}

#if defined(__x86_64__)
static long double ldiv13(void)
{
    volatile long double r = lone / lthree; /* x87 */
    return r;
}
#endif

static int mode_index(int mode)
{
    for (int i = 0; i < 3; i++)
        if (modes[i] == mode)
            return i;
    return -1;
}

/* Does the calling context compute in mode m?  Returns 0 if so. */
static int mode_wrong(int m)
{
    int bad = 0;
    if (fegetround() != modes[m])
        bad |= 1;
    if (div13() != ref_div[m])
        bad |= 2;
#if defined(__x86_64__)
    if (ldiv13() != ref_ldiv[m])
        bad |= 4;
#endif
    return bad;
}

static void *fp_task(void *arg)
{
    int m = (int)P2I(arg) % 3;
    CHECK_EQ(fesetround(modes[m]), 0);
    int bad = 0;
    for (int i = 0; i < 100; i++) {
        bad |= mode_wrong(m);
        weft_yield();
    }
    bad |= mode_wrong(m);
    if (bad)
        fprintf(stderr, "task in mode %s: wrong (mask %d)\n", mode_names[m],
                bad);
    return I2P(bad);
}

/* Reports the mode it started in, then switches to another and yields
 * back to its spawner. */
static void *eager_start_mode(void *arg)
{
    (void)arg;
    int m = mode_index(fegetround());
    int start_ok = m >= 0 && mode_wrong(m) == 0;
    CHECK(start_ok);
    CHECK_EQ(fesetround(modes[(m + 1) % 3]), 0);
    weft_yield();
    CHECK_EQ(mode_wrong((m + 1) % 3), 0);
    return I2P(m);
}

/* Runs in the main task of a loop started in mode host_m. */
static void *fp_main(void *arg)
{
    int host_m = (int)P2I(arg);
    /* The main task starts with the mode of weft_run's caller. */
    CHECK_EQ(mode_wrong(host_m), 0);

    /* Tasks in different modes, interleaved at every yield, with the main
     * task (still in host_m) switching among them. */
    enum { N = 30 };
    weft_task *t[N];
    for (int i = 0; i < N; i++) {
        /* Every fourth one compact (in every mode): its control state is
         * copied out and in with its frame. */
        weft_spawn_opts o = {.flags = HAVE_COMPACT && i % 4 == 1
                                          ? WEFT_SPAWN_COMPACT
                                          : 0};
        REQUIRE(weft_spawn_ex(fp_task, I2P(i), &o, &t[i]) == 0);
    }
    weft_yield();
    CHECK_EQ(mode_wrong(host_m), 0);
    for (int i = 0; i < N; i++) {
        void *r = I2P(-1);
        CHECK_EQ(weft_await(t[i], &r), 0);
        CHECK_EQ(P2I(r), 0);
        CHECK_EQ(mode_wrong(host_m), 0);
    }

    /* An eager task starts in its spawner's mode, at spawn time. */
    weft_spawn_opts eager = {.flags = WEFT_SPAWN_EAGER};
    for (int m = 0; m < 3; m++) {
        CHECK_EQ(fesetround(modes[m]), 0);
        weft_task *e;
        REQUIRE(weft_spawn_ex(eager_start_mode, NULL, &eager, &e) == 0);
        /* It has changed its mode and yielded: ours is untouched. */
        CHECK_EQ(mode_wrong(m), 0);
        void *r = NULL;
        CHECK_EQ(weft_await(e, &r), 0);
        CHECK_EQ(P2I(r), m);
        CHECK_EQ(mode_wrong(m), 0);
    }

    /* Whatever the main task leaves, weft_run's caller gets its own. */
    CHECK_EQ(fesetround(modes[(host_m + 1) % 3]), 0);
    return NULL;
}

/* ---- stacks ---- */

/* 1 KiB of locals per frame; yields at the bottom; every frame checks its
 * bytes on the way back up.  Returns the number of bad frames. */
static __attribute__((noinline)) long recurse(int depth)
{
    char buf[1024];
    memset(buf, depth & 0x7f, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
    long bad;
    if (depth == 0)
        bad = weft_yield() != 0;
    else
        bad = recurse(depth - 1);
    for (size_t i = 0; i < sizeof buf; i++)
        if (buf[i] != (depth & 0x7f)) {
            bad++;
            break;
        }
    return bad;
}

static void *recurse_task(void *arg)
{
    return I2P(recurse((int)P2I(arg)));
}

static __attribute__((noinline)) int small_work(int n, char *out, size_t len)
{
    int parts[8];
    for (int i = 0; i < 8; i++)
        parts[i] = n * (i + 1);
    if (weft_yield() != 0)
        return -1;
    return snprintf(out, len, "%d-%d-%d", parts[0], parts[3], parts[7]);
}

static void *small_stack_task(void *arg)
{
    int n = (int)P2I(arg);
    char s[32], want[32];
    int len = small_work(n, s, sizeof s);
    snprintf(want, sizeof want, "%d-%d-%d", n, n * 4, n * 8);
    return I2P(len > 0 && strcmp(s, want) == 0);
}

/* ---- variadic functions and struct returns ---- */

/* Sums n arguments of rotating types (int, double, long, string length),
 * yielding after each, then again through a va_copy. */
static __attribute__((noinline)) double va_mix(int n, ...)
{
    va_list ap, ap2;
    va_start(ap, n);
    va_copy(ap2, ap);
    double s = 0;
    for (int i = 0; i < n; i++) {
        switch (i % 4) {
        case 0:
            s += va_arg(ap, int);
            break;
        case 1:
            s += va_arg(ap, double);
            break;
        case 2:
            s += (double)va_arg(ap, long);
            break;
        default:
            s += (double)strlen(va_arg(ap, const char *));
            break;
        }
        weft_yield();
    }
    va_end(ap);
    double s2 = 0;
    for (int i = 0; i < n; i++) {
        weft_yield();
        switch (i % 4) {
        case 0:
            s2 += va_arg(ap2, int);
            break;
        case 1:
            s2 += va_arg(ap2, double);
            break;
        case 2:
            s2 += (double)va_arg(ap2, long);
            break;
        default:
            s2 += (double)strlen(va_arg(ap2, const char *));
            break;
        }
    }
    va_end(ap2);
    return s == s2 ? s : -1.0;
}

struct big {
    long v[10];
    double d;
    char s[24];
}; /* returned through memory */
struct two_d {
    double a, b;
}; /* in two SIMD/FP registers */
struct two_l {
    long a, b;
}; /* in two integer registers */
struct mixed {
    long a;
    double b;
}; /* one of each */

static __attribute__((noinline)) struct big make_big(long seed)
{
    struct big b;
    memset(&b, 0, sizeof b);
    for (int i = 0; i < 10; i++) {
        b.v[i] = seed * (i + 1);
        if (i == 4)
            weft_yield();
    }
    b.d = (double)seed + 0.25;
    weft_yield();
    snprintf(b.s, sizeof b.s, "big-%ld", seed);
    return b;
}

static __attribute__((noinline)) struct two_d make_two_d(long seed)
{
    double a = (double)seed * 0.5, b = (double)seed + 0.75;
    weft_yield();
    return (struct two_d){a, b};
}

static __attribute__((noinline)) struct two_l make_two_l(long seed)
{
    long a = seed * 1000003, b = ~seed;
    weft_yield();
    return (struct two_l){a, b};
}

static __attribute__((noinline)) struct mixed make_mixed(long seed)
{
    long a = seed - 5;
    double b = (double)seed * 0.125;
    weft_yield();
    return (struct mixed){a, b};
}

static void *abi_task(void *arg)
{
    long k = P2I(arg);
    int bad = 0;
    double want = (double)k + 1.5 + (double)(k * 1000) + 5 +   /* 4 args */
                  (double)(k + 1) + 2.25 + (double)(-k) + 12 + /* 8 */
                  7.0 + 0.5 + 123456789012.0 + 1;              /* 12 */
    double got = va_mix(12, (int)k, 1.5, k * 1000, "hello", (int)(k + 1), 2.25,
                        -k, "hello, world", 7, 0.5, 123456789012L, "x");
    if (got != want)
        bad |= 1;

    struct big b = make_big(k);
    for (int i = 0; i < 10; i++)
        if (b.v[i] != k * (i + 1))
            bad |= 2;
    char s[24];
    snprintf(s, sizeof s, "big-%ld", k);
    if (b.d != (double)k + 0.25 || strcmp(b.s, s) != 0)
        bad |= 2;

    struct two_d td = make_two_d(k);
    if (td.a != (double)k * 0.5 || td.b != (double)k + 0.75)
        bad |= 4;
    struct two_l tl = make_two_l(k);
    if (tl.a != k * 1000003 || tl.b != ~k)
        bad |= 8;
    struct mixed mx = make_mixed(k);
    if (mx.a != k - 5 || mx.b != (double)k * 0.125)
        bad |= 16;
    return I2P(bad);
}

/* ---- running a batch of tasks ---- */

typedef struct batch {
    weft_fn fn;
    int n;
    weft_spawn_opts opts;
    long arg0; /* argument of task i: arg0 + i */
} batch;

/* Spawns them all, awaits them all; returns how many did not return 0 (or,
 * with want_one, 1). */
static int run_batch(const batch *b, bool want_one)
{
    weft_task *t[64];
    REQUIRE(b->n <= 64);
    for (int i = 0; i < b->n; i++)
        REQUIRE(weft_spawn_ex(b->fn, I2P(b->arg0 + i), &b->opts, &t[i]) == 0);
    int bad = 0;
    for (int i = 0; i < b->n; i++) {
        void *r = I2P(-1);
        int rc = weft_await(t[i], &r);
        if (rc != 0 || P2I(r) != (want_one ? 1 : 0))
            bad++;
    }
    return bad;
}

static void *main_registers(void *arg)
{
    (void)arg;
#if HAVE_PROBE
    batch probe = {.fn = probe_task, .n = 40};
    CHECK_EQ(run_batch(&probe, false), 0);
    /* Mixed with other work, and on stacks of other sizes. */
    probe.opts.stack_size = WEFT_STACK_MIN;
    probe.arg0 = 100;
    CHECK_EQ(run_batch(&probe, false), 0);
#endif
    batch c = {.fn = crunch_task, .n = 48};
    CHECK_EQ(run_batch(&c, false), 0);
    c.opts.flags = WEFT_SPAWN_EAGER;
    c.arg0 = 1000;
    CHECK_EQ(run_batch(&c, false), 0);
#if HAVE_COMPACT
    /* Compact tasks: each switch copies one frame out and the other in,
     * inside the switch (a deferred context, src/coro/ctx.h). */
#if HAVE_PROBE
    probe.opts = (weft_spawn_opts){.flags = WEFT_SPAWN_COMPACT};
    probe.arg0 = 200;
    CHECK_EQ(run_batch(&probe, false), 0);
#endif
    c.opts.flags = WEFT_SPAWN_COMPACT;
    c.arg0 = 2000;
    CHECK_EQ(run_batch(&c, false), 0);
#endif
    return NULL;
}

static void *main_stacks(void *arg)
{
    (void)arg;
    /* 64 KiB of locals on the default (128 KiB) stack, eight at a time. */
    batch deep = {.fn = recurse_task, .n = 8, .arg0 = 64};
    CHECK_EQ(run_batch(&deep, false), 0);
    /* 768 KiB on a 1 MiB stack. */
    batch big = {.fn = recurse_task,
                 .n = 2,
                 .arg0 = 768,
                 .opts = {.stack_size = 1024 * 1024}};
    CHECK_EQ(run_batch(&big, false), 0);
    /* A small function on the smallest stack. */
    batch small = {.fn = small_stack_task,
                   .n = 16,
                   .arg0 = 7,
                   .opts = {.stack_size = WEFT_STACK_MIN}};
    CHECK_EQ(run_batch(&small, true), 0);
    small.opts.flags = WEFT_SPAWN_EAGER;
    CHECK_EQ(run_batch(&small, true), 0);
#if HAVE_COMPACT
    /* 16 KiB of locals in each of four compact tasks, copied out and in
     * at every yield. */
    batch shared = {.fn = recurse_task,
                    .n = 4,
                    .arg0 = 16,
                    .opts = {.flags = WEFT_SPAWN_COMPACT}};
    CHECK_EQ(run_batch(&shared, false), 0);
#endif
    return NULL;
}

static void *main_abi(void *arg)
{
    (void)arg;
    batch b = {.fn = abi_task, .n = 32, .arg0 = 3};
    CHECK_EQ(run_batch(&b, false), 0);
    b.opts.flags = WEFT_SPAWN_EAGER;
    b.opts.stack_size = WEFT_STACK_MIN;
    CHECK_EQ(run_batch(&b, false), 0);
#if HAVE_COMPACT
    b.opts = (weft_spawn_opts){.flags = WEFT_SPAWN_COMPACT};
    CHECK_EQ(run_batch(&b, false), 0);
#endif
    return NULL;
}

static void case_switch_name(void *arg)
{
    (void)arg;
    /* The switch this build uses. */
    const char *sw = weft_switch_name();
    REQUIRE(sw != NULL);
#if defined(WEFT_CTX_UCONTEXT)
    CHECK(strcmp(sw, "ucontext") == 0);
#elif defined(__x86_64__)
    CHECK(strcmp(sw, "x86_64") == 0);
#elif defined(__aarch64__)
    CHECK(strcmp(sw, "aarch64") == 0);
#else
    CHECK(0); /* an assembly switch for an unknown architecture */
#endif
    printf("switch: %s\n", sw);
}

/* Loops started in each rounding mode. */
static void case_rounding_modes(void *arg)
{
    (void)arg;
    /* Reference results of 1.0/3.0 in each rounding mode. */
    for (int m = 0; m < 3; m++) {
        REQUIRE(fesetround(modes[m]) == 0);
        ref_div[m] = div13();
#if defined(__x86_64__)
        ref_ldiv[m] = ldiv13();
#endif
    }
    REQUIRE(fesetround(FE_TONEAREST) == 0);
    REQUIRE(ref_div[1] != ref_div[2]); /* upward and downward differ */
#if defined(__x86_64__)
    REQUIRE(ref_ldiv[1] != ref_ldiv[2]);
#endif

    /* Loops started in each mode; the caller's mode survives each run. */
    for (int m = 0; m < 3; m++) {
        REQUIRE(fesetround(modes[m]) == 0);
        CHECK_EQ(weft_run(fp_main, I2P(m), NULL), 0);
        CHECK_EQ(mode_wrong(m), 0);
    }
    REQUIRE(fesetround(FE_TONEAREST) == 0);
}

static const struct check_case_def cases[] = {
    CHECK_PLAIN("switch_name", case_switch_name, NULL),
    CHECK_TASK("registers", main_registers, NULL),
    CHECK_TASK("stacks", main_stacks, NULL),
    CHECK_TASK("abi", main_abi, NULL),
    CHECK_PLAIN("rounding_modes", case_rounding_modes, NULL),
};

int main(void)
{
    return CHECK_MAIN(cases);
}

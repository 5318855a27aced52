/*
 * ctx_aarch64.S - context switch for AArch64, AAPCS64.
 *
 * AAPCS64 makes x19-x28, the frame pointer x29, the link register x30, sp
 * and the low 64 bits of v8-v15 (d8-d15) callee-saved, plus FPCR (rounding
 * mode, flush-to-zero).  A suspended context is its stack holding, from the
 * saved stack pointer upwards (176 bytes, 16-byte aligned):
 *
 *      sp+0    x19 x20 x21 x22 x23 x24 x25 x26 x27 x28 x29 x30
 *      sp+96   d8 .. d15
 *      sp+160  FPCR, padding
 */
    .text

/* Stores the callee-saved registers and FPCR in the layout above and the
 * stack pointer in the context x0 points to (x9 is scratch): the save half
 * of a switch (weft__ctx_switch, weft__ctx_run_on). */
.macro SAVE_CONTEXT
    sub     sp, sp, #176
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]     /* x30: where this context resumes */
    stp     d8, d9, [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    mrs     x9, fpcr
    str     x9, [sp, #160]
    mov     x9, sp
    str     x9, [x0]
.endm

/* void weft__ctx_switch(weft__ctx *from, weft__ctx *to)
 *      x0 = from (its first word receives sp), x1 = to */
    .globl  weft__ctx_switch
    .hidden weft__ctx_switch
    .type   weft__ctx_switch, %function
    .p2align 4
weft__ctx_switch:
    .cfi_startproc
    SAVE_CONTEXT                    /* from->sp = sp */
    ldr     x9, [x1]
    tbnz    x9, #0, 2f              /* a deferred context: make it first */
1:  mov     sp, x9                  /* now on the other stack */
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    ldp     d8, d9, [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    ldr     x9, [sp, #160]
    msr     fpcr, x9
    add     sp, sp, #176
    ret                             /* branch to x30 */
    /* to->sp - 1 is a weft__ctx_maker (ctx.h): make(m, to) on its stack,
     * x1 still `to`; it returns the stack pointer to resume. */
2:  sub     x0, x9, #1
    ldr     x9, [x0]
    mov     sp, x9
    .cfi_undefined x30              /* on the maker's stack: outermost */
    ldr     x9, [x0, #8]
    blr     x9
    mov     x9, x0
    b       1b
    .cfi_endproc
    .size   weft__ctx_switch, .-weft__ctx_switch

/* void weft__ctx_make(weft__ctx *c, void *lo, size_t size,
 *                     void (*entry)(void *), void *arg)
 *      x0 = c, x1 = lo, x2 = size, x3 = entry, x4 = arg
 * Builds a frame that weft__ctx_switch resumes into weft__ctx_trampoline
 * (x30) with x19 = entry, x20 = arg, x29 = 0, and the current FPCR. */
    .globl  weft__ctx_make
    .hidden weft__ctx_make
    .type   weft__ctx_make, %function
    .p2align 4
weft__ctx_make:
    .cfi_startproc
    add     x9, x1, x2
    and     x9, x9, #~15            /* top of stack, aligned */
    sub     x9, x9, #176            /* the saved stack pointer */
    stp     xzr, xzr, [x9, #0]
    stp     xzr, xzr, [x9, #16]
    stp     xzr, xzr, [x9, #32]
    stp     xzr, xzr, [x9, #48]
    stp     xzr, xzr, [x9, #64]
    stp     xzr, xzr, [x9, #80]
    stp     xzr, xzr, [x9, #96]
    stp     xzr, xzr, [x9, #112]
    stp     xzr, xzr, [x9, #128]
    stp     xzr, xzr, [x9, #144]
    stp     xzr, xzr, [x9, #160]
    stp     x3, x4, [x9, #0]        /* x19 = entry, x20 = arg */
    adrp    x10, weft__ctx_trampoline
    add     x10, x10, :lo12:weft__ctx_trampoline
    str     x10, [x9, #88]          /* x30 = trampoline */
    mrs     x10, fpcr               /* inherit the creator's FPCR */
    str     x10, [x9, #160]
    str     x9, [x0]
    ret
    .cfi_endproc
    .size   weft__ctx_make, .-weft__ctx_make

/* void weft__ctx_enter(void *lo, size_t size, void (*entry)(void *),
 *                      void *arg)
 *      x0 = lo, x1 = size, x2 = entry, x3 = arg
 * The state weft__ctx_make's frame resumes with (sp = top, x29 = x30 = 0,
 * x19 = entry, x20 = arg), entered at once; nothing is saved. */
    .globl  weft__ctx_enter
    .hidden weft__ctx_enter
    .type   weft__ctx_enter, %function
    .p2align 4
weft__ctx_enter:
    .cfi_startproc
    add     x9, x0, x1
    and     x9, x9, #~15            /* top of stack, aligned */
    mov     sp, x9
    mov     x29, xzr
    mov     x30, xzr
    mov     x19, x2
    mov     x20, x3
    b       weft__ctx_trampoline
    .cfi_endproc
    .size   weft__ctx_enter, .-weft__ctx_enter

/* First code a new context runs: entry(arg), which never returns. */
    .type   weft__ctx_trampoline, %function
    .p2align 4
weft__ctx_trampoline:
    .cfi_startproc
    .cfi_undefined x30              /* outermost frame: debuggers stop here */
    mov     x0, x20
    blr     x19
    brk     #0                      /* entry returned: a bug, trap */
    .cfi_endproc
    .size   weft__ctx_trampoline, .-weft__ctx_trampoline

/* void weft__ctx_run_on(weft__ctx *back, void *sp, void *fp,
 *                       void (*fn)(void *), void *arg, void *lr)
 *      x0 = back, x1 = sp, x2 = fp, x3 = fn, x4 = arg, x5 = lr
 * Saves the current context in back, as weft__ctx_switch does, then enters
 * fn(arg) by a branch with sp, x29 = fp and x30 = lr: to an unwinder fn
 * looks called from lr.  (weft_dump_tasks passes the state in which a
 * suspended task entered weft__ctx_switch, and unwinds its stack from fn.)
 * fn must not return: it ends with weft__ctx_switch(scratch, back), which
 * resumes here and returns to our caller. */
    .globl  weft__ctx_run_on
    .hidden weft__ctx_run_on
    .type   weft__ctx_run_on, %function
    .p2align 4
weft__ctx_run_on:
    .cfi_startproc
    SAVE_CONTEXT                    /* back->sp, resumed by weft__ctx_switch */
    mov     sp, x1
    mov     x29, x2
    mov     x30, x5
    mov     x0, x4
    br      x3
    .cfi_endproc
    .size   weft__ctx_run_on, .-weft__ctx_run_on

    .section .note.GNU-stack,"",%progbits

/*
 * ctx_x86_64.S - context switch for x86-64, System V ABI.
 *
 * The System V ABI makes rbx, rbp, r12-r15 and rsp callee-saved, plus the
 * control bits of MXCSR and the x87 control word; everything else is the
 * caller's to save.  A suspended context is its stack holding, from the
 * saved stack pointer upwards:
 *
 *      sp+0    MXCSR (4 bytes), x87 control word (2 bytes), padding
 *      sp+8    r15, r14, r13, r12, rbx, rbp
 *      sp+56   return address
 *
 * Eight bytes for the control state, not sixteen: a saved context's size
 * is what a compact task pays to keep its frame (src/compact.c), and
 * nothing needs the saved stack pointer aligned.
 *
 * Only the context switch lives here; the assembly entry stubs of
 * weft_gen_next and weft_gen_yield are in src/gen_x86_64.S.
 */
    .text

/* Pushes the callee-saved registers and the floating-point control state
 * in the layout above and stores the stack pointer in the context rdi
 * points to: the save half of a switch (weft__ctx_switch,
 * weft__ctx_run_on). */
.macro SAVE_CONTEXT
    pushq   %rbp
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    subq    $8, %rsp
    stmxcsr (%rsp)              /* rounding mode, exception masks */
    fnstcw  4(%rsp)             /* x87 precision and rounding control */
    movq    %rsp, (%rdi)
.endm

/* void weft__ctx_switch(weft__ctx *from, weft__ctx *to)
 *      rdi = from (its first word receives the stack pointer)
 *      rsi = to   (its first word holds the stack pointer to resume) */
    .globl  weft__ctx_switch
    .hidden weft__ctx_switch
    .type   weft__ctx_switch, @function
    .p2align 4
weft__ctx_switch:
    .cfi_startproc
    SAVE_CONTEXT                /* from->sp = rsp */
    movq    (%rsi), %rax
    testb   $1, %al
    jnz     2f                  /* a deferred context: make it first */
1:  movq    %rax, %rsp          /* rsp = to->sp: now on the other stack */
    ldmxcsr (%rsp)
    fldcw   4(%rsp)
    addq    $8, %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    ret                         /* into the resumed context */
    /* to->sp - 1 is a weft__ctx_maker (ctx.h): make(m, to) on its stack,
     * rsi still `to`; it returns the stack pointer to resume. */
2:  leaq    -1(%rax), %rdi
    movq    (%rdi), %rsp
    .cfi_undefined rip          /* on the maker's stack: outermost */
    call    *8(%rdi)
    jmp     1b
    .cfi_endproc
    .size   weft__ctx_switch, .-weft__ctx_switch

/* void weft__ctx_make(weft__ctx *c, void *lo, size_t size,
 *                     void (*entry)(void *), void *arg)
 *      rdi = c, rsi = lo, rdx = size, rcx = entry, r8 = arg
 * Builds a frame that weft__ctx_switch resumes into weft__ctx_trampoline with
 * r12 = entry and r13 = arg, and the current floating-point control state.
 * top = (lo + size) & ~15; the frame is 80 bytes below it, so that after the
 * final `ret` rsp = top - 16, 16-byte aligned as a `call` requires. */
    .globl  weft__ctx_make
    .hidden weft__ctx_make
    .type   weft__ctx_make, @function
    .p2align 4
weft__ctx_make:
    .cfi_startproc
    leaq    (%rsi,%rdx), %rax
    andq    $-16, %rax          /* top of stack, aligned */
    leaq    -80(%rax), %r9      /* the saved stack pointer */
    movq    $0, 72(%r9)         /* top-8, top-16: padding, zero */
    movq    $0, 64(%r9)
    leaq    weft__ctx_trampoline(%rip), %r10
    movq    %r10, 56(%r9)       /* return address */
    movq    $0, 48(%r9)         /* rbp = 0 ends frame-pointer chains */
    movq    $0, 40(%r9)         /* rbx */
    movq    %rcx, 32(%r9)       /* r12 = entry */
    movq    %r8, 24(%r9)        /* r13 = arg */
    movq    $0, 16(%r9)         /* r14 */
    movq    $0, 8(%r9)          /* r15 */
    movq    $0, (%r9)
    stmxcsr (%r9)               /* inherit the creator's FP control state */
    fnstcw  4(%r9)
    movq    %r9, (%rdi)
    ret
    .cfi_endproc
    .size   weft__ctx_make, .-weft__ctx_make

/* void weft__ctx_enter(void *lo, size_t size, void (*entry)(void *),
 *                      void *arg)
 *      rdi = lo, rsi = size, rdx = entry, rcx = arg
 * The state weft__ctx_make's frame resumes with (rsp = top - 16, rbp = 0,
 * r12 = entry, r13 = arg), entered at once; nothing is saved. */
    .globl  weft__ctx_enter
    .hidden weft__ctx_enter
    .type   weft__ctx_enter, @function
    .p2align 4
weft__ctx_enter:
    .cfi_startproc
    leaq    (%rdi,%rsi), %rax
    andq    $-16, %rax          /* top of stack, aligned */
    leaq    -16(%rax), %rsp
    xorl    %ebp, %ebp
    movq    %rdx, %r12
    movq    %rcx, %r13
    jmp     weft__ctx_trampoline
    .cfi_endproc
    .size   weft__ctx_enter, .-weft__ctx_enter

/* First code a new context runs: entry(arg), which never returns. */
    .type   weft__ctx_trampoline, @function
    .p2align 4
weft__ctx_trampoline:
    .cfi_startproc
    .cfi_undefined rip          /* outermost frame: debuggers stop here */
    movq    %r13, %rdi
    call    *%r12
    ud2                         /* entry returned: a bug, fault loudly */
    .cfi_endproc
    .size   weft__ctx_trampoline, .-weft__ctx_trampoline

/* void weft__ctx_run_on(weft__ctx *back, void *sp, void *fp,
 *                       void (*fn)(void *), void *arg)
 *      rdi = back, rsi = sp, rdx = fp, rcx = fn, r8 = arg
 * Saves the current context in back, as weft__ctx_switch does, then enters
 * fn(arg) by a jump with the stack pointer at sp and rbp = fp: the word at
 * sp is fn's return address, so to an unwinder fn looks called from the
 * code that owns that word.  (weft_dump_tasks sets sp to where a suspended
 * task entered weft__ctx_switch, and unwinds the task's stack from fn.)
 * fn must not return: it ends with weft__ctx_switch(scratch, back), which
 * resumes here and returns to our caller. */
    .globl  weft__ctx_run_on
    .hidden weft__ctx_run_on
    .type   weft__ctx_run_on, @function
    .p2align 4
weft__ctx_run_on:
    .cfi_startproc
    SAVE_CONTEXT                /* back->sp, resumed by weft__ctx_switch */
    movq    %rsi, %rsp
    movq    %rdx, %rbp
    movq    %r8, %rdi
    jmp     *%rcx
    .cfi_endproc
    .size   weft__ctx_run_on, .-weft__ctx_run_on

    .section .note.GNU-stack,"",@progbits

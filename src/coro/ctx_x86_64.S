/*
 * ctx_x86_64.S - context switch for x86-64, System V ABI.
 *
 * The System V ABI makes rbx, rbp, r12-r15 and rsp callee-saved, plus the
 * control bits of MXCSR and the x87 control word; everything else is the
 * caller's to save.  A suspended context is its stack holding, from the
 * saved stack pointer upwards:
 *
 *      sp+0    MXCSR (4 bytes), x87 control word (2 bytes), padding
 *      sp+16   r15, r14, r13, r12, rbx, rbp
 *      sp+64   return address
 */
    .text

/* void weft__ctx_switch(weft__ctx *from, weft__ctx *to)
 *      rdi = from (its first word receives the stack pointer)
 *      rsi = to   (its first word holds the stack pointer to resume) */
    .globl  weft__ctx_switch
    .hidden weft__ctx_switch
    .type   weft__ctx_switch, @function
    .p2align 4
weft__ctx_switch:
    .cfi_startproc
    pushq   %rbp
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    subq    $16, %rsp
    stmxcsr (%rsp)              /* rounding mode, exception masks */
    fnstcw  4(%rsp)             /* x87 precision and rounding control */
    movq    %rsp, (%rdi)        /* from->sp = rsp */
    movq    (%rsi), %rsp        /* rsp = to->sp: now on the other stack */
    ldmxcsr (%rsp)
    fldcw   4(%rsp)
    addq    $16, %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    ret                         /* into the resumed context */
    .cfi_endproc
    .size   weft__ctx_switch, .-weft__ctx_switch

/* void weft__ctx_make(weft__ctx *c, void *lo, size_t size,
 *                     void (*entry)(void *), void *arg)
 *      rdi = c, rsi = lo, rdx = size, rcx = entry, r8 = arg
 * Builds a frame that weft__ctx_switch resumes into weft__ctx_trampoline with
 * r12 = entry and r13 = arg, and the current floating-point control state.
 * top = (lo + size) & ~15; the frame is 88 bytes below it, so that after the
 * final `ret` rsp = top - 16, 16-byte aligned as a `call` requires. */
    .globl  weft__ctx_make
    .hidden weft__ctx_make
    .type   weft__ctx_make, @function
    .p2align 4
weft__ctx_make:
    .cfi_startproc
    leaq    (%rsi,%rdx), %rax
    andq    $-16, %rax          /* top of stack, aligned */
    leaq    -88(%rax), %r9      /* the saved stack pointer */
    movq    $0, 80(%r9)         /* top-8, top-16: padding, zero */
    movq    $0, 72(%r9)
    leaq    weft__ctx_trampoline(%rip), %r10
    movq    %r10, 64(%r9)       /* return address */
    movq    $0, 56(%r9)         /* rbp = 0 ends frame-pointer chains */
    movq    $0, 48(%r9)         /* rbx */
    movq    %rcx, 40(%r9)       /* r12 = entry */
    movq    %r8, 32(%r9)        /* r13 = arg */
    movq    $0, 24(%r9)         /* r14 */
    movq    $0, 16(%r9)         /* r15 */
    movq    $0, 8(%r9)
    stmxcsr (%r9)               /* inherit the creator's FP control state */
    fnstcw  4(%r9)
    movq    %r9, (%rdi)
    ret
    .cfi_endproc
    .size   weft__ctx_make, .-weft__ctx_make

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

#if !defined(WEFT_SANITIZE_ADDRESS) && !defined(WEFT_SANITIZE_THREAD)
/* int weft_gen_next(weft_gen *gen, void **value)     rdi, rsi
 * int weft_gen_yield(void *value)                    rdi
 * Both enter weft__gen_entry, which calls weft__gen_call (src/gen.c) from
 * one call site and returns to its caller with an indirect jump.  Why: the
 * generator's two sides switch stacks inside weft__gen_call, so the
 * return-stack predictor, filled by the other side, would mispredict a
 * `ret` into the caller on every switch; the indirect-branch predictor
 * learns the alternation instead.  (The return-stack entry of the
 * caller's call is left unused; it ages out of the predictor.) */
    .globl  weft_gen_next
    .type   weft_gen_next, @function
    .p2align 4
weft_gen_next:
    .cfi_startproc
    xorl    %edx, %edx              /* role 0: the consumer */
    jmp     weft__gen_entry
    .cfi_endproc
    .size   weft_gen_next, .-weft_gen_next

    .globl  weft_gen_yield
    .type   weft_gen_yield, @function
    .p2align 4
weft_gen_yield:
    .cfi_startproc
    movl    $1, %edx                /* role 1: the producer */
    jmp     weft__gen_entry
    .cfi_endproc
    .size   weft_gen_yield, .-weft_gen_yield

    .type   weft__gen_entry, @function
    .p2align 4
weft__gen_entry:
    .cfi_startproc
    popq    %rax                    /* the caller's return address */
    .cfi_adjust_cfa_offset -8
    .cfi_register rip, rax
    pushq   %rbx                    /* rbx is callee-saved: keep the caller's */
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbx, 0
    movq    %rax, %rbx              /* and carry the return address in it */
    .cfi_register rip, rbx
    subq    $8, %rsp                /* 16-byte alignment for the call */
    .cfi_adjust_cfa_offset 8
    call    weft__gen_call          /* may switch stacks and come back */
    addq    $8, %rsp
    .cfi_adjust_cfa_offset -8
    movq    %rbx, %rcx
    .cfi_register rip, rcx
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    .cfi_restore rbx
    jmp     *%rcx                   /* back to the caller, eax = result */
    .cfi_endproc
    .size   weft__gen_entry, .-weft__gen_entry
#endif

    .section .note.GNU-stack,"",@progbits

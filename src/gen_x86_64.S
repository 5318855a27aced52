/*
 * gen_x86_64.S - entry stubs of the async generator calls for x86-64,
 * System V ABI: weft_gen_next and weft_gen_yield (declared in
 * include/weft/gen.h).
 *
 * They are not a context switch (that is src/coro/ctx_x86_64.S): each stub
 * puts a role in edx (0: next, the consumer; 1: yield, the producer) and
 * enters weft__gen_entry, which calls
 *
 *     int weft__gen_call(void *a, void *b, int role)     (src/gen.c, hidden)
 *
 * with the caller's rdi and rsi untouched (a = gen, b = value for next;
 * a = value for yield), and returns its eax to the stub's caller.  To the
 * caller they are ordinary functions with the prototypes of gen.h: rbx is
 * preserved (the return address is carried in it across the call), every
 * other register follows the System V rules, and the stack is 16-byte
 * aligned at the call into C.  The CFI describes each step, so that
 * debuggers and unwinders can walk through them.
 *
 * Built under exactly the condition with which src/gen.c leaves these two
 * functions to assembly: x86-64, the assembly context switch (not
 * WEFT_CTX_UCONTEXT) and no sanitizer (WEFT_SANITIZE_ADDRESS or
 * WEFT_SANITIZE_THREAD); ucontext, sanitizer and AArch64 builds keep gen.c's
 * C entry points.  CMakeLists.txt assembles this file under that condition;
 * the guard below repeats it, so that the stubs can never clash with the C
 * definitions.
 */
    .text

#if defined(__x86_64__) && !defined(WEFT_CTX_UCONTEXT) &&                  \
    !defined(WEFT_SANITIZE_ADDRESS) && !defined(WEFT_SANITIZE_THREAD)
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

/*
 * inbox.h - a loop's handle (weft_loop) and its inbox: the one way in for
 * other threads and other loops.
 *
 * The handle outlives its loop (reference-counted, freed with its last
 * reference).  The inbox is a lock-free stack (a push is one
 * compare-and-swap); the loop takes it whole with one exchange at the start
 * of a turn and reverses it, so messages are handled in the order they
 * were posted (one relaxed load of `head` is the whole cost to a turn when
 * nothing came).  A poster writes the loop's eventfd only when the loop
 * said it is about to sleep (`sleeping`, seq_cst on both sides: either the
 * poster sees the flag or the loop sees the message), and only the first
 * poster per sleep, so a burst of submissions costs one wake-up.
 *
 * Who may post what: work (RUN, CALL) only while the loop is open; CANCEL
 * and DONE (the second half of work already accepted) until it has closed
 * - a closing loop still waits for its remote calls.  A poster counts
 * itself in `posters` before it reads the state (seq_cst), and the loop,
 * after it changes the state, waits for `posters` to reach zero before it
 * relies on the change: so no message lands after the loop stopped taking
 * that kind, and no eventfd write comes after the backend closed.
 */
#ifndef WEFT_INBOX_H
#define WEFT_INBOX_H

#include "core.h"

#include <stdatomic.h>

enum {
    WEFT__MSG_RUN,    /* weft_call_soon: a weft__run */
    WEFT__MSG_CALL,   /* weft_submit, weft_spawn_on: start a weft__call */
    WEFT__MSG_CANCEL, /* cancel a weft__call's task */
    WEFT__MSG_DONE,   /* a weft__call's remote task finished: tell its caller */
};

typedef struct weft__msg weft__msg;
struct weft__msg {
    weft__msg *next;
    uint8_t kind; /* WEFT__MSG_* */
};

enum { WEFT__LOOP_OPEN, WEFT__LOOP_CLOSING, WEFT__LOOP_CLOSED };


struct weft_loop {
    /* What users hold (weft_loop_current): an entry of the handle table
     * (handle.h) naming this object, revoked when the object is freed, so
     * a released or made-up handle is never dereferenced. */
    weft_loop *user;
    atomic_uint refs;  /* every reference, the loop's own while not closed */
    atomic_uint users; /* references taken by users (a wake source) */
    atomic_int state;  /* WEFT__LOOP_* */
    atomic_int posters; /* threads inside weft__inbox_post */
    atomic_int sleeping; /* the loop is about to block in its poller */
    weft__backend *backend; /* until CLOSED */
    /* The loop itself, for identity checks only (compared, never followed
     * from another thread); NULL once closed. */
    weft__loop *L;
    /* Apart from the fields above (a cache line away), which posters only
     * read while the loop runs. */
    char pad_[64];
    _Atomic(weft__msg *) head; /* newest first */
    /* weft_call_soon's messages are carved from slabs (inbox.c): the
     * posters' current one, under slab_lock (posters only). */
    char pad2_[64];
    atomic_flag slab_lock;
    struct weft__run_slab *slab;
    unsigned slab_used;
};

/* The handle of L, created (with its service) on first use; NULL if out of
 * memory.  Loop thread.  The reference is the loop's own. */
weft_loop *weft__loop_handle(weft__loop *L);

/* The object behind a user's handle, or NULL if h is not a live one
 * (-EINVAL for the caller).  A handle the caller holds a reference to
 * stays live. */
weft_loop *weft__loop_resolve(weft_loop *h);

/* Internal references (memory only, no wake source).  Any thread. */
void weft__loop_hold(weft_loop *h);
void weft__loop_drop(weft_loop *h);

/* Appends m to h's inbox.  0, 1 (the loop was asleep: this post woke it,
 * a round trip will take a wake-up or two), or -ESHUTDOWN: work to a loop
 * not open, CANCEL/DONE to a closed one (m was not taken).  Any thread. */
int weft__inbox_post(weft_loop *h, weft__msg *m);

/* Is h the loop running on this thread?  Any thread. */
static inline bool weft__loop_is_here(weft_loop *h)
{
    weft__loop *L = weft__tls_loop;
    return L && __atomic_load_n(&h->L, __ATOMIC_RELAXED) == L;
}

/* ---- call.c: what the inbox hands to calls ---- */
/* The message handlers of call.c, on the receiving loop's thread: start a
 * weft__call's task (if it cannot start, the call is completed with the
 * error), cancel it, or finish the caller's stand-in. */
void weft__call_start(weft__loop *L, weft__msg *m);
void weft__call_cancel(weft__loop *L, weft__msg *m);
void weft__call_done(weft__loop *L, weft__msg *m);
/* A CANCEL or DONE message the loop will never handle (it closed). */
void weft__call_discard(weft__msg *m);

#endif

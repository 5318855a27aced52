//! Tokio's side of bench_sleep: N tasks each sleeping SLEEP_SECONDS on a
//! current_thread runtime, all awaited in order, measured as bench_sleep
//! measures weft.
//!
//! Usage: peer_tokio_sleep N SLEEP_SECONDS
//!
//! Prints one line:
//!   overhead_s=%.4f start_s=%.4f rss_per_task=%.1f minflt=%ld vmpte_kb=%ld
//! overhead_s   wall time from the first spawn to the last await, minus the
//!              sleep;
//! start_s      time from the first spawn until every task has started its
//!              sleep (the main task yields until they all have);
//! rss_per_task resident memory (/proc/self/statm) once all are asleep,
//!              minus just before the first spawn, divided by N (the handle
//!              array is allocated and written before the first reading);
//! minflt       minor faults (ru_minflt) from the first spawn to the last
//!              await, in total;
//! vmpte_kb     VmPTE (/proc/self/status) while all are asleep.
//! Exits 1 with a message on stderr if anything fails.

use std::process::exit;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

static STARTED: AtomicUsize = AtomicUsize::new(0);
static EARLY: AtomicUsize = AtomicUsize::new(0);

extern "C" {
    fn sysconf(name: i32) -> i64;
    // struct rusage on 64-bit Linux: two struct timeval, then 14 longs.
    fn getrusage(who: i32, usage: *mut [i64; 18]) -> i32;
}
const SC_PAGESIZE: i32 = 30;
const RUSAGE_SELF: i32 = 0;

fn fail(msg: String) -> ! {
    eprintln!("peer_tokio_sleep: {msg}");
    exit(1)
}

fn rss() -> i64 {
    let s = std::fs::read_to_string("/proc/self/statm")
        .unwrap_or_else(|e| fail(format!("/proc/self/statm: {e}")));
    let resident: i64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| fail("/proc/self/statm: no resident field".into()));
    resident * unsafe { sysconf(SC_PAGESIZE) }
}

fn status_kb(field: &str) -> i64 {
    let s = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_else(|e| fail(format!("/proc/self/status: {e}")));
    for line in s.lines() {
        if let Some(rest) = line.strip_prefix(field).and_then(|r| r.strip_prefix(':')) {
            if let Some(v) = rest.split_whitespace().next().and_then(|v| v.parse().ok()) {
                return v;
            }
        }
    }
    fail(format!("/proc/self/status: no {field}"))
}

fn minflt() -> i64 {
    let mut ru = [0i64; 18];
    if unsafe { getrusage(RUSAGE_SELF, &mut ru) } != 0 {
        fail("getrusage failed".into());
    }
    ru[8] // ru_minflt: after 2 timevals (4 words) and maxrss, ixrss, idrss, isrss
}

async fn sleeper(i: usize, d: Duration) -> usize {
    STARTED.fetch_add(1, Relaxed);
    let t0 = Instant::now();
    tokio::time::sleep(d).await;
    if t0.elapsed() < d {
        EARLY.fetch_add(1, Relaxed);
    }
    i
}

async fn run(n: usize, d: Duration) -> String {
    let mut h: Vec<JoinHandle<usize>> = Vec::with_capacity(n);
    // Fault the handle array in before the first reading, as bench_sleep does.
    {
        let spare = h.spare_capacity_mut();
        unsafe { std::ptr::write_bytes(spare.as_mut_ptr(), 0, spare.len()) };
    }
    let rss0 = rss();
    let flt0 = minflt();

    let t_spawn = Instant::now();
    for i in 0..n {
        h.push(tokio::spawn(sleeper(i, d)));
    }
    // Yield until every task has started its sleep; give up after a few
    // turns in a row without progress.
    let mut idle = 0;
    let mut last = STARTED.load(Relaxed);
    while last < n && idle < 8 {
        tokio::task::yield_now().await;
        let now = STARTED.load(Relaxed);
        idle = if now == last { idle + 1 } else { 0 };
        last = now;
    }
    if last < n {
        fail(format!("only {last} of {n} tasks got to sleep"));
    }
    let t_asleep = Instant::now();
    let rss1 = rss();
    let pte1 = status_kb("VmPTE");

    let mut ok = true;
    for (i, jh) in h.into_iter().enumerate() {
        match jh.await {
            Ok(r) => ok &= r == i,
            Err(e) => fail(format!("task #{i}: {e}")),
        }
    }
    let t_done = Instant::now();
    let flt1 = minflt();
    if !ok {
        fail("wrong results".into());
    }
    let early = EARLY.load(Relaxed);
    if early != 0 {
        fail(format!("{early} tasks woke before {} s", d.as_secs_f64()));
    }
    format!(
        "overhead_s={:.4} start_s={:.4} rss_per_task={:.1} minflt={} vmpte_kb={}",
        (t_done - t_spawn).as_secs_f64() - d.as_secs_f64(),
        (t_asleep - t_spawn).as_secs_f64(),
        (rss1 - rss0) as f64 / n as f64,
        flt1 - flt0,
        pte1
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        fail("usage: peer_tokio_sleep N SLEEP_SECONDS".into());
    }
    let n: usize = match args[1].parse() {
        Ok(v) if v > 0 => v,
        _ => fail(format!("bad N: {}", args[1])),
    };
    let secs: f64 = match args[2].parse() {
        Ok(v) if v >= 0.0 && f64::is_finite(v) => v,
        _ => fail(format!("bad SLEEP_SECONDS: {}", args[2])),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap_or_else(|e| fail(format!("runtime: {e}")));
    let line = rt.block_on(run(n, Duration::from_secs_f64(secs)));
    println!("{line}");
}

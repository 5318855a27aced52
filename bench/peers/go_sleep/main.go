// Go's side of bench_sleep: N goroutines each sleeping SLEEP_SECONDS with
// GOMAXPROCS=1, all waited for, measured as bench_sleep measures weft.
//
// Usage: peer_go_sleep N SLEEP_SECONDS
//
// Prints one line:
//
//	overhead_s=%.4f start_s=%.4f rss_per_task=%.1f minflt=%ld vmpte_kb=%ld
//
// overhead_s is the wall time from the first spawn until all have finished
// and their results are checked, minus the sleep; start_s the time from the
// first spawn until every goroutine has started its sleep (the main
// goroutine yields until they all have); rss_per_task the resident memory
// (/proc/self/statm) once all are asleep minus just before the first spawn,
// divided by N (the results array is allocated and written before the
// first reading); minflt the minor faults (ru_minflt) from the first spawn
// to the last result, in total; vmpte_kb VmPTE (/proc/self/status) while
// all are asleep.  Exits 1 with a message on stderr if anything fails.
//
// Each goroutine writes its index into its own slot of a results array and
// signals a sync.WaitGroup: Go has no join handle, and a channel per
// goroutine would charge it memory an idiomatic program does not spend.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "peer_go_sleep: "+format+"\n", a...)
	os.Exit(1)
}

func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		fail("/proc/self/statm: %v", err)
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		fail("/proc/self/statm: no resident field")
	}
	v, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		fail("/proc/self/statm: %v", err)
	}
	return v * int64(os.Getpagesize())
}

func statusKB(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fail("/proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line[len(field)+1:])
			if len(f) > 0 {
				if v, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return v
				}
			}
		}
	}
	fail("/proc/self/status: no %s", field)
	return -1
}

func minflt() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fail("getrusage: %v", err)
	}
	return ru.Minflt
}

func main() {
	runtime.GOMAXPROCS(1)
	if len(os.Args) != 3 {
		fail("usage: peer_go_sleep N SLEEP_SECONDS")
	}
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n <= 0 {
		fail("bad N: %s", os.Args[1])
	}
	secs, err := strconv.ParseFloat(os.Args[2], 64)
	if err != nil || secs < 0 || secs > 1e6 {
		fail("bad SLEEP_SECONDS: %s", os.Args[2])
	}
	d := time.Duration(secs * 1e9)

	var started, early int64
	var wg sync.WaitGroup
	results := make([]int, n)
	for i := range results { // fault it in before the first reading
		results[i] = -1
	}
	rss0 := rss()
	flt0 := minflt()

	tSpawn := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			atomic.AddInt64(&started, 1)
			t0 := time.Now()
			time.Sleep(d)
			if time.Since(t0) < d {
				atomic.AddInt64(&early, 1)
			}
			results[i] = i
			wg.Done()
		}(i)
	}
	// Yield until every goroutine has started its sleep; give up after a
	// few turns in a row without progress.
	last := atomic.LoadInt64(&started)
	for idle := 0; last < int64(n) && idle < 8; {
		runtime.Gosched()
		now := atomic.LoadInt64(&started)
		if now == last {
			idle++
		} else {
			idle = 0
		}
		last = now
	}
	if last < int64(n) {
		fail("only %d of %d goroutines got to sleep", last, n)
	}
	tAsleep := time.Now()
	rss1 := rss()
	pte1 := statusKB("VmPTE")

	wg.Wait()
	for i, r := range results {
		if r != i {
			fail("goroutine #%d: result %d", i, r)
		}
	}
	tDone := time.Now()
	flt1 := minflt()
	if e := atomic.LoadInt64(&early); e != 0 {
		fail("%d goroutines woke before %g s", e, secs)
	}
	fmt.Printf("overhead_s=%.4f start_s=%.4f rss_per_task=%.1f minflt=%d vmpte_kb=%d\n",
		tDone.Sub(tSpawn).Seconds()-secs, tAsleep.Sub(tSpawn).Seconds(),
		float64(rss1-rss0)/float64(n), flt1-flt0, pte1)
}

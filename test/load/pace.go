package main

import (
	"runtime"
	"time"
)

// pace calls send(i, due) for i in 0..n-1, the i-th when start +
// i*interval is due and never before; a call that falls behind (the
// machine stalled) is made at once, so the calls catch up and the
// lateness counts in what send times from due.
//
// It waits on a thread of its own, in sleepUntil. time.Sleep waits in the
// runtime's network poller, whose timeout is whole milliseconds: a request
// due every 2 ms went out 0.5 ms late at the median and 1.2 ms late at
// p99, the load tool's own lateness, which counted in every latency timed
// from when the request was due, the floor's and microguard's alike.
func pace(n int, start time.Time, interval time.Duration, send func(i int, due time.Time)) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		sleepUntil(due)
		send(i, due)
	}
}

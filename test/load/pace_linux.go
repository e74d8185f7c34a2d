package main

import (
	"syscall"
	"time"
)

// sleepUntil blocks the calling thread in nanosleep until t. A signal (the
// runtime preempts with SIGURG) ends nanosleep early with EINTR: it sleeps
// again for what is left.
func sleepUntil(t time.Time) {
	for {
		d := time.Until(t)
		if d <= 0 {
			return
		}
		ts := syscall.NsecToTimespec(int64(d))
		_ = syscall.Nanosleep(&ts, nil)
	}
}

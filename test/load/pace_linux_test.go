package main

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// A signal to the sleeping thread ends nanosleep early (EINTR, whatever
// SA_RESTART says); sleepUntil sleeps again and returns no earlier than
// asked. The runtime's own preemption signal, SIGURG, is the one that
// reaches a thread of the load tool.
func TestSleepUntilOutlastsSignals(t *testing.T) {
	tid := make(chan int)
	woke := make(chan time.Duration)
	until := time.Now().Add(100 * time.Millisecond)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tid <- syscall.Gettid()
		sleepUntil(until)
		woke <- time.Until(until)
	}()
	id := <-tid
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	sent := 0
	for {
		select {
		case early := <-woke:
			if early > 0 {
				t.Fatalf("woke %v early, after %d signals", early, sent)
			}
			if sent == 0 {
				t.Fatal("no signal was sent during the sleep")
			}
			return
		case <-tick.C:
			if err := syscall.Tgkill(syscall.Getpid(), id, syscall.SIGURG); err == nil {
				sent++
			}
		}
	}
}

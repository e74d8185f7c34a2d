package main

import (
	"slices"
	"testing"
	"time"
)

// pace calls send once for each request, in order, with the time it was
// due and never before, and catches up after a call that overran.
func TestPace(t *testing.T) {
	start := time.Now().Add(5 * time.Millisecond)
	var got []int
	pace(20, start, time.Millisecond, func(i int, due time.Time) {
		if now := time.Now(); now.Before(due) {
			t.Errorf("call %d made %v before it was due", i, due.Sub(now))
		}
		if want := start.Add(time.Duration(i) * time.Millisecond); !due.Equal(want) {
			t.Errorf("call %d due at %v, want %v", i, due.Sub(start), want.Sub(start))
		}
		got = append(got, i)
		if i == 3 {
			// An overrun: the calls after it are due already and are
			// made at once.
			time.Sleep(10 * time.Millisecond)
		}
	})
	want := make([]int, 20)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(got, want) {
		t.Errorf("calls %v, want %v", got, want)
	}
}

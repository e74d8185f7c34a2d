//go:build !linux

package main

import "time"

// sleepUntil is time.Sleep where nanosleep is not at hand (see pace).
func sleepUntil(t time.Time) {
	for d := time.Until(t); d > 0; d = time.Until(t) {
		time.Sleep(d)
	}
}

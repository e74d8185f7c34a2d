package localcluster

import (
	"os"
	"testing"
	"time"
)

// CPUSeconds reads a process's CPU time: it grows while the process works,
// and a process that does not exist is an error.
func TestCPUSeconds(t *testing.T) {
	before, err := CPUSeconds(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Work until the kernel has counted at least two of its 10 ms ticks.
	var after float64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		x := 0
		for i := range 1_000_000 {
			x += i * i
		}
		_ = x
		if after, err = CPUSeconds(os.Getpid()); err != nil {
			t.Fatal(err)
		}
		if after-before >= 0.02 {
			break
		}
	}
	if after-before < 0.02 {
		t.Fatalf("CPU time went from %.2f s to %.2f s after 10 s of work", before, after)
	}
	if _, err := CPUSeconds(1 << 30); err == nil {
		t.Error("no error for a process that does not exist")
	}
}

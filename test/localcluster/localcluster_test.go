package localcluster

import (
	"net"
	"os"
	"slices"
	"strconv"
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

// freePortsBut gives distinct ports that can be listened on, none of those
// it is told to leave out: a restarted microguard keeps its webhook port,
// which is free at that moment, and its health and metrics ports must not
// be it (an e2e run once failed with "address already in use" so).
func TestFreePortsBut(t *testing.T) {
	webhook, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	ports, err := freePortsBut(32, webhook)
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != 32 {
		t.Fatalf("%d ports, want 32", len(ports))
	}
	if slices.Contains(ports, webhook) {
		t.Errorf("ports %v include %d, which was to be left out", ports, webhook)
	}
	sorted := slices.Sorted(slices.Values(ports))
	if len(slices.Compact(sorted)) != len(ports) {
		t.Errorf("ports %v are not distinct", ports)
	}
	for _, p := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d is not free: %v", p, err)
		}
		l.Close()
	}
}

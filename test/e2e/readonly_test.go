package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/microguard/microguard/test/rofs"
)

// TestMicroguardRunsOnAReadOnlyRoot: every e2e test meets a microguard that
// runs as the chart's pod runs it (localcluster's ReadOnlyRoot): where it
// sees its files (through /proc/PID/root, in its own mount namespace) the
// root filesystem, /tmp, this test's directory and the one with its binary
// and config refuse a write, and its decision log's directory takes one.
func TestMicroguardRunsOnAReadOnlyRoot(t *testing.T) {
	root := fmt.Sprintf("/proc/%d/root", cluster.Pid())
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"/", "/tmp", here, filepath.Dir(microguardBin)} {
		if err := rofs.Writable(filepath.Join(root, dir)); !errors.Is(err, syscall.EROFS) {
			t.Errorf("a write to microguard's %s: %v, want a read-only filesystem", dir, err)
		}
	}
	if err := rofs.Writable(filepath.Join(root, filepath.Dir(decisionLogPath))); err != nil {
		t.Errorf("a write to microguard's decision log directory: %v", err)
	}
}

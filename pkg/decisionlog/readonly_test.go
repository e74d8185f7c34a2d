//go:build linux

package decisionlog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/microguard/microguard/test/rofs"
)

// readOnlyChild names the environment variable that tells the test binary
// it is the child of TestCommitsOnAReadOnlyRootFilesystem, and where its
// decision log goes.
const readOnlyChild = "MICROGUARD_TEST_READ_ONLY_ROOT"

// TestCommitsOnAReadOnlyRootFilesystem runs a decision log as the chart's
// pod does: the root filesystem read-only (so is /tmp; the distroless image
// has no other temporary directory, and the pod no TMPDIR) and the log's own
// volume the one writable place. A group commit of more records than one INSERT holds runs several
// statements in one transaction, and SQLite keeps their statement journal
// in a temporary file once it grows: without a temporary directory that
// failed with "disk I/O error (6410)" and refused every request of the
// batch. The test reruns itself in a mount namespace of its own where
// every mount but the log's is read-only (package rofs).
func TestCommitsOnAReadOnlyRootFilesystem(t *testing.T) {
	if dir := os.Getenv(readOnlyChild); dir != "" {
		if err := rofs.Apply(dir); err != nil {
			t.Fatal(err)
		}
		commitBigBatches(t, dir)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCommitsOnAReadOnlyRootFilesystem$", "-test.v", "-test.count=1")
	cmd.Env = append(rofs.Environ(), readOnlyChild+"="+t.TempDir())
	attr, err := rofs.Attr()
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = attr
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("no mount namespace of its own for the test (it needs root, or user namespaces): %v", err)
	}
	if err != nil || !strings.Contains(string(out), "--- PASS: TestCommitsOnAReadOnlyRootFilesystem") {
		t.Fatalf("on a read-only root filesystem: %v\n%s", err, out)
	}
}

// commitBigBatches commits group commits of MaxBatch's default (512
// records, eight INSERTs in one transaction) through the store, then a
// burst of concurrent records through the log, and exports and verifies the
// burst.
func commitBigBatches(t *testing.T, dir string) {
	ctx := context.Background()
	l := openLog(t, dir, Options{Replica: "r"})
	defer l.Close()
	big := strings.Repeat("x", 2048)
	const batches, batch, burst = 2, 8 * perStmt, 512
	for b := range batches {
		rows := make([]row, batch)
		for i := range rows {
			r := record(i, false, "bulk")
			r.Replica, r.Seq, r.Time = fmt.Sprintf("bulk-%d", b), int64(i+1), "2026-11-30T00:00:00.000000000Z"
			rows[i] = row{r, []byte(`{"padding":"` + big + `"}`)}
		}
		if err := l.store.insert(ctx, rows); err != nil {
			t.Fatalf("a group commit of %d records: %v", len(rows), err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, burst)
	for i := range burst {
		wg.Go(func() {
			r := record(i, i%2 == 0, "shop")
			if !r.Allowed {
				r.Violations[0].Message = big
			}
			if err := l.Append(r); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a record of the burst was not committed: %v", err)
	}
	var n int
	if err := l.store.db.QueryRowContext(ctx, `SELECT count(*) FROM microguard_decisions`).Scan(&n); err != nil || n != batches*batch+burst {
		t.Fatalf("%d records stored (%v), want %d", n, err, batches*batch+burst)
	}
	out := export(t, l.Store(), Filter{Namespace: "shop"})
	if got := strings.Count(out, `"uid":`); got != burst {
		t.Fatalf("the export holds %d records, want the burst's %d", got, burst)
	}
	if rep := verify(t, out, nil); !rep.OK() {
		t.Fatalf("the burst's records do not verify: %+v", rep)
	}
}

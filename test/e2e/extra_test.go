package e2e

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/microguard/microguard/test/localcluster"
)

// startExtra starts another microguard against the cluster on a free port
// (localcluster's StartExtra: the cluster's certificate and config, then
// args), gives it a minute to get ready, and stops it when the test ends:
// SIGTERM, then SIGKILL after 15 s, with its log in the test's output if the
// test failed. A test may stop it itself before.
func startExtra(t *testing.T, logName string, args ...string) *localcluster.Process {
	t.Helper()
	return startExtraWith(t, localcluster.Extra{Log: logName}, args...)
}

// startExtraWith is startExtra for e (its Log and Env; the port is a free
// one).
func startExtraWith(t *testing.T, e localcluster.Extra, args ...string) *localcluster.Process {
	t.Helper()
	logName := e.Log
	var err error
	if e.Port, err = localcluster.FreePort(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := cluster.StartExtra(ctx, e, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.Done():
		case <-time.After(15 * time.Second):
			_ = p.Cmd.Process.Kill()
			<-p.Done()
		}
		if t.Failed() {
			log, _ := os.ReadFile(p.Log)
			t.Logf("%s:\n%s", logName, log)
		}
	})
	return p
}

package decisionlog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func record(i int, allowed bool, ns string) *Record {
	r := &Record{
		UID: fmt.Sprintf("uid-%04d", i), Webhook: "validate", Operation: "CREATE",
		Kind:     Kind{Version: "v1", Kind: "Pod"},
		Resource: Resource{Version: "v1", Resource: "pods"}, Namespace: ns, Name: fmt.Sprintf("pod-%d", i),
		User: User{Username: "ana", Groups: []string{"dev"}}, Allowed: allowed, LatencyMs: 1.25,
		Bundle: Bundle{Revision: "rev", Config: "sha256:cfg"},
	}
	if !allowed {
		r.Violations = []Violation{{Policy: "owner-labels", Rule: "missing-label", Action: "deny", Message: "no owner", Field: "metadata.labels.owner"}}
	}
	return r
}

func openLog(t *testing.T, target string, o Options) *Log {
	t.Helper()
	l, err := Open(context.Background(), target, o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func export(t *testing.T, s *Store, f Filter) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := ExportJSONL(context.Background(), s, f, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func verify(t *testing.T, export string, pub ed25519.PublicKey) *Report {
	t.Helper()
	rep, err := VerifyJSONL(strings.NewReader(export), pub)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestChainSurvivesRestartAndVerifies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	l := openLog(t, path, Options{Replica: "r1", SigningKey: priv})
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Append(record(i, i%3 != 0, "shop")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// A restart continues the chain.
	l = openLog(t, path, Options{Replica: "r1", SigningKey: priv})
	if err := l.Append(record(200, true, "shop")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	exp := export(t, s, Filter{})
	rep := verify(t, exp, pub)
	if !rep.OK() || rep.Records != 201 || rep.Signed != 2 {
		t.Fatalf("report %+v, problems %v", rep, rep.Problems)
	}
	uids := map[string]bool{}
	for _, line := range strings.Split(exp, "\n") {
		if i := strings.Index(line, `"uid":"`); i >= 0 {
			uids[line[i+7:i+15]] = true
		}
	}
	if len(uids) != 201 {
		t.Errorf("%d distinct uids exported, want 201", len(uids))
	}
}

// TestVerifyFindsTampering edits, removes, reorders and truncates a good
// export and checks that verify names the first bad record each time.
func TestVerifyFindsTampering(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	l := openLog(t, path, Options{Replica: "r1", SigningKey: priv})
	for i := range 10 {
		if err := l.Append(record(i, i != 4, "shop")); err != nil {
			t.Fatal(err)
		}
		if i == 6 {
			l.checkpointHead() // as the ticker would; the writer is idle
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	good := export(t, s, Filter{})
	if rep := verify(t, good, pub); !rep.OK() {
		t.Fatalf("untouched export fails: %v", rep.Problems)
	}
	lines := strings.Split(strings.TrimSpace(good), "\n")
	// lines[0] is the header, lines[1..10] the records, then checkpoints.
	join := func(ls []string) string { return strings.Join(ls, "\n") + "\n" }
	edit := func(i int, from, to string) string {
		ls := append([]string(nil), lines...)
		ls[i] = strings.Replace(ls[i], from, to, 1)
		return join(ls)
	}
	without := func(i int) string {
		ls := append([]string(nil), lines[:i]...)
		return join(append(ls, lines[i+1:]...))
	}
	swapped := append([]string(nil), lines...)
	swapped[3], swapped[4] = swapped[4], swapped[3]
	truncated := append(append([]string(nil), lines[:6]...), lines[11:]...) // records 6-10 cut off, checkpoints kept
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name   string
		export string
		pub    ed25519.PublicKey
		want   string
	}{
		{"one value changed", edit(5, `"allowed":false`, `"allowed":true`), pub, "seq 5 (uid uid-0004): edited"},
		{"a line removed", without(3), pub, "seq 4 (uid uid-0003): records 3 to 3 are missing before it (removed)"},
		{"first line removed", without(1), pub, "records 1 to 1 are missing from the start"},
		{"two lines swapped", join(swapped), pub, "seq 4 (uid uid-0003): out of order: seq 4 comes before seq 3"},
		{"tail cut before a checkpoint", join(truncated), pub, "truncated: a checkpoint"},
		{"checkpoint signed by another key", good, otherPub, "checkpoint signed by key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := verify(t, tc.export, tc.pub)
			if rep.OK() {
				t.Fatal("verify passed a tampered export")
			}
			if got := rep.Problems[0].String(); !strings.Contains(got, tc.want) {
				t.Errorf("first problem %q, want it to mention %q (all: %v)", got, tc.want, rep.Problems)
			}
		})
	}
}

func TestFilteredExportVerifiesWhatItHolds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	l := openLog(t, path, Options{Replica: "r1"})
	for i := range 20 {
		ns := "shop"
		if i%2 == 0 {
			ns = "blog"
		}
		if err := l.Append(record(i, i%5 != 0, ns)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	s, err := OpenStore(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	no := false
	for _, f := range []Filter{{Namespace: "shop"}, {Allowed: &no}, {Policy: "owner-labels"}} {
		exp := export(t, s, f)
		rep := verify(t, exp, nil)
		if !rep.OK() || !rep.Filtered {
			t.Errorf("filter %+v: %+v", f, rep)
		}
		want := map[string]int{"shop": 10}[f.Namespace]
		if f.Allowed != nil || f.Policy != "" {
			want = 4
		}
		if rep.Records != want {
			t.Errorf("filter %+v: %d records, want %d", f, rep.Records, want)
		}
		// An edited record in a filtered export is still found.
		i := strings.Index(exp, `"name":"pod-`)
		bad := exp[:i] + `"name":"pod-X` + exp[i+len(`"name":"pod-`):]
		if rep := verify(t, bad, nil); rep.OK() {
			t.Errorf("filter %+v: an edited record passed", f)
		}
	}
}

func TestRetentionLeavesAVerifiableLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	l := openLog(t, path, Options{Replica: "r1", SigningKey: priv})
	for i := range 30 {
		if err := l.Append(record(i, true, "shop")); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.prune(context.Background(), time.Time{}, 10); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(record(30, true, "shop")); err != nil {
		t.Fatal(err)
	}
	l.Close()
	s, err := OpenStore(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	exp := export(t, s, Filter{})
	rep := verify(t, exp, pub)
	if !rep.OK() || rep.Records != 11 {
		t.Fatalf("after pruning to 10: %+v %v", rep, rep.Problems)
	}
	// Removing the pruning checkpoint makes the start unverifiable.
	var kept []string
	for _, line := range strings.Split(strings.TrimSpace(exp), "\n") {
		if !strings.Contains(line, `"pruned":true`) {
			kept = append(kept, line)
		}
	}
	if rep := verify(t, strings.Join(kept, "\n"), pub); rep.OK() {
		t.Error("a pruned log without its pruning checkpoint verified")
	}
	// Reopening continues after the pruned prefix.
	l = openLog(t, path, Options{Replica: "r1", SigningKey: priv})
	defer l.Close()
	if err := l.Append(record(31, true, "shop")); err != nil {
		t.Fatal(err)
	}
}

func TestOneWriterPerChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	l := openLog(t, path, Options{Replica: "r1"})
	if _, err := Open(context.Background(), path, Options{Replica: "r1"}); err == nil || !strings.Contains(err.Error(), "another microguard process is writing to this file") {
		t.Errorf("second writer of one SQLite file: %v", err)
	}
	l.Close()
	l = openLog(t, path, Options{Replica: "r1"}) // free again once closed
	l.Close()
}

// A commit whose insert reports an error may have committed anyway (its
// deadline passed while the store committed). The writer asks the store:
// a batch that is stored is reported committed, one that is not is
// reported failed, and either way the chain goes on from where the store
// says it ends, with no duplicate sequence number.
func TestCommitWithAnUncertainOutcome(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	var mode atomic.Value // "", "stored-but-error" or "lost"
	mode.Store("")
	var l *Log
	o := Options{Replica: "r1"}
	o.insert = func(ctx context.Context, rows []row) error {
		switch mode.Load() {
		case "stored-but-error":
			if err := l.store.insert(ctx, rows); err != nil {
				return err
			}
			return context.DeadlineExceeded
		case "lost":
			return context.DeadlineExceeded
		}
		return l.store.insert(ctx, rows)
	}
	l = openLog(t, path, o)
	defer l.Close()
	appendOne := func(i int) error { return l.Append(record(i, true, "shop")) }
	if err := appendOne(1); err != nil {
		t.Fatal(err)
	}
	mode.Store("stored-but-error")
	if err := appendOne(2); err != nil {
		t.Errorf("a batch the store holds was reported failed: %v", err)
	}
	mode.Store("lost")
	if err := appendOne(3); err == nil {
		t.Error("a batch the store does not hold was reported committed")
	}
	mode.Store("")
	for i := 4; i <= 6; i++ {
		if err := appendOne(i); err != nil {
			t.Fatalf("append %d after the uncertain commits: %v", i, err)
		}
	}
	rep, err := VerifyStore(context.Background(), l.Store(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Records != 5 {
		t.Errorf("after the uncertain commits: %d records (want 5: 1, 2, 4, 5, 6), problems %v", rep.Records, rep.Problems)
	}
}

// A group commit waits for more records only while they come faster than
// lingerBelowGap apart, on average and lately, and never past MaxLinger.
func TestLingerFollowsTheArrivalRate(t *testing.T) {
	t0 := time.Unix(0, 0)
	for _, tc := range []struct {
		name      string
		maxLinger time.Duration
		gaps      []time.Duration // between records handed in
		want      time.Duration
	}{
		{"first record", time.Millisecond, nil, 0},
		{"500 a second", time.Millisecond, repeat(2*time.Millisecond, 50), 0},
		{"2,500 a second", time.Millisecond, repeat(400*time.Microsecond, 50), time.Millisecond},
		{"10,000 a second", time.Millisecond, repeat(100*time.Microsecond, 50), 400 * time.Microsecond},
		{"a pause after a burst", time.Millisecond, append(repeat(100*time.Microsecond, 50), 5*time.Millisecond), 0},
		{"burst, with linger off", -1, repeat(100*time.Microsecond, 50), 0},
		{"burst, capped", 200 * time.Microsecond, repeat(100*time.Microsecond, 50), 200 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &Log{o: Options{MaxLinger: tc.maxLinger}}
			at := t0
			l.arrived(&pending{at: at})
			for _, g := range tc.gaps {
				at = at.Add(g)
				l.arrived(&pending{at: at})
			}
			if got := l.lingerFor(); got != tc.want {
				t.Errorf("lingerFor() = %v (average gap %v), want %v", got, l.gap, tc.want)
			}
		})
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

// SQLite never checkpoints the WAL inside a commit (no automatic
// checkpoints): the Log's checkpointer copies it into the database beside
// the writer.
func TestWALIsCheckpointedBesideTheWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.db")
	l := openLog(t, path, Options{Replica: "r", Sync: SyncNormal})
	defer l.Close()
	ctx := context.Background()
	var auto int
	if err := l.store.db.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&auto); err != nil || auto != 0 {
		t.Fatalf("wal_autocheckpoint = %d (%v), want 0", auto, err)
	}
	size := func() int64 {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	before := size()
	for i := range 200 {
		if err := l.Append(record(i, true, "shop")); err != nil {
			t.Fatal(err)
		}
	}
	// The records are in the WAL; the checkpointer copies them into the
	// database file within walInterval.
	for deadline := time.Now().Add(5 * time.Second); size() <= before; {
		if time.Now().After(deadline) {
			t.Fatalf("the database file stayed at %d bytes: the WAL was not checkpointed", before)
		}
		time.Sleep(walInterval / 4)
	}
}

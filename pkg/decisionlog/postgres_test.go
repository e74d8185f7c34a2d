package decisionlog

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"sync"
	"testing"

	"github.com/microguard/microguard/test/pgtest"
)

// TestPostgresReplicas: three replicas write to one real PostgreSQL server
// at once; each keeps its own chain, the export merges them in time order
// and verifies, and tampering is found as with SQLite.
func TestPostgresReplicas(t *testing.T) {
	dsn := pgtest.Start(t)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	var logs []*Log
	for _, name := range []string{"microguard-0", "microguard-1", "microguard-2"} {
		logs = append(logs, openLog(t, dsn, Options{Replica: name, SigningKey: priv}))
	}
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := logs[i%3].Append(record(i, i%4 != 0, "shop")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, l := range logs {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	s, err := OpenStore(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	exp := export(t, s, Filter{})
	rep := verify(t, exp, pub)
	if !rep.OK() || rep.Records != 300 || rep.Replicas != 3 || rep.Signed != 3 {
		t.Fatalf("report %+v, problems %v", rep, rep.Problems)
	}
	// Time order across replicas.
	var last string
	for _, line := range strings.Split(exp, "\n") {
		if i := strings.Index(line, `"time":"`); i >= 0 {
			tm := line[i+8 : i+8+30]
			if tm < last {
				t.Fatalf("export not in time order: %s after %s", tm, last)
			}
			last = tm
		}
	}
	bad := strings.Replace(exp, `"allowed":false`, `"allowed":true`, 1)
	if rep := verify(t, bad, pub); rep.OK() || !strings.Contains(rep.Problems[0].What, "edited") {
		t.Errorf("an edited record in a PostgreSQL export: %+v", rep.Problems)
	}
	// A replica restarts and continues its chain.
	l := openLog(t, dsn, Options{Replica: "microguard-1", SigningKey: priv})
	if err := l.Append(record(300, true, "shop")); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if rep, err := VerifyStore(context.Background(), s, pub); err != nil || !rep.OK() || rep.Records != 301 {
		t.Fatalf("live verify after restart: %+v %v %v", rep, err, rep.Problems)
	}
}

func TestPostgresOneWriterPerReplica(t *testing.T) {
	dsn := pgtest.Start(t)
	l := openLog(t, dsn, Options{Replica: "microguard-0"})
	if _, err := Open(context.Background(), dsn, Options{Replica: "microguard-0"}); err == nil || !strings.Contains(err.Error(), `another microguard is writing as replica "microguard-0"`) {
		t.Errorf("second writer as microguard-0: %v", err)
	}
	other := openLog(t, dsn, Options{Replica: "microguard-1"})
	other.Close()
	l.Close()
	l = openLog(t, dsn, Options{Replica: "microguard-0"})
	l.Close()
}

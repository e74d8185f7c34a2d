package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/microguard/microguard/pkg/decisionlog"
	"github.com/microguard/microguard/test/pgtest"
)

// BenchmarkValidateAt500rps sends validation reviews at a fixed 500
// requests a second (open loop: a slow answer does not slow the sender)
// and reports the latency percentiles, without a decision log and with
// each store, so that the durability cost on p99 is the difference.
//
//	go test -run '^$' -bench ValidateAt500rps -benchtime 3000x ./pkg/server/
func BenchmarkValidateAt500rps(b *testing.B) {
	for _, store := range []string{"none", "sqlite-full", "sqlite-normal", "postgres"} {
		b.Run(store, func(b *testing.B) {
			var rec *Recorder
			switch store {
			case "sqlite-full":
				rec = openBenchLog(b, filepath.Join(b.TempDir(), "decisions.db"), decisionlog.SyncFull)
			case "sqlite-normal":
				rec = openBenchLog(b, filepath.Join(b.TempDir(), "decisions.db"), decisionlog.SyncNormal)
			case "postgres":
				rec = openBenchLog(b, pgtest.Start(b), "")
			}
			validate, _ := recordingHandlers(b, rec)
			atRate(b, validate, 500)
		})
	}
}

func openBenchLog(b *testing.B, target, sync string) *Recorder {
	l, err := decisionlog.Open(context.Background(), target, decisionlog.Options{Replica: "bench", Sync: sync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return &Recorder{Log: l, OnFailure: "deny"}
}

func atRate(b *testing.B, h http.Handler, rate int) {
	bodies := make([][]byte, b.N)
	for i := range bodies {
		labels := map[string]string{"owner": "ana"}
		if i%4 == 0 {
			labels = nil // a quarter are denied
		}
		bodies[i] = admissionReview(b, types.UID(fmt.Sprintf("bench-%d", i)), admissionv1.Create, "shop", pod(fmt.Sprintf("p%d", i), labels))
	}
	lat := make([]time.Duration, b.N)
	interval := time.Second / time.Duration(rate)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		due := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(due))
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := httptest.NewRequest(http.MethodPost, ValidatePath, bytes.NewReader(bodies[i]))
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			lat[i] = time.Since(due) // from when it was due: queueing counts
			if w.Code != http.StatusOK {
				b.Errorf("HTTP %d", w.Code)
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(0, "ns/op")
}

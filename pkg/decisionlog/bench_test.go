package decisionlog

import (
	"context"
	"path/filepath"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/microguard/microguard/test/pgtest"
)

// BenchmarkAppend is one record committed at a time (no group commit to
// share): the latency an idle log adds to an answer.
func BenchmarkAppend(b *testing.B) {
	for _, store := range []string{"sqlite", "postgres"} {
		b.Run(store, func(b *testing.B) {
			target := filepath.Join(b.TempDir(), "log")
			if store == "postgres" {
				target = pgtest.Start(b)
			}
			l, err := Open(context.Background(), target, Options{Replica: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := l.Append(record(i, i%4 != 0, "shop")); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkAppendConcurrent is 16 writers appending at once to SQLite, as
// a busy webhook does (Begin, some work, Append, End): the group commit
// shares transactions, with the linger (default) and without (MaxLinger
// -1). The work stands for deciding a request: 200 us of CPU.
func BenchmarkAppendConcurrent(b *testing.B) {
	for _, tc := range []struct {
		name   string
		linger time.Duration
	}{{"linger", 0}, {"no-linger", -1}} {
		b.Run(tc.name, func(b *testing.B) {
			l, err := Open(context.Background(), filepath.Join(b.TempDir(), "log"), Options{Replica: "bench", Sync: SyncNormal, MaxLinger: tc.linger})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			var n atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(8) // 16 on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					l.Begin()
					spin(200 * time.Microsecond)
					i := int(n.Add(1))
					err := l.Append(record(i, i%4 != 0, "shop"))
					l.End()
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkSeal is the CPU of sealing one record into the chain: a denied
// validation and a mutation with a patch, by seal (the canonical form
// written from the record) and by sealViaMarshal (as seal was: json.Marshal
// and appendCanonical of that).
func BenchmarkSeal(b *testing.B) {
	for _, rc := range []struct {
		name string
		r    *Record
	}{{"validate", record(1, false, "shop")}, {"mutate", mutateRecord()}} {
		for _, impl := range []struct {
			name string
			seal func(*Record, int64, string) ([]byte, error)
		}{{"direct", seal}, {"marshal", sealViaMarshal}} {
			b.Run(rc.name+"/"+impl.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := impl.seal(rc.r, 7, Genesis); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRedact is the redaction of a typical mutation's patch (env vars
// added, an annotation) with the default patterns.
func BenchmarkRedact(b *testing.B) {
	rd := Redaction{
		EnvNames:    []*regexp.Regexp{regexp.MustCompile(`(?i)(passw(or)?d|secret|token|api[-_]?key|private[-_]?key|credential|auth)`)},
		SecretNames: []*regexp.Regexp{regexp.MustCompile(`.+`)},
		Annotations: []*regexp.Regexp{regexp.MustCompile(`(?i)(secret|token|password|credential|vault\.)`)},
	}
	patch := func() []PatchOp {
		env := func(name, value string) any { return map[string]any{"name": name, "value": value} }
		return []PatchOp{
			{Op: "add", Path: "/metadata/labels/team", Value: "food"},
			{Op: "add", Path: "/metadata/annotations/microguard.io~1mutations", Value: "cost-tags,otel-env"},
			{Op: "add", Path: "/spec/containers/0/env", Value: []any{
				env("OTEL_SERVICE_NAME", "menu"), env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
				env("OTEL_RESOURCE_ATTRIBUTES", "k8s.namespace.name=shop,owner=ana"), env("API_TOKEN", "s3cr3t"),
			}},
			{Op: "add", Path: "/spec/containers/0/resources", Value: map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "128Mi"}}},
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		ops := patch()
		b.StartTimer()
		rd.Apply(ops)
	}
}

// spin uses the CPU for d.
func spin(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}

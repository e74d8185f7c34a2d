package decisionlog

import (
	"context"
	"path/filepath"
	"testing"

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

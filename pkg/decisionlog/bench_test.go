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

// BenchmarkSeal is the CPU of sealing one record into the chain.
func BenchmarkSeal(b *testing.B) {
	r := record(1, false, "shop")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := seal(r, 7, Genesis); err != nil {
			b.Fatal(err)
		}
	}
}

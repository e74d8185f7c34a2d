package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGoBenchTable(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bench.txt")
	text := `goos: linux
BenchmarkEvaluatePod-2   	    8274	    153527 ns/op	   37939 B/op	     682 allocs/op
BenchmarkEvaluatePod-2   	    8274	    120000 ns/op	   37939 B/op	     600 allocs/op
BenchmarkEvaluatePod-2   	    8274	    130000 ns/op	   37939 B/op	     650 allocs/op
BenchmarkVerifyCached-2  	  300000	      4300 ns/op	    2000 B/op	      40 allocs/op
BenchmarkSomethingElse-2 	  300000	      4300 ns/op
BenchmarkDecodeObject/pod/decodeJSON-2       	     100	     13975 ns/op	 129.23 MB/s	   10622 B/op	     123 allocs/op
PASS
`
	if err := os.WriteFile(out, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	table, err := goBenchTable(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| EvaluatePod | policy evaluation, compliant Pod", "| 130.0 µs | 37939 | 650 |", "| VerifyCached | signature verification, cache hit | 4.3 µs | 2000 | 40 |", "| 14.0 µs | 10622 | 123 |"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if !strings.Contains(table, "| HandleMutate | full /mutate handler | not run | | |") {
		t.Errorf("a listed benchmark missing from the output is not shown as not run:\n%s", table)
	}
	if strings.Contains(table, "SomethingElse") {
		t.Errorf("table lists a benchmark that is not a hot path:\n%s", table)
	}
	if err := os.WriteFile(out, []byte("PASS\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := goBenchTable(out); err == nil {
		t.Error("output without benchmarks gave a table")
	}
}

func TestSpliceKeepsTheHandWrittenParts(t *testing.T) {
	doc := splice("# title\n\nprose\n", loadBegin, loadEnd, "figures 1\n")
	doc += "\nmore prose\n"
	doc = splice(doc, loadBegin, loadEnd, "figures 2\n")
	if strings.Contains(doc, "figures 1") || !strings.Contains(doc, loadBegin+"\nfigures 2\n"+loadEnd) {
		t.Errorf("not replaced between the markers:\n%s", doc)
	}
	if !strings.HasPrefix(doc, "# title\n\nprose\n") || !strings.HasSuffix(doc, "\nmore prose\n") {
		t.Errorf("hand-written parts lost:\n%s", doc)
	}
}

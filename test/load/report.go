package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// The report's generated parts sit between these markers in BENCHMARKS.md;
// everything outside them (what was profiled and changed) is written by
// hand and kept.
const (
	loadBegin  = "<!-- load:begin (written by test/load) -->"
	loadEnd    = "<!-- load:end -->"
	benchBegin = "<!-- gobench:begin (written by test/load -go-bench) -->"
	benchEnd   = "<!-- gobench:end -->"
)

// engineBenchmarks are the hot-path benchmarks the report lists, by name
// prefix (go test adds -N for GOMAXPROCS), with what each measures.
var engineBenchmarks = []struct{ name, what string }{
	{"BenchmarkEvaluatePod", "policy evaluation, compliant Pod, every default policy (target ≤ 150 µs, ≤ 600 allocs)"},
	{"BenchmarkEvaluatePodDenied", "policy evaluation, Pod denied by owner-labels and pod-security"},
	{"BenchmarkEvaluateDeployment", "policy evaluation, compliant Deployment"},
	{"BenchmarkEvaluateDeploymentDenied", "policy evaluation, denied Deployment"},
	{"BenchmarkEvaluateMutatedPod/mutations-applied=deny", "policy evaluation of a mutated Pod, mutations-applied on"},
	{"BenchmarkEvaluateLoadPods/allowed", "policy evaluation of the load's allowed Pod: mutated, namespace with an env label, image-signature on"},
	{"BenchmarkEvaluateLoadPods/denied", "policy evaluation of the load's denied Pod (owner-labels, pod-security)"},
	{"BenchmarkMutatorCostTags/fresh", "cost-tags mutator on an unmutated pod (copy included)"},
	{"BenchmarkMutatorDefaultResources/fresh", "default-resources mutator on an unmutated pod (copy included)"},
	{"BenchmarkMutatorOpenTelemetry/fresh", "opentelemetry mutator on an unmutated pod (copy included)"},
	{"BenchmarkMutatorPinDigests/fresh", "pin-digests mutator on an unmutated pod (copy included)"},
	{"BenchmarkChainApply", "every mutator and the JSON patch against the submitted pod"},
	{"BenchmarkChainMissing/mutated", "mutations-applied check of a mutated pod"},
	{"BenchmarkHandleValidate", "full /validate handler (review decode, decision, encode)"},
	{"BenchmarkHandleValidateDenied", "full /validate handler denying a Pod (owner-labels, pod-security)"},
	{"BenchmarkHandleMutate", "full /mutate handler"},
	{"BenchmarkVerifyCached", "signature verification, cache hit"},
	{"BenchmarkResolve/tag-cache", "tag to digest, tag cache hit"},
	{"BenchmarkAppend/sqlite", "one decision record committed alone, SQLite"},
	{"BenchmarkAppendConcurrent/linger", "16 writers appending to SQLite at once, 200 µs of work each (group commit, wall time per record)"},
	{"BenchmarkSeal/validate/direct", "sealing a denial's record into the hash chain (RFC 8785 form, SHA-256)"},
	{"BenchmarkRedact", "redacting a mutation's patch (default patterns)"},
	{"BenchmarkDecodeObject/pod/decodeJSON", "decoding a submitted Pod's JSON (1.8 KB)"},
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+\d+\s+([\d.]+) ns/op(?:\s+[\d.]+ MB/s)?(?:\s+([\d.]+) B/op)?(?:\s+([\d.]+) allocs/op)?`)

// goBenchTable turns `go test -bench -benchmem` output into the report's
// table of engineBenchmarks (a benchmark that ran several times: its median
// run by ns/op).
func goBenchTable(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	type run struct {
		ns            float64
		bytes, allocs string
	}
	runs := map[string][]run{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		var ns float64
		fmt.Sscan(m[3], &ns)
		runs[m[1]] = append(runs[m[1]], run{ns, m[4], m[5]})
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("| benchmark | what | time/op | B/op | allocs/op |\n|---|---|---|---|---|\n")
	found := 0
	for _, eb := range engineBenchmarks {
		rs := runs[eb.name]
		if len(rs) == 0 {
			// Listed, not run (renamed, or its package failed): shown, so
			// that the row does not silently go missing.
			fmt.Fprintf(&b, "| %s | %s | not run | | |\n", strings.TrimPrefix(eb.name, "Benchmark"), eb.what)
			continue
		}
		found++
		for i := 1; i < len(rs); i++ { // insertion sort by ns
			for j := i; j > 0 && rs[j].ns < rs[j-1].ns; j-- {
				rs[j], rs[j-1] = rs[j-1], rs[j]
			}
		}
		r := rs[len(rs)/2]
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", strings.TrimPrefix(eb.name, "Benchmark"), eb.what, duration(r.ns), r.bytes, r.allocs)
	}
	if found == 0 {
		return "", fmt.Errorf("%s holds none of the hot-path benchmarks (is it `go test -bench` output?)", path)
	}
	return b.String(), nil
}

func duration(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

// splice puts body between begin and end in doc, or appends the marked
// body when doc has no such markers.
func splice(doc, begin, end, body string) string {
	marked := begin + "\n" + body + end
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		if doc != "" && !strings.HasSuffix(doc, "\n\n") {
			doc = strings.TrimRight(doc, "\n") + "\n\n"
		}
		return doc + marked + "\n"
	}
	return doc[:i] + marked + doc[j+len(end):]
}

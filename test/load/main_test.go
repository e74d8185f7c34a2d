package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A denial must name exactly the policies the scenario expects.
func TestDenialNamesItsPolicies(t *testing.T) {
	sc := scenario{allowed: false, deniedBy: []string{"owner-labels", "pod-security"}}
	both := `admission webhook denied the request: [pod-security/privileged] container "menu" must not set securityContext.privileged=true (field: spec.containers[0].securityContext.privileged). Fix: remove spec.containers[0].securityContext.privileged or set it to false; [owner-labels/missing-label] Pod "menu" has no "owner" label (field: metadata.labels.owner). Fix: add owner: <value> under metadata.labels`
	for _, tc := range []struct {
		name, message string
		allowed, want bool
	}{
		{"both", both, false, true},
		{"one more", both + `; [mutations-applied/cost-tags] m (field: metadata.labels). Fix: h`, false, false},
		{"one missing", `[pod-security/privileged] m (field: spec.containers[0].securityContext.privileged). Fix: h`, false, false},
		{"allowed", both, true, false},
	} {
		r := &admissionv1.AdmissionResponse{Allowed: tc.allowed, Result: &metav1.Status{Message: tc.message}}
		if got := sc.right(r); got != tc.want {
			t.Errorf("%s: right = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A server's turns add up: its mean throughput, its lowest and highest
// ratio to the floor's turn, and its CPU time per review; a turn with a
// wrong answer is an error that names the server.
func TestTurnsAddUp(t *testing.T) {
	var denying atomic.Bool
	answer := func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(admissionv1.AdmissionReview{Response: &admissionv1.AdmissionResponse{Allowed: !denying.Load()}})
	}
	srv := httptest.NewServer(http.HandlerFunc(answer))
	defer srv.Close()
	sc := scenario{name: "/validate, allowed Pod", path: "/validate", body: []byte(`{}`), allowed: true}
	tr := turns{name: sc.name, url: srv.URL, pid: os.Getpid()}
	l := loop{client: srv.Client(), sc: sc, concurrency: 2, turn: 50 * time.Millisecond}
	// Floors far below and far above any throughput here give ratios
	// above 1 and below 1 respectively.
	for _, floor := range []float64{1, 1e12} {
		if err := tr.take(l, floor); err != nil {
			t.Fatal(err)
		}
	}
	if tr.taken != 2 || tr.throughput <= 0 || tr.lo >= 1 || tr.hi <= 1 || tr.cpuUnknown || tr.cpu <= 0 {
		t.Fatalf("after two turns: %d taken, throughput %v, ratios %v–%v, CPU %v s (unknown %v)", tr.taken, tr.throughput, tr.lo, tr.hi, tr.cpu, tr.cpuUnknown)
	}
	// The row has the means: the mean throughput is half the sum of the
	// two turns, so against a floor of the sum the ratio is 0.50.
	// Its latencies are the open loop's quantiles (p50, p95, p99, max),
	// then the floor's p99.
	var open, floorOpen result
	for i := 1; i <= 101; i++ {
		open.lat = append(open.lat, time.Duration(i)*100*time.Microsecond)
		floorOpen.lat = append(floorOpen.lat, time.Duration(i)*20*time.Microsecond)
	}
	row := tr.row(tr.throughput, open, floorOpen)
	if !strings.HasPrefix(row, "| /validate, allowed Pod | ") || !strings.Contains(row, "| **0.50** |") || !strings.HasSuffix(row, "| 5.10 ms | 9.60 ms | 10.00 ms | 10.10 ms | 2.00 ms |") {
		t.Errorf("row %q", row)
	}
	denying.Store(true)
	l.turn = 20 * time.Millisecond
	if err := tr.take(l, 1); err == nil || !strings.Contains(err.Error(), sc.name+": ") {
		t.Errorf("a turn of wrong answers gave %v", err)
	}
}

// The report names every figure that misses issue 8's targets, and only
// those: a ratio under one third (0.333 is under it), a p99 over 5 ms, an
// RSS over 256 MiB.
func TestBelowTarget(t *testing.T) {
	met := []measured{{"/validate, allowed Pod", 0.34, 4 * time.Millisecond}, {"/mutate, Pod", 0.5, 5 * time.Millisecond}}
	if got := verdict(belowTarget(met, 256)); got != "Every target met in this run." {
		t.Errorf("all met: %q", got)
	}
	missed := []measured{{"/validate, allowed Pod", 0.333, 4 * time.Millisecond}, {"/validate, denied Pod", 0.27, 5180 * time.Microsecond}, {"/mutate, Pod", 0.4, 2 * time.Millisecond}}
	want := "**Below target in this run**: /validate, allowed Pod: ratio 0.333 (target ≥ 1/3); /validate, denied Pod: ratio 0.270 (target ≥ 1/3); " +
		"/validate, denied Pod: p99 5.18 ms (target ≤ 5 ms); RSS 257 MiB (target ≤ 256 MiB)."
	if got := verdict(belowTarget(missed, 257)); got != want {
		t.Errorf("missed:\n got %q\nwant %q", got, want)
	}
}

// The report replaces what is between the load markers (the table, the
// RSS, the verdict on the targets) and keeps the rest of the file.
func TestWriteReport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	doc := "# b\n\n" + loadBegin + "\nold figures\n" + loadEnd + "\n\nnotes by hand\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	row := "| /mutate, Pod | 100 | 40 | **0.40** | 0.40–0.40 | 300 µs | 1.00 ms | 2.00 ms | 3.00 ms | 4.00 ms | 1.00 ms |"
	if err := writeReport(path, "", []string{row}, 140, verdict(nil), 10*time.Second, 16, 500, 5); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := string(data)
	for _, want := range []string{"# b\n\n" + loadBegin + "\n", row, "RSS after the load: **140 MiB**", "| floor p99 |", "\nEvery target met in this run.\n" + loadEnd + "\n\nnotes by hand\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "old figures") {
		t.Errorf("report kept the old figures:\n%s", got)
	}
}

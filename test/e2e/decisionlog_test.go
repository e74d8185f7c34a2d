package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/microguard/microguard/pkg/decisionlog"
	"github.com/microguard/microguard/test/localcluster"
	"github.com/microguard/microguard/test/pgtest"
)

// cli runs the microguard binary and returns its exit code and output.
func cli(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(microguardBin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String()
}

func readRecords(t *testing.T, export string) []decisionlog.Record {
	t.Helper()
	var out []decisionlog.Record
	for _, line := range strings.Split(strings.TrimSpace(export), "\n") {
		if strings.HasPrefix(line, `{"export"`) || strings.HasPrefix(line, `{"checkpoint"`) {
			continue
		}
		var r decisionlog.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// TestDecisionLogThroughTheAPIServer: allowed, denied and dry-run requests
// are all recorded (mutate and validate), exported as JSONL and CSV, and
// verify passes on the export and fails once it is edited or cut.
func TestDecisionLogThroughTheAPIServer(t *testing.T) {
	ctx := context.Background()
	namespace(t, "audited", map[string]string{"owner": "ana"})
	owner := map[string]string{"owner": "ana"}
	if err := cluster.Client.Create(ctx, deployment("audited", "kept", owner, map[string]string{"owner": "ana"})); err != nil {
		t.Fatal(err)
	}
	denied(t, cluster.Client.Create(ctx, deployment("audited", "refused", nil, map[string]string{"owner": "ana"})), "owner-labels")
	denied(t, cluster.Client.Create(ctx, deployment("audited", "refused-dry", nil, map[string]string{}), client.DryRunAll), "owner-labels")
	if err := cluster.Client.Create(ctx, deployment("audited", "kept-dry", owner, map[string]string{"owner": "ana"}), client.DryRunAll); err != nil {
		t.Fatal(err)
	}
	if err := cluster.Client.Create(ctx, signedPod("audited", "tagged", signing.signedMenuTag)); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	jsonl, csvPath := filepath.Join(dir, "decisions.jsonl"), filepath.Join(dir, "decisions.csv")
	if code, out := cli(t, "decisions", "export", "--decision-log", decisionLogPath, "--namespace", "audited", "-o", jsonl); code != 0 {
		t.Fatalf("export: exit %d: %s", code, out)
	}
	data, err := os.ReadFile(jsonl)
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		webhook, name string
		dryRun        bool
	}
	got := map[key]decisionlog.Record{}
	for _, r := range readRecords(t, string(data)) {
		if r.Namespace != "audited" {
			t.Errorf("a record of namespace %q in an export filtered to audited", r.Namespace)
		}
		got[key{r.Webhook, r.Name, r.DryRun}] = r
	}
	for _, want := range []struct {
		key
		allowed bool
	}{
		{key{"validate", "kept", false}, true},
		{key{"validate", "refused", false}, false},
		{key{"validate", "refused-dry", true}, false},
		{key{"validate", "kept-dry", true}, true},
		{key{"mutate", "tagged", false}, true},
		{key{"validate", "tagged", false}, true},
	} {
		r, ok := got[want.key]
		if !ok {
			t.Errorf("no record for %+v", want.key)
			continue
		}
		if r.Allowed != want.allowed || r.UID == "" || r.Hash == "" || r.PrevHash == "" || r.Bundle.Revision == "" || r.User.Username == "" || r.Replica == "" {
			t.Errorf("record for %+v: %+v", want.key, r)
		}
	}
	if r := got[key{"validate", "refused", false}]; len(r.Violations) == 0 || r.Violations[0].Field == "" {
		t.Errorf("denied record has no violation with a field: %+v", r.Violations)
	}
	if r := got[key{"mutate", "tagged", false}]; len(r.Patch) == 0 || len(r.Images) != 1 || !strings.Contains(r.Images[0].Reference, "@sha256:") {
		t.Errorf("mutate record lacks its patch or pinned image: patch %v images %v", r.Patch, r.Images)
	}
	if r := got[key{"validate", "tagged", false}]; len(r.Images) != 1 || r.Images[0].Outcome != "verified" {
		t.Errorf("validate record lacks the verified image: %+v", r.Images)
	}

	if code, out := cli(t, "decisions", "verify", "-f", jsonl); code != 0 || !strings.Contains(out, "OK:") {
		t.Fatalf("verify of the untouched export: exit %d: %s", code, out)
	}
	if code, out := cli(t, "decisions", "export", "--decision-log", decisionLogPath, "--namespace", "audited", "--format", "csv", "-o", csvPath); code != 0 {
		t.Fatalf("csv export: exit %d: %s", code, out)
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(got)+1 || strings.Join(rows[0], ",") != strings.Join(decisionlog.CSVHeader, ",") {
		t.Errorf("csv: %d rows (want header + %d), header %v", len(rows), len(got), rows[0])
	}

	// The whole log: untouched it verifies; one value changed or one line
	// removed, verify exits 1 naming the record.
	full := filepath.Join(dir, "full.jsonl")
	if code, out := cli(t, "decisions", "export", "--decision-log", decisionLogPath, "-o", full); code != 0 {
		t.Fatalf("export: exit %d: %s", code, out)
	}
	data, err = os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	if code, out := cli(t, "decisions", "verify", "-f", full); code != 0 {
		t.Fatalf("verify of the full export: exit %d: %s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	target := -1
	for i, l := range lines {
		if strings.Contains(l, `"name":"refused"`) && strings.Contains(l, `"webhook":"validate"`) {
			target = i
		}
	}
	if target < 2 {
		t.Fatalf("the refused deployment's record is not in the full export")
	}
	edited := append([]string(nil), lines...)
	edited[target] = strings.Replace(edited[target], `"allowed":false`, `"allowed":true`, 1)
	removed := append(append([]string(nil), lines[:target]...), lines[target+1:]...)
	for name, content := range map[string][]string{"edited": edited, "removed": removed} {
		p := filepath.Join(dir, name+".jsonl")
		if err := os.WriteFile(p, []byte(strings.Join(content, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out := cli(t, "decisions", "verify", "-f", p)
		if code != 1 || !strings.Contains(out, "TAMPERED") {
			t.Errorf("verify of the %s export: exit %d: %s", name, code, out)
		}
		if name == "edited" && !strings.Contains(out, "edited") {
			t.Errorf("verify does not say the record was edited: %s", out)
		}
		if name == "removed" && !strings.Contains(out, "missing") {
			t.Errorf("verify does not say a record is missing: %s", out)
		}
	}
	if code, out := cli(t, "decisions", "verify", "--decision-log", decisionLogPath); code != 0 {
		t.Errorf("verify of the live log: exit %d: %s", code, out)
	}
}

// TestSIGKILLLosesNoAnsweredDecision: under concurrent load, a microguard
// is killed with SIGKILL; every request it answered is in its log.
func TestSIGKILLLosesNoAnsweredDecision(t *testing.T) {
	for _, sync := range []string{"full", "normal"} {
		t.Run("sqliteSync="+sync, func(t *testing.T) { sigkill(t, sync) })
	}
}

func sigkill(t *testing.T, level string) {
	namespace(t, "load", nil) // a namespace the informer knows: no live lookups
	port, err := localcluster.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "killed.db")
	conf := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(conf, []byte(configText+"decisionLog:\n  sqliteSync: "+level+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	started := time.Now()
	p, err := cluster.StartExtra(ctx, localcluster.Extra{Port: port, Log: "killed-" + level + ".log"}, "--decision-log", logPath, "--config", conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second microguard ready in %s", time.Since(started))
	started = time.Now()
	httpc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: 16}}
	var answered sync.Map
	var n atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				uid := fmt.Sprintf("kill-%d-%d", w, i)
				if admitted, ok := review(httpc, p.WebhookURL, uid, i%2 == 0); ok {
					answered.Store(uid, admitted)
					n.Add(1)
				}
			}
		}()
	}
	for n.Load() < 1500 {
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%d answered in %s", n.Load(), time.Since(started))
	if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.Exited()
	close(stop)
	wg.Wait()

	s, err := decisionlog.OpenStore(context.Background(), logPath)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	err = s.Records(context.Background(), decisionlog.Filter{}, func(raw []byte) error {
		var r decisionlog.Record
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		stored[r.UID] = r.Allowed
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	total, lost := 0, 0
	answered.Range(func(k, v any) bool {
		total++
		allowed, ok := stored[k.(string)]
		if !ok {
			lost++
			if lost <= 5 {
				t.Errorf("answered request %s is not in the log", k)
			}
		} else if allowed != v.(bool) {
			t.Errorf("request %s: answered allowed=%v, recorded allowed=%v", k, v, allowed)
		}
		return true
	})
	t.Logf("%d requests answered before SIGKILL, %d recorded, %d lost", total, len(stored), lost)
	if lost > 0 {
		t.Fatalf("%d of %d answered decisions lost", lost, total)
	}
	rep, err := decisionlog.VerifyStore(context.Background(), s, nil)
	if err != nil || !rep.OK() {
		t.Fatalf("the killed server's log does not verify: %v %v", err, rep.Problems)
	}
	s.Close()

	// Restarted on the same log, microguard continues the chain: its new
	// records follow the killed server's and the whole log verifies.
	p2, err := cluster.StartExtra(ctx, localcluster.Extra{Port: port, Log: "restarted-" + level + ".log"}, "--decision-log", logPath, "--config", conf)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, ok := review(httpc, p2.WebhookURL, fmt.Sprintf("after-restart-%d", i), i%2 == 0); !ok {
			t.Fatalf("review %d after the restart got no answer", i)
		}
	}
	if err := p2.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-p2.Exited()
	s2, err := decisionlog.OpenStore(context.Background(), logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	rep2, err := decisionlog.VerifyStore(context.Background(), s2, nil)
	if err != nil || !rep2.OK() {
		t.Fatalf("the log after the restart does not verify: %v %v", err, rep2.Problems)
	}
	if rep2.Records != rep.Records+20 {
		t.Errorf("after the restart the log holds %d records, want the %d before and the 20 new ones", rep2.Records, rep.Records)
	}
}

// review posts a Pod review to /validate and reports the answer, ok false
// when no answer came (the server died mid-request).
func review(c *http.Client, url, uid string, compliant bool) (allowed, ok bool) {
	labels := map[string]string{}
	if compliant {
		labels["owner"] = "ana"
	}
	pod := signedPod("load", "p-"+uid, "registry.example/where2eat/menu:1.0")
	pod.Labels = labels
	raw, _ := json.Marshal(pod)
	ar := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: types.UID(uid), Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"}, Namespace: "load", Name: pod.Name,
			Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw},
		},
	}
	body, _ := json.Marshal(ar)
	resp, err := c.Post(url+"/validate", "application/json", bytes.NewReader(body))
	if err != nil {
		return false, false
	}
	defer resp.Body.Close()
	var out admissionv1.AdmissionReview
	if resp.StatusCode != http.StatusOK || json.NewDecoder(bufio.NewReader(resp.Body)).Decode(&out) != nil || out.Response == nil || string(out.Response.UID) != uid {
		return false, false
	}
	return out.Response.Allowed, true
}

// TestPostgresReplicasThroughTheWebhook: two microguard processes write to
// one real PostgreSQL server at once; the export merges both chains and
// verifies, and every answered uid is in it.
func TestPostgresReplicasThroughTheWebhook(t *testing.T) {
	namespace(t, "load", nil)
	dsn := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var procs []*localcluster.Process
	for _, name := range []string{"microguard-0", "microguard-1"} {
		port, err := localcluster.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		p, err := cluster.StartExtra(ctx, localcluster.Extra{Port: port, Log: name + ".log", Env: []string{"POD_NAME=" + name}}, "--decision-log", dsn)
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	httpc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	var answered sync.Map
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				uid := fmt.Sprintf("pg-%d-%d", w, i)
				if allowed, ok := review(httpc, procs[w%2].WebhookURL, uid, i%2 == 0); ok {
					answered.Store(uid, allowed)
				} else {
					t.Errorf("no answer for %s", uid)
				}
			}
		}()
	}
	wg.Wait()
	for _, p := range procs {
		_ = p.Cmd.Process.Signal(syscall.SIGTERM)
		<-p.Exited()
	}
	out := filepath.Join(t.TempDir(), "pg.jsonl")
	if code, msg := cli(t, "decisions", "export", "--decision-log", dsn, "-o", out); code != 0 {
		t.Fatalf("export: exit %d: %s", code, msg)
	}
	if code, msg := cli(t, "decisions", "verify", "-f", out); code != 0 || !strings.Contains(msg, "from 2 replicas") {
		t.Fatalf("verify: exit %d: %s", code, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, r := range readRecords(t, string(data)) {
		stored[r.UID] = r.Allowed
	}
	answered.Range(func(k, v any) bool {
		if allowed, ok := stored[k.(string)]; !ok || allowed != v.(bool) {
			t.Errorf("answered %s (allowed %v): stored %v, %v", k, v, ok, allowed)
		}
		return true
	})
}

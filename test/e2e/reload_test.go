package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// TestConfigReload: a microguard serving a config file picks up a changed
// file and a new custom policy directory without a restart, refuses an
// invalid file (the last good config keeps deciding, and the metrics say
// so), and takes the next good one.
func TestConfigReload(t *testing.T) {
	namespace(t, "load", nil)
	dir := t.TempDir()
	conf := filepath.Join(dir, "config.yaml")
	write := func(text string) {
		t.Helper()
		// Written beside and renamed, as a ConfigMap update swaps files.
		if err := os.WriteFile(conf+".new", []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(conf+".new", conf); err != nil {
			t.Fatal(err)
		}
	}
	ownerOff := strings.Replace(configText, "owner-labels:\n    action: deny", "owner-labels:\n    action: off", 1)
	if ownerOff == configText {
		t.Fatal("the e2e config no longer turns owner-labels on as this test expects")
	}
	write(configText)
	p := startExtra(t, "reload.log", "--config", conf, "--reload-interval", "200ms")
	httpc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	n := 0
	decide := func(owner bool, image string) (bool, string) {
		t.Helper()
		n++
		pod := signedPod("load", fmt.Sprintf("reload-%d", n), image)
		if !owner {
			pod.Labels = nil
		}
		raw, _ := json.Marshal(pod)
		body, _ := json.Marshal(admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
			Request: &admissionv1.AdmissionRequest{
				UID: types.UID(fmt.Sprintf("reload-%d", n)), Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
				Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"}, Namespace: "load", Name: pod.Name,
				Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw},
			},
		})
		resp, err := httpc.Post(p.WebhookURL+"/validate", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out admissionv1.AdmissionReview
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Response == nil {
			t.Fatalf("HTTP %s: %v", resp.Status, err)
		}
		msg := ""
		if out.Response.Result != nil {
			msg = out.Response.Result.Message
		}
		return out.Response.Allowed, msg
	}
	// eventually waits for the reloaded decision (polled every 200 ms).
	eventually := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(p.Log)
				t.Fatalf("not seen within 15 s: %s\n--- its microguard's log ---\n%s", what, log)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	metric := func(name string) float64 {
		t.Helper()
		return sum(scrapeFrom(t, p.MetricsURL), name, nil)
	}
	const image = "registry.example/where2eat/menu:1.0"

	if allowed, msg := decide(false, image); allowed || !strings.Contains(msg, "owner-labels/missing-label") {
		t.Fatalf("before any change, a pod without an owner label: allowed %v (%s)", allowed, msg)
	}
	// The reviews come unmutated (mutations-applied refuses them), so each
	// step looks for the policy's own violation in the answer.
	ownerRefused := func() bool {
		_, msg := decide(false, image)
		return strings.Contains(msg, "owner-labels/missing-label")
	}
	// 1. A changed file: owner-labels off.
	write(ownerOff)
	eventually("owner-labels turned off by the new file", func() bool { return !ownerRefused() })

	// 2. An invalid file is refused: the last good config keeps deciding.
	write(strings.Replace(ownerOff, "owner-labels:\n    action: off", "owner-labels:\n    action: sometimes", 1))
	eventually("the invalid file counted as refused", func() bool { return metric("microguard_config_reload_failing") == 1 })
	if ownerRefused() {
		t.Fatal("after an invalid file, the last good config (owner-labels off) no longer decides")
	}
	if got := metric(`microguard_config_reloads_total`); got < 2 {
		t.Errorf("microguard_config_reloads_total %v, want a success and an error", got)
	}

	// 3. A custom policy directory named by the next good file is loaded.
	pol := filepath.Join(dir, "policies", "no_latest_tag")
	if err := os.MkdirAll(pol, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"no_latest_tag.rego", "no_latest_tag_test.rego"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "examples", "policies", "no_latest_tag", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pol, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, msg := decide(true, "registry.example/where2eat/menu:latest"); strings.Contains(msg, "no-latest-tag") {
		t.Fatalf("a :latest image refused by no-latest-tag before the custom policy is loaded: %s", msg)
	}
	write("customPolicies: policies\n" + ownerOff)
	eventually("the custom policy loaded", func() bool {
		allowed, msg := decide(true, "registry.example/where2eat/menu:latest")
		return !allowed && strings.Contains(msg, "no-latest-tag/latest-tag")
	})
	if metric("microguard_config_reload_failing") != 0 {
		t.Error("microguard_config_reload_failing still 1 after a good file")
	}
	select {
	case err := <-p.Exited():
		t.Fatalf("microguard exited during the reloads: %v", err)
	default:
	}
}

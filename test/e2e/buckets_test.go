package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/microguard/microguard/pkg/manifest"
)

// TestPublicBuckets sends every object-storage fixture of the public-storage
// policy through the real API server (with the CRDs installed) and expects
// the verdict its golden file records: public buckets refused with a field
// path and a fix, private ones admitted.
func TestPublicBuckets(t *testing.T) {
	ctx := context.Background()
	namespace(t, "where2eat", nil)
	dir := filepath.Join("..", "..", "policies", "public_storage", "testdata")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	checked, refused := 0, 0
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "pvc-") {
			continue // PersistentVolumeClaims: TestPublicStorage
		}
		objs, err := manifest.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		golden, err := os.ReadFile(strings.TrimSuffix(f, ".yaml") + ".golden")
		if err != nil {
			t.Fatal(err)
		}
		var want struct {
			Results []struct {
				Allowed    bool `json:"allowed"`
				Violations []struct {
					Field string `json:"field"`
				} `json:"violations"`
			} `json:"results"`
		}
		if err := json.Unmarshal(golden, &want); err != nil {
			t.Fatal(err)
		}
		for i, o := range objs {
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON(o.Raw); err != nil {
				t.Fatal(err)
			}
			err := cluster.Client.Create(ctx, u)
			checked++
			if want.Results[i].Allowed {
				if err != nil {
					t.Errorf("%s: private object refused: %v", o.Source, err)
				}
				continue
			}
			refused++
			if err == nil || !apierrors.IsForbidden(err) {
				t.Errorf("%s: public object not refused: %v", o.Source, err)
				continue
			}
			msg := err.Error()
			if !strings.Contains(msg, "[public-storage/") || !strings.Contains(msg, "(field: "+want.Results[i].Violations[0].Field+"). Fix:") {
				t.Errorf("%s: denial lacks the policy, field or fix:\n%s", o.Source, msg)
			}
		}
	}
	if checked == 0 || refused == 0 {
		t.Fatalf("checked %d objects, refused %d: want both", checked, refused)
	}
	t.Logf("%d object-storage resources sent, %d refused", checked, refused)
}

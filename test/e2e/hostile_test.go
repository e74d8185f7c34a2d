package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/microguard/microguard/test/localcluster"
)

// hostileReview is an AdmissionReview for a Pod CREATE in namespace "load"
// whose object is the given JSON text, taken as is.
func hostileReview(object string) []byte {
	return []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"hostile",` +
		`"kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},` +
		`"namespace":"load","name":"hostile","operation":"CREATE","userInfo":{"username":"mallory"},` +
		`"object":` + object + `}}`)
}

// nested is depth levels of open, then of close: [[[...]]] or {"a":{"a":...}}.
func nested(depth int, open, leaf, close string) string {
	var b strings.Builder
	b.Grow(depth * (len(open) + len(close)))
	for range depth {
		b.WriteString(open)
	}
	b.WriteString(leaf)
	for range depth {
		b.WriteString(close)
	}
	return b.String()
}

// manyContainers is a Pod with n privileged containers, each denied by
// pod-security.
func manyContainers(n int) string {
	var b strings.Builder
	b.WriteString(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"hostile","namespace":"load"},"spec":{"containers":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"c%d","image":"registry.example/x:%d","securityContext":{"privileged":true}}`, i, i)
	}
	b.WriteString(`]}}`)
	return b.String()
}

// manyVolumes is a Pod with n hostPath volumes.
func manyVolumes(n int) string {
	var b strings.Builder
	b.WriteString(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"hostile","namespace":"load"},"spec":{"containers":[{"name":"a","image":"b"}],"volumes":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"v%d","hostPath":{"path":"/"}}`, i)
	}
	b.WriteString(`]}}`)
	return b.String()
}

// manyLabels is a Pod with n labels.
func manyLabels(n int) string {
	var b strings.Builder
	b.WriteString(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"hostile","namespace":"load","labels":{`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"l%d":"v"`, i)
	}
	b.WriteString(`}},"spec":{"containers":[{"name":"a","image":"b"}]}}`)
	return b.String()
}

// hostileClient gives up on an answer after a minute: a hang fails the case
// rather than the whole suite.
func hostileClient() *http.Client {
	c := insecureClient()
	c.Timeout = time.Minute
	return c
}

// TestHostileInputIsRefused is the hostile-input matrix of both webhooks:
// every case gets a 4xx or a well-formed review that refuses it, never a
// panic, a 5xx, a hang or a dropped connection, and never allowed: true on
// /validate. Afterwards the same process is still ready and its memory
// bounded.
func TestHostileInputIsRefused(t *testing.T) {
	namespace(t, "load", nil)
	pid := cluster.Pid()

	const appJSON = "application/json"
	yamlBomb := "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	for i := 'b'; i <= 'k'; i++ {
		yamlBomb += fmt.Sprintf("%c: &%c [*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	twelveMiB := hostileReview(`{"metadata":{"name":"x","annotations":{"a":"` + strings.Repeat("a", 12<<20) + `"}}}`)
	cases := []struct {
		name, method, contentType string
		body                      []byte
		// review: the answer may be an admission review that is not an
		// error (a valid if absurd Pod): it must still not be admitted
		// on /validate.
		review bool
	}{
		{name: "empty body", body: nil},
		{name: "not JSON", body: []byte("{nope")},
		{name: "plain text", body: []byte("hello, webhook")},
		{name: "YAML alias bomb", body: []byte(yamlBomb)},
		{name: "empty object", body: []byte(`{}`)},
		{name: "JSON null", body: []byte(`null`)},
		{name: "review without request", body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`)},
		{name: "review with null request", body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null}`)},
		{name: "request not an object", body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":[1]}`)},
		{name: "no object", body: hostileReview(`null`)},
		{name: "object is an array", body: hostileReview(`[{"kind":"Pod"}]`)},
		{name: "object is a string", body: hostileReview(`"pod"`)},
		{name: "object is a number", body: hostileReview(`42`)},
		{name: "object is true", body: hostileReview(`true`)},
		{name: "containers is a string", body: hostileReview(`{"metadata":{"name":"x"},"spec":{"containers":"x"}}`)},
		{name: "labels is an array", body: hostileReview(`{"metadata":{"name":"x","labels":[1]},"spec":{"containers":[{"name":"a","image":"b"}]}}`)},
		{name: "spec is a number", body: hostileReview(`{"metadata":{"name":"x"},"spec":7}`)},
		{name: "container is a number", body: hostileReview(`{"metadata":{"name":"x"},"spec":{"containers":[1]}}`)},
		{name: "privileged is a string", body: hostileReview(`{"metadata":{"name":"x"},"spec":{"containers":[{"name":"a","image":"b","securityContext":{"privileged":"yes"}}]}}`)},
		{name: "12 MiB body", body: twelveMiB},
		{name: "200000 nested arrays as the body", body: []byte(nested(200000, "[", "", "]"))},
		{name: "200000 nested objects as the body", body: []byte(nested(200000, `{"a":`, "1", "}"))},
		{name: "200000 nested arrays in the object", body: hostileReview(nested(200000, "[", "", "]"))},
		{name: "200000 nested objects in the object", body: hostileReview(nested(200000, `{"a":`, "1", "}"))},
		// Under the JSON decoder's depth limit of 10000: the review decodes,
		// and the nesting reaches microguard's own decoding and policies.
		{name: "9000 nested arrays in a pod field", review: true, body: hostileReview(
			`{"metadata":{"name":"x"},"spec":{"containers":[{"name":"a","image":"b"}],"extra":` + nested(9000, "[", "", "]") + `}}`)},
		{name: "9000 nested objects in a pod field", review: true, body: hostileReview(
			`{"metadata":{"name":"x"},"spec":{"containers":[{"name":"a","image":"b"}],"extra":` + nested(9000, `{"a":`, "1", "}") + `}}`)},
		// Under the body cap but too large to evaluate (pkg/admission
		// limits.go): refused before they are decoded (MaxValues), or
		// before the policies run (MaxContainers, MaxListItems).
		{name: "60000 privileged containers", body: hostileReview(manyContainers(60000))},
		{name: "100000 hostPath volumes", body: hostileReview(manyVolumes(100000))},
		{name: "100000 labels", body: hostileReview(manyLabels(100000))},
		{name: "600 privileged containers", body: hostileReview(manyContainers(600))},
		{name: "6000 hostPath volumes", body: hostileReview(manyVolumes(6000))},
		// At the bounds: evaluated, and denied.
		{name: "500 privileged containers", review: true, body: hostileReview(manyContainers(500))},
		{name: "wrong content type", contentType: "text/plain", body: hostileReview(`{"metadata":{"name":"x"}}`)},
		{name: "no content type", contentType: "-", body: hostileReview(`{"metadata":{"name":"x"}}`)},
		{name: "GET", method: http.MethodGet},
		{name: "PUT", method: http.MethodPut, body: hostileReview(`{"metadata":{"name":"x"}}`)},
		{name: "DELETE", method: http.MethodDelete},
	}
	client := hostileClient()
	for _, tc := range cases {
		for _, path := range []string{"/validate", "/mutate"} {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				method, contentType := tc.method, tc.contentType
				if method == "" {
					method = http.MethodPost
				}
				if contentType == "" {
					contentType = appJSON
				}
				req, err := http.NewRequest(method, cluster.WebhookURL+path+"?timeout=10s", bytes.NewReader(tc.body))
				if err != nil {
					t.Fatal(err)
				}
				if contentType != "-" {
					req.Header.Set("Content-Type", contentType)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("no answer (hang or dropped connection): %v", err)
				}
				defer resp.Body.Close()
				data, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatalf("answer cut short: %v", err)
				}
				switch {
				case resp.StatusCode >= 400 && resp.StatusCode < 500:
					return // refused by HTTP
				case resp.StatusCode != http.StatusOK:
					t.Fatalf("HTTP %s; want a 4xx or a review:\n%.500s", resp.Status, data)
				}
				review := &admissionv1.AdmissionReview{}
				if err := json.Unmarshal(data, review); err != nil || review.Response == nil {
					t.Fatalf("HTTP 200 but not a review with a response (%v):\n%.500s", err, data)
				}
				r := review.Response
				if path == "/validate" && r.Allowed {
					t.Fatalf("admitted by /validate: %.500s", data)
				}
				if tc.review {
					return
				}
				if r.Allowed || r.Result == nil || r.Result.Code < 400 || r.Result.Code >= 500 {
					t.Fatalf("response %+v; want a refusal with a 4xx code", r.Result)
				}
			})
		}
	}

	if got := cluster.Pid(); got != pid {
		t.Fatalf("microguard restarted: pid %d, was %d", got, pid)
	}
	resp, err := http.Get(cluster.HealthURL + "/readyz")
	if err != nil {
		t.Fatalf("/readyz after the matrix: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz after the matrix: %s", resp.Status)
	}
	// Bounded memory. RSS is the process's high-water mark (Go returns
	// freed memory to the OS slowly), so it tells what the worst case of
	// the matrix cost on top of what the suite had already used
	// (BENCHMARKS.md: 131 MiB after sustained load). Run alone, the matrix
	// ends at about 160 MiB: the 5 MiB objects are refused before they are
	// decoded. 400 MiB leaves room for the rest of the suite and stays
	// below the chart's 512 MiB limit; decoding those objects into maps
	// ended at 360-450 MiB, evaluating them whole at 2.4 GiB.
	rss, err := localcluster.RSSMiB(pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("microguard RSS after the matrix: %.0f MiB", rss)
	if rss > 400 {
		t.Errorf("microguard RSS %.0f MiB after the matrix; want at most 400 MiB", rss)
	}
}

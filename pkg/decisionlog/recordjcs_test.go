package decisionlog

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// sealViaMarshal is seal as it was: json.Marshal, appendCanonical of that,
// and the stored form json.Marshal's encoding with the hash appended.
// Records in existing logs were written this way.
func sealViaMarshal(r *Record, seq int64, prev string) ([]byte, error) {
	r.Seq, r.PrevHash, r.Hash = seq, prev, ""
	if r.Violations == nil {
		r.Violations = []Violation{}
	}
	if r.Warnings == nil {
		r.Warnings = []string{}
	}
	if r.Patch == nil {
		r.Patch = []PatchOp{}
	}
	if r.Images == nil {
		r.Images = []Image{}
	}
	if r.User.Groups == nil {
		r.User.Groups = []string{}
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	canon, err := appendCanonical(nil, raw, "")
	if err != nil {
		return nil, err
	}
	r.Hash = chainHash(prev, canon)
	out := make([]byte, 0, len(raw)+len(r.Hash)+10)
	out = append(out, raw[:len(raw)-1]...)
	out = append(out, `,"hash":"`...)
	out = append(out, r.Hash...)
	return append(out, `"}`...), nil
}

// canonicalViaMarshal is what appendRecordCanonical must write.
func canonicalViaMarshal(r *Record) ([]byte, error) {
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return appendCanonical(nil, raw, "")
}

// hard are strings that json.Marshal and JCS write differently, or that
// json.Marshal changes.
var hard = []string{
	"", "plain", `<script>&amp;</script>`, "line\u2028sep\u2029para", "quote\" back\\slash /",
	"\x00\x01\x07\b\t\n\v\f\r\x1b\x1f\x7f", "bad \xff\xfe utf-8 \xc3", "\xed\xa0\x80 surrogate as utf-8",
	"grinning \U0001F600 and \uFFFD and \u20ac", "\xf0\x9f\x98", "é ü 日本",
}

func mutateRecord() *Record {
	r := record(3, true, "shop")
	r.Webhook = "mutate"
	r.Images = []Image{{Image: "nginx:1.27", Reference: "docker.io/library/nginx@sha256:0123", Outcome: "verified"}, {Image: "busybox", Outcome: "unsigned"}}
	r.Warnings = []string{"image busybox is not signed"}
	r.Patch = []PatchOp{
		{Op: "add", Path: "/metadata/labels/owner", Value: "team-a"},
		{Op: "add", Path: "/spec/containers/0/securityContext", Value: map[string]any{
			"runAsNonRoot": true, "runAsUser": float64(1000), "allowPrivilegeEscalation": false,
			"capabilities": map[string]any{"drop": []any{"ALL"}},
		}},
		{Op: "add", Path: "/spec/containers/0/env/-", Value: map[string]any{"name": "OTEL_EXPORTER", "value": Redacted}},
		{Op: "replace", Path: "/spec/replicas", Value: 3},
		{Op: "remove", Path: "/metadata/annotations/x"},
	}
	return r
}

func recordCases() map[string]*Record {
	cases := map[string]*Record{
		"zero":     {},
		"denied":   record(1, false, "shop"),
		"mutating": mutateRecord(),
	}
	// nil slices (json.Marshal: null) and empty ones ([]).
	empty := record(2, true, "shop")
	empty.Violations, empty.Warnings, empty.Patch, empty.Images, empty.User.Groups = []Violation{}, []string{}, []PatchOp{}, []Image{}, []string{}
	cases["empty slices"] = empty
	for i, s := range hard {
		r := record(i, false, s)
		r.Time, r.UID, r.Webhook, r.Operation, r.SubResource, r.Name, r.Reason, r.Replica, r.PrevHash, r.Hash = s, s, s, s, s, s, s, s, s, s
		r.Kind, r.Resource, r.Bundle = Kind{s, s, s}, Resource{s, s, s}, Bundle{s, s}
		r.User = User{Username: s, Groups: []string{s, s}}
		r.Violations = append(r.Violations, Violation{s, s, s, s, s, s})
		r.Warnings = []string{s}
		r.Images = []Image{{s, s, s}}
		r.Patch = []PatchOp{{s, s, s}, {Op: s, Path: s, Value: map[string]any{s: s, "k" + s: []any{s, nil}}}}
		cases["string "+s] = r
	}
	for _, f := range []float64{0, math.Copysign(0, -1), 1.25, -1.25, 0.001, 1e-6, 1e-7, 5e-324, -5e-324, 1e20, 1e21, -1e21, 123456789.123456789, math.MaxFloat64, -math.MaxFloat64, 0.1 + 0.2, 9007199254740993} {
		r := record(1, true, "shop")
		r.LatencyMs = f
		r.Patch = []PatchOp{{Op: "add", Path: "/n", Value: f}, {Op: "add", Path: "/a", Value: []any{f, -f}}}
		cases["latency "+strings.ReplaceAll(json.Number(jsonString(f)).String(), ".", "_")] = r
	}
	for _, seq := range []int64{0, 1, -1, 1 << 53, 1<<53 + 1, math.MaxInt64, math.MinInt64} {
		r := record(1, true, "shop")
		r.Seq = seq
		r.Patch = []PatchOp{{Op: "add", Path: "/i", Value: seq}, {Op: "add", Path: "/j", Value: int(seq)}}
		cases["seq "+jsonString(seq)] = r
	}
	values := map[string]any{
		"null raw":       json.RawMessage(`null`),
		"number raw":     json.RawMessage(` 1.50E+2 `),
		"string raw":     json.RawMessage(`"\u003c\u2028\ud83d\ude00"`),
		"object raw":     json.RawMessage(`{"b":1,"a":[true,{"z":null,"y":"\u00e9"}]}`),
		"nil raw":        json.RawMessage(nil),
		"json.Number":    json.Number("1e2"),
		"empty object":   map[string]any{},
		"empty array":    []any{},
		"nil map":        map[string]any(nil),
		"nil slice":      []any(nil),
		"typed nil":      (*Record)(nil),
		"struct":         Bundle{Revision: "<r>", Config: "c"},
		"float32":        float32(0.1),
		"uint8":          uint8(7),
		"map sort utf16": map[string]any{"\uFB33": 1, "\U0001F600": 2, "\u20ac": 3, "\r": 4, "1": 5, "\u0080": 6, "\u00f6": 7, "": 8, "A": 9, "a": 10},
		"invalid keys":   map[string]any{"a\xff": 1, "a\xfe\xfd": 2, "\xc3": 3},
		"deep":           deep(200),
		"strings":        []any{"<>&", "\u2028", "\x00", "\xff"},
	}
	for name, v := range values {
		r := record(1, true, "shop")
		r.Patch = []PatchOp{{Op: "add", Path: "/v", Value: v}}
		cases["value "+name] = r
	}
	return cases
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func deep(n int) any {
	var v any = "bottom"
	for i := range n {
		if i%2 == 0 {
			v = []any{v, i}
		} else {
			v = map[string]any{"k": v, "b": i}
		}
	}
	return v
}

// TestRecordCanonical holds the direct encoder to json.Marshal then
// appendCanonical, byte for byte.
func TestRecordCanonical(t *testing.T) {
	for name, r := range recordCases() {
		want, err := canonicalViaMarshal(r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := appendRecordCanonical([]byte("prefix"), r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(got) != "prefix"+string(want) {
			t.Errorf("%s:\n got %s\nwant prefix%s", name, got, want)
		}
	}
}

// What json.Marshal or appendCanonical refuses, the encoder refuses.
func TestRecordCanonicalRefusals(t *testing.T) {
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	for name, mod := range map[string]func(r *Record){
		"NaN latency":           func(r *Record) { r.LatencyMs = math.NaN() },
		"+Inf latency":          func(r *Record) { r.LatencyMs = math.Inf(1) },
		"-Inf latency":          func(r *Record) { r.LatencyMs = math.Inf(-1) },
		"NaN value":             func(r *Record) { r.Patch = []PatchOp{{Value: []any{1.0, math.NaN()}}} },
		"channel value":         func(r *Record) { r.Patch = []PatchOp{{Value: map[string]any{"c": make(chan int)}}} },
		"cyclic value":          func(r *Record) { r.Patch = []PatchOp{{Value: cyclic}} },
		"invalid raw":           func(r *Record) { r.Patch = []PatchOp{{Value: json.RawMessage(`{`)}} },
		"empty raw":             func(r *Record) { r.Patch = []PatchOp{{Value: json.RawMessage{}}} },
		"duplicate raw members": func(r *Record) { r.Patch = []PatchOp{{Value: json.RawMessage(`{"a":1,"a":2}`)}} },
		"names equal as JSON":   func(r *Record) { r.Patch = []PatchOp{{Value: map[string]any{"a\xff": 1, "a\xfe": 2}}} },
	} {
		r := record(1, true, "shop")
		mod(r)
		if _, err := canonicalViaMarshal(r); err == nil {
			t.Fatalf("%s: json.Marshal and appendCanonical accept it", name)
		}
		if got, err := appendRecordCanonical(nil, r); err == nil {
			t.Errorf("%s: no error, wrote %s", name, got)
		}
		if _, err := seal(r, 1, Genesis); err == nil {
			t.Errorf("%s: sealed", name)
		}
	}
}

// TestSealStoredForm: the stored form is the RFC 8785 form of the whole
// record (hash included), decodes to what the old stored form decodes to,
// and has the same hash; Check passes both forms.
func TestSealStoredForm(t *testing.T) {
	for name, r := range recordCases() {
		checkSeal(t, name, r)
	}
}

func checkSeal(t *testing.T, name string, r *Record) {
	t.Helper()
	old := cloneRecord(t, r)
	oldRaw, oldErr := sealViaMarshal(old, 42, Genesis)
	raw, err := seal(r, 42, Genesis)
	if (err == nil) != (oldErr == nil) {
		t.Fatalf("%s: seal error %v, before %v", name, err, oldErr)
	}
	if err != nil {
		return
	}
	if r.Hash != old.Hash {
		t.Fatalf("%s: hash %s, before %s", name, r.Hash, old.Hash)
	}
	canon, err := appendCanonical(nil, raw, "")
	if err != nil || !bytes.Equal(canon, raw) {
		t.Errorf("%s: stored form is not canonical (%v):\n%s\n%s", name, err, raw, canon)
	}
	for _, stored := range [][]byte{raw, oldRaw} {
		got, ok, err := Check(stored)
		if err != nil || !ok || got.Hash != r.Hash {
			t.Fatalf("%s: Check(%s): ok %v, %v", name, stored, ok, err)
		}
	}
	var fromNew, fromOld any
	if err := json.Unmarshal(raw, &fromNew); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(oldRaw, &fromOld); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromNew, fromOld) {
		t.Errorf("%s: the stored forms decode differently:\n%s\n%s", name, raw, oldRaw)
	}
	newRec, _, _ := Check(raw)
	oldRec, _, _ := Check(oldRaw)
	if !reflect.DeepEqual(newRec, oldRec) {
		t.Errorf("%s: the stored forms decode to different records:\n%+v\n%+v", name, newRec, oldRec)
	}
}

// cloneRecord is a deep copy (seal fills in nil slices).
func cloneRecord(t testing.TB, r *Record) *Record {
	c := *r
	c.User.Groups = slices.Clone(r.User.Groups)
	c.Violations = slices.Clone(r.Violations)
	c.Warnings = slices.Clone(r.Warnings)
	c.Patch = slices.Clone(r.Patch)
	c.Images = slices.Clone(r.Images)
	return &c
}

// TestOldRecordsStillVerify: a log whose first records were written by the
// old seal goes on with the new one; the chain, its export (JSONL and CSV)
// and Check all hold across the change.
func TestOldRecordsStillVerify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	s, err := OpenStore(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	prev := Genesis
	var rows []row
	for i := range 5 {
		r := record(i, i%2 == 0, "shop")
		r.Replica, r.Time = "r1", "2025-01-01T00:00:00.00000000"+string(rune('0'+i))+"Z"
		r.Reason = "<old> & \u2028"
		raw, err := sealViaMarshal(r, int64(i+1), prev)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row{r, raw})
		prev = r.Hash
	}
	if err := s.insert(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	s.Close()
	l := openLog(t, path, Options{Replica: "r1"})
	for i := 5; i < 10; i++ {
		r := mutateRecord()
		r.UID = "uid-new-" + string(rune('0'+i))
		r.Reason = "<new> & \u2028"
		if err := l.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := VerifyStore(context.Background(), l.Store(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Records != 10 {
		t.Fatalf("old and new records: %+v %v", rep, rep.Problems)
	}
	exp := export(t, l.Store(), Filter{})
	if !strings.Contains(exp, `\u003cold\u003e`) || !strings.Contains(exp, `"reason":"<new> & `+"\u2028") {
		t.Errorf("export does not hold both stored forms:\n%s", exp)
	}
	if rep := verify(t, exp, nil); !rep.OK() || rep.Records != 10 {
		t.Fatalf("export: %+v %v", rep, rep.Problems)
	}
	// An edit of a new record is found.
	if rep := verify(t, strings.Replace(exp, `"name":"pod-3","namespace":"shop","operation":"CREATE","patch":[{"op":"add"`, `"name":"pod-4","namespace":"shop","operation":"CREATE","patch":[{"op":"add"`, 1), nil); rep.OK() {
		t.Error("an edited new record verified")
	}
	var b bytes.Buffer
	if n, err := ExportCSV(context.Background(), l.Store(), Filter{}, &b); err != nil || n != 10 {
		t.Fatalf("CSV: %d records, %v", n, err)
	}
	rows2, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows2) != 11 || rows2[1][14] != "<old> & \u2028" || rows2[10][14] != "<new> & \u2028" || rows2[10][17] != "5" || rows2[10][18] != "nginx:1.27=docker.io/library/nginx@sha256:0123; busybox=" {
		t.Errorf("CSV export: %q", rows2)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// FuzzRecordCanonical holds the direct encoder to json.Marshal then
// appendCanonical, and the new seal to the old one (same hash, stored
// forms that decode alike and pass Check), on records built from fuzzed
// strings, numbers and patch values.
func FuzzRecordCanonical(f *testing.F) {
	f.Add("ns", "<a>&\u2028", "\xff\x00", 1.25, int64(7), []byte(`{"b":[1,"x",null],"a":{"c":true}}`), uint8(0))
	f.Add("", "", "", 0.0, int64(0), []byte(`null`), uint8(0xff))
	f.Add("\U0001F600", "\uFB33", "\u20ac", 1e21, int64(math.MaxInt64), []byte(`[1e400]`), uint8(1))
	f.Add("é", "\xed\xa0\x80", "a\xfe", -5e-324, int64(-1), []byte(` 123.4500 `), uint8(2))
	f.Add("x", "x\xff", "x\xfe", 1e-7, int64(1<<53+1), []byte(`"\u003c\ud83d\ude00"`), uint8(3))
	for _, c := range jcsCases {
		f.Add("a", "b", "c", 0.5, int64(1), []byte(c), uint8(4))
	}
	f.Fuzz(func(t *testing.T, s1, s2, s3 string, lat float64, seq int64, value []byte, flags uint8) {
		r := &Record{
			Time: s1, UID: s2, Webhook: s3, Operation: s1 + s2, Kind: Kind{s1, s2, s3}, Resource: Resource{s3, s2, s1},
			SubResource: s2, Namespace: s3, Name: s1, User: User{Username: s2, Groups: []string{s1, s3}},
			DryRun: flags&1 != 0, Allowed: flags&2 != 0, LatencyMs: lat, Replica: s3, Seq: seq, PrevHash: s1,
			Bundle: Bundle{s2, s3}, Warnings: []string{s3, s1},
			Violations: []Violation{{s1, s2, s3, s1, s2, ""}, {Policy: s3, Exception: s2}},
			Images:     []Image{{s1, s2, s3}, {Image: s2}},
		}
		if flags&4 != 0 {
			r.Reason = s2
		}
		if flags&8 != 0 { // nil slices
			r.Violations, r.Warnings, r.Images, r.User.Groups = nil, nil, nil, nil
		}
		if flags&16 == 0 {
			r.Patch = []PatchOp{
				{Op: s1, Path: s2, Value: s3},
				{Op: "add", Path: "/n", Value: lat},
				{Op: "add", Path: "/i", Value: seq},
				{Op: "add", Path: "/m", Value: map[string]any{s1: s2, s2: lat, s3: []any{s1, seq, flags&32 != 0, nil}}},
				{Op: "remove", Path: s3},
			}
			var decoded any
			if json.Unmarshal(value, &decoded) == nil {
				r.Patch = append(r.Patch, PatchOp{Op: "add", Path: "/decoded", Value: decoded},
					PatchOp{Op: "add", Path: "/wrapped", Value: []any{map[string]any{s3: decoded}}})
			}
			if flags&64 != 0 {
				r.Patch = append(r.Patch, PatchOp{Op: "add", Path: "/raw", Value: json.RawMessage(value)})
			}
		}
		if flags&128 != 0 {
			r.Hash = s3
		}
		want, werr := canonicalViaMarshal(r)
		got, gerr := appendRecordCanonical(nil, r)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("json.Marshal then appendCanonical: error %v; direct: error %v", werr, gerr)
		}
		if werr == nil && !bytes.Equal(got, want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
		checkSeal(t, "fuzzed", r)
	})
}

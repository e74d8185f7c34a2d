package admission

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// differentialKinds are the kinds the differential tests decode each
// case as.
var differentialKinds = []schema.GroupKind{
	{Group: "", Kind: "Pod"},
	{Group: "apps", Kind: "Deployment"},
	{Group: "batch", Kind: "CronJob"},
	{Group: "batch", Kind: "Job"},
	{Group: "apps", Kind: "StatefulSet"},
	{Group: "", Kind: "ReplicationController"},
	{Group: "apps", Kind: "DaemonSet"},
	{Group: "apps", Kind: "ReplicaSet"},
}

// checkTypedDecode holds typedDecode on raw, as a pk, to the converter on
// the map decodeObject gives without its managedFields: the same error-ness
// and the same value. It reports whether typedJSON decoded it.
func checkTypedDecode(t *testing.T, gk schema.GroupKind, raw []byte) bool {
	t.Helper()
	pk, ok := podKinds[gk]
	if !ok {
		t.Fatalf("%v is no pod kind", gk)
	}
	obj, regular, err := decodeObjectRegular(raw)
	want, wantErr := decodeObject(raw)
	if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
		t.Fatalf("decodeObjectRegular(%q): %v; decodeObject: %v", raw, err, wantErr)
	}
	if err != nil {
		return false
	}
	if !reflect.DeepEqual(obj, want) {
		t.Fatalf("decodeObjectRegular(%q) = %#v; decodeObject: %#v", raw, obj, want)
	}
	wantTyped := pk.typed()
	wantErr = runtime.DefaultUnstructuredConverter.FromUnstructured(withoutManagedFields(want), wantTyped)
	var viaJSON runtime.Object
	if regular {
		viaJSON = pk.typed()
		if typedJSON.Unmarshal(raw, viaJSON) != nil {
			viaJSON = nil
		}
	}
	if viaJSON != nil {
		if wantErr != nil {
			t.Fatalf("%s %q: typedJSON takes it as %#v; the converter: %v", gk.Kind, raw, viaJSON, wantErr)
		}
		if !reflect.DeepEqual(viaJSON, wantTyped) {
			t.Fatalf("%s %q: typedJSON = %s\nconverter = %s", gk.Kind, raw, dump(viaJSON), dump(wantTyped))
		}
	}
	got, err := typedDecode(obj, raw, regular, pk)
	if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
		t.Fatalf("%s %q: typedDecode: %v; converter: %v", gk.Kind, raw, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, wantTyped) {
		t.Fatalf("%s %q: typedDecode = %s\nconverter = %s", gk.Kind, raw, dump(got), dump(wantTyped))
	}
	return viaJSON != nil
}

func dump(v any) string {
	return fmt.Sprintf("%+v", v)
}

// inPod puts the pod metadata and spec texts where kind keeps its pod.
func inPod(gk schema.GroupKind, meta, spec string) string {
	pod := `{"metadata":` + meta + `,"spec":` + spec + `}`
	for i := len(podKinds[gk].template) - 1; i >= 0; i-- {
		pod = `{"` + podKinds[gk].template[i] + `":` + pod + `}`
	}
	return pod
}

// trickySpecs are pod specs that the two decoders could read otherwise.
var trickySpecs = []string{
	`{}`, `null`, `[]`, `"x"`, `1`,
	`{"containers":[]}`, `{"containers":null}`, `{"containers":[null]}`, `{"containers":{}}`, `{"containers":"x"}`,
	`{"containers":[{"name":"a","image":"b"}]}`,
	`{"Containers":[{"name":"a"}]}`, `{"containers":[{"Name":"a"}]}`, `{"cont\u0061iners":[{"n\u0061me":"\u0061"}]}`,
	`{"containers":[{"name":"a","image":"b"}],"containers":[{"name":"c"}]}`,
	`{"containers":[{"name":"a","securityContext":{"privileged":true}}],"containers":[{"name":"a"}]}`,
	`{"securityContext":{"runAsUser":1},"securityContext":null}`,
	`{"nodeSelector":{"a":"b"},"nodeSelector":{"c":"d"}}`,
	`{"hostNetwork":true,"hostNetwork":false}`,
	`{"foo":1}`, `{"containers":[{"name":"a","bogus":{"x":[1,2]}}]}`, `{"securityContext":{"privilegedX":true}}`,
	`{"hostNetwork":"true"}`, `{"hostNetwork":1}`, `{"hostNetwork":null}`, `{"nodeSelector":[]}`, `{"nodeSelector":null}`, `{"nodeSelector":{}}`,
	`{"nodeSelector":{"a":null}}`, `{"nodeSelector":{"a":1}}`,
	`{"securityContext":"x"}`, `{"securityContext":[]}`, `{"securityContext":null}`, `{"securityContext":{}}`,
	`{"terminationGracePeriodSeconds":null}`, `{"terminationGracePeriodSeconds":30}`, `{"terminationGracePeriodSeconds":30.0}`,
	`{"terminationGracePeriodSeconds":3e1}`, `{"terminationGracePeriodSeconds":30.5}`, `{"terminationGracePeriodSeconds":-0}`,
	`{"terminationGracePeriodSeconds":9223372036854775807}`, `{"terminationGracePeriodSeconds":9223372036854775808}`,
	`{"terminationGracePeriodSeconds":22337203685724775807}`, `{"terminationGracePeriodSeconds":-22337203685724775807}`,
	`{"terminationGracePeriodSeconds":1e19}`, `{"terminationGracePeriodSeconds":-1e19}`, `{"terminationGracePeriodSeconds":1e300}`,
	`{"terminationGracePeriodSeconds":"30"}`,
	`{"containers":[{"name":"a","ports":[{"containerPort":80}]}]}`,
	`{"containers":[{"name":"a","ports":[{"containerPort":80.0}]}]}`,
	`{"containers":[{"name":"a","ports":[{"containerPort":8e1}]}]}`,
	`{"containers":[{"name":"a","ports":[{"containerPort":1.5}]}]}`,
	`{"containers":[{"name":"a","ports":[{"containerPort":2147483648}]}]}`,
	`{"containers":[{"name":"a","ports":[{"containerPort":-2147483649}]}]}`,
	`{"containers":[{"name":"a","ports":[{"containerPort":4294967376}]}]}`,
	`{"containers":[{"name":"a","ports":[{"containerPort":"80"}]}]}`,
	`{"containers":[{"name":"a","ports":[{"containerPort":null}]}]}`,
	`{"securityContext":{"runAsUser":1e3,"runAsGroup":-1,"fsGroup":1.0}}`,
	`{"securityContext":{"runAsUser":0,"runAsNonRoot":null,"seLinuxOptions":null}}`,
	`{"enableServiceLinks":null,"automountServiceAccountToken":false}`,
	`{"tolerations":[{"key":"k","tolerationSeconds":1.0}]}`,
	`{"tolerations":[{"key":"k","tolerationSeconds":null}]}`,
	`{"containers":[{"name":"a","securityContext":{"capabilities":{"add":["NET_ADMIN"],"drop":null}}}]}`,
	`{"containers":[{"name":"a","securityContext":{"capabilities":{"ADD":["NET_ADMIN"]}}}]}`,
	`{"containers":[{"name":"a","securityContext":{"capabilities":{"add":"NET_ADMIN"}}}]}`,
	`{"containers":[{"name":"a","args":[null,"x",""]}]}`,
	`{"containers":[{"name":"a","args":[1]}]}`,
	`{"containers":[{"name":"\ud800"}]}`, `{"containers":[{"name":"\udc00\ud800\udc00"}]}`, `{"containers":[{"name":"\ud83d\ude00"}]}`,
	`{"containers":[{"name":"\u00e9\u2028<>&\/"}]}`, "{\"containers\":[{\"name\":\"\xff\xfe\"}]}", "{\"containers\":[{\"name\":\"é€\"}]}",
	`{"nodeSelector":{"\ud800":"a","\udbff":"b"}}`,
	`{"a\"b":1,"containers":[{"name":"a"}]}`, `{"x\\":{"containers":[{"name":"a"}]}}`, `{"containers\"":[]}`,
	`{"a\":\"":"x","hostNetwork":true}`, `{"hostNetwork\\":true}`, `{"nodeSelector":{"a\"b":"c","\\":"d"}}`,
}

// quantities, times and int-or-strings, as written.
var (
	trickyQuantities = []string{
		`"1"`, `"100m"`, `"1Gi"`, `"0.1"`, `"1e3"`, `"1E3"`, `" 1 "`, `"1\u0030"`, `"1x"`, `""`, `"<1"`,
		`1`, `1.0`, `1e3`, `1.5`, `-0`, `0.1`, `1e21`, `12345678901234567890`, `1e400`, `null`, `true`, `{}`, `[]`,
		`"12345678901234567890123"`, `"0.000000000001"`, `"-1"`, `"+1"`, `"1.50"`, `"01"`,
	}
	trickyTimes = []string{
		`"2025-03-04T10:15:22Z"`, `"2025-03-04T10:15:22+01:00"`, `"2025-03-04T10:15:22.123Z"`, `"2025\u002d03-04T10:15:22Z"`,
		`"yesterday"`, `""`, `null`, `5`, `{}`, `true`,
	}
	trickyIntOrStrings = []string{
		`8080`, `"http"`, `"80"`, `1.0`, `1e3`, `-0`, `2147483648`, `-1`, `null`, `true`, `{}`, `"\u0068ttp"`, `"<x>"`, `""`,
	}
)

func trickyCases(gk schema.GroupKind) []string {
	var cases []string
	meta := `{"name":"p","labels":{"a":"b"}}`
	for _, spec := range trickySpecs {
		cases = append(cases, inPod(gk, meta, spec))
	}
	for _, q := range trickyQuantities {
		cases = append(cases,
			inPod(gk, meta, `{"containers":[{"name":"a","resources":{"limits":{"cpu":`+q+`},"requests":{"memory":`+q+`}}}]}`),
			inPod(gk, meta, `{"volumes":[{"name":"v","emptyDir":{"sizeLimit":`+q+`}}]}`),
			inPod(gk, meta, `{"overhead":{"cpu":`+q+`}}`))
	}
	for _, tm := range trickyTimes {
		cases = append(cases,
			inPod(gk, `{"creationTimestamp":`+tm+`}`, `{}`),
			inPod(gk, `{"deletionTimestamp":`+tm+`}`, `{}`),
			`{"metadata":{"creationTimestamp":`+tm+`,"managedFields":[{"time":`+tm+`}]},"status":{"startTime":`+tm+`,"lastScheduleTime":`+tm+`}}`)
	}
	for _, is := range trickyIntOrStrings {
		cases = append(cases,
			inPod(gk, meta, `{"containers":[{"name":"a","livenessProbe":{"httpGet":{"port":`+is+`}},"readinessProbe":{"tcpSocket":{"port":`+is+`}}}]}`),
			`{"spec":{"strategy":{"rollingUpdate":{"maxUnavailable":`+is+`,"maxSurge":`+is+`}},"updateStrategy":{"rollingUpdate":{"partition":1,"maxUnavailable":`+is+`}}}}`)
	}
	for _, meta := range []string{
		`null`, `[]`, `"x"`, `{"labels":{}}`, `{"labels":null}`, `{"labels":{"a":null}}`, `{"labels":{"a":1}}`,
		`{"labels":{"a":"b","a":"c"}}`, `{"labels":{"a":"b"},"labels":{"c":"d"}}`, `{"Labels":{"a":"b"}}`,
		`{"annotations":{"a":"\u003c"}}`, `{"ownerReferences":[{"controller":null,"uid":"u"}]}`,
		`{"managedFields":[{"manager":"m","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:b":{},"f:a":{".":{}}}}}]}`,
		`{"managedFields":[{"fieldsV1": { "f:x" : [ 1 , 2.0, 1e3, "<&>", null ] } }]}`,
		`{"managedFields":[{"fieldsV1":null},{"fieldsV1":"x"},{"fieldsV1":1},{"fieldsV1":{}}]}`,
		`{"managedFields":[{"fieldsV1":{"f:x":{},"f:x":{"a":1}}}]}`,
		`{"managedFields":[{"fieldsV1":{".":{},"f:a":{},"k:{\"name\":\"x\"}":{".":{}},"v:\"a\\\\b\"":{}}}]}`,
		`{"managedFields":[{"fieldsV1":{"k:{\"name\":\"x\"}":{},"f:a":{}}}]}`,
		`{"managedFields":[{"fieldsV1":{"a\"":{},"a#":{}}}]}`, `{"managedFields":[{"fieldsV1":{"a#":{},"a\"":{}}}]}`,
		`{"managedFields":[{"fieldsV1":{"f:é":{},"f:\u00e9":{},"f:\/":{},"f:\n":{}}}]}`,
		"{\"managedFields\":[{\"fieldsV1\":{\"f:\u2028\":{},\"f:\xff\":{}}}]}",
		`{"managedFields":[{"fieldsV1":{"f:a":[1,-2,0,-0,01,1.0,123456789012345678,1234567890123456789,true,false,null]}}]}`,
		`{"managedFields":[{"fieldsV1":{"f:a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}]}`,
		`{"generation":1.0,"deletionGracePeriodSeconds":1e2}`,
	} {
		cases = append(cases, inPod(gk, meta, `{"containers":[{"name":"a"}]}`))
	}
	cases = append(cases,
		`{}`, `{"apiVersion":1}`, `{"kind":null,"apiVersion":"v1"}`, `{"status":"x"}`, `{"status":{"phase":"Running"}}`,
		`{"spec":{"replicas":1.0,"template":{}}}`, `{"spec":{"replicas":1.5}}`, `{"spec":{"replicas":null}}`,
		`{"spec":{"selector":{"matchLabels":{"a":"b"},"matchExpressions":[{"key":"k","operator":"In","values":null}]}}}`,
		`{"spec":{"schedule":"* * * * *","jobTemplate":{"metadata":{"labels":{"x":"y"}},"spec":{"backoffLimit":6.0,"parallelism":null}}}}`,
		`{"spec":{"volumeClaimTemplates":[{"spec":{"resources":{"requests":{"storage":"1Gi"}}}}]}}`,
		`{"spec":{"volumeClaimTemplates":[{"spec":{"resources":{"requests":{"storage":1e9}}}}]}}`,
	)
	return cases
}

func TestTypedDecodeMatchesConverter(t *testing.T) {
	for _, gk := range differentialKinds {
		viaJSON, total := 0, 0
		for _, raw := range trickyCases(gk) {
			total++
			if checkTypedDecode(t, gk, []byte(raw)) {
				viaJSON++
			}
		}
		for _, name := range []string{"pod", "deployment", "pod-as-sent"} {
			raw, err := os.ReadFile("testdata/" + name + ".json")
			if err != nil {
				t.Fatal(err)
			}
			total++
			if checkTypedDecode(t, gk, raw) {
				viaJSON++
			}
		}
		t.Logf("%s: %d of %d cases decoded by typedJSON", gk.Kind, viaJSON, total)
	}
}

// TestTypedDecodeTakesTheFixtures checks that typedJSON, not the
// converter, decodes the usual objects.
func TestTypedDecodeTakesTheFixtures(t *testing.T) {
	for name, gk := range map[string]schema.GroupKind{"pod": {Kind: "Pod"}, "deployment": {Group: "apps", Kind: "Deployment"}, "pod-as-sent": {Kind: "Pod"}} {
		raw, err := os.ReadFile("testdata/" + name + ".json")
		if err != nil {
			t.Fatal(err)
		}
		if !checkTypedDecode(t, gk, raw) {
			t.Errorf("typedJSON does not decode testdata/%s.json", name)
		}
	}
}

// TestTypedObjectLeavesOutManagedFields: the typed object has no
// managedFields in any ObjectMeta, whichever decoder made it and whatever
// the value was (the converter takes the text with a repeated key), while
// the map, the policies' input, keeps them as they came.
func TestTypedObjectLeavesOutManagedFields(t *testing.T) {
	asSent, err := os.ReadFile("testdata/pod-as-sent.json")
	if err != nil {
		t.Fatal(err)
	}
	mf := `[{"manager":"m","operation":"Update","time":"2026-11-30T02:32:01Z","fieldsType":"FieldsV1","fieldsV1":{"f:x":{}}}]`
	sts := schema.GroupKind{Group: "apps", Kind: "StatefulSet"}
	for _, c := range []struct {
		name      string
		gk        schema.GroupKind
		raw       string
		converter bool // decoded by the converter, not typedJSON
	}{
		{"pod as sent", schema.GroupKind{Kind: "Pod"}, string(asSent), false},
		{"template", sts, `{"metadata":{"name":"s","managedFields":` + mf + `},"spec":{"template":{"metadata":{"managedFields":` + mf + `},"spec":{}},` +
			`"volumeClaimTemplates":[{"metadata":{"name":"v","managedFields":` + mf + `}},null,{"metadata":{"managedFields":` + mf + `}}]}}`, false},
		{"repeated key", sts, `{"metadata":{"name":"a","name":"s","managedFields":` + mf + `},"spec":{"template":{"metadata":{"managedFields":` + mf + `}},` +
			`"volumeClaimTemplates":[{"metadata":{"managedFields":` + mf + `}}]}}`, true},
		{"wrong types", sts, `{"metadata":{"managedFields":"x"},"spec":{"template":{"metadata":{"managedFields":[{"time":1}]}},` +
			`"volumeClaimTemplates":[{"metadata":{"managedFields":{"a":1}}}]}}`, false},
		{"wrong types, repeated key", sts, `{"metadata":{"managedFields":"x","managedFields":1},"spec":{"template":{"metadata":{"managedFields":[{"time":1}]}},` +
			`"volumeClaimTemplates":[{"metadata":{"managedFields":{"a":1}}}]}}`, true},
		{"metadata in managedFields", sts, `{"metadata":{"name":"a","name":"s","managedFields":[{"metadata":{"managedFields":1}}]},` +
			`"spec":{"volumeClaimTemplates":[{"metadata":{"managedFields":[{"metadata":{"managedFields":1}}]}}]}}`, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if viaJSON := checkTypedDecode(t, c.gk, []byte(c.raw)); viaJSON == c.converter {
				t.Errorf("decoded by typedJSON: %v, want %v", viaJSON, !c.converter)
			}
			obj, regular, err := decodeObjectRegular([]byte(c.raw))
			if err != nil {
				t.Fatal(err)
			}
			before := fmt.Sprint(obj)
			typed, err := typedDecode(obj, []byte(c.raw), regular, podKinds[c.gk])
			if err != nil {
				t.Fatal(err)
			}
			if after := fmt.Sprint(obj); after != before {
				t.Errorf("the map changed:\n%s\nwas\n%s", after, before)
			}
			if !strings.Contains(before, "managedFields") {
				t.Errorf("the map has no managedFields: %s", before)
			}
			metas := []metav1.ObjectMeta{}
			switch o := typed.(type) {
			case *corev1.Pod:
				metas = append(metas, o.ObjectMeta)
			case *appsv1.StatefulSet:
				metas = append(metas, o.ObjectMeta, o.Spec.Template.ObjectMeta)
				for _, v := range o.Spec.VolumeClaimTemplates {
					metas = append(metas, v.ObjectMeta)
				}
				if len(o.Spec.VolumeClaimTemplates) == 0 {
					t.Errorf("no volume claim templates: %+v", o.Spec)
				}
			}
			for i, m := range metas {
				if m.ManagedFields != nil {
					t.Errorf("ObjectMeta %d has managedFields %+v", i, m.ManagedFields)
				}
			}
		})
	}
}

func FuzzTypedDecode(f *testing.F) {
	kindIndex := func(gk schema.GroupKind) uint8 {
		for i, k := range differentialKinds {
			if k == gk {
				return uint8(i)
			}
		}
		panic(gk)
	}
	for i, gk := range differentialKinds {
		for _, raw := range trickyCases(gk) {
			f.Add(uint8(i), []byte(raw))
		}
	}
	for _, name := range []string{"pod", "deployment", "pod-as-sent"} {
		raw, err := os.ReadFile("testdata/" + name + ".json")
		if err != nil {
			f.Fatal(err)
		}
		for i := range differentialKinds {
			f.Add(uint8(i), raw)
		}
	}
	// The seeds of FuzzDecode and FuzzDecodeJSON.
	for _, seed := range FuzzDecodeSeeds {
		gk := schema.GroupKind{Kind: seed.Kind}
		switch seed.Kind {
		case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet":
			gk.Group = "apps"
		case "Job", "CronJob":
			gk.Group = "batch"
		}
		if _, ok := podKinds[gk]; ok {
			f.Add(kindIndex(gk), []byte(seed.Raw))
		} else {
			f.Add(uint8(0), []byte(seed.Raw))
		}
	}
	for _, raw := range jsonCases {
		f.Add(uint8(0), []byte(raw))
	}
	f.Fuzz(func(t *testing.T, kind uint8, raw []byte) {
		checkTypedDecode(t, differentialKinds[int(kind)%len(differentialKinds)], raw)
	})
}

// FuzzDecodeSeeds are the seeds of FuzzDecode (fuzz_test.go) and
// FuzzTypedDecode: an
// object of each kind, wrong types, bad JSON and kinds that are not pods.
var FuzzDecodeSeeds = []struct{ Kind, Raw string }{
	{"Pod", `{"metadata":{"name":"p","labels":{"owner":"me"}},"spec":{"containers":[{"name":"a","image":"b"}]}}`},
	{"Pod", `{"spec":"containers"}`},
	{"Pod", `{"metadata":{"labels":{"owner":1}}}`},
	{"Pod", `[]`},
	{"Pod", `null`},
	{"Pod", `{"spec":{"x":1e400}}`},
	{"Pod", ``},
	{"Pod", `not json`},
	{"Deployment", `{"spec":{"template":{"spec":{"containers":{"name":"a"}}}}}`},
	{"Deployment", `{"spec":{"template":null}}`},
	{"Deployment", `{"spec":{"template":{}}}`},
	{"Deployment", `{"spec":{"replicas":1.5,"template":{"spec":{}}}}`},
	{"StatefulSet", `{"spec":{"template":"x"}}`},
	{"CronJob", `{"spec":{"jobTemplate":42}}`},
	{"CronJob", `{"spec":{"jobTemplate":{"spec":{"template":{"metadata":{"labels":{"owner":"x"}}}}}}}`},
	{"Job", `{"spec":{"template":{"spec":{"containers":[{"resources":{"limits":{"cpu":"1x"}}}]}}}}`},
	{"ReplicationController", `{"spec":{"template":{"metadata":{"creationTimestamp":"yesterday"}}}}`},
	{"PersistentVolumeClaim", `{"spec":{"resources":{"requests":{"storage":"1Gi"}}}}`},
	{"Widget", `{"spec":[1,2,3]}`},
}

// BenchmarkDecode is Decode of the fixtures: the map, the size checks and
// the typed object. pod-as-sent is a pod as the API server sends it to the
// webhooks (defaults, managedFields).
func BenchmarkDecode(b *testing.B) {
	for _, c := range []struct {
		name string
		gvk  schema.GroupVersionKind
	}{
		{"pod", schema.GroupVersionKind{Version: "v1", Kind: "Pod"}},
		{"deployment", schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}},
		{"pod-as-sent", schema.GroupVersionKind{Version: "v1", Kind: "Pod"}},
	} {
		raw, err := os.ReadFile("testdata/" + c.name + ".json")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodeObject(raw, c.gvk, "shop", "x"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTypedDecode is the typed object alone, from the map with the
// converter (before) and from the text with typedDecode.
func BenchmarkTypedDecode(b *testing.B) {
	for name, gk := range map[string]schema.GroupKind{"pod": {Kind: "Pod"}, "deployment": {Group: "apps", Kind: "Deployment"}, "pod-as-sent": {Kind: "Pod"}} {
		raw, err := os.ReadFile("testdata/" + name + ".json")
		if err != nil {
			b.Fatal(err)
		}
		obj, regular, err := decodeObjectRegular(raw)
		if err != nil || !regular {
			b.Fatal(err, regular)
		}
		pk := podKinds[gk]
		b.Run(name+"/converter", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, pk.typed()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/typedDecode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := typedDecode(obj, raw, regular, pk); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestWrittenAgainAsIs holds writtenAgainAsIs to its promise: what it
// takes, encoding/json writes again as the same text from what decodeJSON
// decodes. The cases it refuses are those it is not sure of.
func TestWrittenAgainAsIs(t *testing.T) {
	for _, c := range []struct {
		text string
		want bool
	}{
		{`"100m"`, true}, {`"2025-03-04T10:15:22Z"`, true}, {`""`, true}, {`"é"`, false}, {`"a\"b\\c"`, false},
		{`1`, true}, {`-1`, true}, {`0`, true}, {`123456789012345678`, true},
		{`null`, false}, {`true`, false}, {`{}`, false}, {`[]`, false}, {`{"a":1}`, false}, {`["1"]`, false},
		{` "a"`, false}, {`"a" `, false}, {` 1`, false}, {`1 `, false},
		{`-0`, false}, {`01`, false}, {`-`, false}, {`1.0`, false}, {`1e3`, false}, {`1234567890123456789`, false},
		{`"<"`, false}, {`">"`, false}, {`"&"`, false}, {"\"\u2028\"", false}, {"\"\xff\"", false},
		{`"\/"`, false}, {`"\n"`, false}, {`"\u0041"`, false}, {"\"\t\"", false},
		{`"abc`, false}, {`"a"b"`, false}, {`nul`, false}, {``, false},
	} {
		if got := writtenAgainAsIs([]byte(c.text)); got != c.want {
			t.Errorf("writtenAgainAsIs(%q) = %v, want %v", c.text, got, c.want)
		}
		checkWrittenAgainAsIs(t, []byte(c.text))
	}
	raw, err := os.ReadFile("testdata/pod-as-sent.json")
	if err != nil {
		t.Fatal(err)
	}
	obj, err := decodeObject(raw)
	if err != nil {
		t.Fatal(err)
	}
	meta := obj["metadata"].(map[string]any)
	limits := obj["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["resources"].(map[string]any)["limits"].(map[string]any)
	for _, v := range []any{meta["creationTimestamp"], limits["memory"]} {
		text, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(raw, text) || !writtenAgainAsIs(text) {
			t.Errorf("%s, as the API server wrote it, is not taken as written", text)
		}
	}
}

// checkWrittenAgainAsIs fails if writtenAgainAsIs takes text that
// encoding/json would write otherwise.
func checkWrittenAgainAsIs(t *testing.T, text []byte) {
	t.Helper()
	if !writtenAgainAsIs(text) {
		return
	}
	v, err := decodeJSON(text, MaxValues)
	if err != nil {
		t.Fatalf("writtenAgainAsIs(%q) but decodeJSON: %v", text, err)
	}
	again, err := json.Marshal(v)
	if err != nil || !bytes.Equal(again, text) {
		t.Fatalf("writtenAgainAsIs(%q) but encoding/json writes %q (%v)", text, again, err)
	}
}

func FuzzWrittenAgainAsIs(f *testing.F) {
	for _, c := range jsonCases {
		f.Add([]byte(c))
	}
	for _, c := range []string{`"100m"`, `"2026-11-30T02:32:01Z"`, `-12`, `8080`} {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		checkWrittenAgainAsIs(t, text)
	})
}

// Package admission decodes an admission request into the one input document
// that every policy and mutator reads: the submitted object, where its pods
// are (a Pod, or the pod template of any workload kind), and its context.
package admission

import (
	"errors"
	"fmt"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Pod is one pod in the submitted object: the Pod itself or a pod template.
// The paths are dotted field paths in the submitted object, so that a policy
// can name e.g. spec.template.spec.containers[0].image.
type Pod struct {
	MetadataPath string
	SpecPath     string
	Metadata     map[string]any
	Spec         map[string]any
}

// Input is a decoded admission request.
type Input struct {
	Request   *admissionv1.AdmissionRequest
	GroupKind schema.GroupKind
	// Object is the submitted object (the old one on DELETE), decoded once.
	Object    map[string]any
	OldObject map[string]any
	// Typed is the object decoded into its Go type for the pod kinds
	// (nil for other kinds).
	Typed runtime.Object
	Pods  []Pod
	// NamespaceLabels are the labels of the request's namespace, when known.
	NamespaceLabels map[string]string
	// StorageClass is, for a PersistentVolumeClaim, the class it gets
	// ({name, annotations, default}), when known.
	StorageClass map[string]any
	// ImageVerification is, per image as written, what the signature
	// verifier found (nil when it did not run).
	ImageVerification map[string]any
	// PodSecurity is what the API server's Pod Security Standards checks
	// found in the pods (nil when they did not run).
	PodSecurity map[string]any
}

// Error is input that cannot be decoded: the request is bad, not the server.
type Error struct{ Err error }

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// IsBadInput reports whether err came from undecodable input.
func IsBadInput(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

func bad(format string, args ...any) error { return &Error{Err: fmt.Errorf(format, args...)} }

// Decode turns an admission request into policy input.
func Decode(req *admissionv1.AdmissionRequest) (*Input, error) {
	if req == nil {
		return nil, bad("admission review has no request")
	}
	in := &Input{Request: req, GroupKind: schema.GroupKind{Group: req.Kind.Group, Kind: req.Kind.Kind}}
	raw := req.Object.Raw
	if req.Operation == admissionv1.Delete && len(raw) == 0 {
		raw = req.OldObject.Raw
	}
	if len(raw) == 0 {
		return nil, bad("%s request for %s has no object", req.Operation, in.GroupKind)
	}
	obj, regular, err := decodeObjectRegular(raw)
	if err != nil {
		return nil, bad("decoding %s: %w", in.GroupKind, err)
	}
	in.Object = obj
	if len(req.OldObject.Raw) > 0 {
		if in.OldObject, err = decodeObject(req.OldObject.Raw); err != nil {
			return nil, bad("decoding old %s: %w", in.GroupKind, err)
		}
	}
	if pk, ok := podKinds[in.GroupKind]; ok {
		if in.Typed, in.Pods, err = pods(obj, raw, regular, pk); err != nil {
			return nil, bad("%s %q: %w", in.GroupKind.Kind, req.Name, err)
		}
	}
	return in, nil
}

// DecodeObject decodes a bare object, as read from a manifest, into input for
// a CREATE request in namespace.
func DecodeObject(raw []byte, gvk schema.GroupVersionKind, namespace, name string) (*Input, error) {
	req := &admissionv1.AdmissionRequest{
		Kind:      metaGVK(gvk),
		Operation: admissionv1.Create,
		Namespace: namespace,
		Name:      name,
		Object:    runtime.RawExtension{Raw: raw},
	}
	return Decode(req)
}

func decodeObject(raw []byte) (map[string]any, error) {
	v, err := decodeValues(raw, MaxValues)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("object is not a JSON object")
	}
	return obj, nil
}

// pods finds the pods, refuses one too large to evaluate, and checks the
// field types through the typed object (after the size: a typed copy of a
// huge pod is the costliest part of refusing it). raw is the text of obj,
// and regular what decodeObjectRegular said of it.
func pods(obj map[string]any, raw []byte, regular bool, pk podKind) (runtime.Object, []Pod, error) {
	// A missing template (or part of its path) is an empty one: the API
	// server refuses such objects anyway, and the policies still see the
	// workload and name the paths where the template belongs.
	tpl, prefix := obj, ""
	for i, k := range pk.template {
		next, ok := tpl[k].(map[string]any)
		if !ok && tpl[k] != nil {
			return nil, nil, fmt.Errorf("%s is not an object", strings.Join(pk.template[:i+1], "."))
		}
		if next == nil {
			next = map[string]any{}
		}
		tpl = next
	}
	if len(pk.template) > 0 {
		prefix = strings.Join(pk.template, ".") + "."
	}
	meta, _ := tpl["metadata"].(map[string]any)
	spec, _ := tpl["spec"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	if spec == nil {
		spec = map[string]any{}
	}
	pod := Pod{MetadataPath: prefix + "metadata", SpecPath: prefix + "spec", Metadata: meta, Spec: spec}
	if err := checkSize(pod); err != nil {
		return nil, nil, err
	}
	typed, err := typedDecode(obj, raw, regular, pk)
	if err != nil {
		return nil, nil, fmt.Errorf("fields of the wrong type: %w", err)
	}
	return typed, []Pod{pod}, nil
}

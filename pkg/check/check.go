// Package check runs microguard's admission decisions offline, on manifests,
// for CI pipelines: the same engine, config and messages as the webhook.
package check

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	jsonpatchapply "github.com/evanphx/json-patch/v5"
	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/microguard/microguard/pkg/manifest"
	"github.com/microguard/microguard/pkg/policy"
	"github.com/microguard/microguard/pkg/review"
)

// Exit codes.
const (
	ExitAdmitted = 0 // every object is admitted
	ExitDenied   = 1 // at least one object is denied
	ExitError    = 2 // unreadable input or usage error
)

// Report is the -o json document. Keep the field names: tools parse them.
type Report struct {
	Results []Result `json:"results"`
}

// Result is the decision on one object.
type Result struct {
	APIVersion string                `json:"apiVersion"`
	Kind       string                `json:"kind"`
	Namespace  string                `json:"namespace"`
	Name       string                `json:"name"`
	Source     string                `json:"source"`
	Allowed    bool                  `json:"allowed"`
	Violations []policy.Violation    `json:"violations"`
	Warnings   []string              `json:"warnings"`
	Patch      []jsonpatch.Operation `json:"patch"`
	// Object is the object as the API server would store it: mutated.
	Object json.RawMessage `json:"-"`
}

// Objects decides every object as a CREATE request would be decided. The
// labels of Namespace objects among them are the namespace labels of the
// objects in those namespaces.
func Objects(ctx context.Context, rv func(review.Namespaces) *review.Reviewer, objs []manifest.Object) (*Report, error) {
	ns := namespaces{}
	for _, o := range objs {
		if o.GVK.Group == "" && o.GVK.Kind == "Namespace" {
			ns[o.Name] = o.Labels
		}
	}
	r := rv(ns).WithStorageClasses(classes(objs))
	rep := &Report{Results: make([]Result, 0, len(objs))}
	for _, o := range objs {
		// As the API server does: mutate, apply the patch, then validate
		// the mutated object.
		req := request(o)
		mut := r.Mutate(ctx, req)
		if mut.Err != nil {
			return nil, &manifest.Error{Source: o.Source, Err: mut.Err}
		}
		if len(mut.Patch) > 0 {
			patched, err := applyPatch(o.Raw, mut.Patch)
			if err != nil {
				return nil, &manifest.Error{Source: o.Source, Err: err}
			}
			req.Object.Raw = patched
		}
		res := r.Validate(ctx, req)
		if res.Err != nil {
			return nil, &manifest.Error{Source: o.Source, Err: res.Err}
		}
		out := Result{
			APIVersion: o.GVK.GroupVersion().String(),
			Kind:       o.GVK.Kind,
			Namespace:  o.Namespace,
			Name:       o.Name,
			Source:     o.Source,
			Allowed:    res.Allowed,
			Violations: nonNil(res.Violations),
			Warnings:   append([]string{}, res.WarningLines()...),
			Patch:      mut.Patch,
			Object:     req.Object.Raw,
		}
		if out.Patch == nil {
			out.Patch = []jsonpatch.Operation{}
		}
		rep.Results = append(rep.Results, out)
	}
	return rep, nil
}

func applyPatch(raw []byte, ops []jsonpatch.Operation) ([]byte, error) {
	data, err := json.Marshal(ops)
	if err != nil {
		return nil, err
	}
	patch, err := jsonpatchapply.DecodePatch(data)
	if err != nil {
		return nil, fmt.Errorf("decoding mutation patch: %w", err)
	}
	out, err := patch.Apply(raw)
	if err != nil {
		return nil, fmt.Errorf("applying mutation patch: %w", err)
	}
	return out, nil
}

// Denied reports whether any object was denied.
func (r *Report) Denied() bool {
	for _, res := range r.Results {
		if !res.Allowed {
			return true
		}
	}
	return false
}

// WriteYAML writes every object as the API server would store it (mutated),
// as multi-document YAML.
func (r *Report) WriteYAML(w io.Writer) error {
	for i, res := range r.Results {
		data, err := yaml.JSONToYAML(res.Object)
		if err != nil {
			return fmt.Errorf("%s: %w", res.Source, err)
		}
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON writes the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

func request(o manifest.Object) *admissionv1.AdmissionRequest {
	dry := true
	return &admissionv1.AdmissionRequest{
		UID:       "microguard-check",
		Kind:      metav1.GroupVersionKind{Group: o.GVK.Group, Version: o.GVK.Version, Kind: o.GVK.Kind},
		Operation: admissionv1.Create,
		Namespace: o.Namespace,
		Name:      o.Name,
		Object:    runtime.RawExtension{Raw: o.Raw},
		DryRun:    &dry,
		UserInfo:  authenticationv1.UserInfo{Username: "microguard-check"},
	}
}

func nonNil(vs []policy.Violation) []policy.Violation {
	if vs == nil {
		return []policy.Violation{}
	}
	return vs
}

// namespaces are the Namespace objects of the input. Offline, a namespace
// the input does not hold is known to have no labels (the reviewer refuses
// an unknown one, which only the webhook can meet).
type namespaces map[string]map[string]string

func (n namespaces) Labels(_ context.Context, name string) (map[string]string, bool, error) {
	return n[name], true, nil
}

// storageClasses are the StorageClass objects of the input.
type storageClasses []manifest.Object

func classes(objs []manifest.Object) storageClasses {
	var out storageClasses
	for _, o := range objs {
		if o.GVK.Group == "storage.k8s.io" && o.GVK.Kind == "StorageClass" {
			out = append(out, o)
		}
	}
	return out
}

// StorageClass finds the named class, or the default one (the last one
// marked default in the input, as the input gives no creation times).
func (s storageClasses) StorageClass(_ context.Context, name *string) (review.StorageClass, bool, error) {
	var found *review.StorageClass
	for _, o := range s {
		a := o.Annotations
		switch {
		case name != nil && o.Name == *name:
			return review.StorageClass{Name: o.Name, Annotations: a}, true, nil
		case name == nil && (a["storageclass.kubernetes.io/is-default-class"] == "true" || a["storageclass.beta.kubernetes.io/is-default-class"] == "true"):
			found = &review.StorageClass{Name: o.Name, Annotations: a, Default: true}
		}
	}
	if found == nil {
		return review.StorageClass{}, false, nil
	}
	return *found, true, nil
}

// IsInputError reports whether err is about the input (exit 2).
func IsInputError(err error) bool {
	var e *manifest.Error
	return errors.As(err, &e)
}

// Summary is a one-line count of the results.
func (r *Report) Summary() string {
	denied := 0
	for _, res := range r.Results {
		if !res.Allowed {
			denied++
		}
	}
	return fmt.Sprintf("%d objects checked: %d admitted, %d denied", len(r.Results), len(r.Results)-denied, denied)
}

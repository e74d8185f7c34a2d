package admission

import (
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Document returns the policy input document. Policies read:
//
//	operation, subResource, namespace, name, dryRun
//	kind {group, version, kind}, resource {group, version, resource}
//	userInfo {username, groups}
//	object, oldObject           the submitted object (and the stored one on UPDATE)
//	pods [{metadataPath, specPath, metadata, spec}]
//	namespaceLabels {key: value}
//	storageClass {name, annotations, default}   for a PersistentVolumeClaim whose class is known
//	imageVerification {image: {outcome, reference, rule, ...}}  when the signature verifier ran
//	podSecurity {level, version, failing {checkID: {pod, reason, detail}}}  when upstream's Pod Security checks ran
func (in *Input) Document() map[string]any {
	r := in.Request
	groups := make([]any, len(r.UserInfo.Groups))
	for i, g := range r.UserInfo.Groups {
		groups[i] = g
	}
	pods := make([]any, len(in.Pods))
	for i, p := range in.Pods {
		pods[i] = map[string]any{
			"metadataPath": p.MetadataPath,
			"specPath":     p.SpecPath,
			"metadata":     p.Metadata,
			"spec":         p.Spec,
		}
	}
	nsLabels := make(map[string]any, len(in.NamespaceLabels))
	for k, v := range in.NamespaceLabels {
		nsLabels[k] = v
	}
	doc := map[string]any{
		"operation":       string(r.Operation),
		"subResource":     r.SubResource,
		"namespace":       r.Namespace,
		"name":            in.Name(),
		"dryRun":          r.DryRun != nil && *r.DryRun,
		"kind":            map[string]any{"group": r.Kind.Group, "version": r.Kind.Version, "kind": r.Kind.Kind},
		"resource":        map[string]any{"group": r.Resource.Group, "version": r.Resource.Version, "resource": r.Resource.Resource},
		"userInfo":        map[string]any{"username": r.UserInfo.Username, "groups": groups},
		"object":          in.Object,
		"pods":            pods,
		"namespaceLabels": nsLabels,
	}
	if in.OldObject != nil {
		doc["oldObject"] = in.OldObject
	}
	if in.StorageClass != nil {
		doc["storageClass"] = in.StorageClass
	}
	if in.ImageVerification != nil {
		doc["imageVerification"] = in.ImageVerification
	}
	if in.PodSecurity != nil {
		doc["podSecurity"] = in.PodSecurity
	}
	return doc
}

// Name is the object's name, from the request or, for generated names,
// from the object.
func (in *Input) Name() string {
	if in.Request.Name != "" {
		return in.Request.Name
	}
	if meta, ok := in.Object["metadata"].(map[string]any); ok {
		if n, _ := meta["name"].(string); n != "" {
			return n
		}
		if g, _ := meta["generateName"].(string); g != "" {
			return g
		}
	}
	return ""
}

// Skip reports whether the request is one microguard admits untouched:
// DELETE and CONNECT.
func Skip(r *admissionv1.AdmissionRequest) bool {
	return r.Operation == admissionv1.Delete || r.Operation == admissionv1.Connect
}

func metaGVK(gvk schema.GroupVersionKind) metav1.GroupVersionKind {
	return metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind}
}

// CheckRequest refuses what is not an admission request at all: no request,
// no uid, no kind or an unknown operation. Both webhooks call it before
// anything else, so an empty review is never admitted.
func CheckRequest(r *admissionv1.AdmissionRequest) error {
	switch {
	case r == nil:
		return bad("admission review has no request")
	case r.UID == "":
		return bad("admission request has no uid")
	case r.Kind.Kind == "" || r.Kind.Version == "":
		return bad("admission request has no kind")
	}
	switch r.Operation {
	case admissionv1.Create, admissionv1.Update, admissionv1.Delete, admissionv1.Connect:
		return nil
	}
	return bad("admission request has unknown operation %q", r.Operation)
}

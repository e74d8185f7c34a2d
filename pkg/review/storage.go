package review

import (
	"context"
	"fmt"

	"github.com/microguard/microguard/pkg/admission"
)

// StorageClass is what policies know of the storage class a claim gets.
type StorageClass struct {
	Name        string
	Annotations map[string]string
	// Default is true when the claim names no class and gets the cluster's
	// default one.
	Default bool
}

// StorageClasses finds the class a PersistentVolumeClaim gets: the named
// one, or the cluster default when name is nil. ok is false when there is
// no such class.
type StorageClasses interface {
	StorageClass(ctx context.Context, name *string) (class StorageClass, ok bool, err error)
}

// WithStorageClasses makes the reviewer resolve the storage class of
// PersistentVolumeClaims through sc.
func (rv *Reviewer) WithStorageClasses(sc StorageClasses) *Reviewer {
	rv.storage = sc
	return rv
}

// storageClass sets the input's storage class for a PersistentVolumeClaim.
func (rv *Reviewer) storageClass(ctx context.Context, in *admission.Input) error {
	if rv.storage == nil || in.GroupKind.Group != "" || in.GroupKind.Kind != "PersistentVolumeClaim" {
		return nil
	}
	var name *string
	if spec, ok := in.Object["spec"].(map[string]any); ok {
		if n, ok := spec["storageClassName"].(string); ok {
			if n == "" {
				return nil // explicitly no class: binds to a pre-provisioned volume
			}
			name = &n
		}
	}
	class, ok, err := rv.storage.StorageClass(ctx, name)
	if err != nil {
		return fmt.Errorf("reading storage classes: %w", err)
	}
	if ok {
		in.StorageClass = map[string]any{"name": class.Name, "annotations": stringsToAny(class.Annotations), "default": class.Default}
	}
	return nil
}

func stringsToAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

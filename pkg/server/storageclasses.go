package server

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/microguard/microguard/pkg/review"
)

// Default storage class annotations, GA and beta, as the API server's
// DefaultStorageClass admission reads them.
const (
	defaultClassAnnotation     = "storageclass.kubernetes.io/is-default-class"
	defaultClassAnnotationBeta = "storageclass.beta.kubernetes.io/is-default-class"
)

var storageClassGVK = schema.GroupVersionKind{Group: "storage.k8s.io", Version: "v1", Kind: "StorageClass"}

func storageClassListMeta() *metav1.PartialObjectMetadataList {
	l := &metav1.PartialObjectMetadataList{}
	l.SetGroupVersionKind(storageClassGVK.GroupVersion().WithKind("StorageClassList"))
	return l
}

// storageClassCache serves storage classes.
type storageClassCache struct{ *metaCache }

func (c *storageClassCache) StorageClass(ctx context.Context, name *string) (review.StorageClass, bool, error) {
	if name != nil {
		m, ok, err := c.get(ctx, *name)
		if !ok || err != nil {
			return review.StorageClass{}, false, err
		}
		return review.StorageClass{Name: m.Name, Annotations: m.Annotations}, true, nil
	}
	list := storageClassListMeta()
	if err := c.reader.List(ctx, list); err != nil {
		return review.StorageClass{}, false, err
	}
	var best *metav1.PartialObjectMetadata
	for i := range list.Items {
		sc := &list.Items[i]
		if sc.Annotations[defaultClassAnnotation] != "true" && sc.Annotations[defaultClassAnnotationBeta] != "true" {
			continue
		}
		// Several defaults: the API server picks the newest.
		if best == nil || sc.CreationTimestamp.After(best.CreationTimestamp.Time) ||
			(sc.CreationTimestamp.Equal(&best.CreationTimestamp) && sc.Name < best.Name) {
			best = sc
		}
	}
	if best == nil {
		return review.StorageClass{}, false, nil
	}
	return review.StorageClass{Name: best.Name, Annotations: best.Annotations, Default: true}, true, nil
}

package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// metaCache serves the metadata of one cluster-scoped kind from a
// metadata-only informer. An object the informer has not seen yet (created a
// moment ago) is read from the API server, so it is not missed.
type metaCache struct {
	what   string // for messages: "namespaces"
	gvk    schema.GroupVersionKind
	reader client.Reader
	live   client.Reader
	synced toolscache.InformerSynced
}

func newMetaCache(mgr manager.Manager, what string, gvk schema.GroupVersionKind) (*metaCache, error) {
	c := &metaCache{what: what, gvk: gvk, reader: mgr.GetCache(), live: mgr.GetAPIReader()}
	informer, err := mgr.GetCache().GetInformer(context.Background(), c.object())
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", what, err)
	}
	c.synced = informer.HasSynced
	return c, nil
}

func (c *metaCache) object() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(c.gvk)
	return m
}

func (c *metaCache) ready(*http.Request) error {
	if c.synced != nil && !c.synced() {
		return errors.New(c.what + " cache not synced")
	}
	return nil
}

// get reads one object by name; ok is false when it does not exist.
func (c *metaCache) get(ctx context.Context, name string) (*metav1.PartialObjectMetadata, bool, error) {
	m := c.object()
	err := c.reader.Get(ctx, client.ObjectKey{Name: name}, m)
	if apierrors.IsNotFound(err) {
		err = c.live.Get(ctx, client.ObjectKey{Name: name}, m)
	}
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return m, true, nil
}

// namespaceCache serves namespace labels.
type namespaceCache struct{ *metaCache }

func (c *namespaceCache) Labels(ctx context.Context, name string) (map[string]string, bool, error) {
	m, ok, err := c.get(ctx, name)
	if !ok || err != nil {
		return nil, false, err
	}
	return m.Labels, true, nil
}

var namespaceGVK = corev1.SchemeGroupVersion.WithKind("Namespace")

package server

import (
	"context"
	"testing"
	"time"

	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func TestStorageClassLookup(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := storagev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	old := metav1.NewTime(time.Now().Add(-time.Hour))
	newer := metav1.NewTime(time.Now())
	classes := []runtime.Object{
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "old-default", CreationTimestamp: old, Annotations: map[string]string{defaultClassAnnotation: "true"}}},
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "new-default", CreationTimestamp: newer, Annotations: map[string]string{defaultClassAnnotationBeta: "true", "microguard.io/public": "true"}}},
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "plain"}},
	}
	cached := fake.NewClientBuilder().WithScheme(scheme).WithRuntimeObjects(classes[:2]...).Build()
	live := fake.NewClientBuilder().WithScheme(scheme).WithRuntimeObjects(classes...).Build()
	c := &storageClassCache{&metaCache{what: "storage classes", gvk: storageClassGVK, reader: cached, live: live}}
	ctx := context.Background()

	got, ok, err := c.StorageClass(ctx, nil)
	if err != nil || !ok || got.Name != "new-default" || !got.Default || got.Annotations["microguard.io/public"] != "true" {
		t.Fatalf("default class = %+v, %v, %v; want the newest default, new-default", got, ok, err)
	}
	name := "plain" // only the API server knows it yet
	if got, ok, err := c.StorageClass(ctx, &name); err != nil || !ok || got.Name != "plain" || got.Default {
		t.Fatalf("named class = %+v, %v, %v", got, ok, err)
	}
	missing := "missing"
	if _, ok, err := c.StorageClass(ctx, &missing); ok || err != nil {
		t.Fatalf("missing class: ok %v, err %v", ok, err)
	}
}

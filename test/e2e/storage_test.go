package e2e

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func claim(name, class string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "secure", Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: &class,
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
}

func TestPublicStorage(t *testing.T) {
	ctx := context.Background()
	namespace(t, "secure", map[string]string{"owner": "ana"})
	for _, sc := range []*storagev1.StorageClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "shared-nfs", Annotations: map[string]string{"microguard.io/public": "true"}}, Provisioner: "nfs.csi.k8s.io"},
		{ObjectMeta: metav1.ObjectMeta{Name: "private-ssd"}, Provisioner: "pd.csi.storage.gke.io"},
	} {
		if err := cluster.Client.Create(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	denied(t, cluster.Client.Create(ctx, claim("photos", "shared-nfs")),
		`[public-storage/public-storage-class] PersistentVolumeClaim "photos" would store its data publicly: storage class "shared-nfs" is annotated microguard.io/public: "true" (field: spec.storageClassName). Fix: set spec.storageClassName to a private storage class`)
	denied(t, cluster.Client.Create(ctx, claim("uploads", "shared-public")), `storage class "shared-public" is listed in publicStorageClasses`)
	if err := cluster.Client.Create(ctx, claim("orders-db", "private-ssd")); err != nil {
		t.Fatalf("PVC on a private class denied: %v", err)
	}
}

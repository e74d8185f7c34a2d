package verify

import (
	"context"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/microguard/microguard/pkg/verify/verifytest"
)

// TestKeyRefSecretIsReadOncePerFlight: verifications started together under
// one keyRef rule wait for one read of its Secret, and the key is read
// again once it is older than the TTL.
func TestKeyRefSecretIsReadOncePerFlight(t *testing.T) {
	key := verifytest.NewKey(t, "ecdsa")
	arrived := make(chan struct{}, 64)
	release := make(chan struct{})
	client := &heldSecrets{Interface: fake.NewClientset(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "keys", Name: "cosign"},
		Data:       map[string][]byte{"cosign.pub": key.PublicPEM},
	}), arrived: arrived, release: release}
	v := New(&Policy{Timeout: 10 * time.Second, CacheSize: 16}, Options{Client: client})
	now := time.Now()
	v.now = func() time.Time { return now }
	ref := KeyRef{Namespace: "keys", Name: "cosign", Key: "cosign.pub"}

	const callers = 8
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sv, err := v.secretKey(context.Background(), ref)
			if err == nil && sv == nil {
				t.Error("no key and no error")
			}
			errs <- err
		}()
	}
	// The first read has started; any other would arrive while it is
	// held (the callers are all running by then).
	<-arrived
	reads := 1
	wait := time.After(200 * time.Millisecond)
collect:
	for {
		select {
		case <-arrived:
			reads++
		case <-wait:
			break collect
		}
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("get: %v", err)
		}
	}
	if reads != 1 {
		t.Errorf("%d reads of the Secret for %d verifications at once, want 1", reads, callers)
	}

	// Within the TTL the key is not read again; after it, it is.
	if _, err := v.secretKey(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	if n := len(arrived); n != 0 {
		t.Errorf("%d reads within the TTL, want 0", n)
	}
	now = now.Add(keyTTL)
	if _, err := v.secretKey(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	if n := len(arrived); n != 1 {
		t.Errorf("%d reads after the TTL, want 1", n)
	}
}

// heldSecrets is a clientset whose Secret reads each say they arrived and
// then wait for release (outside the fake clientset, which runs one
// reactor at a time).
type heldSecrets struct {
	kubernetes.Interface
	arrived chan<- struct{}
	release <-chan struct{}
}

func (h *heldSecrets) CoreV1() corev1client.CoreV1Interface { return heldCore{h.Interface.CoreV1(), h} }

type heldCore struct {
	corev1client.CoreV1Interface
	h *heldSecrets
}

func (c heldCore) Secrets(namespace string) corev1client.SecretInterface {
	return heldSecretClient{c.CoreV1Interface.Secrets(namespace), c.h}
}

type heldSecretClient struct {
	corev1client.SecretInterface
	h *heldSecrets
}

func (c heldSecretClient) Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Secret, error) {
	c.h.arrived <- struct{}{}
	<-c.h.release
	return c.SecretInterface.Get(ctx, name, opts)
}

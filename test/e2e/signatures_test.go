package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/microguard/microguard/pkg/verify/verifytest"
)

// signingWorld is the registries and keys the e2e config trusts: a public
// registry on loopback, a private one that wants basic auth, key A (a PEM
// file in the config) and key K (kept in a Secret, created by the test).
type signingWorld struct {
	tb            *verifytest.Standalone
	reg, priv     *verifytest.Registry
	keyA, keyB    *verifytest.Signer
	keyK          *verifytest.Signer
	keyPath       string
	signedMenuTag string
	menuDigest    string
	// hanging is a registry address that accepts connections and never
	// answers.
	hanging string
}

var signing *signingWorld

func startSigning(dir string) *signingWorld {
	tb := &verifytest.Standalone{}
	w := &signingWorld{tb: tb}
	w.reg = verifytest.StartRegistry(tb)
	w.priv = verifytest.StartPrivateRegistry(tb, "puller", "s3cret-for-tests")
	w.keyA, w.keyB, w.keyK = verifytest.NewKey(tb, "ecdsa"), verifytest.NewKey(tb, "ecdsa"), verifytest.NewKey(tb, "ed25519")
	w.keyPath = w.keyA.WritePublicKey(tb, dir, "team-a.pub")
	d := w.reg.Push(tb, "signed/menu", "1.0")
	w.reg.Sign(tb, d, w.keyA)
	w.signedMenuTag, w.menuDigest = w.reg.Image("signed/menu", "1.0"), d.DigestStr()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // never read, never answered
		}
	}()
	tb.Cleanup(func() { ln.Close() })
	w.hanging = ln.Addr().String()
	signing = w
	return w
}

func signedPod(ns, name, image string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"owner": "ana"}}, Spec: podTemplate(nil).Spec}
	p.Spec.Containers[0].Image = image
	return p
}

func TestSignedImageIsAdmittedAndPinned(t *testing.T) {
	ctx := context.Background()
	namespace(t, "sigs", map[string]string{"owner": "ana"})
	pod := signedPod("sigs", "menu", signing.signedMenuTag)
	if err := cluster.Client.Create(ctx, pod); err != nil {
		t.Fatalf("pod with a signed image denied: %v", err)
	}
	want := signing.signedMenuTag + "@" + signing.menuDigest
	if got := pod.Spec.Containers[0].Image; got != want {
		t.Errorf("stored image %q, want it pinned to %q", got, want)
	}
	if !strings.Contains(pod.Annotations["microguard.io/mutations"], "pin-digests") {
		t.Errorf("mutations annotation %q does not name pin-digests", pod.Annotations["microguard.io/mutations"])
	}
}

func TestUnsignedAndForeignSignedImagesAreRefused(t *testing.T) {
	ctx := context.Background()
	namespace(t, "sigs", map[string]string{"owner": "ana"})
	unsigned := signing.reg.Push(t, "signed/unsigned", "1.0")
	foreign := signing.reg.Push(t, "signed/foreign", "1.0")
	signing.reg.Sign(t, foreign, signing.keyB)

	err := cluster.Client.Create(ctx, signedPod("sigs", "unsigned", signing.reg.Image("signed/unsigned", "1.0")))
	denied(t, err, "[image-signature/unsigned]", `has no cosign signature (checked `+unsigned.Name()+`)`,
		"(field: spec.containers[0].image). Fix: sign it: cosign sign --key <the private key of "+signing.keyPath+"> "+unsigned.Name())

	err = cluster.Client.Create(ctx, signedPod("sigs", "foreign", signing.reg.Image("signed/foreign", "1.0")))
	denied(t, err, "[image-signature/untrusted]", "is signed, but not by a key or identity that rules[0]",
		"Fix: sign "+foreign.Name()+" with one of: key "+signing.keyPath)

	// kubectl shows the developer the same fix.
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: unsigned-kubectl, namespace: sigs, labels: {owner: ana}}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: app
    image: %s
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
`, signing.reg.Image("signed/unsigned", "1.0"))
	_, stderr, err := cluster.Kubectl(ctx, strings.NewReader(manifest), "apply", "-f", "-")
	if err == nil || !strings.Contains(stderr, "Fix: sign it: cosign sign --key") {
		t.Errorf("kubectl apply: err %v, stderr:\n%s", err, stderr)
	}
}

func TestImageSwapOnRunningPodIsRefused(t *testing.T) {
	ctx := context.Background()
	namespace(t, "sigs", map[string]string{"owner": "ana"})
	pod := signedPod("sigs", "swap", signing.signedMenuTag)
	if err := cluster.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	signing.reg.Push(t, "signed/evil", "1.0")
	swap := pod.DeepCopy()
	swap.Spec.Containers[0].Image = signing.reg.Image("signed/evil", "1.0")
	denied(t, cluster.Client.Update(ctx, swap), "[image-signature/unsigned]", "(field: spec.containers[0].image)")

	// A swap to another signed image is admitted, and pinned.
	next := signing.reg.Push(t, "signed/menu", "1.1")
	signing.reg.Sign(t, next, signing.keyA)
	if err := cluster.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
		t.Fatal(err)
	}
	pod.Spec.Containers[0].Image = signing.reg.Image("signed/menu", "1.1")
	if err := cluster.Client.Update(ctx, pod); err != nil {
		t.Fatalf("swap to a signed image denied: %v", err)
	}
	if want := signing.reg.Image("signed/menu", "1.1") + "@" + next.DigestStr(); pod.Spec.Containers[0].Image != want {
		t.Errorf("image after update %q, want %q", pod.Spec.Containers[0].Image, want)
	}
	// An update that keeps the image (a label change) needs no registry and
	// changes no image.
	pod.Labels["tier"] = "web"
	if err := cluster.Client.Update(ctx, pod); err != nil {
		t.Fatalf("label update denied: %v", err)
	}
}

func TestWorkloadTemplatesAreVerifiedNotRewritten(t *testing.T) {
	ctx := context.Background()
	namespace(t, "sigs", map[string]string{"owner": "ana"})
	owner := map[string]string{"owner": "ana"}
	d := deployment("sigs", "menu", owner, map[string]string{"owner": "ana"})
	d.Spec.Template.Spec.Containers[0].Image = signing.signedMenuTag
	if err := cluster.Client.Create(ctx, d); err != nil {
		t.Fatalf("deployment of a signed image denied: %v", err)
	}
	stored := &appsv1.Deployment{}
	if err := cluster.Client.Get(ctx, client.ObjectKeyFromObject(d), stored); err != nil {
		t.Fatal(err)
	}
	if got := stored.Spec.Template.Spec.Containers[0].Image; got != signing.signedMenuTag {
		t.Errorf("template image stored as %q, want it as written (%q)", got, signing.signedMenuTag)
	}
	signing.reg.Push(t, "signed/orders", "2.0")
	bad := deployment("sigs", "orders", owner, map[string]string{"owner": "ana"})
	bad.Spec.Template.Spec.InitContainers = []corev1.Container{*bad.Spec.Template.Spec.Containers[0].DeepCopy()}
	bad.Spec.Template.Spec.InitContainers[0].Name = "migrate"
	bad.Spec.Template.Spec.InitContainers[0].Image = signing.reg.Image("signed/orders", "2.0")
	denied(t, cluster.Client.Create(ctx, bad), "[image-signature/unsigned]", "(field: spec.template.spec.initContainers[0].image)")
}

func TestKeyFromSecret(t *testing.T) {
	ctx := context.Background()
	namespace(t, "microguard-keys", nil)
	namespace(t, "sigs", map[string]string{"owner": "ana"})
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "microguard-keys", Name: "cosign"}, Data: map[string][]byte{"cosign.pub": signing.keyK.PublicPEM}}
	if err := cluster.Client.Create(ctx, sec); err != nil {
		t.Fatal(err)
	}
	good := signing.reg.Push(t, "keyref/app", "1.0")
	signing.reg.Sign(t, good, signing.keyK)
	if err := cluster.Client.Create(ctx, signedPod("sigs", "keyref-good", signing.reg.Image("keyref/app", "1.0"))); err != nil {
		t.Fatalf("image signed by the key in the Secret denied: %v", err)
	}
	other := signing.reg.Push(t, "keyref/other", "1.0")
	signing.reg.Sign(t, other, signing.keyA)
	denied(t, cluster.Client.Create(ctx, signedPod("sigs", "keyref-other", signing.reg.Image("keyref/other", "1.0"))),
		"[image-signature/untrusted]", "rules[2]", "key k8s://microguard-keys/cosign (key cosign.pub)")
}

func TestPullSecretsReachPrivateRegistry(t *testing.T) {
	ctx := context.Background()
	namespace(t, "private", map[string]string{"owner": "ana"})
	d := signing.priv.Push(t, "private/app", "1.0")
	signing.priv.Sign(t, d, signing.keyA)
	image := signing.priv.Image("private/app", "1.0")

	denied(t, cluster.Client.Create(ctx, signedPod("private", "no-secret", image)),
		"[image-signature/unreachable]", "the registry refused access (401)", "not a signature problem")

	auth, err := json.Marshal(map[string]any{"auths": map[string]any{signing.priv.Host: map[string]string{"username": signing.priv.User, "password": signing.priv.Password}}})
	if err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "private", Name: "pull"}, Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: auth}}
	if err := cluster.Client.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	withSecret := signedPod("private", "with-secret", image)
	withSecret.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "pull"}}
	if err := cluster.Client.Create(ctx, withSecret); err != nil {
		t.Fatalf("pod with an imagePullSecret denied: %v", err)
	}
	if want := image + "@" + d.DigestStr(); withSecret.Spec.Containers[0].Image != want {
		t.Errorf("image %q, want it pinned to %q", withSecret.Spec.Containers[0].Image, want)
	}

	// The service account's pull secrets count too.
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "private", Name: "puller"}, ImagePullSecrets: []corev1.LocalObjectReference{{Name: "pull"}}}
	if err := cluster.Client.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	viaSA := signedPod("private", "via-sa", image)
	viaSA.Spec.ServiceAccountName = "puller"
	if err := cluster.Client.Create(ctx, viaSA); err != nil {
		t.Fatalf("pod whose service account has the pull secret denied: %v", err)
	}
}

func TestRegistryThatNeverAnswersIsAClearDenial(t *testing.T) {
	namespace(t, "sigs", map[string]string{"owner": "ana"})
	err := cluster.Client.Create(context.Background(), signedPod("sigs", "hanging", signing.hanging+"/team/app:1.0"))
	denied(t, err, "[image-signature/unreachable]", "the registry did not answer within 2s (policies.image-signature.timeout)",
		"this is a registry or network problem, not a signature problem")
}

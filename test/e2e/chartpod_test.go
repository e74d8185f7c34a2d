package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/microguard/microguard/pkg/decisionlog"
	"github.com/microguard/microguard/test/localcluster"
	"github.com/microguard/microguard/test/pgtest"
)

// chartPodNamespace is where the chart is rendered and the test's pods are.
const chartPodNamespace = "chart-pod"

// TestChartPodRunsWithItsOwnRBAC serves microguard as the chart renders its
// pod, with the rendered config, arguments and environment, each volume a
// directory (a ConfigMap's or Secret's keys written into it), as the
// chart's ServiceAccount holding nothing but the rendered RBAC (a token
// from the TokenRequest API; the API server authorizes with RBAC), on a
// read-only root filesystem (localcluster's ReadOnlyRoot). For the default
// values, a rule for a private registry (pull secrets read cluster-wide),
// the chart's postgres and self-managed value sets (a real PostgreSQL; a
// checkpoint signing key) and a keyRef rule without pull secrets, it must
// get ready, keep its certificate in the chart's Secret and put the CA into
// the chart's webhook configurations, read and record what each review
// needs, and never be refused by the API server.
func TestChartPodRunsWithItsOwnRBAC(t *testing.T) {
	ctx := context.Background()
	namespace(t, chartPodNamespace, map[string]string{"owner": "ana"})
	namespace(t, "chart-keys", nil)
	auth, err := json.Marshal(map[string]any{"auths": map[string]any{signing.priv.Host: map[string]string{"username": signing.priv.User, "password": signing.priv.Password}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: chartPodNamespace, Name: "pull"}, Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: auth}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: chartPodNamespace, Name: "puller"}, ImagePullSecrets: []corev1.LocalObjectReference{{Name: "pull"}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "chart-keys", Name: "cosign-keys"}, Data: map[string][]byte{"cosign.pub": signing.keyA.PublicPEM}},
	} {
		if err := cluster.Client.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	private := signing.priv.Push(t, "chart/app", "1.0")
	signing.priv.Sign(t, private, signing.keyA)
	privateTag := signing.priv.Image("chart/app", "1.0")

	t.Run("defaults", func(t *testing.T) {
		noForbidden(t, startChartPod(t, "mg-defaults", "", nil))
	})

	t.Run("pull secrets", func(t *testing.T) {
		key := strings.ReplaceAll(strings.TrimSpace(string(signing.keyA.PublicPEM)), "\n", "\n            ")
		p := startChartPod(t, "mg-pull", fmt.Sprintf(`config:
  policies:
    image-signature:
      action: deny
      rules:
        - images: [%q]
          keys:
          - |
            %s
          tlog: false
`, signing.priv.Host+"/chart/**", key), nil)
		// Verifying a private image reads the pod's pull secret, or its
		// service account and the account's pull secret; /mutate then
		// pins the tag to the digest it verified.
		withSecret := signedPod(chartPodNamespace, "with-secret", privateTag)
		withSecret.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "pull"}}
		viaSA := signedPod(chartPodNamespace, "via-sa", privateTag)
		viaSA.Spec.ServiceAccountName = "puller"
		for _, pod := range []*corev1.Pod{withSecret, viaSA} {
			resp := postPod(t, p.WebhookURL+"/mutate", pod)
			if !resp.Allowed || !strings.Contains(string(resp.Patch), private.DigestStr()) {
				t.Errorf("%s: /mutate did not pin %s to %s with the pull secret: allowed %v, %s, patch %s", pod.Name, privateTag, private.DigestStr(), resp.Allowed, message(resp), resp.Patch)
			}
		}
		noForbidden(t, p)
	})

	// Two of the chart's own value sets, with the Secrets they name.
	ciValues := func(name string) string {
		data, err := os.ReadFile(filepath.Join("../../charts/microguard/ci", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	recorded := func(t *testing.T, p *chartPod) {
		postPod(t, p.WebhookURL+"/validate", signedPod(chartPodNamespace, "recorded", "registry.example/where2eat/menu:1.0"))
		store, err := decisionlog.OpenStore(ctx, p.decisionLog)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		found := false
		err = store.Records(ctx, decisionlog.Filter{Namespace: chartPodNamespace}, func(raw []byte) error {
			found = found || strings.Contains(string(raw), `"uid":"chart-pod-recorded"`)
			return nil
		})
		if err != nil || !found {
			t.Errorf("the review is not in the decision log %s (%v)", p.decisionLog, err)
		}
	}

	t.Run("postgres-values.yaml", func(t *testing.T) {
		p := startChartPod(t, "mg-postgres", ciValues("postgres-values.yaml"),
			map[string]map[string]string{"microguard-decision-log": {"dsn": pgtest.Start(t)}})
		recorded(t, p)
		noForbidden(t, p)
	})

	t.Run("selfmanaged-values.yaml", func(t *testing.T) {
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		p := startChartPod(t, "mg-selfmanaged", ciValues("selfmanaged-values.yaml"),
			map[string]map[string]string{"microguard-checkpoint-key": {"checkpoint.key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))}})
		recorded(t, p)
		noForbidden(t, p)
	})

	t.Run("keyRef without pull secrets", func(t *testing.T) {
		p := startChartPod(t, "mg-keyref", fmt.Sprintf(`imageSignature:
  pullSecrets: false
config:
  policies:
    image-signature:
      rules:
        - images: [%q]
          keyRef: {namespace: chart-keys, name: cosign-keys}
          tlog: false
`, signing.reg.Host+"/signed/**"), nil)
		// The rule's key is read from its Secret: a signed image passes it
		// (the pod fails mutations-applied alone, as it was not mutated).
		resp := postPod(t, p.WebhookURL+"/validate", signedPod(chartPodNamespace, "keyref", signing.signedMenuTag+"@"+signing.menuDigest))
		if msg := message(resp); resp.Allowed || strings.Contains(msg, "image-signature") || !strings.Contains(msg, "mutations-applied") {
			t.Errorf("/validate of a pod whose image the keyRef's key signed: allowed %v, %s", resp.Allowed, msg)
		}
		noForbidden(t, p)
	})
}

// startChartPod renders the chart as release in chartPodNamespace with
// values (YAML, "" for the defaults), creates its ServiceAccount, RBAC and
// webhook configurations (the webhooks' rules changed to a resource that
// does not exist, so that they intercept nothing of the other tests), and
// serves microguard as its pod would, until the test ends. given holds the
// Secrets the chart expects its user to make (name: key: value), for the
// pod's Secret volumes and environment. It checks that microguard put its
// certificate into the chart's Secret and the CA into every webhook.
func startChartPod(t *testing.T, release, values string, given map[string]map[string]string) *chartPod {
	t.Helper()
	ctx := context.Background()
	var valueFiles []string
	if values != "" {
		valueFiles = append(valueFiles, filepath.Join(t.TempDir(), "values.yaml"))
		if err := os.WriteFile(valueFiles[0], []byte(values), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	objs := renderChart(t, release, chartPodNamespace, valueFiles...)
	var pod corev1.PodSpec
	for _, u := range objs {
		var err error
		switch u.GetKind() {
		case "StatefulSet":
			var w appsv1.StatefulSet
			into(t, u, &w)
			pod = w.Spec.Template.Spec
		case "Deployment":
			var w appsv1.Deployment
			into(t, u, &w)
			pod = w.Spec.Template.Spec
		case "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration":
			if ws, ok := u.Object["webhooks"].([]any); ok {
				for _, w := range ws {
					w := w.(map[string]any)
					w["rules"] = []any{map[string]any{"operations": []any{"CREATE"}, "apiGroups": []any{"microguard.test"}, "apiVersions": []any{"v1"}, "resources": []any{"nothings"}}}
					w["failurePolicy"] = "Ignore"
				}
			}
			if err = cluster.Client.Create(ctx, u); err == nil {
				t.Cleanup(func() { _ = cluster.Client.Delete(context.Background(), u) })
			}
		}
		if err != nil {
			t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("the chart rendered %d containers, want microguard's", len(pod.Containers))
	}
	c := pod.Containers[0]
	// Each volume is a directory here: paths under its mount path, in the
	// arguments and in the ConfigMaps' files, are rewritten to it.
	mounts := mountDirs{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = t.TempDir()
	}
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			switch {
			case v.Name != m.Name:
			case v.ConfigMap != nil:
				data := renderedConfigMap(t, objs, v.ConfigMap.Name)
				for k, text := range data {
					data[k] = mounts.rewrite(text)
				}
				writeVolume(t, mounts[m.MountPath], data, v.ConfigMap.Items)
			case v.Secret != nil:
				data, ok := given[v.Secret.SecretName]
				if !ok {
					t.Fatalf("the chart mounts Secret %s, which the test does not give", v.Secret.SecretName)
				}
				writeVolume(t, mounts[m.MountPath], data, v.Secret.Items)
			}
		}
	}
	var env []string
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env = append(env, e.Name+"="+e.Value)
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			env = append(env, e.Name+"="+release+"-0")
		case e.ValueFrom.ResourceFieldRef != nil: // no limits here
		case e.ValueFrom.SecretKeyRef != nil:
			v, ok := given[e.ValueFrom.SecretKeyRef.Name][e.ValueFrom.SecretKeyRef.Key]
			if !ok {
				t.Fatalf("env %s reads Secret %s, key %s, which the test does not give", e.Name, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
			}
			env = append(env, e.Name+"="+v)
		default:
			t.Fatalf("env %s: %+v is not one the test can give", e.Name, e.ValueFrom)
		}
	}
	// $(VAR) in an argument is the container's variable, as the kubelet
	// expands it.
	var expand []string
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		expand = append(expand, "$("+k+")", v)
	}
	vars := strings.NewReplacer(expand...)
	p := &chartPod{}
	var args []string
	for _, a := range c.Args {
		name, v, ok := strings.Cut(vars.Replace(a), "=")
		switch {
		case name == "serve", name == "--port", name == "--health-port", name == "--metrics-port": // localcluster's
			continue
		case !ok:
			t.Fatalf("argument %q: the test takes --name=value only", a)
		}
		v = mounts.rewrite(v)
		if name == "--decision-log" {
			p.decisionLog = v
		}
		args = append(args, name+"="+v)
	}
	// After localcluster's own --cert-dir, --config and --kubeconfig (the
	// cluster's): microguard's flags keep the last value of a flag given
	// twice, so the pod's win.
	p.Process = startExtraWith(t, localcluster.Extra{Log: release + ".log", Env: env},
		append(args, "--kubeconfig", serviceAccountKubeconfig(t, pod.ServiceAccountName))...)
	for _, a := range args {
		if name, v, _ := strings.Cut(a, "="); name == "--cert-secret" {
			ns, n, _ := strings.Cut(v, "/")
			var s corev1.Secret
			if err := cluster.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: n}, &s); err != nil || len(s.Data["ca.crt"]) == 0 {
				t.Fatalf("the certificate Secret %s: %v", v, err)
			}
			injected(t, release+"-microguard", s.Data["ca.crt"])
		}
	}
	return p
}

// chartPod is microguard serving as the chart's pod (startChartPod).
type chartPod struct {
	*localcluster.Process
	// decisionLog is its --decision-log, a directory here or a DSN.
	decisionLog string
}

// into converts a rendered object to a typed one.
func into(t *testing.T, u *unstructured.Unstructured, v any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, v); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
}

// mountDirs maps each mount path of the pod to the directory standing for
// it here.
type mountDirs map[string]string

// rewrite puts the directories in place of the mount paths in text: a
// path that is a mount path, or starts with one and a slash (the deepest
// mount first).
func (m mountDirs) rewrite(text string) string {
	paths := slices.Collect(maps.Keys(m))
	slices.SortFunc(paths, func(a, b string) int { return len(b) - len(a) })
	var pairs []string
	for _, p := range paths {
		if text == p {
			return m[p]
		}
		pairs = append(pairs, p+"/", m[p]+"/")
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

// renderedConfigMap is the data of the ConfigMap name that the chart
// rendered.
func renderedConfigMap(t *testing.T, objs []*unstructured.Unstructured, name string) map[string]string {
	t.Helper()
	for _, u := range objs {
		if u.GetKind() == "ConfigMap" && u.GetName() == name {
			var cm corev1.ConfigMap
			into(t, u, &cm)
			return cm.Data
		}
	}
	t.Fatalf("the chart mounts ConfigMap %s, which it does not render", name)
	return nil
}

// writeVolume writes a ConfigMap's or Secret's keys (or the items it
// projects) into dir, as the kubelet does.
func writeVolume(t *testing.T, dir string, data map[string]string, items []corev1.KeyToPath) {
	t.Helper()
	files := map[string]string{}
	for k := range data {
		files[k] = k
	}
	if len(items) > 0 {
		files = map[string]string{}
		for _, it := range items {
			files[it.Key] = it.Path
		}
	}
	for k, path := range files {
		if err := os.WriteFile(filepath.Join(dir, path), []byte(data[k]), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// serviceAccountKubeconfig is a kubeconfig that reaches the cluster with a
// token of ServiceAccount chartPodNamespace/name.
func serviceAccountKubeconfig(t *testing.T, name string) string {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cluster.RestConfig)
	if err != nil {
		t.Fatal(err)
	}
	expiry := int64(3600)
	tr, err := cs.CoreV1().ServiceAccounts(chartPodNamespace).CreateToken(context.Background(), name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("a token for the chart's ServiceAccount %s: %v", name, err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: cluster.RestConfig.Host, CertificateAuthorityData: cluster.RestConfig.CAData}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts["sa"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: name}
	cfg.CurrentContext = "sa"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// postPod sends a CREATE review of pod to url and returns the answer.
func postPod(t *testing.T, url string, pod *corev1.Pod) *admissionv1.AdmissionResponse {
	t.Helper()
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: types.UID("chart-pod-" + pod.Name), Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"}, Namespace: pod.Namespace, Name: pod.Name,
			Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw},
		},
	})
	resp, err := insecureClient().Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Response == nil {
		t.Fatalf("%s: HTTP %s: %v", url, resp.Status, err)
	}
	return out.Response
}

func message(r *admissionv1.AdmissionResponse) string {
	if r.Result == nil {
		return ""
	}
	return r.Result.Message
}

// noForbidden fails the test if the API server refused microguard anything.
func noForbidden(t *testing.T, p *chartPod) {
	t.Helper()
	log, err := os.ReadFile(p.Log)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(strings.ToLower(line), "forbidden") {
			t.Errorf("the API server refused microguard: %s", line)
		}
	}
}

package chart

import (
	"path/filepath"
	"testing"
)

// TestClientCA: clientCA.configMap.name mounts that ConfigMap's key and
// passes it as --client-ca; without it, neither.
func TestClientCA(t *testing.T) {
	t.Run("off by default", func(t *testing.T) {
		w := render(t, "").workload()
		c := w.container(t)
		if v, ok := argWith(c, "--client-ca"); ok {
			t.Errorf("--client-ca%s by default", v)
		}
		if volumeOf(w.Template.Spec, "client-ca") != nil {
			t.Error("a client-ca volume by default")
		}
	})
	t.Run("from a ConfigMap", func(t *testing.T) {
		w := render(t, "", "--set", "clientCA.configMap.name=apiserver-client-ca", "--set", "clientCA.configMap.key=bundle.pem").workload()
		c := w.container(t)
		file, ok := argWith(c, "--client-ca=")
		if !ok {
			t.Fatalf("no --client-ca in %v", c.Args)
		}
		m := mountOf(c, filepath.Dir(file))
		if m == nil || !m.ReadOnly {
			t.Fatalf("%s is not mounted read-only", filepath.Dir(file))
		}
		v := volumeOf(w.Template.Spec, m.Name)
		if v == nil || v.ConfigMap == nil || v.ConfigMap.Name != "apiserver-client-ca" ||
			len(v.ConfigMap.Items) != 1 || v.ConfigMap.Items[0].Key != "bundle.pem" || v.ConfigMap.Items[0].Path != filepath.Base(file) {
			t.Errorf("client CA volume %+v for --client-ca=%s", v, file)
		}
	})
}

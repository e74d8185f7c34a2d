package chart

import (
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// TestDecisionLogStores: SQLite gives each replica its own volume (a
// StatefulSet), or an emptyDir when persistence is off; PostgreSQL reads
// its DSN from a Secret (a Deployment); none records nothing.
func TestDecisionLogStores(t *testing.T) {
	ci := func(name string) string { return filepath.Join(chartDir(t), "ci", name) }

	t.Run("sqlite", func(t *testing.T) {
		r := render(t, "")
		w := r.workload()
		c := w.container(t)
		if w.Kind != "StatefulSet" {
			t.Fatalf("%s, want a StatefulSet", w.Kind)
		}
		if v, _ := argWith(c, "--decision-log="); v != "/var/lib/microguard" {
			t.Errorf("--decision-log=%q", v)
		}
		m := mountOf(c, "/var/lib/microguard")
		if m == nil || m.ReadOnly {
			t.Fatalf("decision log mount %+v", m)
		}
		if len(w.Claims) != 1 || w.Claims[0].Name != m.Name {
			t.Fatalf("volumeClaimTemplates %+v, want one named %s", w.Claims, m.Name)
		}
		if got := w.Claims[0].Spec.Resources.Requests[corev1.ResourceStorage]; got.Cmp(resource.MustParse("10Gi")) != 0 {
			t.Errorf("claim size %s", got.String())
		}
		if volumeOf(w.Template.Spec, m.Name) != nil {
			t.Error("the claim is shadowed by a pod volume of the same name")
		}
		p := w.STS.Spec.PersistentVolumeClaimRetentionPolicy
		if p == nil || p.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType || p.WhenScaled != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
			t.Errorf("PVC retention %+v, want Retain: the log is an audit trail", p)
		}
		var headless corev1.Service
		r.named("Service", w.STS.Spec.ServiceName, &headless)
		if headless.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("the StatefulSet's Service %s is not headless", headless.Name)
		}
		if envOf(c, "MICROGUARD_DECISION_LOG_DSN") != nil {
			t.Error("a DSN with SQLite")
		}
	})

	t.Run("sqlite without persistence", func(t *testing.T) {
		w := render(t, ci("ephemeral-values.yaml")).workload()
		c := w.container(t)
		m := mountOf(c, "/var/lib/microguard")
		if m == nil {
			t.Fatal("no decision log mount")
		}
		if v := volumeOf(w.Template.Spec, m.Name); v == nil || v.EmptyDir == nil {
			t.Errorf("decision log volume %+v, want an emptyDir", v)
		}
		if len(w.Claims) != 0 {
			t.Errorf("claims %+v without persistence", w.Claims)
		}
	})

	t.Run("postgres", func(t *testing.T) {
		w := render(t, ci("postgres-values.yaml")).workload()
		c := w.container(t)
		if w.Kind != "Deployment" {
			t.Errorf("%s, want a Deployment", w.Kind)
		}
		if v, _ := argWith(c, "--decision-log="); v != "$(MICROGUARD_DECISION_LOG_DSN)" {
			t.Errorf("--decision-log=%q", v)
		}
		e := envOf(c, "MICROGUARD_DECISION_LOG_DSN")
		if e == nil || e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
			e.ValueFrom.SecretKeyRef.Name != "microguard-decision-log" || e.ValueFrom.SecretKeyRef.Key != "dsn" {
			t.Errorf("DSN env %+v, want a secretKeyRef microguard-decision-log/dsn", e)
		}
		// $(VAR) is expanded only for variables defined before it is used.
		for _, env := range c.Env {
			if env.Name == "MICROGUARD_DECISION_LOG_DSN" {
				break
			}
			if strings.Contains(env.Value, "$(MICROGUARD_DECISION_LOG_DSN)") {
				t.Error("DSN used before it is defined")
			}
		}
		if mountOf(c, "/var/lib/microguard") != nil {
			t.Error("a decision log volume with PostgreSQL")
		}
		if s := w.Deploy.Spec.Strategy.RollingUpdate; s == nil || s.MaxUnavailable == nil || s.MaxUnavailable.IntValue() != 0 {
			t.Errorf("rolling update %+v, want maxUnavailable 0", s)
		}
	})

	t.Run("none", func(t *testing.T) {
		w := render(t, "", "--set", "decisionLog.store=none").workload()
		c := w.container(t)
		if w.Kind != "Deployment" {
			t.Errorf("%s, want a Deployment", w.Kind)
		}
		if _, ok := argWith(c, "--decision-log"); ok {
			t.Errorf("--decision-log with store none: %v", c.Args)
		}
	})

	t.Run("signing key", func(t *testing.T) {
		r := render(t, ci("selfmanaged-values.yaml"))
		w := r.workload()
		c := w.container(t)
		cfg := renderedConfig(t, r)
		key := str(cfg, "decisionLog", "signingKey")
		if key == "" {
			t.Fatal("config.decisionLog.signingKey not set")
		}
		m := mountOf(c, filepath.Dir(key))
		if m == nil || !m.ReadOnly {
			t.Fatalf("%s is not mounted read-only", filepath.Dir(key))
		}
		v := volumeOf(w.Template.Spec, m.Name)
		if v == nil || v.Secret == nil || v.Secret.SecretName != "microguard-checkpoint-key" || len(v.Secret.Items) != 1 || v.Secret.Items[0].Path != filepath.Base(key) {
			t.Errorf("signing key volume %+v", v)
		}
	})
}

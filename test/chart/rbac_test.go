package chart

import (
	"path/filepath"
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// grant is one verb on one resource, as a Role or ClusterRole gives it.
type grant struct {
	cluster        bool
	namespace      string
	group, res     string
	verb           string
	resourceNames  []string
	unrestrictedBy string // the object granting it
}

func grants(t *testing.T, r *rendered) []grant {
	t.Helper()
	var out []grant
	add := func(cluster bool, ns, by string, rules []rbacv1.PolicyRule) {
		for _, rule := range rules {
			if len(rule.NonResourceURLs) > 0 {
				t.Errorf("%s grants non-resource URLs %v", by, rule.NonResourceURLs)
			}
			for _, g := range rule.APIGroups {
				for _, res := range rule.Resources {
					for _, v := range rule.Verbs {
						out = append(out, grant{cluster, ns, g, res, v, rule.ResourceNames, by})
					}
				}
			}
		}
	}
	for _, o := range r.all("ClusterRole") {
		var cr rbacv1.ClusterRole
		strictInto(t, o, &cr)
		add(true, "", "ClusterRole "+cr.Name, cr.Rules)
	}
	for _, o := range r.all("Role") {
		var role rbacv1.Role
		strictInto(t, o, &role)
		add(false, role.Namespace, "Role "+role.Namespace+"/"+role.Name, role.Rules)
	}
	return out
}

// TestLeastPrivilege checks every grant of every values set: no wildcards;
// namespaces and storage classes read; Secrets only read with get (never
// listed), cluster-wide only for image pull secrets; writes only to the
// certificate Secret (by name, create aside) and the release's own webhook
// configurations (by name); every binding binds the chart's account to a
// rendered role.
func TestLeastPrivilege(t *testing.T) {
	for _, file := range valueSets(t) {
		t.Run(setName(file), func(t *testing.T) {
			t.Parallel()
			vals := values(t, file)
			r := render(t, file)
			gs := grants(t, r)
			selfManaged := boolean(vals, "selfManagedCerts", "enabled")
			pullSecrets := boolean(vals, "imageSignature", "pullSecrets")
			seen := map[string]bool{}
			for _, g := range gs {
				seen[g.group+"/"+g.res+":"+g.verb] = true
				if g.group == "*" || g.res == "*" || g.verb == "*" || g.verb == "escalate" || g.verb == "bind" || g.verb == "impersonate" {
					t.Errorf("%s: %+v", g.unrestrictedBy, g)
				}
				switch {
				case g.group == "" && g.res == "namespaces", g.group == "storage.k8s.io" && g.res == "storageclasses":
					if !slices.Contains([]string{"get", "list", "watch"}, g.verb) {
						t.Errorf("%s: %s on %s", g.unrestrictedBy, g.verb, g.res)
					}
				case g.group == "" && (g.res == "secrets" || g.res == "serviceaccounts"):
					switch {
					case g.cluster && g.verb == "get" && pullSecrets:
					case !g.cluster && g.res == "secrets" && g.verb == "get" && len(g.resourceNames) > 0:
					case !g.cluster && g.res == "secrets" && g.namespace == namespace && selfManaged &&
						(g.verb == "create" || slices.Contains([]string{"update", "patch"}, g.verb) && slices.Equal(g.resourceNames, []string{release + "-tls"})):
					default:
						t.Errorf("%s: %s %s (resourceNames %v) is more than microguard needs", g.unrestrictedBy, g.verb, g.res, g.resourceNames)
					}
				case g.group == "admissionregistration.k8s.io":
					if !selfManaged || !slices.Equal(g.resourceNames, []string{release}) || !slices.Contains([]string{"get", "update", "patch"}, g.verb) {
						t.Errorf("%s: %s %s (resourceNames %v)", g.unrestrictedBy, g.verb, g.res, g.resourceNames)
					}
				case (g.group == "" || g.group == "events.k8s.io") && g.res == "events":
					if !boolean(vals, "rbac", "events") {
						t.Errorf("%s: events without rbac.events", g.unrestrictedBy)
					}
				default:
					t.Errorf("%s grants %s on %s/%s: not in microguard's needs", g.unrestrictedBy, g.verb, g.group, g.res)
				}
			}
			for _, need := range []string{"/namespaces:get", "/namespaces:list", "/namespaces:watch",
				"storage.k8s.io/storageclasses:list", "storage.k8s.io/storageclasses:watch"} {
				if !seen[need] {
					t.Errorf("microguard needs %s", need)
				}
			}
			if pullSecrets && (!seen["/secrets:get"] || !seen["/serviceaccounts:get"]) {
				t.Error("imageSignature.pullSecrets: microguard needs get on secrets and serviceaccounts")
			}

			roles := map[string]bool{}
			for _, o := range append(r.all("ClusterRole"), r.all("Role")...) {
				roles[o.Kind+"/"+o.Namespace+"/"+o.Name] = true
			}
			check := func(by, ns string, ref rbacv1.RoleRef, subjects []rbacv1.Subject) {
				if !roles[ref.Kind+"/"+ns+"/"+ref.Name] {
					t.Errorf("%s binds %s %s, which is not rendered", by, ref.Kind, ref.Name)
				}
				if len(subjects) != 1 || subjects[0].Kind != "ServiceAccount" || subjects[0].Name != release || subjects[0].Namespace != namespace {
					t.Errorf("%s binds %+v, want the ServiceAccount %s/%s", by, subjects, namespace, release)
				}
			}
			for _, o := range r.all("ClusterRoleBinding") {
				var b rbacv1.ClusterRoleBinding
				strictInto(t, o, &b)
				check("ClusterRoleBinding "+b.Name, "", b.RoleRef, b.Subjects)
			}
			for _, o := range r.all("RoleBinding") {
				var b rbacv1.RoleBinding
				strictInto(t, o, &b)
				check("RoleBinding "+b.Name, b.Namespace, b.RoleRef, b.Subjects)
			}
			if w := r.workload(); w.Template.Spec.ServiceAccountName != release {
				t.Errorf("pods run as %q", w.Template.Spec.ServiceAccountName)
			}
		})
	}
}

// TestKeyRefSecretsByName: without cluster-wide Secret reads, the keyRef
// Secret of each image-signature rule gets a Role of its own, by name.
func TestKeyRefSecretsByName(t *testing.T) {
	r := render(t, filepath.Join(chartDir(t), "ci", "image-signature-values.yaml"))
	var found bool
	for _, g := range grants(t, r) {
		if g.res == "secrets" && g.cluster {
			t.Errorf("cluster-wide %s on secrets with imageSignature.pullSecrets=false", g.verb)
		}
		if g.res == "secrets" && g.namespace == "microguard" && slices.Equal(g.resourceNames, []string{"cosign-keys"}) && g.verb == "get" {
			found = true
		}
	}
	if !found {
		t.Error("no get on the keyRef Secret microguard/cosign-keys")
	}
}

package review

import (
	"fmt"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/microguard/microguard/pkg/admission"
	"github.com/microguard/microguard/pkg/config"
	"github.com/microguard/microguard/pkg/mutate"
	"github.com/microguard/microguard/pkg/policy"
)

// MutationsApplied is the built-in check that closes the gap a failing-open
// mutating webhook leaves: a Pod created without the mutations microguard
// would have made is refused by validation.
const MutationsApplied = "mutations-applied"

// mutationsAppliedSpec is its configuration: only an action.
var mutationsAppliedSpec = config.Spec{ID: MutationsApplied, DefaultAction: config.Deny}

// verifyMutations reports, for a Pod being created, every enabled mutation
// that is missing from it.
func (rv *Reviewer) verifyMutations(in *admission.Input, digests map[string]string) ([]policy.Violation, error) {
	action := rv.cfg.Policies[MutationsApplied].Action
	pod, ok := in.Typed.(*corev1.Pod)
	if !ok || action == "" || action == config.Off || rv.chain == nil || rv.chain.Len() == 0 ||
		in.Request.Operation != admissionv1.Create || in.Request.SubResource != "" {
		return nil, nil
	}
	missing, err := rv.chain.Missing(pod, mutate.Context{Namespace: in.Request.Namespace, NamespaceLabels: in.NamespaceLabels, Digests: digests})
	if err != nil || len(missing) == 0 {
		return nil, err
	}
	var out []policy.Violation
	for _, m := range missing {
		out = append(out, policy.Violation{
			Policy:  MutationsApplied,
			Rule:    m.ID,
			Action:  action,
			Message: fmt.Sprintf("pod %q lacks what the %s mutation adds: the mutating webhook %q may be down or was skipped", in.Name(), m.ID, "mutate.microguard.io"),
			Field:   pointerToField(m.Path),
			Hint:    "create the pod again once the mutating webhook is reachable (kubectl get mutatingwebhookconfiguration microguard), or add what it adds yourself",
		})
	}
	policy.Sort(out)
	return out, nil
}

// pointerToField turns a JSON pointer (/spec/containers/0/env) into a field
// path (spec.containers[0].env).
func pointerToField(p string) string {
	var b strings.Builder
	for _, seg := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		switch {
		case seg != "" && strings.Trim(seg, "0123456789") == "":
			b.WriteString("[" + seg + "]")
		case strings.ContainsAny(seg, "./"):
			fmt.Fprintf(&b, "[%q]", seg)
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(seg)
		}
	}
	return b.String()
}

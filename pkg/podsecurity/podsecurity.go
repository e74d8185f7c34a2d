// Package podsecurity runs the API server's own Pod Security Standards
// checks (k8s.io/pod-security-admission) on the pods of a request, ahead of
// the pod-security policy. The policy reads the result as
// input.podSecurity: it evaluates the rules of the failing checks only, so
// a compliant pod costs no rule evaluation, and a failing check that its
// rules miss still refuses the pod, with upstream's reason.
package podsecurity

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"
)

// PolicyID is the policy whose options this package reads.
const PolicyID = "pod-security"

// Pod is one pod of a request, typed, as the checks read it.
type Pod struct {
	Meta *metav1.ObjectMeta
	Spec *corev1.PodSpec
}

type check struct {
	id string
	fn psapolicy.CheckPodFn
}

// Evaluator decides which checks a pod fails. It is safe for concurrent use.
type Evaluator struct {
	// defaults are the level and version of the options (Enforce).
	defaults api.Policy
	override bool
	// checks[level][minor] are the checks of a level at policy version
	// v1.minor, as upstream's registry builds them; versions past the last
	// are evaluated as the last.
	checks map[api.Level][][]check
}

// New builds the evaluator from the pod-security policy's options (as
// the config validated them): level, version, allowNamespaceOverride.
func New(options map[string]any) (*Evaluator, error) {
	level, version := "restricted", "latest"
	if s, ok := options["level"].(string); ok {
		level = s
	}
	if s, ok := options["version"].(string); ok {
		version = s
	}
	l, err := api.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("level %q: %w", level, err)
	}
	v, err := api.ParseVersion(version)
	if err != nil {
		return nil, fmt.Errorf("version %q: %w", version, err)
	}
	e := &Evaluator{defaults: api.Policy{Enforce: api.LevelVersion{Level: l, Version: v}}, checks: registry(psapolicy.DefaultChecks())}
	e.override, _ = options["allowNamespaceOverride"].(bool)
	return e, nil
}

// registry lists the checks of each level at each policy version: a check
// applies from its first MinimumVersion, in the newest revision at that
// version; restricted adds to the baseline checks and drops those its
// applying checks override.
func registry(all []psapolicy.Check) map[api.Level][][]check {
	maxMinor := 0
	for _, c := range all {
		maxMinor = max(maxMinor, c.Versions[len(c.Versions)-1].MinimumVersion.Minor())
	}
	out := map[api.Level][][]check{}
	for minor := 0; minor <= maxMinor; minor++ {
		v := api.MajorMinorVersion(1, minor)
		var baseline, restricted []check
		overridden := map[psapolicy.CheckID]bool{}
		for _, c := range all {
			var at *psapolicy.VersionedCheck
			for i := range c.Versions {
				if !v.Older(c.Versions[i].MinimumVersion) {
					at = &c.Versions[i]
				}
			}
			if at == nil {
				continue
			}
			ch := check{id: string(c.ID), fn: at.CheckPod}
			if c.Level == api.LevelRestricted {
				restricted = append(restricted, ch)
				for _, id := range at.OverrideCheckIDs {
					overridden[id] = true
				}
			} else {
				baseline = append(baseline, ch)
			}
		}
		for _, ch := range baseline {
			if !overridden[psapolicy.CheckID(ch.id)] {
				restricted = append(restricted, ch)
			}
		}
		byID := func(a, b check) int { return strings.Compare(a.id, b.id) }
		slices.SortFunc(baseline, byID)
		slices.SortFunc(restricted, byID)
		out[api.LevelBaseline] = append(out[api.LevelBaseline], baseline)
		out[api.LevelRestricted] = append(out[api.LevelRestricted], restricted)
	}
	return out
}

// Policy is the level and version that apply in a namespace with these
// labels, as the pod-security policy computes them: its options, or with
// allowNamespaceOverride the enforce labels, read by upstream's
// PolicyToEvaluate (an invalid level means restricted, an invalid version
// latest).
func (e *Evaluator) Policy(namespaceLabels map[string]string) api.LevelVersion {
	if !e.override {
		return e.defaults.Enforce
	}
	p, _ := api.PolicyToEvaluate(namespaceLabels, e.defaults)
	return p.Enforce
}

// Evaluate checks the pods at the level and version that apply in the
// namespace, and returns input.podSecurity:
//
//	{"level": L, "version": V, "failing": {checkID: {"pod": i (int64), "reason": R, "detail": D}}}
//
// where pod is the index of the first pod that fails the check.
func (e *Evaluator) Evaluate(namespaceLabels map[string]string, pods []Pod) map[string]any {
	lv := e.Policy(namespaceLabels)
	failing := map[string]any{}
	for _, ch := range e.applicable(lv) {
		for i, p := range pods {
			r := ch.fn(p.Meta, p.Spec)
			if !r.Allowed {
				failing[ch.id] = map[string]any{"pod": int64(i), "reason": r.ForbiddenReason, "detail": r.ForbiddenDetail}
				break
			}
		}
	}
	return map[string]any{"level": string(lv.Level), "version": lv.Version.String(), "failing": failing}
}

// applicable are the checks of lv (none at privileged).
func (e *Evaluator) applicable(lv api.LevelVersion) []check {
	byMinor := e.checks[lv.Level]
	if len(byMinor) == 0 {
		return nil
	}
	if lv.Version.Latest() || lv.Version.Minor() >= len(byMinor) {
		return byMinor[len(byMinor)-1]
	}
	return byMinor[lv.Version.Minor()]
}

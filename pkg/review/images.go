package review

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/microguard/microguard/pkg/admission"
	"github.com/microguard/microguard/pkg/verify"
)

// verifyImages verifies the images of the input's pods that are new in
// this request (on UPDATE, images the stored object already had were
// verified when it was admitted) and records the facts in
// in.ImageVerification for the image-signature policy.
func (rv *Reviewer) verifyImages(ctx context.Context, in *admission.Input) map[string]verify.Result {
	old := in.OldImages()
	facts := map[string]any{}
	results := map[string]verify.Result{}
	for _, p := range in.Pods {
		var fresh []string
		for _, img := range admission.Images(p.Spec) {
			if old[img] {
				facts[img] = map[string]any{"outcome": string(verify.Unchanged)}
				continue
			}
			fresh = append(fresh, img)
		}
		for img, r := range rv.verifier.VerifyAll(ctx, fresh, pullOf(in.Request.Namespace, p.Spec)) {
			results[img] = r
			facts[img] = r.Document()
		}
	}
	in.ImageVerification = facts
	return results
}

// pullOf is where a pod spec pulls from: its service account and image
// pull secrets in the request's namespace.
func pullOf(namespace string, spec map[string]any) verify.Pull {
	p := verify.Pull{Namespace: namespace}
	p.ServiceAccount, _ = spec["serviceAccountName"].(string)
	secrets, _ := spec["imagePullSecrets"].([]any)
	for _, s := range secrets {
		m, _ := s.(map[string]any)
		if n, ok := m["name"].(string); ok && n != "" {
			p.PullSecrets = append(p.PullSecrets, n)
		}
	}
	return p
}

// pinnedDigests resolves, for the mutating webhook, the pod's new images
// under a signature rule to their digests. An image the registry cannot
// resolve is left as written (and logged): the validating webhook then
// verifies it and says what went wrong.
func (rv *Reviewer) pinnedDigests(ctx context.Context, in *admission.Input) map[string]string {
	if rv.verifier == nil || len(in.Pods) == 0 {
		return nil
	}
	old := in.OldImages()
	out := map[string]string{}
	pull := pullOf(in.Request.Namespace, in.Pods[0].Spec)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, img := range admission.Images(in.Pods[0].Spec) {
		if old[img] {
			continue // pinning an image a running pod has would restart it
		}
		// Concurrently: the request waits for the slowest image, not the sum.
		wg.Add(1)
		go func() {
			defer wg.Done()
			pinned, err := rv.verifier.Resolve(ctx, img, pull)
			if err != nil {
				rv.log.Info("not pinning image to a digest", "image", img, "error", err.Error())
				return
			}
			if pinned != "" {
				mu.Lock()
				out[img] = pinned
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

// digestsOf are the pinned forms of the verified images that were written
// without a digest: what the pin-digests mutation would have made of them.
func digestsOf(results map[string]verify.Result) map[string]string {
	out := map[string]string{}
	for img, r := range results {
		if r.Outcome != verify.Verified || strings.Contains(img, "@") {
			continue
		}
		if _, digest, ok := strings.Cut(r.Reference, "@"); ok {
			out[img] = img + "@" + digest
		}
	}
	return out
}

// imageFacts lists what verification found about the input's images, in
// image order (nil when the verifier did not run).
func imageFacts(in *admission.Input, results map[string]verify.Result) []ImageFact {
	if in.ImageVerification == nil {
		return nil
	}
	var out []ImageFact
	for _, img := range slices.Sorted(maps.Keys(in.ImageVerification)) {
		f := ImageFact{Image: img, Outcome: string(verify.Unchanged)}
		if r, ok := results[img]; ok {
			f.Reference, f.Outcome = r.Reference, string(r.Outcome)
		}
		out = append(out, f)
	}
	return out
}

package mutate

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/microguard/microguard/pkg/config"
)

// pinDigests rewrites container images to the digests the image-signature
// verifier resolved for them (repo:tag becomes repo:tag@sha256:…), so that
// the image that runs is the one that was verified, whatever happens to
// the tag later. It changes only images listed in Context.Digests: those
// under an image-signature rule and new in this request.
type pinDigests struct{}

var pinDigestsFactory = Factory{
	Spec: config.Spec{ID: "pin-digests", Options: map[string]config.Option{}},
	New:  func(map[string]any) (Mutator, error) { return pinDigests{}, nil },
}

func (pinDigests) Mutate(pod *corev1.Pod, c Context) (bool, error) {
	if len(c.Digests) == 0 {
		return false, nil
	}
	changed := false
	pin := func(image *string) {
		if pinned, ok := c.Digests[*image]; ok && pinned != *image {
			*image = pinned
			changed = true
		}
	}
	for i := range pod.Spec.InitContainers {
		pin(&pod.Spec.InitContainers[i].Image)
	}
	for i := range pod.Spec.Containers {
		pin(&pod.Spec.Containers[i].Image)
	}
	for i := range pod.Spec.EphemeralContainers {
		pin(&pod.Spec.EphemeralContainers[i].Image)
	}
	return changed, nil
}

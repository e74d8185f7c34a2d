package admission

// containerLists are the pod spec fields that hold containers with images.
var containerLists = []string{"initContainers", "containers", "ephemeralContainers"}

// Images lists the images of a pod spec's init, regular and ephemeral
// containers as written, in that order, without duplicates.
func Images(spec map[string]any) []string {
	var out []string
	seen := map[string]bool{}
	for _, list := range containerLists {
		cs, _ := spec[list].([]any)
		for _, c := range cs {
			m, _ := c.(map[string]any)
			img, ok := m["image"].(string)
			if ok && !seen[img] {
				seen[img] = true
				out = append(out, img)
			}
		}
	}
	return out
}

// OldImages are the images of the stored object's pods on UPDATE (nil
// otherwise): what was admitted before and is not new in this request.
func (in *Input) OldImages() map[string]bool {
	pk, ok := podKinds[in.GroupKind]
	if in.OldObject == nil || !ok {
		return nil
	}
	tpl := in.OldObject
	for _, k := range pk.template {
		tpl, _ = tpl[k].(map[string]any)
	}
	spec, _ := tpl["spec"].(map[string]any)
	out := map[string]bool{}
	for _, img := range Images(spec) {
		out[img] = true
	}
	return out
}

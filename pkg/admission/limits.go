package admission

import "fmt"

// The size of a pod microguard evaluates. The cost of an evaluation grows
// with the number of list items in a pod spec (every container, port,
// volume... is checked, and each may be a violation with its message):
// a pod of 60,000 privileged containers, 5 MiB of JSON under the 7 MiB
// body cap, took 10 s and 2.4 GiB to evaluate. A pod over these bounds is
// refused as bad input; real pods stay far below these bounds. At them,
// the costliest shapes (500 privileged containers, 5,000 hostPath volumes
// or host ports) take some 0.1 to 0.3 s and 25 to 60 MB of allocations.
const (
	// MaxContainers bounds containers, initContainers and
	// ephemeralContainers together.
	MaxContainers = 500
	// MaxListItems bounds the list items anywhere in a pod spec
	// (containers and their env, ports, volumeMounts, args...; volumes,
	// tolerations...).
	MaxListItems = 5000
	// MaxValues bounds the values (object members and list items, at any
	// depth) of any submitted object, counted in its JSON text as it is
	// decoded, which stops once past the bound (decodeJSON): decoding
	// whole is what a huge object costs even when it is refused (a 5 MiB
	// pod decoded into maps holds some 60 MB, and the heap may grow to
	// five times that before it is collected).
	MaxValues = 50000
)

// countValues is about the number of values in JSON text (the commas and
// brackets outside strings), counted up to just past limit.
func countValues(data []byte, limit int) int {
	n, inString, escaped := 0, false, false
	for _, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case ',', '[', '{':
			if n++; n > limit {
				return n
			}
		}
	}
	return n
}

// checkSize refuses a pod too large to evaluate.
func checkSize(p Pod) error {
	n := 0
	for _, k := range []string{"initContainers", "containers", "ephemeralContainers"} {
		l, _ := p.Spec[k].([]any)
		n += len(l)
	}
	if n > MaxContainers {
		return fmt.Errorf("%s has %d containers; microguard evaluates at most %d", p.SpecPath, n, MaxContainers)
	}
	if n := listItems(p.Spec, MaxListItems); n > MaxListItems {
		return fmt.Errorf("%s has more than %d list items (containers, env, ports, volumes...); microguard evaluates at most %d", p.SpecPath, MaxListItems, MaxListItems)
	}
	return nil
}

// listItems counts the items of the lists in v, at any depth, and stops
// counting once past limit.
func listItems(v any, limit int) int {
	n := 0
	var walk func(any)
	walk = func(v any) {
		if n > limit {
			return
		}
		switch v := v.(type) {
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		case []any:
			n += len(v)
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	return n
}

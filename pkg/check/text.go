package check

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/microguard/microguard/pkg/config"
)

// Style colours text output; the zero value prints plain text.
type Style struct{ Color bool }

func (s Style) paint(code, text string) string {
	if !s.Color {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

// WriteText writes one block per object, for people: the verdict, then each
// violation with its field path and fix.
func (r *Report) WriteText(w io.Writer, s Style) error {
	var b strings.Builder
	for _, res := range r.Results {
		verdict := s.paint("32", "ADMITTED")
		if !res.Allowed {
			verdict = s.paint("31;1", "DENIED")
		}
		obj := res.Kind + " " + res.Name
		if res.Namespace != "" {
			obj = res.Kind + " " + res.Namespace + "/" + res.Name
		}
		fmt.Fprintf(&b, "%s %s (%s)\n", verdict, obj, res.Source)
		for _, v := range res.Violations {
			tag := map[config.Action]string{config.Deny: s.paint("31", "deny"), config.Warn: s.paint("33", "warn"), config.Audit: s.paint("36", "audit")}[v.Action]
			fmt.Fprintf(&b, "  %s [%s/%s] %s\n", tag, v.Policy, v.Rule, v.Message)
			fmt.Fprintf(&b, "       field: %s\n", v.Field)
			fmt.Fprintf(&b, "       Fix: %s\n", v.Hint)
			if e := v.Exception; e != nil {
				fmt.Fprintf(&b, "       %s by %s (approved by %s, expires %s): %s\n", s.paint("33", "waived"), e.Source, e.ApprovedBy, e.Expires, e.Justification)
			}
		}
		for _, op := range res.Patch {
			value, _ := json.Marshal(op.Value)
			fmt.Fprintf(&b, "  %s %s %s %s\n", s.paint("36", "mutate"), op.Operation, op.Path, value)
		}
	}
	fmt.Fprintln(&b, r.Summary())
	_, err := io.WriteString(w, b.String())
	return err
}

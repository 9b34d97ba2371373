package check

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteText prints the result for people: a line per workload, its violations below it with
// the offending fields, and a summary line.
func WriteText(w io.Writer, r *Result) error {
	var b strings.Builder
	for _, wl := range r.Workloads {
		fmt.Fprintf(&b, "%-9s %s/%s/%s (%s document %d)", strings.ToUpper(wl.Verdict), wl.Namespace, wl.Kind, wl.Name, display(wl.Source), wl.Document)
		if wl.Verdict == Unbound {
			b.WriteString(": no learned policy selects its pods")
		}
		b.WriteByte('\n')
		for _, v := range wl.Violations {
			note := ""
			if !v.Enforced {
				note = " (binding " + v.Binding + " only warns or audits)"
			}
			fmt.Fprintf(&b, "  - %s: %s%s\n", v.Policy, v.Message, note)
			for _, f := range v.Fields {
				fmt.Fprintf(&b, "      %s\n", f)
			}
		}
	}
	fmt.Fprintln(&b, r.Summary())
	_, err := io.WriteString(w, b.String())
	return err
}

// Summary is the result's last line: "3 workloads: 1 denied, 2 pass, 0 without a learned policy".
func (r *Result) Summary() string {
	noun := "workloads"
	if len(r.Workloads) == 1 {
		noun = "workload"
	}
	return fmt.Sprintf("%d %s: %d denied, %d pass, %d without a learned policy", len(r.Workloads), noun, r.Denied, r.Passed, r.Unbound)
}

// WriteJSON prints the result for CI tools.
func WriteJSON(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func display(source string) string {
	if source == "-" {
		return "stdin"
	}
	return source
}

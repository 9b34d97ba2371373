package render

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// CEL building blocks. Kubernetes' CEL fails an expression that reads an absent field ("no such
// key"), and a failing expression with failurePolicy Fail rejects the pod, so every optional
// field is read only behind has(). Expressions are laid out over several lines so that the YAML
// shows them as readable literal blocks.

// Paths the expressions read.
const (
	podSC = "object.spec.securityContext"
	ctrSC = "c.securityContext"
)

// allContainers applies a per-container predicate over c to the containers, init containers
// and ephemeral containers. The lists are not concatenated: ephemeral containers have another
// CEL type than containers, and only spec.containers is always present.
func allContainers(pred string) string {
	each := func(list string) string {
		if strings.Contains(pred, "\n") {
			return list + ".all(c,\n" + indent(pred, "  ") + "\n)"
		}
		return list + ".all(c, " + pred + ")"
	}
	return each("object.spec.containers") + " &&\n" +
		"(!has(object.spec.initContainers) || " + each("object.spec.initContainers") + ") &&\n" +
		"(!has(object.spec.ephemeralContainers) || " + each("object.spec.ephemeralContainers") + ")"
}

// has returns "has(base.f1) && has(base.f1.f2) && …": all of the path is present.
func has(base string, fields ...string) string {
	conds := make([]string, len(fields))
	for i := range fields {
		conds[i] = "has(" + base + "." + strings.Join(fields[:i+1], ".") + ")"
	}
	return strings.Join(conds, " && ")
}

// unsetOr returns "!has(base.f1) || … || cond": cond holds for the field wherever it is set.
func unsetOr(base string, fields []string, cond string) string {
	return strings.Join(absent(base, fields), " || ") + " || " + cond
}

// unsetOrLn is unsetOr with cond on a line of its own, for pod-level expressions.
func unsetOrLn(base string, fields []string, cond string) string {
	return strings.Join(absent(base, fields), " || ") + " ||\n" + cond
}

func absent(base string, fields []string) []string {
	out := make([]string, len(fields))
	for i := range fields {
		out[i] = "!has(" + base + "." + strings.Join(fields[:i+1], ".") + ")"
	}
	return out
}

// effective tests a security context field that containers inherit from the pod: the
// container's value if it sets the field, else the pod's if set, else the unset arm.
func effective(path []string, check func(string) string, unset string) string {
	field := strings.Join(path, ".")
	sc := append([]string{"securityContext"}, path...)
	inCtr, inPod := check(ctrSC+"."+field), check(podSC+"."+field)
	if inCtr == "false" && inPod == "false" && unset == "true" {
		// Nothing set was ever seen: say so plainly.
		return fmt.Sprintf("!(%s) &&\n!(%s)", has("c", sc...), has("object.spec", sc...))
	}
	return fmt.Sprintf("(%s) ? %s :\n(%s) ? %s :\n%s", has("c", sc...), inCtr, has("object.spec", sc...), inPod, unset)
}

// quote returns s as a single-quoted CEL string literal.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch {
		case r == '\'' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// list returns a CEL list literal of quoted strings.
func list(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = quote(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// in returns "x in [values]", or false for no values (an empty list literal has no element
// type to check against).
func in(x string, values []string) string {
	if len(values) == 0 {
		return "false"
	}
	return x + " in " + list(values)
}

// inRanges returns a test that the integer x lies in rs.
func inRanges(x string, rs attributes.Ranges) string {
	if len(rs) == 0 {
		return "false"
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		if r.Min == r.Max {
			parts[i] = x + " == " + strconv.FormatInt(r.Min, 10)
		} else {
			parts[i] = fmt.Sprintf("(%s >= %d && %s <= %d)", x, r.Min, x, r.Max)
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "(" + strings.Join(parts, " || ") + ")"
}

// indent prefixes every line of s.
func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// paren wraps a multi-line or compound expression for use as an operand.
func paren(s string) string { return "(" + s + ")" }

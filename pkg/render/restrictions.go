package render

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// restriction is one learned limit: a CEL expression that admits exactly the pods whose value
// of one attribute the profile allows.
type restriction struct {
	name    string   // short identifier, for tests and variable names
	expr    string   // CEL over object (the pod)
	learned []string // the profile's allowances this restriction keeps (Allowances' words)
	none    string   // what no observed pod does, said when learned is empty: "uses hostPID"
}

// message is the restriction's static message: what was learned, and from how much. The API
// server rejects messages with line breaks, so any in learned values become spaces.
func (r restriction) message(u *unit) string {
	if len(r.learned) == 0 {
		return fmt.Sprintf("no observed pod %s %s; %s", u.where(), r.none, u.learnedFrom())
	}
	const shown = 8 // the list is in the policy's evidence; keep messages short
	words := r.learned
	if len(words) > shown {
		words = append(slices.Clone(words[:shown]), fmt.Sprintf("and %d more", len(r.learned)-shown))
	}
	msg := fmt.Sprintf("observed pods %s only use %s; %s", u.where(), strings.Join(words, ", "), u.learnedFrom())
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(msg)
}

// variable is a named CEL expression the restrictions share (a VAP spec.variables entry).
type variable struct{ name, expr string }

// restrictions returns what p does not allow, as CEL, in Profile field order (attributeList).
// A field that p allows entirely (hostPID when some pod used it, or any value of an attribute
// widened past its bound) gives no restriction.
func restrictions(p attributes.Profile) ([]restriction, []variable) {
	out := &restrictionList{p: p, words: Allowances(p)}
	for _, a := range attributeList {
		a.restrictions(p, out)
	}
	return out.rs, out.vars
}

package render

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// restriction is one learned limit: a CEL expression that admits exactly the pods whose value
// of one attribute the profile allows.
type restriction struct {
	name    string   // short identifier, for tests and variable names
	expr    string   // CEL over object (the pod)
	learned []string // the profile's allowances this restriction keeps (Allowances' words)
	none    string   // what no observed pod does, said when learned is empty: "uses hostPID"
	// rule, when set, says what observed pods did instead of "only use <learned>", for a
	// restriction on how a learned value is used: "mount hostPath /data only read-only".
	rule string
}

// message is the restriction's static message: what was learned, and from how much.
func (r restriction) message(u *unit) string {
	return oneLine(fmt.Sprintf("%s; %s", r.observed(u.where(), 8), u.learnedFrom()))
}

// observed says what observed pods did, naming at most shown learned values (the list is in
// the policy's evidence; messages stay short).
func (r restriction) observed(where string, shown int) string {
	switch {
	case r.rule != "":
		return fmt.Sprintf("observed pods %s %s", where, r.rule)
	case len(r.learned) == 0:
		return fmt.Sprintf("no observed pod %s %s", where, r.none)
	}
	words := r.learned
	if len(words) > shown {
		words = append(slices.Clone(words[:shown]), fmt.Sprintf("and %d more", len(r.learned)-shown))
	}
	return fmt.Sprintf("observed pods %s only use %s", where, strings.Join(words, ", "))
}

// oneLine replaces line breaks, which the API server rejects in messages (learned values may
// hold them), by spaces.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// maxLimitWords bounds one exceeded limit's words in the combined message, so that all of them
// stay within the API server's 5 KiB for an evaluated message (past it, the server falls back
// to the static message).
const maxLimitWords = 180

// exceeded is the restriction's part of the combined denial, one short line: what the pod
// does that no observed pod did, or the limit's name and what observed pods did.
func (r restriction) exceeded() string {
	var s string
	switch {
	case r.rule != "":
		s = r.name + " (observed pods " + r.rule + ")"
	case len(r.learned) == 0:
		s = r.none
	default:
		words := r.learned
		if len(words) > 3 {
			words = append(slices.Clone(words[:3]), fmt.Sprintf("and %d more", len(r.learned)-3))
		}
		s = r.name + " (observed pods only use " + strings.Join(words, ", ") + ")"
	}
	s = oneLine(s)
	if len(s) > maxLimitWords {
		cut := maxLimitWords
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
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

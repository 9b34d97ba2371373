package render

import (
	"io"
	"math"
	"slices"
	"strings"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// The Gatekeeper format writes constraints for the ConstraintTemplates of the gatekeeper-library
// (library/pod-security-policy), the templates Gatekeeper users already run: it only chooses
// their parameters and match. Each attribute's file says what it contributes to which
// constraint (attribute.gatekeeper); this file assembles one constraint per template a unit
// restricts. The templates were written as PodSecurityPolicy replacements and cannot say
// everything a profile holds: where a constraint is looser than what was learned, a comment
// above it says how.

// Kinds of the gatekeeper-library templates the constraints are for (their CRD kinds).
const (
	gkPrivileged               = "K8sPSPPrivilegedContainer"
	gkHostNamespace            = "K8sPSPHostNamespace"
	gkHostNetworkingPorts      = "K8sPSPHostNetworkingPorts"
	gkCapabilities             = "K8sPSPCapabilities"
	gkHostFilesystem           = "K8sPSPHostFilesystem"
	gkVolumeTypes              = "K8sPSPVolumeTypes"
	gkAllowedUsers             = "K8sPSPAllowedUsers"
	gkAllowPrivilegeEscalation = "K8sPSPAllowPrivilegeEscalationContainer"
	gkReadOnlyRootFilesystem   = "K8sPSPReadOnlyRootFilesystem"
	gkSeccomp                  = "K8sPSPSeccomp"
	gkAppArmor                 = "K8sPSPAppArmor"
	gkSELinux                  = "K8sPSPSELinuxV2"
	gkProcMount                = "K8sPSPProcMount"
	gkForbiddenSysctls         = "K8sPSPForbiddenSysctls"
	gkFlexVolumes              = "K8sPSPFlexVolumes"
	gkHostProcess              = "K8sPSPHostProcess"
	gkHostProbesLifecycle      = "K8sPSPHostProbesLifecycle"
)

// Gatekeeper's API and enforcement actions.
const (
	gkAPIVersion = "constraints.gatekeeper.sh/v1beta1"
	gkDryRun     = "dryrun" // violations are audited and reported, nothing is denied
	gkDeny       = "deny"
	// gkMaxNameLength is the longest name Gatekeeper's webhook accepts for its resources.
	gkMaxNameLength = 63
	// gkRuntimeDefault is the templates' (and PSP's annotations') spelling of RuntimeDefault.
	gkRuntimeDefault = "runtime/default"
)

// The Gatekeeper constraint, reduced to the fields we fill.
type (
	gkConstraint struct {
		APIVersion string     `json:"apiVersion"`
		Kind       string     `json:"kind"`
		Metadata   gkMetadata `json:"metadata"`
		Spec       gkSpec     `json:"spec"`
	}
	gkMetadata struct {
		Name string `json:"name"`
	}
	gkSpec struct {
		EnforcementAction string         `json:"enforcementAction"`
		Match             gkMatch        `json:"match"`
		Parameters        map[string]any `json:"parameters,omitempty"`
	}
	gkMatch struct {
		Kinds      []gkKinds `json:"kinds"`
		Namespaces []string  `json:"namespaces,omitempty"`
	}
	gkKinds struct {
		APIGroups []string `json:"apiGroups"`
		Kinds     []string `json:"kinds"`
	}
)

// gatekeeperList collects what a profile's attributes contribute: per template kind, in the
// order first contributed, its parameters, whether any of them restricts something, and the
// comments above it (what it admits that was never learned). notes are gaps no constraint can
// close, said once per unit.
type gatekeeperList struct {
	order []string
	parts map[string]*gkPart
	notes []string
}

type gkPart struct {
	params    map[string]any
	restricts bool
	comments  []string
}

func (l *gatekeeperList) part(kind string) *gkPart {
	if l.parts == nil {
		l.parts = map[string]*gkPart{}
	}
	pt, ok := l.parts[kind]
	if !ok {
		pt = &gkPart{}
		l.parts[kind] = pt
		l.order = append(l.order, kind)
	}
	return pt
}

// deny asks for a constraint of a template without parameters: what it denies was never used.
func (l *gatekeeperList) deny(kind string) { l.part(kind).restricts = true }

// limit sets a parameter that restricts what the constraint admits.
func (l *gatekeeperList) limit(kind, name string, value any) {
	pt := l.part(kind)
	l.need(kind, name, value)
	pt.restricts = true
}

// need sets a parameter the constraint must hold to admit what was learned, which restricts
// nothing by itself (hostNetwork: true): the constraint is written only if another one does.
func (l *gatekeeperList) need(kind, name string, value any) {
	pt := l.part(kind)
	if pt.params == nil {
		pt.params = map[string]any{}
	}
	pt.params[name] = value
}

// looser says what a constraint admits beyond the learned profile, for the comment above it.
func (l *gatekeeperList) looser(kind, text string) {
	l.explain(kind, kind+" is looser than what was learned: "+text)
}

// explain adds a comment line above a constraint, for parameters that do not say what they mean.
func (l *gatekeeperList) explain(kind, text string) {
	pt := l.part(kind)
	pt.comments = append(pt.comments, text)
}

// note says what no constraint restricts although nothing learned needed it.
func (l *gatekeeperList) note(text string) { l.notes = append(l.notes, text) }

// renderGatekeeper writes the constraints of each unit. Gatekeeper's match cannot select a
// service account, so at scope serviceaccount the caller passes namespace units.
func renderGatekeeper(w io.Writer, us []*unit, scope string, enforce bool) error {
	s := &stream{w: w}
	action := gkDryRun + " (violations are audited, nothing is denied)"
	if enforce {
		action = gkDeny
	}
	s.comment(
		"Gatekeeper constraints ("+gkAPIVersion+") learned by pod-security-advisor,",
		"one set per "+scopeNoun(gatekeeperScope(scope))+", for the gatekeeper-library's pod-security-policy",
		"ConstraintTemplates, which must be installed.",
		"enforcementAction: "+action+".",
		"The templates cannot restrict hostUsers or CSI drivers, and K8sPSPHostNetworkingPorts' CEL code",
		"misses an out-of-range hostPort of a container that also has a port without one; the",
		"ValidatingAdmissionPolicy format has neither gap.",
	)
	if scope == ScopeServiceAccount {
		s.comment(
			"Scope serviceaccount: a constraint cannot match a service account, so each namespace has",
			"the constraints of all its service accounts together, as at scope namespace.",
		)
	}
	for _, u := range us {
		cs, comments := gatekeeper(u, enforce)
		head := append(evidenceComment(u), comments...)
		if len(cs) == 0 {
			s.printf("---\n")
			s.comment(append(head, "No constraint: the learned pods use everything these templates restrict.")...)
			continue
		}
		for i, c := range cs {
			lines := c.comments
			if i == 0 {
				lines = append(head, lines...)
			}
			s.doc(c.obj, lines...)
		}
	}
	return s.err
}

// gatekeeperScope is the scope the constraints are learned at: serviceaccount is namespace.
func gatekeeperScope(scope string) string {
	if scope == ScopeServiceAccount {
		return ScopeNamespace
	}
	return scope
}

// gkDoc is one constraint and the comments above it.
type gkDoc struct {
	obj      *gkConstraint
	comments []string
}

// gatekeeper returns the unit's constraints and the comments for the unit as a whole.
func gatekeeper(u *unit, enforce bool) ([]gkDoc, []string) {
	var l gatekeeperList
	for _, a := range attributeList {
		if a.gatekeeper != nil {
			a.gatekeeper(u.Profile, &l)
		}
	}
	action := gkDryRun
	if enforce {
		action = gkDeny
	}
	match := gkMatch{Kinds: []gkKinds{{APIGroups: []string{""}, Kinds: []string{"Pod"}}}}
	if u.Namespace != "" {
		match.Namespaces = []string{u.Namespace}
	}
	var out []gkDoc
	for _, kind := range l.order {
		pt := l.parts[kind]
		if !pt.restricts {
			continue
		}
		out = append(out, gkDoc{
			obj: &gkConstraint{
				APIVersion: gkAPIVersion,
				Kind:       kind,
				Metadata:   gkMetadata{Name: gkName(u, kind)},
				Spec:       gkSpec{EnforcementAction: action, Match: match, Parameters: pt.params},
			},
			comments: pt.comments,
		})
	}
	var notes []string
	for _, n := range l.notes {
		notes = append(notes, "Not restricted: "+n)
	}
	return out, notes
}

// gkName is the unit's name and the kind, lower case; past Gatekeeper's 63 characters it is
// cut and suffixed with a hash of both, so it stays unique and stable.
func gkName(u *unit, kind string) string {
	name := u.Name + "-" + strings.ToLower(kind)
	if len(name) <= gkMaxNameLength {
		return name
	}
	return hashedName(name, u.identity()+"/"+kind, gkMaxNameLength)
}

// gkRanges are ID or port ranges as the templates take them (PSP's shape: min, max).
func gkRanges(rs attributes.Ranges, lo, hi int64) []pspRange {
	out := pspRanges(rs, lo, hi)
	if out == nil {
		out = []pspRange{} // an empty list admits no value, which nil would not say in YAML
	}
	return out
}

// gkProfileNames are learned seccomp or AppArmor profiles in the templates' spelling
// (runtime/default, unconfined, localhost/<file>); unset is spelt unset.
func gkProfileNames(profiles []string, unset string) []string {
	out := pspProfileNames(profiles)
	for _, n := range profiles {
		if n == attributes.ProfileUnset {
			out = append(out, unset)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// orEmpty is list, or an empty list that YAML shows as [] (a template's "allow none").
func orEmpty[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}

// gkIDRule is a field of K8sPSPAllowedUsers' parameters: a PSP-like rule and its ranges.
type gkIDRule struct {
	Rule   string     `json:"rule"`
	Ranges []pspRange `json:"ranges,omitzero"` // nil: none (MustRunAsNonRoot); empty: no ID
}

// gkGroups limits a group ID field of K8sPSPAllowedUsers: MustRunAs the learned ranges when
// always set, else MayRunAs them, which checks set values only; MayRunAs no range admits the
// field only unset.
func gkGroups(out *gatekeeperList, field string, ids attributes.IDs) {
	rule := gkIDRule{Rule: "MayRunAs", Ranges: gkRanges(ids.Values, 0, math.MaxInt64)}
	switch {
	case len(ids.Values) > 0 && !ids.Unset:
		rule.Rule = "MustRunAs"
	case len(ids.Values) == 0:
		out.explain(gkAllowedUsers, field+": MayRunAs with no ranges admits it only unset")
	case ids.Values[0].Min <= 0 && ids.Values[0].Max >= math.MaxInt32:
		return // any ID the API server accepts, or none
	}
	out.limit(gkAllowedUsers, field, rule)
}

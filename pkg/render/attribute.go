package render

import (
	"fmt"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// attribute is what the renderers make of one attribute of a Profile (one field, or a few that
// only make sense together): its words in the evidence and in messages, its
// ValidatingAdmissionPolicy restriction, its PodSecurityPolicy field and its Gatekeeper
// constraint. Each lives in a file of its own, attr_<name>.go, named as the observer's file in
// pkg/attributes; a renderer iterates attributeList, so a new attribute is one file and one
// line in the list.
type attribute struct {
	// allowances adds what p allows of the attribute, in words (see Allowances).
	allowances func(p attributes.Profile, out *allowanceList)
	// requirements are the restrictions of the attribute that p holds beyond the default, in
	// words (see Requirements); nil where the attribute has none.
	requirements func(p attributes.Profile) []string
	// restrictions adds what p does not allow of it, as CEL; nothing where p allows it all.
	restrictions func(p attributes.Profile, out *restrictionList)
	// psp sets the attribute's PodSecurityPolicy fields and annotations; nil where PSP has none.
	psp func(p attributes.Profile, out *podSecurityPolicy)
	// gatekeeper sets the parameters of the gatekeeper-library constraints that restrict the
	// attribute to what p allows (gatekeeper.go); nil where no library template can.
	gatekeeper func(p attributes.Profile, out *gatekeeperList)
	// shared are the attribute's checks in the vap-shared policy, for attributes whose
	// restriction depends on what was learned; value-free ones are listed in valueFree.
	shared func() []sharedCheck
}

// attributeList is every attribute, in Profile field order: the order of the evidence and of
// the validations.
var attributeList = []attribute{
	hostNamespacesAttribute,
	hostUsersAttribute,
	privilegedAttribute,
	privilegeEscalationAttribute,
	capabilitiesAttribute,
	readOnlyRootFilesystemAttribute,
	runAsNonRootAttribute,
	runAsUserAttribute,
	runAsGroupAttribute,
	fsGroupAttribute,
	supplementalGroupsAttribute,
	volumeTypesAttribute,
	hostPathsAttribute,
	volumeDriversAttribute,
	hostPortsAttribute,
	sysctlsAttribute,
	seccompAttribute,
	appArmorAttribute,
	seLinuxAttribute,
	procMountAttribute,
	windowsHostProcessAttribute,
	probeHostsAttribute,
}

// allowanceList collects a profile's allowances, each tagged with its Profile field.
type allowanceList []Allowance

// add adds a privilege; setting adds a value that grants nothing by itself (see Allowance).
func (l *allowanceList) add(field, text string) { *l = append(*l, Allowance{field, text, true}) }
func (l *allowanceList) setting(field, text string) {
	*l = append(*l, Allowance{field, text, false})
}

// addIf adds a privilege or a setting.
func (l *allowanceList) addIf(privilege bool, field, text string) {
	*l = append(*l, Allowance{field, text, privilege})
}

// flag adds the privilege text when a boolean allowance is on.
func (l *allowanceList) flag(field string, on bool, text string) {
	if on {
		l.add(field, text)
	}
}

// anyValue says that an attribute was widened past its bound, and why.
func (l *allowanceList) anyValue(p attributes.Profile, field, prefix string, f attributes.Fields) {
	if p.AnyValue.Has(f) {
		l.add(field, fmt.Sprintf("%sany value (more than %d values or %d bytes of them were observed)",
			prefix, attributes.MaxValues, attributes.MaxValueBytes))
	}
}

// each adds one allowance per value of a set, a privilege where privilege says so, and its
// widening.
func (l *allowanceList) each(p attributes.Profile, field, prefix string, values []string, f attributes.Fields, privilege func(string) bool) {
	for _, v := range values {
		l.addIf(privilege(v), field, prefix+v)
	}
	l.anyValue(p, field, prefix, f)
}

// always and never classify every value of a set alike.
func always(string) bool { return true }
func never(string) bool  { return false }

// ranges adds one allowance per range, a privilege where privilege says so, and the rounding
// of a set with too many (a widening, so a privilege).
func (l *allowanceList) ranges(field, prefix string, rs attributes.Ranges, privilege func(attributes.Range) bool) {
	for _, r := range rs {
		l.addIf(privilege(r), field, prefix+r.String())
	}
	if j := rs.RoundedTo(); j > 0 {
		l.add(field, fmt.Sprintf("%srounded out to blocks of 2^%d (more than %d values were observed)",
			prefix, j, attributes.MaxRanges))
	}
}

// ids adds the ranges of an ID field (ID 0, root's, is a privilege), and "unset" when some
// container left it unset.
func (l *allowanceList) ids(field, prefix string, ids attributes.IDs) {
	l.ranges(field, prefix, ids.Values, hasRoot)
	if ids.Unset {
		l.setting(field, prefix+"unset")
	}
}

// hasRoot says whether an ID range holds 0, root's user or group.
func hasRoot(r attributes.Range) bool { return r.Min <= 0 && r.Max >= 0 }

// restrictionList collects a profile's restrictions and the variables they share.
type restrictionList struct {
	p     attributes.Profile
	words []Allowance // Allowances(p), for the restrictions' messages
	rs    []restriction
	vars  []variable
}

// add adds a restriction of one Profile field: what it keeps are the field's allowances, and
// none says what no observed pod does when it keeps nothing.
func (l *restrictionList) add(name, field, expr, none string) {
	var learned []string
	for _, a := range l.words {
		if a.Field == field {
			learned = append(learned, a.Text)
		}
	}
	l.rs = append(l.rs, restriction{name: name, expr: expr, learned: learned, none: none})
}

// limited says that the set attribute f was not widened to any value.
func (l *restrictionList) limited(f attributes.Fields) bool { return !l.p.AnyValue.Has(f) }

package render

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// runAsUser, effective per container (its own, else the pod's): the IDs used, and whether some
// container left it unset.
const fieldRunAsUser = "runAsUser"

var runAsUserAttribute = containerIDAttribute(fieldRunAsUser, func(p attributes.Profile) attributes.IDs { return p.RunAsUser },
	func(p attributes.Profile, out *podSecurityPolicy) { out.Spec.RunAsUser = pspRunAsUser(p) }, gatekeeperRunAsUser)

// gatekeeperRunAsUser: as PSP, explicit IDs when every container had one, else non-root when
// that held. The template has no rule for "these IDs where set": with some container unset, the
// values set are not limited (beyond non-root).
func gatekeeperRunAsUser(p attributes.Profile, out *gatekeeperList) {
	ids := p.RunAsUser
	root := slices.ContainsFunc(ids.Values, func(r attributes.Range) bool { return r.Min <= 0 && r.Max >= 0 })
	switch {
	case len(ids.Values) > 0 && !ids.Unset:
		out.limit(gkAllowedUsers, fieldRunAsUser, gkIDRule{Rule: "MustRunAs", Ranges: gkRanges(ids.Values, 0, math.MaxInt64)})
		return
	case !p.MayRunAsRoot && !root:
		// (runAsUser 0 under runAsNonRoot: true is admitted, and fails in the kubelet.)
		out.limit(gkAllowedUsers, fieldRunAsUser, gkIDRule{Rule: "MustRunAsNonRoot"})
	}
	what := "never set"
	if len(ids.Values) > 0 {
		what = "set to " + strings.Join(rangeEntries(ids.Values), ", ") + " or unset"
	}
	if p.MayRunAsRoot || root {
		out.note("runAsUser, " + what + " (" + gkAllowedUsers + " cannot admit an unset runAsUser and limit the values set)")
	} else {
		out.looser(gkAllowedUsers, "runAsUser may be any non-root ID; learned: "+what)
	}
}

// pspRunAsUser: explicit IDs when every container had one, else non-root when that held, else any.
func pspRunAsUser(p attributes.Profile) pspIDStrategy {
	switch {
	case len(p.RunAsUser.Values) > 0 && !p.RunAsUser.Unset:
		return pspIDStrategy{Rule: "MustRunAs", Ranges: pspRanges(p.RunAsUser.Values, 0, math.MaxInt64)}
	case !p.MayRunAsRoot:
		return pspIDStrategy{Rule: "MustRunAsNonRoot"}
	}
	return pspIDStrategy{Rule: "RunAsAny"}
}

// containerIDAttribute is an ID field of the security context that containers inherit from
// the pod (runAsUser, runAsGroup), named field in both, with its PodSecurityPolicy strategy.
func containerIDAttribute(field string, ids func(attributes.Profile) attributes.IDs, psp func(attributes.Profile, *podSecurityPolicy),
	gatekeeper func(attributes.Profile, *gatekeeperList)) attribute {
	return attribute{
		allowances: func(p attributes.Profile, out *allowanceList) { out.ids(field, field+" ", ids(p)) },
		restrictions: func(p attributes.Profile, out *restrictionList) {
			learned := ids(p)
			inLearned := func(v string) string { return inRanges(v, learned.Values) }
			out.add(field, field, allContainers(effective([]string{field}, inLearned, strconv.FormatBool(learned.Unset))), "sets "+field)
		},
		psp:        psp,
		gatekeeper: gatekeeper,
		shared: func() []sharedCheck {
			return []sharedCheck{{name: field, noun: field + " values", entries: func(p attributes.Profile) []string { return idEntries(ids(p)) }, expr: sharedIDCheck(field)}}
		},
	}
}

package render

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// seccompProfile, effective per container: the profile types used, "Localhost/<name>" for a
// localhost profile, and attributes.ProfileUnset when neither container nor pod set one.
const fieldSeccompProfiles = "seccompProfiles"

// gkSeccompUnset is what K8sPSPSeccomp calls the profile of a container that sets none, in its
// pod or its own security context or the deprecated annotations: listed, it admits that.
const gkSeccompUnset = "not configured"

// seccompPrivilege: Unconfined, and no profile at all, which is Unconfined unless the kubelet
// runs with SeccompDefault.
func seccompPrivilege(v string) bool {
	return v == string(corev1.SeccompProfileTypeUnconfined) || v == attributes.ProfileUnset
}

var seccompAttribute = attribute{
	requirements: func(p attributes.Profile) []string {
		confined := len(p.SeccompProfiles) > 0 && !p.AnyValue.Has(attributes.AnySeccompProfiles) &&
			!slices.ContainsFunc(p.SeccompProfiles, seccompPrivilege)
		return held(confined, "a seccomp profile (RuntimeDefault or Localhost)")
	},
	allowances: func(p attributes.Profile, out *allowanceList) {
		out.each(p, fieldSeccompProfiles, "seccomp ", p.SeccompProfiles, attributes.AnySeccompProfiles, seccompPrivilege)
	},
	restrictions: func(p attributes.Profile, out *restrictionList) {
		if out.limited(attributes.AnySeccompProfiles) {
			out.add("seccompProfiles", fieldSeccompProfiles,
				allContainers(effective([]string{"seccompProfile"}, profileCheck(p.SeccompProfiles), unsetAllowed(p.SeccompProfiles))),
				"sets a seccomp profile")
		}
	},
	psp: func(p attributes.Profile, out *podSecurityPolicy) {
		// PSP always admits a pod without a seccomp profile, so Unset needs no entry; with no
		// annotation at all, setting any profile is forbidden.
		if names := pspProfileNames(p.SeccompProfiles); len(names) > 0 {
			out.Metadata.Annotations[pspSeccompAllowed] = strings.Join(names, ",")
		}
		if p.AnyValue.Has(attributes.AnySeccompProfiles) {
			out.Metadata.Annotations[pspSeccompAllowed] = pspAny
		}
	},
	gatekeeper: func(p attributes.Profile, out *gatekeeperList) {
		if !p.AnyValue.Has(attributes.AnySeccompProfiles) && len(p.SeccompProfiles) > 0 {
			out.limit(gkSeccomp, "allowedProfiles", gkProfileNames(p.SeccompProfiles, gkSeccompUnset))
			if slices.Contains(p.SeccompProfiles, attributes.ProfileUnset) {
				out.explain(gkSeccomp, "\""+gkSeccompUnset+"\" is the template's name for a container without a seccomp profile")
			}
		}
	},
	shared: func() []sharedCheck {
		return []sharedCheck{
			{name: "seccompProfiles", noun: "seccomp profiles", entries: func(p attributes.Profile) []string { return p.SeccompProfiles },
				expr: allContainers(effective([]string{"seccompProfile"}, sharedProfileCheck("seccompProfiles"), sharedHasEntry("seccompProfiles", attributes.ProfileUnset)))},
		}
	},
}

// unsetAllowed says whether a container with neither its own nor the pod's profile passes.
func unsetAllowed(profiles []string) string {
	return strconv.FormatBool(slices.Contains(profiles, attributes.ProfileUnset))
}

// profileCheck tests a seccompProfile or appArmorProfile against learned names: the type, or
// "Localhost/<localhostProfile>".
func profileCheck(learned []string) func(string) string {
	var types, local []string
	for _, n := range learned {
		if name, ok := strings.CutPrefix(n, attributes.LocalhostPrefix); ok {
			local = append(local, name)
		} else if n != attributes.ProfileUnset {
			types = append(types, n)
		}
	}
	return func(sp string) string {
		if len(local) == 0 {
			return in(sp+".type", types)
		}
		return fmt.Sprintf("((%s.type == 'Localhost' && has(%s.localhostProfile)) ? %s : %s)",
			sp, sp, in(sp+".localhostProfile", local), in(sp+".type", types))
	}
}

package render

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// appArmorProfile, effective per container, named as seccomp profiles are. The API server
// copies the deprecated AppArmor annotations into these fields before validating admission,
// so the fields are the whole story.
const fieldAppArmorProfiles = "appArmorProfiles"

var appArmorAttribute = attribute{
	allowances: func(p attributes.Profile, out *allowanceList) {
		out.each(p, fieldAppArmorProfiles, "appArmor ", p.AppArmorProfiles, attributes.AnyAppArmorProfiles, func(v string) bool {
			return v == string(corev1.AppArmorProfileTypeUnconfined) // unset: the runtime's default profile
		})
	},
	restrictions: func(p attributes.Profile, out *restrictionList) {
		if out.limited(attributes.AnyAppArmorProfiles) {
			out.add("appArmorProfiles", fieldAppArmorProfiles,
				allContainers(effective([]string{"appArmorProfile"}, profileCheck(p.AppArmorProfiles), unsetAllowed(p.AppArmorProfiles))),
				"sets an AppArmor profile")
		}
	},
	psp: func(p attributes.Profile, out *podSecurityPolicy) {
		// PSP's AppArmor check is the other way round from seccomp's: without the annotation
		// anything goes, with it a container must name a listed profile. So list profiles only
		// if none was ever unset.
		if !slices.Contains(p.AppArmorProfiles, attributes.ProfileUnset) && !p.AnyValue.Has(attributes.AnyAppArmorProfiles) {
			if names := pspProfileNames(p.AppArmorProfiles); len(names) > 0 {
				out.Metadata.Annotations[pspAppArmorAllowed] = strings.Join(names, ",")
			}
		}
	},
	gatekeeper: func(p attributes.Profile, out *gatekeeperList) {
		if p.AnyValue.Has(attributes.AnyAppArmorProfiles) || len(p.AppArmorProfiles) == 0 {
			return
		}
		// K8sPSPAppArmor takes a container without a profile for one with runtime/default.
		out.limit(gkAppArmor, "allowedProfiles", gkProfileNames(p.AppArmorProfiles, gkRuntimeDefault))
		if slices.Contains(p.AppArmorProfiles, attributes.ProfileUnset) && !slices.Contains(p.AppArmorProfiles, string(corev1.AppArmorProfileTypeRuntimeDefault)) {
			out.looser(gkAppArmor, "it admits RuntimeDefault set explicitly, which it does not tell from the learned unset profile")
		}
	},
	shared: func() []sharedCheck {
		return []sharedCheck{
			{name: "appArmorProfiles", noun: "AppArmor profiles", entries: func(p attributes.Profile) []string { return p.AppArmorProfiles },
				expr: allContainers(effective([]string{"appArmorProfile"}, sharedProfileCheck("appArmorProfiles"), sharedHasEntry("appArmorProfiles", attributes.ProfileUnset)))},
		}
	},
}

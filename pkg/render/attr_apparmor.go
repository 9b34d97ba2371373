package render

import "github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"

// appArmorProfile, effective per container, named as seccomp profiles are. The API server
// copies the deprecated AppArmor annotations into these fields before validating admission,
// so the fields are the whole story.
const fieldAppArmorProfiles = "appArmorProfiles"

var appArmorAttribute = attribute{
	allowances: func(p attributes.Profile, out *allowanceList) {
		out.each(p, fieldAppArmorProfiles, "appArmor ", p.AppArmorProfiles, attributes.AnyAppArmorProfiles)
	},
	restrictions: func(p attributes.Profile, out *restrictionList) {
		if out.limited(attributes.AnyAppArmorProfiles) {
			out.add("appArmorProfiles", fieldAppArmorProfiles,
				allContainers(effective([]string{"appArmorProfile"}, profileCheck(p.AppArmorProfiles), unsetAllowed(p.AppArmorProfiles))),
				"sets an AppArmor profile")
		}
	},
}

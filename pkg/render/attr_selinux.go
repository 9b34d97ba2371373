package render

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/attributes"
)

// seLinuxOptions, effective per container (a container's options replace the pod's whole):
// the option tuples set. Absent options are not limited.
const fieldSELinuxOptions = "seLinuxOptions"

var seLinuxAttribute = attribute{
	allowances: func(p attributes.Profile, out *allowanceList) {
		for _, s := range p.SELinuxOptions {
			out.add(fieldSELinuxOptions, "seLinux "+s.String())
		}
		out.anyValue(p, fieldSELinuxOptions, "seLinux ", attributes.AnySELinuxOptions)
	},
	restrictions: func(p attributes.Profile, out *restrictionList) {
		if out.limited(attributes.AnySELinuxOptions) {
			out.add("seLinuxOptions", fieldSELinuxOptions,
				allContainers(effective([]string{"seLinuxOptions"}, selinuxCheck(p.SELinuxOptions), "true")),
				"sets SELinux options")
		}
	},
	psp: func(p attributes.Profile, out *podSecurityPolicy) {
		out.Spec.SELinux = pspSELinuxStrategy(p.SELinuxOptions)
	},
	gatekeeper: func(p attributes.Profile, out *gatekeeperList) {
		if p.AnyValue.Has(attributes.AnySELinuxOptions) {
			return
		}
		allowed := []corev1.SELinuxOptions{} // its JSON omits the parts learned absent
		for _, s := range p.SELinuxOptions {
			allowed = append(allowed, corev1.SELinuxOptions{User: s.User, Role: s.Role, Type: s.Type, Level: s.Level})
		}
		out.limit(gkSELinux, "allowedSELinuxOptions", allowed)
		if len(allowed) > 0 {
			out.looser(gkSELinux, "options that leave out a part (user, role, type or level) match an entry whatever it has there")
		}
	},
	shared: func() []sharedCheck {
		return []sharedCheck{
			{name: "seLinuxOptions", noun: "SELinux options", entries: selinuxEntries,
				expr: allContainers(effective([]string{"seLinuxOptions"}, func(o string) string {
					parts := make([]string, 4)
					for i, f := range []string{"user", "role", "type", "level"} {
						parts[i] = fmt.Sprintf("(has(%s.%s) ? %s.%s : '')%s", o, f, o, f, entryEscapes)
					}
					return fmt.Sprintf(`%s.contains('\n' + %s + '\n')`, sharedVar("seLinuxOptions"), strings.Join(parts, " + '\\t' + "))
				}, "true"))},
		}
	},
}

// pspSELinuxStrategy pins the context when exactly one was seen (MustRunAs also gives it to
// containers that set none); PSP cannot list several, so those allow any.
func pspSELinuxStrategy(opts []attributes.SELinux) pspSELinux {
	if len(opts) != 1 {
		return pspSELinux{Rule: "RunAsAny"}
	}
	o := opts[0]
	return pspSELinux{Rule: "MustRunAs", SELinuxOptions: &corev1.SELinuxOptions{User: o.User, Role: o.Role, Type: o.Type, Level: o.Level}}
}

// selinuxCheck tests seLinuxOptions against learned tuples; absent parts compare as "".
func selinuxCheck(learned []attributes.SELinux) func(string) string {
	tuples := make([]string, len(learned))
	for i, s := range learned {
		tuples[i] = list([]string{s.User, s.Role, s.Type, s.Level})
	}
	return func(o string) string {
		if len(tuples) == 0 {
			return "false"
		}
		parts := make([]string, 4)
		for i, f := range []string{"user", "role", "type", "level"} {
			parts[i] = fmt.Sprintf("(has(%s.%s) ? %s.%s : '')", o, f, o, f)
		}
		return "[" + strings.Join(parts, ", ") + "] in [" + strings.Join(tuples, ", ") + "]"
	}
}

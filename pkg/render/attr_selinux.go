package render

import (
	"fmt"
	"strings"

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

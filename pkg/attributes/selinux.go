package attributes

import (
	"cmp"
	"slices"
	"strings"
)

// SELinux is one SELinux context a container was given. Empty fields are left to the runtime.
type SELinux struct {
	User  string `json:"user,omitempty"`
	Role  string `json:"role,omitempty"`
	Type  string `json:"type,omitempty"`
	Level string `json:"level,omitempty"`
}

func (s SELinux) String() string {
	return strings.Join([]string{s.User, s.Role, s.Type, s.Level}, ":")
}

// observeSELinux records the SELinux options containers run with.
//
// Reads securityContext.seLinuxOptions of each container; a container that sets it replaces the
// pod's options whole, otherwise the pod's apply. Containers with no options are not recorded
// (the runtime assigns a context). Distinct option sets join by union.
func observeSELinux(pod *Pod, p *Profile) {
	var found []SELinux
	for _, c := range pod.Containers {
		if o := c.SC.SELinuxOptions; o != nil {
			found = append(found, SELinux{User: o.User, Role: o.Role, Type: o.Type, Level: o.Level})
		}
	}
	p.SELinuxOptions = joinSELinux(p.SELinuxOptions, found)
}

func joinSELinux(a, b []SELinux) []SELinux {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	// The admission path's common case: nothing new. Return a without allocating.
	if !slices.ContainsFunc(b, func(s SELinux) bool { return !slices.Contains(a, s) }) {
		return a
	}
	if len(a) == 0 && increasing(b, compareSELinux) {
		return b // a pod's own options, as Observe joins them into an empty profile
	}
	out := append(slices.Clone(a), b...)
	slices.SortFunc(out, compareSELinux)
	return slices.Compact(out)
}

// compareSELinux orders options by their string, and by field where strings are alike:
// fields may contain ':', so equal strings do not mean equal options.
func compareSELinux(x, y SELinux) int {
	return cmp.Or(strings.Compare(x.String(), y.String()),
		strings.Compare(x.User, y.User), strings.Compare(x.Role, y.Role),
		strings.Compare(x.Type, y.Type), strings.Compare(x.Level, y.Level))
}

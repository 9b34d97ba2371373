package attributes

import (
	"cmp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
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

// observeSELinux records the SELinux options containers run with, and the pod's own.
//
// Reads securityContext.seLinuxOptions of each container; a container that sets it replaces the
// pod's options whole, otherwise the pod's apply. Containers with no options are not recorded
// (the runtime assigns a context). The pod's options are recorded even where every container
// replaces them: Pod Security Standards and policy engines (Gatekeeper's library template) check
// them as set, so a policy that admits the pod must allow them. Distinct option sets join by
// union.
func observeSELinux(pod *Pod, p *Profile) {
	var found []SELinux
	add := func(o *corev1.SELinuxOptions) {
		if o != nil {
			found = append(found, SELinux{User: o.User, Role: o.Role, Type: o.Type, Level: o.Level})
		}
	}
	if pod.Spec.SecurityContext != nil {
		add(pod.Spec.SecurityContext.SELinuxOptions)
	}
	for _, c := range pod.Containers {
		add(c.SC.SELinuxOptions)
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
